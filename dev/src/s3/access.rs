//! Who may do what on the S3 endpoint.
//!
//! s3s verifies SigV4 (headers and presigned URLs) with the secret [`Auth`] looks up, then calls
//! [`Access::check`] with the verified access key, the operation and the path. That is where
//! the rest of AWS's checks happen: the credential scope (service `s3`, the stack's region),
//! the session token (`x-amz-security-token` header or `X-Amz-Security-Token` query
//! parameter), expiry, and the session policy.

use crate::creds::{AuthError, CredentialStore, Principal};
use crate::policy::{Context, Decision, Policy};
use crate::stack::credential_scope;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{
    CopyObjectInput, CopySource, DeleteObjectsInput, PostObjectInput, UploadPartCopyInput,
};
use s3s::path::S3Path;
use s3s::{S3Error, S3Request, S3Result, s3_error};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

/// Looks up the secret for an access key: root's, or a session's (expired ones included, so
/// that an expired but well-signed request is answered `ExpiredToken`).
pub struct Auth {
    pub creds: Arc<CredentialStore>,
}

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        self.creds
            .secret_for(access_key)
            .map(SecretKey::from)
            .ok_or_else(invalid_access_key)
    }
}

pub struct Access {
    pub creds: Arc<CredentialStore>,
    pub region: String,
}

fn invalid_access_key() -> S3Error {
    s3_error!(
        InvalidAccessKeyId,
        "The AWS Access Key Id you provided does not exist in our records."
    )
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        let access_key = credentials.access_key.clone();
        if let Some((_, _, region, service)) = credential_scope(cx.headers(), cx.uri()) {
            let presigned = !cx.headers().contains_key(http::header::AUTHORIZATION);
            let problem = if service != "s3" {
                Some(format!(
                    "incorrect service '{service}'. This endpoint belongs to 's3'."
                ))
            } else if region != self.region {
                Some(format!(
                    "the region '{region}' is wrong; expecting '{}'",
                    self.region
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(if presigned {
                    s3_error!(
                        AuthorizationQueryParametersError,
                        "Error parsing the X-Amz-Credential parameter; {problem}"
                    )
                } else {
                    s3_error!(
                        AuthorizationHeaderMalformed,
                        "The authorization header is malformed; {problem}"
                    )
                });
            }
        }
        let token = security_token(cx.headers(), cx.uri());
        let principal = authenticate(&self.creds, &access_key, token.as_deref())?;
        if let Some(policy) = principal.policy() {
            let op = cx.s3_op().name();
            // These name their objects in the body: checked once it is parsed, below.
            if !matches!(op, "PostObject" | "DeleteObjects") {
                let (action, resource, context) = request_facts(op, cx.s3_path(), cx.uri());
                authorize(&principal, policy, &action, &resource, &context)?;
            }
        }
        cx.extensions_mut().insert(principal);
        Ok(())
    }

    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let Some((principal, policy)) = session_policy(req) else {
            return Ok(());
        };
        // AWS answers a partly denied batch with per-key errors; the local stack refuses the
        // whole request.
        for object in &req.input.delete.objects {
            let resource = object_arn(&req.input.bucket, &object.key);
            authorize(
                &principal,
                &policy,
                "s3:DeleteObject",
                &resource,
                &Context::new(),
            )?;
        }
        Ok(())
    }

    async fn post_object(&self, req: &mut S3Request<PostObjectInput>) -> S3Result<()> {
        let Some((principal, policy)) = session_policy(req) else {
            return Ok(());
        };
        let resource = object_arn(&req.input.bucket, &req.input.key);
        authorize(
            &principal,
            &policy,
            "s3:PutObject",
            &resource,
            &Context::new(),
        )
    }

    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        let source = req.input.copy_source.clone();
        check_copy_source(req, &source)
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        let source = req.input.copy_source.clone();
        check_copy_source(req, &source)
    }
}

/// Checks the access key and the session token of a signature-verified request.
fn authenticate(
    creds: &CredentialStore,
    access_key: &str,
    token: Option<&str>,
) -> S3Result<Principal> {
    let principal = creds
        .authenticate(access_key, token, SystemTime::now())
        .map_err(|e| match (e, token) {
            // Temporary keys without their token are unknown to S3.
            (AuthError::InvalidAccessKeyId, _) | (AuthError::InvalidToken, None) => {
                invalid_access_key()
            }
            (AuthError::InvalidToken, Some(_)) => invalid_token(),
            (AuthError::ExpiredToken, _) => {
                s3_error!(ExpiredToken, "The provided token has expired.")
            }
        })?;
    if matches!(principal, Principal::Root) && token.is_some() {
        return Err(invalid_token());
    }
    Ok(principal)
}

fn invalid_token() -> S3Error {
    s3_error!(
        InvalidToken,
        "The provided token is malformed or otherwise invalid."
    )
}

/// Whether a request is signed with Signature Version 2 (header or presigned URL). The front
/// layer refuses those before s3s sees them, as AWS does for every bucket created since June 2020.
pub fn is_sig_v2(headers: &http::HeaderMap, uri: &http::Uri) -> bool {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS "));
    let query = uri
        .query()
        .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "AWSAccessKeyId"));
    header || query
}

/// The session token: the `x-amz-security-token` header, or the presigned URL's parameter.
fn security_token(headers: &http::HeaderMap, uri: &http::Uri) -> Option<String> {
    if let Some(v) = headers.get("x-amz-security-token") {
        return v.to_str().ok().map(str::to_string);
    }
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case("X-Amz-Security-Token"))
        .map(|(_, v)| v.into_owned())
}

fn session_policy<T>(req: &S3Request<T>) -> Option<(Principal, Arc<Policy>)> {
    match req.extensions.get::<Principal>()? {
        Principal::Session(s) => Some((Principal::Session(s.clone()), s.policy.clone()?)),
        Principal::Root => None,
    }
}

fn check_copy_source<T>(req: &S3Request<T>, source: &CopySource) -> S3Result<()> {
    let Some((principal, policy)) = session_policy(req) else {
        return Ok(());
    };
    let resource = match source {
        CopySource::Bucket { bucket, key, .. } => object_arn(bucket, key),
        _ => return Err(s3_error!(AccessDenied, "Access Denied")),
    };
    authorize(
        &principal,
        &policy,
        "s3:GetObject",
        &resource,
        &Context::new(),
    )
}

/// Evaluates the session policy; anything it does not allow is `AccessDenied`, worded as AWS
/// words it for a session policy.
pub fn authorize(
    principal: &Principal,
    policy: &Policy,
    action: &str,
    resource: &str,
    context: &Context,
) -> S3Result<()> {
    let why = match policy.evaluate(action, resource, context) {
        Decision::Allow => return Ok(()),
        Decision::ExplicitDeny => "with an explicit deny in a session policy".to_string(),
        Decision::ImplicitDeny => format!("because no session policy allows the {action} action"),
    };
    let who = match principal {
        Principal::Session(s) => s.assumed_role_arn.as_str(),
        Principal::Root => "root",
    };
    Err(s3_error!(
        AccessDenied,
        "User: {who} is not authorized to perform: {action} on resource: \"{resource}\" {why}"
    ))
}

pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

/// The IAM action, resource and condition context of an S3 operation, as AWS authorizes it.
pub fn request_facts(op: &str, path: &S3Path, uri: &http::Uri) -> (String, String, Context) {
    let action: Cow<'static, str> = match op {
        "HeadObject" | "GetObjectAttributes" | "SelectObjectContent" => "s3:GetObject".into(),
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => "s3:ListBucket".into(),
        "ListObjectVersions" => "s3:ListBucketVersions".into(),
        "ListBuckets" | "ListDirectoryBuckets" => "s3:ListAllMyBuckets".into(),
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads".into(),
        "ListParts" => "s3:ListMultipartUploadParts".into(),
        "PostObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "CopyObject" => "s3:PutObject".into(),
        "DeleteObjects" => "s3:DeleteObject".into(),
        "GetBucketCors" => "s3:GetBucketCORS".into(),
        "PutBucketCors" | "DeleteBucketCors" => "s3:PutBucketCORS".into(),
        "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration".into(),
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => {
            "s3:PutLifecycleConfiguration".into()
        }
        "DeleteBucketTagging" => "s3:PutBucketTagging".into(),
        "DeleteBucketWebsite" => "s3:DeleteBucketWebsite".into(),
        other => format!("s3:{other}").into(),
    };
    let resource = match path {
        S3Path::Root => "arn:aws:s3:::*".to_string(),
        S3Path::Bucket { bucket } => format!("arn:aws:s3:::{bucket}"),
        S3Path::Object { bucket, key } => object_arn(bucket, key),
    };
    let mut context = Context::new();
    if matches!(op, "ListObjects" | "ListObjectsV2" | "ListObjectVersions")
        && let Some(query) = uri.query()
    {
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let key = match k.as_ref() {
                "prefix" => "s3:prefix",
                "delimiter" => "s3:delimiter",
                "max-keys" => "s3:max-keys",
                _ => continue,
            };
            context.insert(key.to_string(), v.into_owned());
        }
    }
    (action.into_owned(), resource, context)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(bucket: &str, key: Option<&str>) -> S3Path {
        match key {
            None => S3Path::Bucket {
                bucket: bucket.into(),
            },
            Some(k) => S3Path::Object {
                bucket: bucket.into(),
                key: k.into(),
            },
        }
    }

    #[test]
    fn maps_operations_to_iam_actions() {
        let uri: http::Uri = "/b?list-type=2&prefix=demo%2F&delimiter=%2F"
            .parse()
            .unwrap();
        let (action, resource, context) = request_facts("ListObjectsV2", &path("b", None), &uri);
        assert_eq!(action, "s3:ListBucket");
        assert_eq!(resource, "arn:aws:s3:::b");
        assert_eq!(context["s3:prefix"], "demo/");
        assert_eq!(context["s3:delimiter"], "/");
        let uri: http::Uri = "/b/k".parse().unwrap();
        for (op, want) in [
            ("GetObject", "s3:GetObject"),
            ("HeadObject", "s3:GetObject"),
            ("PutObject", "s3:PutObject"),
            ("UploadPart", "s3:PutObject"),
            ("DeleteObject", "s3:DeleteObject"),
            ("AbortMultipartUpload", "s3:AbortMultipartUpload"),
        ] {
            let (action, resource, _) = request_facts(op, &path("b", Some("k")), &uri);
            assert_eq!(
                (action.as_str(), resource.as_str()),
                (want, "arn:aws:s3:::b/k")
            );
        }
        let (action, _, _) = request_facts("CreateBucket", &path("b", None), &uri);
        assert_eq!(action, "s3:CreateBucket");
        let (action, resource, _) = request_facts("ListBuckets", &S3Path::Root, &uri);
        assert_eq!(
            (action.as_str(), resource.as_str()),
            ("s3:ListAllMyBuckets", "arn:aws:s3:::*")
        );
    }

    #[test]
    fn denials_name_the_action_and_resource() {
        let creds = CredentialStore::new("AKIAROOT", "s");
        let policy = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/demo/*"},
                {"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/demo/secret"}]}"#,
        )
        .unwrap();
        let s = creds.issue(
            Some(policy.clone()),
            std::time::Duration::from_secs(900),
            SystemTime::now(),
            "arn:aws:sts::000000000000:assumed-role/r/web",
        );
        let who = Principal::Session(s.clone());
        let none = Context::new();
        assert!(
            authorize(
                &who,
                &policy,
                "s3:GetObject",
                "arn:aws:s3:::b/demo/x",
                &none
            )
            .is_ok()
        );
        let e = authorize(
            &who,
            &policy,
            "s3:PutObject",
            "arn:aws:s3:::b/demo/x",
            &none,
        )
        .unwrap_err();
        assert_eq!(e.code(), &s3s::S3ErrorCode::AccessDenied);
        assert!(
            e.message()
                .unwrap()
                .contains("because no session policy allows the s3:PutObject action")
        );
        let e = authorize(
            &who,
            &policy,
            "s3:GetObject",
            "arn:aws:s3:::b/demo/secret",
            &none,
        )
        .unwrap_err();
        assert!(e.message().unwrap().contains("explicit deny"));

        // Token handling.
        assert_eq!(
            authenticate(&creds, &s.access_key_id, None)
                .unwrap_err()
                .code(),
            &s3s::S3ErrorCode::InvalidAccessKeyId
        );
        assert_eq!(
            authenticate(&creds, &s.access_key_id, Some("nope"))
                .unwrap_err()
                .code(),
            &s3s::S3ErrorCode::InvalidToken
        );
        assert!(authenticate(&creds, &s.access_key_id, Some(&s.session_token)).is_ok());
        assert_eq!(
            authenticate(&creds, "AKIAROOT", Some("x"))
                .unwrap_err()
                .code(),
            &s3s::S3ErrorCode::InvalidToken
        );
    }

    #[test]
    fn recognises_signature_v2() {
        let mut h = http::HeaderMap::new();
        assert!(is_sig_v2(
            &h,
            &"/b/k?AWSAccessKeyId=AKID&Signature=x&Expires=1"
                .parse()
                .unwrap()
        ));
        assert!(!is_sig_v2(&h, &"/b/k?X-Amz-Credential=x".parse().unwrap()));
        h.insert(
            http::header::AUTHORIZATION,
            "AWS AKID:c2lnbmF0dXJl".parse().unwrap(),
        );
        assert!(is_sig_v2(&h, &"/b/k".parse().unwrap()));
        h.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/s3/aws4_request"
                .parse()
                .unwrap(),
        );
        assert!(!is_sig_v2(&h, &"/b/k".parse().unwrap()));
    }

    #[test]
    fn finds_the_token_in_header_or_query() {
        let mut h = http::HeaderMap::new();
        let uri: http::Uri = "/b/k?X-Amz-Security-Token=a%2Bb".parse().unwrap();
        assert_eq!(security_token(&h, &uri).as_deref(), Some("a+b"));
        h.insert("x-amz-security-token", "hdr".parse().unwrap());
        assert_eq!(security_token(&h, &uri).as_deref(), Some("hdr"));
        assert_eq!(
            security_token(&http::HeaderMap::new(), &"/b".parse().unwrap()),
            None
        );
    }
}
