//! STS `AssumeRole`: temporary credentials narrowed by a session policy. What the presign
//! endpoint does on a server; here for the CLI, tests and anyone holding long-lived keys.

use super::credentials::{Credentials, CredentialsFetcher, CredentialsProvider, parse_iso8601};
use super::error::{AwsError, ServiceError};
use super::http::{Request, Response};
use super::retry::RetryPolicy;
use super::runtime::{BoxFuture, Runtime};
use super::send::{Op, Sender};
use super::sign::{Signer, SigningProfile, uri_encode};
use super::xml;
use http::Method;
use std::sync::Arc;
use std::time::Duration;

/// An `AssumeRole` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    /// 900 s to the role's maximum; STS's default (3600 s) when `None`.
    pub duration: Option<Duration>,
    /// An inline session policy (JSON): the session may do only what the role and this allow.
    pub policy: Option<String>,
}

impl AssumeRole {
    pub fn new(role_arn: impl Into<String>, session_name: impl Into<String>) -> Self {
        AssumeRole {
            role_arn: role_arn.into(),
            session_name: session_name.into(),
            duration: None,
            policy: None,
        }
    }

    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    pub fn policy(mut self, policy: impl Into<String>) -> Self {
        self.policy = Some(policy.into());
        self
    }
}

/// What `AssumeRole` answers.
#[derive(Clone, Debug)]
pub struct AssumedRole {
    pub credentials: Credentials,
    /// `arn:aws:sts::123456789012:assumed-role/{role}/{session}`.
    pub assumed_role_arn: Option<String>,
    pub request_id: Option<String>,
}

/// An STS client (signed with service name `sts`).
pub struct StsClient {
    sender: Sender,
    endpoint: String,
}

impl StsClient {
    /// `endpoint`: `None` for `https://sts.{region}.amazonaws.com`.
    pub fn new(
        region: impl Into<String>,
        endpoint: Option<String>,
        credentials: Arc<dyn CredentialsProvider>,
        runtime: Runtime,
    ) -> Self {
        let region = region.into();
        let endpoint = endpoint
            .map(|e| e.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
        StsClient {
            sender: Sender::new(
                runtime,
                credentials,
                Signer::new(region, SigningProfile::sts()),
                RetryPolicy::default(),
            ),
            endpoint,
        }
    }

    pub async fn assume_role(&self, req: &AssumeRole) -> Result<AssumedRole, AwsError> {
        let mut form = vec![
            ("Action", "AssumeRole".to_string()),
            ("Version", "2011-06-15".to_string()),
            ("RoleArn", req.role_arn.clone()),
            ("RoleSessionName", req.session_name.clone()),
        ];
        if let Some(d) = req.duration {
            form.push(("DurationSeconds", d.as_secs().to_string()));
        }
        if let Some(p) = &req.policy {
            form.push(("Policy", p.clone()));
        }
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", uri_encode(v)))
            .collect();
        let mut request = Request::parse(Method::POST, &format!("{}/", self.endpoint))?;
        request.header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )?;
        request.body = body.join("&").into_bytes().into();
        let op = Op {
            service: "STS",
            operation: "AssumeRole",
            resource: req.role_arn.clone(),
            idempotent: true,
        };
        let resp = self
            .sender
            .send(&request, &op, |s| s == 200, sts_error)
            .await?;
        parse_assume_role(&resp, &op)
    }
}

fn parse_assume_role(resp: &Response, op: &Op) -> Result<AssumedRole, AwsError> {
    let bad = |what: &str| {
        AwsError::InvalidResponse(format!(
            "STS AssumeRole {}: the answer {what}: check that the endpoint is STS",
            op.resource
        ))
    };
    let root = xml::parse(&resp.body).map_err(|e| bad(&format!("is not XML ({e})")))?;
    let result = root
        .child("AssumeRoleResult")
        .ok_or_else(|| bad("has no AssumeRoleResult"))?;
    let c = result
        .child("Credentials")
        .ok_or_else(|| bad("has no Credentials"))?;
    let field = |name: &str| {
        c.child_text(name)
            .map(str::to_string)
            .ok_or_else(|| bad(&format!("has no Credentials/{name}")))
    };
    let expiration_text = field("Expiration")?;
    let expiration = parse_iso8601(&expiration_text).ok_or_else(|| {
        bad(&format!(
            "has an Expiration {expiration_text:?} that is not ISO 8601"
        ))
    })?;
    let credentials = Credentials::new(
        field("AccessKeyId")?,
        field("SecretAccessKey")?,
        Some(field("SessionToken")?),
        Some(expiration),
    );
    Ok(AssumedRole {
        credentials,
        assumed_role_arn: result
            .path(&["AssumedRoleUser", "Arn"])
            .map(|e| e.text.clone()),
        request_id: root
            .path(&["ResponseMetadata", "RequestId"])
            .map(|e| e.text.clone()),
    })
}

/// Reads STS's `<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error>
/// <RequestId>…</RequestId></ErrorResponse>`.
pub(crate) fn sts_error(op: &Op, resp: &Response) -> ServiceError {
    let status = resp.status.as_u16();
    let header_id = resp.header("x-amzn-requestid").map(str::to_string);
    if let Ok(root) = xml::parse(&resp.body) {
        let err = root.child("Error").or(if root.name == "Error" {
            Some(&root)
        } else {
            None
        });
        if let Some(err) = err
            && let Some(code) = err.child_text("Code")
        {
            let request_id = header_id.or_else(|| root.child_text("RequestId").map(str::to_string));
            return op.error(
                status,
                code.to_string(),
                err.child_text("Message").unwrap_or("").to_string(),
                request_id,
            );
        }
    }
    op.error(
        status,
        resp.status
            .canonical_reason()
            .unwrap_or("UnknownError")
            .replace(' ', ""),
        super::credentials::summarize_body(&resp.body),
        header_id,
    )
}

/// Fetches credentials with `AssumeRole` (for [`super::CachingProvider`]): what the presign
/// endpoint does, done locally.
pub struct AssumeRoleFetcher {
    client: StsClient,
    request: AssumeRole,
}

impl AssumeRoleFetcher {
    pub fn new(client: StsClient, request: AssumeRole) -> Self {
        AssumeRoleFetcher { client, request }
    }
}

impl CredentialsFetcher for AssumeRoleFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<Credentials, AwsError>> {
        Box::pin(async move {
            self.client
                .assume_role(&self.request)
                .await
                .map(|r| r.credentials)
        })
    }
}
