//! The one STS call the handler makes, behind a small trait so the handler can be tested
//! without a network, and its implementation on `aws-sdk-sts`.

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use std::future::Future;
use std::time::{Duration, SystemTime};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumeRoleInput {
    pub role_arn: String,
    pub session_name: String,
    pub policy: String,
    pub duration: Duration,
}

/// Temporary credentials. `Debug` leaves out the secret and the token.
#[derive(Clone)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: SystemTime,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// Why STS did not answer with credentials, and whether trying again can help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsFailure {
    /// STS's error code, or `Timeout`/`Unreachable` when it never answered.
    pub code: String,
    pub message: String,
    /// Throttling, STS's own failures and network trouble: yes. Refusals (the role's trust
    /// policy, a malformed policy): no, they need a configuration change.
    pub retryable: bool,
}

pub trait AssumeRole: Send + Sync + 'static {
    fn assume_role(
        &self,
        input: AssumeRoleInput,
    ) -> impl Future<Output = Result<TemporaryCredentials, StsFailure>> + Send;
}

impl AssumeRole for aws_sdk_sts::Client {
    async fn assume_role(
        &self,
        input: AssumeRoleInput,
    ) -> Result<TemporaryCredentials, StsFailure> {
        let duration = i32::try_from(input.duration.as_secs()).unwrap_or(i32::MAX);
        let out = aws_sdk_sts::Client::assume_role(self)
            .role_arn(input.role_arn)
            .role_session_name(input.session_name)
            .policy(input.policy)
            .duration_seconds(duration)
            .send()
            .await
            .map_err(classify)?;
        let c = out.credentials.ok_or_else(|| StsFailure {
            code: "NoCredentials".into(),
            message: "STS answered AssumeRole without credentials".into(),
            retryable: true,
        })?;
        let expiration = SystemTime::try_from(c.expiration).map_err(|_| StsFailure {
            code: "BadExpiration".into(),
            message: "STS answered an expiration time that cannot be represented".into(),
            retryable: false,
        })?;
        Ok(TemporaryCredentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expiration,
        })
    }
}

/// Codes STS uses for trouble on its side.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "InternalFailure",
    "IDPCommunicationError",
];

fn classify<E, R>(err: SdkError<E, R>) -> StsFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("Unknown").to_string();
            StsFailure {
                retryable: RETRYABLE_CODES.contains(&code.as_str()),
                message: e.message().unwrap_or("no message").to_string(),
                code,
            }
        }
        SdkError::TimeoutError(_) => StsFailure {
            code: "Timeout".into(),
            message: "STS did not answer in time".into(),
            retryable: true,
        },
        SdkError::DispatchFailure(d) => StsFailure {
            code: "Unreachable".into(),
            message: format!("could not reach STS: {d:?}"),
            retryable: true,
        },
        _ => StsFailure {
            code: "StsError".into(),
            message: format!("{}", aws_sdk_sts::error::DisplayErrorContext(&err)),
            retryable: !matches!(err, SdkError::ConstructionFailure(_)),
        },
    }
}
