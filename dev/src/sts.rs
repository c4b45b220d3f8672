//! STS on the S3 port: `AssumeRole` and `GetCallerIdentity` in AWS's query protocol
//! (form-encoded `POST /`, SigV4 with service `sts`, XML responses in the
//! `https://sts.amazonaws.com/doc/2011-06-15/` namespace, errors as `<ErrorResponse>`).
//!
//! s3s verifies the signature before the route is called (it accepts STS requests without
//! `x-amz-content-sha256`); this module checks the rest: the signing service and region, the
//! caller's session token and expiry, who may assume a role, and the parameters.
//!
//! Who may call `AssumeRole`: the root credentials only. Session credentials are refused with
//! `AccessDenied` (AWS allows role chaining when the role's trust policy does; the local stack
//! has no roles or trust policies, so it does not). Any role ARN of the form
//! `arn:aws:iam::<12 digits>:role/<name>` is accepted; the role itself grants everything, so a
//! session is bounded by its inline `Policy` alone (none → unrestricted).

use crate::creds::{AuthError, CredentialStore, Principal, Session};
use crate::policy::Policy;
use crate::stack::{self, ACCOUNT_ID, xml_escape};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
pub const VERSION: &str = "2011-06-15";
pub const MIN_DURATION_SECS: u64 = 900;
/// The longest session a role can be configured for; the local roles all allow it.
pub const MAX_DURATION_SECS: u64 = 43_200;
pub const DEFAULT_DURATION_SECS: u64 = 3600;
/// AWS's limit on the `Policy` parameter, in characters.
pub const MAX_POLICY_CHARS: usize = 2048;
const MAX_BODY: usize = 64 * 1024;

/// The STS route, installed with `S3ServiceBuilder::set_route`.
pub struct Sts {
    creds: Arc<CredentialStore>,
    region: String,
    /// Test hook: sessions live this long whatever `DurationSeconds` asked for (the response's
    /// `Expiration` says so truthfully). `None` in normal use.
    session_lifetime_override: Option<Duration>,
}

/// An STS error, serialized as AWS's `<ErrorResponse>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl StsError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> StsError {
        StsError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> StsError {
        StsError::new(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    /// The XML body AWS sends (`Type` is `Sender` for 4xx, `Receiver` for 5xx).
    pub fn to_xml(&self, request_id: &str) -> String {
        let kind = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
            xml_escape(&self.code),
            xml_escape(&self.message),
        )
    }
}

impl Sts {
    pub fn new(
        creds: Arc<CredentialStore>,
        region: impl Into<String>,
        session_lifetime_override: Option<Duration>,
    ) -> Sts {
        Sts {
            creds,
            region: region.into(),
            session_lifetime_override,
        }
    }

    /// Handles a signature-verified STS request. `access_key`/`service`/`region` come from the
    /// verified credential scope (`None` when the request was not signed).
    #[allow(clippy::too_many_arguments)]
    pub fn handle(
        &self,
        access_key: Option<&str>,
        service: Option<&str>,
        region: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
        request_id: &str,
    ) -> Result<String, StsError> {
        let params: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        let action = params.get("Action").map(String::as_str).unwrap_or("");
        let Some(access_key) = access_key else {
            return Err(StsError::new(
                StatusCode::FORBIDDEN,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            ));
        };
        if service != Some("sts") {
            return Err(StsError::new(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "Credential should be scoped to correct service: 'sts'. ",
            ));
        }
        if region != Some(self.region.as_str()) {
            return Err(StsError::new(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                format!(
                    "Credential should be scoped to a valid region, not '{}'. ",
                    region.unwrap_or("")
                ),
            ));
        }
        let token = headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok());
        let caller = self
            .creds
            .authenticate(access_key, token, now)
            .map_err(|e| match e {
                AuthError::ExpiredToken => StsError::new(
                    StatusCode::BAD_REQUEST,
                    "ExpiredToken",
                    "The security token included in the request is expired",
                ),
                AuthError::InvalidAccessKeyId | AuthError::InvalidToken => StsError::new(
                    StatusCode::FORBIDDEN,
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.",
                ),
            })?;
        if matches!(caller, Principal::Root) && token.is_some() {
            return Err(StsError::new(
                StatusCode::FORBIDDEN,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ));
        }
        if let Some(v) = params.get("Version")
            && v != VERSION
        {
            return Err(StsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!("Could not find operation {action} for version {v}"),
            ));
        }
        match action {
            "AssumeRole" => self.assume_role(&caller, &params, now, request_id),
            "GetCallerIdentity" => Ok(get_caller_identity(&caller, request_id)),
            "" => Err(StsError::new(
                StatusCode::BAD_REQUEST,
                "MissingAction",
                "Missing Action",
            )),
            other => Err(StsError::new(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!("Could not find operation {other} for version {VERSION}"),
            )),
        }
    }

    fn assume_role(
        &self,
        caller: &Principal,
        params: &HashMap<String, String>,
        now: SystemTime,
        request_id: &str,
    ) -> Result<String, StsError> {
        let role_arn = params.get("RoleArn");
        let session_name = params.get("RoleSessionName");
        let mut problems = Vec::new();
        match role_arn {
            None => problems.push(null_problem("roleArn")),
            Some(v) => length_problems(&mut problems, "roleArn", v, 20, 2048),
        }
        match session_name {
            None => problems.push(null_problem("roleSessionName")),
            Some(v) => {
                length_problems(&mut problems, "roleSessionName", v, 2, 64);
                if !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
                {
                    problems.push(format!(
                        "Value '{v}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
                    ));
                }
            }
        }
        let duration = match params.get("DurationSeconds") {
            None => Some(DEFAULT_DURATION_SECS),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n < MIN_DURATION_SECS as i64 => {
                    problems.push(format!(
                        "Value '{n}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {MIN_DURATION_SECS}"
                    ));
                    None
                }
                Ok(n) if n > MAX_DURATION_SECS as i64 => {
                    problems.push(format!(
                        "Value '{n}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {MAX_DURATION_SECS}"
                    ));
                    None
                }
                Ok(n) => Some(n as u64),
                Err(_) => {
                    return Err(StsError::new(
                        StatusCode::BAD_REQUEST,
                        "MalformedInput",
                        format!("Invalid value for parameter DurationSeconds: {v}"),
                    ));
                }
            },
        };
        if let Some(p) = params.get("Policy") {
            length_problems(&mut problems, "policy", p, 1, MAX_POLICY_CHARS);
        }
        if !problems.is_empty() {
            let n = problems.len();
            let s = if n == 1 { "" } else { "s" };
            return Err(StsError::validation(format!(
                "{n} validation error{s} detected: {}",
                problems.join("; ")
            )));
        }
        let (role_arn, session_name) = (role_arn.unwrap(), session_name.unwrap());
        let duration = duration.unwrap();
        if params.keys().any(|k| k.starts_with("PolicyArns.")) {
            return Err(StsError::validation(
                "PolicyArns (managed session policies) are not supported by the local stack; pass an inline Policy",
            ));
        }
        let Some((account, role_name)) = parse_role_arn(role_arn) else {
            return Err(StsError::validation(format!("{role_arn} is invalid")));
        };
        if let Principal::Session(s) = caller {
            return Err(StsError::new(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    s.assumed_role_arn
                ),
            ));
        }
        let policy = match params.get("Policy") {
            None => None,
            Some(doc) => Some(Policy::parse(doc).map_err(|e| {
                StsError::new(StatusCode::BAD_REQUEST, "MalformedPolicyDocument", e)
            })?),
        };
        let packed_percent = params.get("Policy").map(|doc| packed_policy_percent(doc));
        let assumed_arn = format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}");
        let lifetime = self
            .session_lifetime_override
            .unwrap_or(Duration::from_secs(duration));
        let session = self.creds.issue(policy, lifetime, now, &assumed_arn);
        Ok(assume_role_xml(
            &session,
            &assumed_arn,
            &format!("{}:{session_name}", role_id(role_arn)),
            packed_percent,
            request_id,
        ))
    }
}

#[async_trait::async_trait]
impl S3Route for Sts {
    fn is_match(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        _: &mut http::Extensions,
    ) -> bool {
        is_sts_request(method, uri, headers)
    }

    /// Everything is checked in [`Sts::handle`], so that refusals are STS-formatted.
    async fn check_access(&self, _: &mut S3Request<Body>) -> S3Result<()> {
        Ok(())
    }

    async fn call(&self, mut req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let request_id = stack::uuid();
        let body = req.input.store_all_limited(MAX_BODY).await;
        let result = match body {
            Err(_) => Err(StsError::new(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                "Request body too large",
            )),
            Ok(body) => self.handle(
                req.credentials.as_ref().map(|c| c.access_key.as_str()),
                req.service.as_deref(),
                req.region.as_ref().map(|r| r.as_str()),
                &req.headers,
                &body,
                SystemTime::now(),
                &request_id,
            ),
        };
        let (status, xml) = match result {
            Ok(xml) => (StatusCode::OK, xml),
            Err(e) => (e.status, e.to_xml(&request_id)),
        };
        let mut resp = S3Response::with_status(Body::from(xml), status);
        resp.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml"),
        );
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers.insert("x-amzn-requestid", v);
        }
        Ok(resp)
    }
}

/// Whether a request is for STS: a form-encoded `POST /` (S3 has no such operation).
pub fn is_sts_request(method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
    method == Method::POST
        && uri.path() == "/"
        && headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            })
}

fn null_problem(field: &str) -> String {
    format!("Value null at '{field}' failed to satisfy constraint: Member must not be null")
}

fn length_problems(out: &mut Vec<String>, field: &str, v: &str, min: usize, max: usize) {
    let n = v.chars().count();
    if n < min {
        out.push(format!(
            "Value '{v}' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
        ));
    } else if n > max {
        out.push(format!(
            "Value '{v}' at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
        ));
    }
}

/// `arn:aws:iam::123456789012:role/path/name` → (`123456789012`, `name`).
fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let ok = prefix == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit());
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    (ok && !name.is_empty()).then_some((account, name))
}

/// A stable role id in AWS's shape (`AROA` + 17 characters) for a role ARN.
fn role_id(role_arn: &str) -> String {
    // FNV-1a, twice with different seeds, mapped onto AWS's id alphabet.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let hash = |seed: u64| {
        role_arn.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let bits = (u128::from(hash(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(hash(0x84222325));
    let id: String = (0..17)
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect();
    format!("AROA{id}")
}

/// `PackedPolicySize`: the share of the session-policy allowance used, in percent. AWS packs
/// (compresses) the policy with an undocumented scheme; this approximates it as the minified
/// JSON length over the 2048-character limit.
fn packed_policy_percent(doc: &str) -> u64 {
    let minified = serde_json::from_str::<serde_json::Value>(doc)
        .map(|v| v.to_string().len())
        .unwrap_or(doc.len());
    (minified as u64 * 100).div_ceil(MAX_POLICY_CHARS as u64)
}

/// ISO 8601 in UTC with second precision, as STS writes `Expiration`.
pub fn iso8601(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}

fn assume_role_xml(
    session: &Session,
    assumed_arn: &str,
    assumed_role_id: &str,
    packed_percent: Option<u64>,
    request_id: &str,
) -> String {
    let packed = packed_percent
        .map(|p| format!("\n    <PackedPolicySize>{p}</PackedPolicySize>"))
        .unwrap_or_default();
    format!(
        "<AssumeRoleResponse xmlns=\"{NAMESPACE}\">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>{}</AssumedRoleId>
      <Arn>{}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{}</AccessKeyId>
      <SecretAccessKey>{}</SecretAccessKey>
      <SessionToken>{}</SessionToken>
      <Expiration>{}</Expiration>
    </Credentials>{packed}
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>{request_id}</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>
",
        xml_escape(assumed_role_id),
        xml_escape(assumed_arn),
        session.access_key_id,
        xml_escape(&session.secret_access_key),
        xml_escape(&session.session_token),
        iso8601(session.expiration),
    )
}

fn get_caller_identity(caller: &Principal, request_id: &str) -> String {
    let (arn, user_id, account) = match caller {
        Principal::Root => (
            format!("arn:aws:iam::{ACCOUNT_ID}:root"),
            ACCOUNT_ID.to_string(),
            ACCOUNT_ID.to_string(),
        ),
        Principal::Session(s) => {
            // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
            let account = s
                .assumed_role_arn
                .split(':')
                .nth(4)
                .unwrap_or(ACCOUNT_ID)
                .to_string();
            let mut tail = s.assumed_role_arn.rsplitn(3, '/');
            let session = tail.next().unwrap_or("");
            let role = tail.next().unwrap_or("");
            let role_arn = format!("arn:aws:iam::{account}:role/{role}");
            (
                s.assumed_role_arn.clone(),
                format!("{}:{session}", role_id(&role_arn)),
                account,
            )
        }
    };
    format!(
        "<GetCallerIdentityResponse xmlns=\"{NAMESPACE}\">
  <GetCallerIdentityResult>
    <Arn>{}</Arn>
    <UserId>{}</UserId>
    <Account>{account}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>{request_id}</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
",
        xml_escape(&arn),
        xml_escape(&user_id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::000000000000:role/s3vec-browser";

    fn sts() -> Sts {
        Sts::new(
            Arc::new(CredentialStore::new("AKIAROOT", "root-secret")),
            "us-east-1",
            None,
        )
    }

    fn call(sts: &Sts, body: &str) -> Result<String, StsError> {
        sts.handle(
            Some("AKIAROOT"),
            Some("sts"),
            Some("us-east-1"),
            &HeaderMap::new(),
            body.as_bytes(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000),
            "rid",
        )
    }

    fn form(pairs: &[(&str, &str)]) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    #[test]
    fn issues_credentials_with_aws_shaped_xml() {
        let s = sts();
        let xml = call(
            &s,
            &form(&[
                ("Action", "AssumeRole"),
                ("Version", VERSION),
                ("RoleArn", ROLE),
                ("RoleSessionName", "web"),
                ("DurationSeconds", "900"),
            ]),
        )
        .unwrap();
        assert!(xml.starts_with(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        ));
        assert!(
            xml.contains("<Expiration>2025-06-15T15:21:40Z</Expiration>"),
            "{xml}"
        );
        assert!(
            xml.contains("<Arn>arn:aws:sts::000000000000:assumed-role/s3vec-browser/web</Arn>")
        );
        assert!(xml.contains("<AccessKeyId>ASIA"));
        assert!(!xml.contains("PackedPolicySize"));
        assert!(xml.contains("<ResponseMetadata>\n    <RequestId>rid</RequestId>"));
    }

    #[test]
    fn validates_like_sts() {
        let s = sts();
        let e = call(
            &s,
            &form(&[
                ("Action", "AssumeRole"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "web"),
                ("DurationSeconds", "899"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert_eq!(
            e.message,
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        );
        let xml = e.to_xml("rid");
        assert!(xml.contains("<Type>Sender</Type>\n    <Code>ValidationError</Code>"));
        let e = call(
            &s,
            &form(&[("Action", "AssumeRole"), ("DurationSeconds", "43201")]),
        )
        .unwrap_err();
        assert!(
            e.message
                .starts_with("3 validation errors detected: Value null at 'roleArn'"),
            "{}",
            e.message
        );
        let e = call(
            &s,
            &form(&[
                ("Action", "AssumeRole"),
                ("RoleArn", ROLE),
                ("RoleSessionName", "web"),
                ("Policy", "{\"Statement\": 3}"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.code, "MalformedPolicyDocument");
        let e = call(
            &s,
            &form(&[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::000000000000:user/alice"),
                ("RoleSessionName", "web"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.code, "ValidationError");
        let e = call(&s, &form(&[("Action", "DeleteRole")])).unwrap_err();
        assert_eq!(e.code, "InvalidAction");
    }

    #[test]
    fn only_root_assumes_roles_and_scope_is_checked() {
        let s = sts();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        let session = s.creds.issue(
            None,
            Duration::from_secs(900),
            now,
            "arn:aws:sts::000000000000:assumed-role/r/x",
        );
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-security-token",
            session.session_token.parse().unwrap(),
        );
        let body = form(&[
            ("Action", "AssumeRole"),
            ("RoleArn", ROLE),
            ("RoleSessionName", "web"),
        ]);
        let e = s
            .handle(
                Some(&session.access_key_id),
                Some("sts"),
                Some("us-east-1"),
                &h,
                body.as_bytes(),
                now,
                "rid",
            )
            .unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::FORBIDDEN, "AccessDenied")
        );
        let who = s
            .handle(
                Some(&session.access_key_id),
                Some("sts"),
                Some("us-east-1"),
                &h,
                b"Action=GetCallerIdentity",
                now,
                "rid",
            )
            .unwrap();
        assert!(
            who.contains("<Arn>arn:aws:sts::000000000000:assumed-role/r/x</Arn>"),
            "{who}"
        );
        assert!(who.contains("<UserId>AROA"));
        let e = s
            .handle(
                Some(&session.access_key_id),
                Some("sts"),
                Some("us-east-1"),
                &HeaderMap::new(),
                body.as_bytes(),
                now,
                "rid",
            )
            .unwrap_err();
        assert_eq!(e.code, "InvalidClientTokenId");
        let e = s
            .handle(
                Some("AKIAROOT"),
                Some("s3"),
                Some("us-east-1"),
                &HeaderMap::new(),
                body.as_bytes(),
                now,
                "rid",
            )
            .unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        let e = s
            .handle(
                Some("AKIAROOT"),
                Some("sts"),
                Some("eu-west-1"),
                &HeaderMap::new(),
                body.as_bytes(),
                now,
                "rid",
            )
            .unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        let e = s
            .handle(
                None,
                None,
                None,
                &HeaderMap::new(),
                body.as_bytes(),
                now,
                "rid",
            )
            .unwrap_err();
        assert_eq!(e.code, "MissingAuthenticationToken");
    }

    #[test]
    fn role_arns() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::123456789012:role/path/to/reader"),
            Some(("123456789012", "reader"))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::1234:role/r"), None);
        assert_eq!(parse_role_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(role_id(ROLE), role_id(ROLE));
        assert_eq!(role_id(ROLE).len(), 21);
    }
}
