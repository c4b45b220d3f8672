//! What a [`super::Client`] call can fail with, and the stable code each failure has in every
//! language the client is used from (docs/JS-API.md lists them). The codes live here, not in
//! the bindings, so native tests can check them too.

use crate::aws::error::{AwsError, ErrorKind, TransportErrorKind};
use crate::filter::FilterError;
use crate::format::FormatError;
use crate::index::IndexError;
use crate::store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error("{0}")]
    InvalidInput(String),
    /// The collection was made with another model than the one this client was told to use.
    #[error("{0}")]
    Incompatible(String),
    #[error(
        "nothing is loaded yet: call load() first (or add() documents), then search the collection"
    )]
    NotLoaded,
    #[error("this client was closed: connect a new one")]
    Closed,
}

impl ClientError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ClientError::InvalidInput(message.into())
    }

    /// The stable code of docs/JS-API.md ("AccessDenied", "NoCollection", ...).
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Store(e) => store_code(e),
            ClientError::Aws(e) => aws_code(e),
            ClientError::Index(e) => index_code(e),
            ClientError::Filter(_) => "InvalidFilter",
            ClientError::InvalidInput(_) => "InvalidArgument",
            ClientError::Incompatible(_) => "Incompatible",
            ClientError::NotLoaded => "NotLoaded",
            ClientError::Closed => "Closed",
        }
    }

    /// Whether the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Store(e) => e.is_retryable(),
            ClientError::Aws(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// The AWS error underneath, if any.
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            ClientError::Aws(e) | ClientError::Store(StoreError::Aws(e)) => Some(e),
            _ => None,
        }
    }
}

pub(crate) fn store_code(e: &StoreError) -> &'static str {
    match e {
        StoreError::Aws(a) => aws_code(a),
        StoreError::Format { key, source, .. } => match source {
            FormatError::ChecksumMismatch { .. } => "ChecksumMismatch",
            FormatError::UnsupportedVersion { .. } => "UnsupportedVersion",
            _ if key.ends_with(crate::store::MANIFEST_NAME) => "InvalidManifest",
            _ => "InvalidShard",
        },
        StoreError::NoCollection { .. } => "NoCollection",
        StoreError::Incompatible { field, .. } if *field == "dimension count" => {
            "DimensionMismatch"
        }
        StoreError::Incompatible { .. } => "Incompatible",
        StoreError::Contention { .. } | StoreError::CompactionConflict => "Conflict",
        StoreError::Index(i) => index_code(i),
        StoreError::InvalidInput(_) => "InvalidArgument",
    }
}

pub(crate) fn index_code(e: &IndexError) -> &'static str {
    match e {
        IndexError::DimensionMismatch { .. } => "DimensionMismatch",
        IndexError::DtypeMismatch { .. } => "DtypeMismatch",
        IndexError::Empty => "EmptyCollection",
        IndexError::ModeUnavailable { .. } => "ModeUnavailable",
        IndexError::Format(FormatError::ChecksumMismatch { .. }) => "ChecksumMismatch",
        IndexError::Format(_) => "InvalidShard",
        _ => "InvalidArgument",
    }
}

pub(crate) fn aws_code(e: &AwsError) -> &'static str {
    match e {
        AwsError::Service(s) if s.service == "presign" => "CredentialsUnavailable",
        AwsError::Service(s) => match s.kind() {
            ErrorKind::NoSuchKey | ErrorKind::NotFound if s.service == "Bedrock" => {
                "ModelNotAvailable"
            }
            ErrorKind::NoSuchKey | ErrorKind::NotFound => "NoSuchKey",
            ErrorKind::NoSuchBucket => "NoSuchBucket",
            // Bedrock says "You don't have access to the model with the specified model ID."
            // when the account has not enabled the model; a policy refusal names the action.
            ErrorKind::AccessDenied
                if s.service == "Bedrock" && s.message.contains("access to the model") =>
            {
                "ModelNotAvailable"
            }
            ErrorKind::AccessDenied => "AccessDenied",
            ErrorKind::ExpiredToken => "ExpiredCredentials",
            ErrorKind::InvalidCredentials | ErrorKind::SignatureDoesNotMatch => {
                "InvalidCredentials"
            }
            ErrorKind::Throttling => "Throttled",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::PreconditionFailed | ErrorKind::ConditionalConflict => "Conflict",
            _ if s.service == "Bedrock" && s.code == "ResourceNotFoundException" => {
                "ModelNotAvailable"
            }
            _ => "ServiceError",
        },
        AwsError::Transport(t) => match t.kind {
            TransportErrorKind::Timeout => "Timeout",
            TransportErrorKind::Request => "InvalidArgument",
            _ => "Network",
        },
        AwsError::Credentials(m) if m.contains("expired") => "ExpiredCredentials",
        AwsError::Credentials(_) => "CredentialsUnavailable",
        AwsError::Signing(_) | AwsError::InvalidInput(_) => "InvalidArgument",
        AwsError::InvalidResponse(_) => "ServiceError",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::error::{ServiceError, TransportError};

    fn service(service: &'static str, status: u16, code: &str, message: &str) -> ClientError {
        ClientError::Aws(AwsError::from(ServiceError {
            service,
            operation: "Op",
            resource: "r".into(),
            status,
            code: code.into(),
            message: message.into(),
            request_id: None,
        }))
    }

    #[test]
    fn aws_answers_have_the_documented_codes() {
        let cases = [
            (service("S3", 404, "NoSuchKey", ""), "NoSuchKey"),
            (service("S3", 404, "NoSuchBucket", ""), "NoSuchBucket"),
            (service("S3", 403, "AccessDenied", "no"), "AccessDenied"),
            (service("S3", 400, "ExpiredToken", ""), "ExpiredCredentials"),
            (
                service("S3", 403, "SignatureDoesNotMatch", ""),
                "InvalidCredentials",
            ),
            (service("S3", 503, "SlowDown", ""), "Throttled"),
            (
                service("Bedrock", 429, "ThrottlingException", ""),
                "Throttled",
            ),
            (
                service("Bedrock", 404, "ResourceNotFoundException", ""),
                "ModelNotAvailable",
            ),
            (
                service(
                    "Bedrock",
                    403,
                    "AccessDeniedException",
                    "You don't have access to the model with the specified model ID.",
                ),
                "ModelNotAvailable",
            ),
            (
                service(
                    "Bedrock",
                    403,
                    "AccessDeniedException",
                    "not authorized to perform",
                ),
                "AccessDenied",
            ),
            (
                service("presign", 401, "WriteNotAuthorized", ""),
                "CredentialsUnavailable",
            ),
            (service("S3", 500, "InternalError", ""), "ServiceError"),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code, "{e}");
        }
        let timeout = ClientError::Aws(AwsError::from(TransportError {
            kind: TransportErrorKind::Timeout,
            method: "GET".into(),
            url: "u".into(),
            message: "m".into(),
        }));
        assert_eq!(timeout.code(), "Timeout");
        assert!(timeout.is_retryable());
    }

    #[test]
    fn store_errors_have_the_documented_codes() {
        let format = |key: &str, source| {
            ClientError::Store(StoreError::Format {
                bucket: "b".into(),
                key: key.into(),
                source,
            })
        };
        let bad = || FormatError::BadManifest("x".into());
        assert_eq!(format("p/manifest.json", bad()).code(), "InvalidManifest");
        assert_eq!(format("p/shards/1.s3vs", bad()).code(), "InvalidShard");
        let incompatible = |field| {
            ClientError::Store(StoreError::Incompatible {
                field,
                collection: "a".into(),
                given: "b".into(),
            })
        };
        assert_eq!(incompatible("dimension count").code(), "DimensionMismatch");
        assert_eq!(incompatible("model").code(), "Incompatible");
        let contention = ClientError::Store(StoreError::Contention { attempts: 3 });
        assert_eq!(contention.code(), "Conflict");
        assert!(contention.is_retryable());
    }
}
