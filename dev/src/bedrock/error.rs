//! Errors as bedrock-runtime sends them: a status code, the error's name in `x-amzn-ErrorType`
//! and `{"message": "..."}` as the body.

use http::StatusCode;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BedrockError {
    pub status: StatusCode,
    /// The AWS error name, e.g. `ValidationException`.
    pub kind: &'static str,
    pub message: String,
}

impl BedrockError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        BedrockError {
            status,
            kind,
            message: message.into(),
        }
    }

    /// A request body that Titan's input schema rejects. `detail` reads like the schema
    /// validator's own words, e.g. `#/dimensions: 300 is not a valid enum value`.
    pub fn malformed(detail: impl std::fmt::Display) -> Self {
        Self::validation(format!(
            "Malformed input request: {detail}, please reformat your input and try again."
        ))
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDeniedException", message)
    }

    pub fn model_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "Could not resolve the foundation model from the provided model identifier.",
        )
    }

    pub fn throttled() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests, please wait before trying your request again.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            "The server encountered an internal error while processing the request.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableException",
            "Bedrock is unable to process your request.",
        )
    }

    pub fn missing_authentication() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    }

    pub fn incomplete_signature(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "IncompleteSignatureException",
            message,
        )
    }

    pub fn invalid_signature(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "InvalidSignatureException", message)
    }

    pub fn signature_mismatch() -> Self {
        Self::invalid_signature(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details.",
        )
    }

    pub fn unrecognized_client() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    }

    pub fn expired_token() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        )
    }

    pub fn unknown_operation() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            "The requested operation is not supported by this service.",
        )
    }

    /// The JSON body: `{"message": ...}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "message": self.message }).to_string()
    }
}

impl std::fmt::Display for BedrockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.kind, self.status, self.message)
    }
}

impl std::error::Error for BedrockError {}
