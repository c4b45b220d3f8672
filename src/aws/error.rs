//! Errors of the AWS layer. Every one says what went wrong and what to do about it, keeps what
//! AWS said (code, message, request id), and says whether trying again can help.

use std::fmt;

/// Everything the AWS layer can fail with.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AwsError {
    /// The service answered with an error (S3's XML, STS's XML, Bedrock's JSON).
    #[error(transparent)]
    Service(Box<ServiceError>),
    /// The request did not get an answer: connection, TLS, timeout, CORS in a browser.
    #[error(transparent)]
    Transport(Box<TransportError>),
    /// No credentials could be had (the message names the source and the fix).
    #[error("credentials: {0}")]
    Credentials(String),
    /// The request could not be signed (the message names the field and the fix).
    #[error("signing: {0}")]
    Signing(String),
    /// An argument was refused before anything was sent.
    #[error("{0}")]
    InvalidInput(String),
    /// The service answered success with a body this client cannot read.
    #[error("{0}")]
    InvalidResponse(String),
}

impl From<ServiceError> for AwsError {
    fn from(e: ServiceError) -> Self {
        AwsError::Service(Box::new(e))
    }
}

impl From<TransportError> for AwsError {
    fn from(e: TransportError) -> Self {
        AwsError::Transport(Box::new(e))
    }
}

impl AwsError {
    /// Whether sending the same request again later may succeed: throttling, server errors,
    /// timeouts and transport failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            AwsError::Service(e) => e.is_retryable(),
            AwsError::Transport(_) => true,
            _ => false,
        }
    }

    /// The service error, if the service answered.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            AwsError::Service(e) => Some(e),
            _ => None,
        }
    }

    /// The kind of service error; `None` when the service did not answer.
    pub fn kind(&self) -> Option<ErrorKind> {
        self.service().map(ServiceError::kind)
    }

    /// AWS's error code (`NoSuchKey`, `ThrottlingException`, ...), if the service answered.
    pub fn code(&self) -> Option<&str> {
        self.service().map(|e| e.code.as_str())
    }

    /// `NoSuchKey` (GET) or `NotFound` (HEAD, which has no body).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.kind(),
            Some(ErrorKind::NoSuchKey | ErrorKind::NotFound)
        )
    }

    /// 412: `If-Match` with a stale ETag, or `If-None-Match: *` on an existing key.
    pub fn is_precondition_failed(&self) -> bool {
        matches!(self.kind(), Some(ErrorKind::PreconditionFailed))
    }

    /// A conditional write lost a race (412 or S3's 409 `ConditionalRequestConflict`): read
    /// again and retry.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self.kind(),
            Some(ErrorKind::PreconditionFailed | ErrorKind::ConditionalConflict)
        )
    }

    pub fn is_access_denied(&self) -> bool {
        matches!(self.kind(), Some(ErrorKind::AccessDenied))
    }

    pub fn is_expired_token(&self) -> bool {
        matches!(self.kind(), Some(ErrorKind::ExpiredToken))
    }

    pub(crate) fn invalid_input(msg: impl Into<String>) -> Self {
        AwsError::InvalidInput(msg.into())
    }
}

/// What kind of error a service answered, from its code (and status when there is no body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// S3 `NoSuchKey`.
    NoSuchKey,
    /// 404 without a body (S3 `HeadObject`).
    NotFound,
    /// S3 `NoSuchBucket`.
    NoSuchBucket,
    /// `AccessDenied`, `AccessDeniedException`, 403 without a body.
    AccessDenied,
    /// 412 `PreconditionFailed`.
    PreconditionFailed,
    /// S3 409 `ConditionalRequestConflict`: a concurrent conditional write.
    ConditionalConflict,
    /// 416 `InvalidRange`.
    InvalidRange,
    /// `SignatureDoesNotMatch`, `InvalidSignatureException`.
    SignatureDoesNotMatch,
    /// `ExpiredToken`, `ExpiredTokenException`.
    ExpiredToken,
    /// `InvalidAccessKeyId`, `InvalidToken`, `InvalidClientTokenId`, `UnrecognizedClientException`.
    InvalidCredentials,
    /// `RequestTimeTooSkewed`, or a signature that is too old or too new.
    ClockSkew,
    /// `SlowDown`, `ThrottlingException`, `Throttling`, `TooManyRequestsException`,
    /// `ModelNotReadyException`, 429.
    Throttling,
    /// 5xx: `InternalError`, `ServiceUnavailable`, `InternalServerException`, ...
    ServerError,
    /// `RequestTimeout`, `ModelTimeoutException`.
    Timeout,
    /// `ValidationException`, `ValidationError`, `InvalidArgument`, `InvalidRequest`,
    /// `MalformedPolicyDocument`, ...
    Validation,
    /// Bedrock `ResourceNotFoundException` (an unknown model id).
    ResourceNotFound,
    /// Anything else: see the code and message.
    Other,
}

impl ErrorKind {
    /// Classifies AWS's error `code`; `status` decides when the code is not a known one.
    pub fn from_code(code: &str, status: u16) -> ErrorKind {
        match code {
            "NoSuchKey" => ErrorKind::NoSuchKey,
            "NotFound" => ErrorKind::NotFound,
            "NoSuchBucket" => ErrorKind::NoSuchBucket,
            "AccessDenied" | "AccessDeniedException" | "Forbidden" => ErrorKind::AccessDenied,
            "PreconditionFailed" => ErrorKind::PreconditionFailed,
            "ConditionalRequestConflict" => ErrorKind::ConditionalConflict,
            "InvalidRange" => ErrorKind::InvalidRange,
            "SignatureDoesNotMatch" | "InvalidSignatureException" => {
                ErrorKind::SignatureDoesNotMatch
            }
            "ExpiredToken" | "ExpiredTokenException" | "TokenRefreshRequired" => {
                ErrorKind::ExpiredToken
            }
            "InvalidAccessKeyId"
            | "InvalidToken"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "MissingAuthenticationToken"
            | "IncompleteSignature" => ErrorKind::InvalidCredentials,
            "RequestTimeTooSkewed" | "RequestExpired" => ErrorKind::ClockSkew,
            "SlowDown"
            | "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "ServiceQuotaExceededException"
            | "ModelNotReadyException" => ErrorKind::Throttling,
            "InternalError"
            | "ServiceUnavailable"
            | "InternalServerException"
            | "InternalFailure"
            | "ServiceUnavailableException"
            | "InternalServerError" => ErrorKind::ServerError,
            "RequestTimeout" | "ModelTimeoutException" => ErrorKind::Timeout,
            "ValidationException"
            | "ValidationError"
            | "InvalidArgument"
            | "InvalidRequest"
            | "MalformedPolicyDocument"
            | "MalformedXML"
            | "InvalidParameterValue"
            | "InvalidAction"
            | "AuthorizationHeaderMalformed"
            | "AuthorizationQueryParametersError"
            | "EntityTooLarge"
            | "InvalidBucketName"
            | "KeyTooLongError" => ErrorKind::Validation,
            "ResourceNotFoundException" => ErrorKind::ResourceNotFound,
            _ => match status {
                404 => ErrorKind::NotFound,
                403 => ErrorKind::AccessDenied,
                412 => ErrorKind::PreconditionFailed,
                416 => ErrorKind::InvalidRange,
                429 => ErrorKind::Throttling,
                408 => ErrorKind::Timeout,
                500..=599 => ErrorKind::ServerError,
                _ => ErrorKind::Other,
            },
        }
    }

    /// Whether a later retry of the same request may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Throttling | ErrorKind::ServerError | ErrorKind::Timeout
        )
    }

    /// What to do about it, in one sentence.
    pub fn hint(self) -> &'static str {
        match self {
            ErrorKind::NoSuchKey | ErrorKind::NotFound => {
                "The object does not exist: check the key and the prefix."
            }
            ErrorKind::NoSuchBucket => {
                "Check the bucket name, and that the endpoint and region are the bucket's."
            }
            ErrorKind::AccessDenied => {
                "The credentials' policy does not allow this: check the bucket, prefix or model \
                 the session is scoped to, and ask for write credentials to write."
            }
            ErrorKind::PreconditionFailed => {
                "The object changed since its ETag was read (or already exists, for \
                 If-None-Match: *): read it again and retry."
            }
            ErrorKind::ConditionalConflict => {
                "Another conditional write to the same key was in progress: read it again and retry."
            }
            ErrorKind::InvalidRange => {
                "The range starts past the end of the object: check its size."
            }
            ErrorKind::SignatureDoesNotMatch => {
                "The server computed another signature: check the secret key, the region and the \
                 endpoint (a proxy that rewrites the path or host also breaks signatures)."
            }
            ErrorKind::ExpiredToken => {
                "The session credentials expired: get new ones (CachingProvider does this by \
                 itself); if it keeps happening, check the clock."
            }
            ErrorKind::InvalidCredentials => {
                "The access key or session token is not recognised: check the keys, and that \
                 temporary credentials come with their session token."
            }
            ErrorKind::ClockSkew => {
                "The clock differs from the service's by more than 15 minutes: set the clock right."
            }
            ErrorKind::Throttling => {
                "Too many requests: retry later with backoff, or lower the concurrency."
            }
            ErrorKind::ServerError => "The service failed: retry later.",
            ErrorKind::Timeout => "The service timed out: retry.",
            ErrorKind::Validation => {
                "The service refused the request as malformed: see its message."
            }
            ErrorKind::ResourceNotFound => {
                "Check the model id and the region (the model must be enabled for the account \
                 there)."
            }
            ErrorKind::Other => "See the service's message.",
        }
    }
}

/// An error answered by a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// "S3", "STS", "Bedrock", "presign".
    pub service: &'static str,
    /// "GetObject", "AssumeRole", "InvokeModel", ...
    pub operation: &'static str,
    /// What the request was about: `s3://bucket/key`, a model id, a URL.
    pub resource: String,
    pub status: u16,
    /// AWS's code, as sent (`NoSuchKey`, `ThrottlingException`, ...). Made from the status when
    /// the answer had no body (`NotFound` for a 404 HEAD).
    pub code: String,
    /// AWS's message, as sent (may be empty).
    pub message: String,
    /// `x-amz-request-id` / `x-amzn-RequestId` / `<RequestId>`: give it to AWS support.
    pub request_id: Option<String>,
}

impl ServiceError {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::from_code(&self.code, self.status)
    }

    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable() || self.status >= 500
    }

    /// What to do about it, in one sentence.
    pub fn hint(&self) -> &'static str {
        match (self.service, self.kind()) {
            ("Bedrock", ErrorKind::AccessDenied) => {
                "The credentials' policy does not allow bedrock:InvokeModel on this model: use \
                 the model the session is scoped to, or enable the model for the account."
            }
            ("STS", ErrorKind::AccessDenied) => {
                "These credentials may not call AssumeRole: use long-lived keys allowed to \
                 assume the role (sessions cannot assume roles)."
            }
            (_, kind) => kind.hint(),
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}: {} {}",
            self.service, self.operation, self.resource, self.status, self.code
        )?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        write!(f, ". {}", self.hint())
    }
}

impl std::error::Error for ServiceError {}

/// How a request failed to get an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    Timeout,
    Connect,
    /// The answer started but its body could not be read.
    Body,
    /// The request could not be built (a bad URL or header).
    Request,
    Other,
}

/// A request that got no (complete) answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub method: String,
    /// Scheme, host and path only: the query may hold a presigned signature or token.
    pub url: String,
    pub message: String,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Connect => "could not connect",
            TransportErrorKind::Body => "could not read the answer",
            TransportErrorKind::Request => "could not build the request",
            TransportErrorKind::Other => "failed",
        };
        let fix = match self.kind {
            TransportErrorKind::Timeout => {
                "Retry; if it keeps happening, raise the timeout or check the network."
            }
            TransportErrorKind::Request => "Check the endpoint URL.",
            _ => {
                "Check the endpoint URL and the network; in a browser, also that the server's \
                 CORS rules allow this origin and the headers SigV4 sends."
            }
        };
        write!(
            f,
            "{} {} {what}: {}. {fix}",
            self.method, self.url, self.message
        )
    }
}

impl std::error::Error for TransportError {}

/// A URL without its query or fragment, for messages (the query may hold secrets).
pub(crate) fn redact_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url[..end].to_string()
}
