//! SigV4 through AWS's own signer (`aws-sigv4`), with the time as an argument.
//!
//! Services differ in how they canonicalise the path: S3 signs the path exactly as sent (single
//! percent-encoding, no `.`/`..` normalisation) and wants `x-amz-content-sha256`; every other
//! service (Bedrock, STS) percent-encodes the already-encoded path once more and normalises it.
//! [`SigningProfile`] names those settings; [`Signer`] applies them.

use super::credentials::Credentials;
use super::error::AwsError;
use super::http::Request;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use http::Uri;
use http::header::{HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::time::{Duration, SystemTime};

/// Characters SigV4 leaves as they are: `A-Z a-z 0-9 - . _ ~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The unreserved characters and `/`, for paths made of several segments.
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Percent-encodes `s` the way SigV4 wants query keys and values and single path segments:
/// everything but `A-Z a-z 0-9 - . _ ~`, bytes of UTF-8 as `%XX` (uppercase).
pub fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// Like [`uri_encode`] but keeps `/`: an S3 key becomes its URL path.
pub fn uri_encode_path(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED_AND_SLASH).to_string()
}

/// Longest validity of a presigned URL that SigV4 accepts: 7 days.
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// How a service wants its requests canonicalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningProfile {
    /// The signing name: `s3`, `bedrock`, `sts`.
    pub service: String,
    /// Percent-encode the (already encoded) path once more in the canonical request: every
    /// service but S3 (so `amazon.titan-embed-text-v2%3A0` is signed as `...v2%253A0`).
    pub double_encode_path: bool,
    /// Resolve `.` and `..` segments and repeated `/` before signing: every service but S3.
    pub normalize_path: bool,
    /// Send and sign `x-amz-content-sha256` (S3 requires it).
    pub content_sha256_header: bool,
    /// Put `x-amz-security-token` in the canonical request (every current service does; a few
    /// old ones want it added after signing).
    pub sign_session_token: bool,
    /// Presigned URLs sign `UNSIGNED-PAYLOAD` instead of the body's hash (S3).
    pub presign_unsigned_payload: bool,
}

impl SigningProfile {
    /// The default settings of AWS's signer for a service other than S3.
    pub fn service(name: impl Into<String>) -> Self {
        SigningProfile {
            service: name.into(),
            double_encode_path: true,
            normalize_path: true,
            content_sha256_header: false,
            sign_session_token: true,
            presign_unsigned_payload: false,
        }
    }

    /// S3: single encoding, no normalisation, `x-amz-content-sha256`, unsigned presigned payload.
    pub fn s3() -> Self {
        SigningProfile {
            service: "s3".into(),
            double_encode_path: false,
            normalize_path: false,
            content_sha256_header: true,
            sign_session_token: true,
            presign_unsigned_payload: true,
        }
    }

    /// Bedrock runtime (`InvokeModel`): signing name `bedrock`, the default settings.
    pub fn bedrock() -> Self {
        Self::service("bedrock")
    }

    /// STS: signing name `sts`, the default settings.
    pub fn sts() -> Self {
        Self::service("sts")
    }

    fn settings(&self) -> SigningSettings {
        let mut s = SigningSettings::default();
        s.percent_encoding_mode = if self.double_encode_path {
            PercentEncodingMode::Double
        } else {
            PercentEncodingMode::Single
        };
        s.uri_path_normalization_mode = if self.normalize_path {
            UriPathNormalizationMode::Enabled
        } else {
            UriPathNormalizationMode::Disabled
        };
        s.payload_checksum_kind = if self.content_sha256_header {
            PayloadChecksumKind::XAmzSha256
        } else {
            PayloadChecksumKind::NoHeader
        };
        s.session_token_mode = if self.sign_session_token {
            SessionTokenMode::Include
        } else {
            SessionTokenMode::Exclude
        };
        s
    }
}

/// Signs requests for one service in one region.
#[derive(Clone, Debug)]
pub struct Signer {
    region: String,
    profile: SigningProfile,
}

/// Headers the signer adds; any already on a request are replaced.
const SIGNING_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

impl Signer {
    pub fn new(region: impl Into<String>, profile: SigningProfile) -> Self {
        Signer {
            region: region.into(),
            profile,
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn profile(&self) -> &SigningProfile {
        &self.profile
    }

    /// Signs `request` in place with an `Authorization` header (plus `x-amz-date`, and
    /// `x-amz-security-token` and `x-amz-content-sha256` as needed), as of `time`. Returns the
    /// signature (hex).
    pub fn sign(
        &self,
        request: &mut Request,
        credentials: &Credentials,
        time: SystemTime,
    ) -> Result<String, AwsError> {
        for h in SIGNING_HEADERS {
            request.headers.remove(h);
        }
        check_credentials(credentials)?;
        let identity = credentials.identity();
        let settings = self.profile.settings();
        let params = self.params(&identity, time, settings)?;
        let uri = request.uri.to_string();
        let headers = header_pairs(request)?;
        let signable = SignableRequest::new(
            request.method.as_str(),
            uri.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(&request.body),
        )
        .map_err(|e| self.error(request, &e))?;
        let (instructions, signature) = aws_sigv4::http_request::sign(signable, &params)
            .map_err(|e| self.error(request, &e))?
            .into_parts();
        let (new_headers, _params) = instructions.into_parts();
        for h in new_headers {
            let name = HeaderName::from_bytes(h.name().as_bytes()).map_err(|e| {
                AwsError::Signing(format!("the signer produced a bad header name: {e}"))
            })?;
            let mut value = HeaderValue::from_str(h.value()).map_err(|_| {
                AwsError::Signing(format!(
                    "{} cannot be sent as a header (control characters or non-ASCII): the \
                     credentials are malformed; check the session token",
                    h.name()
                ))
            })?;
            value.set_sensitive(h.sensitive() || h.name() == "authorization");
            request.headers.insert(name, value);
        }
        Ok(signature)
    }

    /// A presigned URL for `request` valid for `expires` from `time` (at most 7 days), with
    /// `X-Amz-Security-Token` when the credentials are temporary. `request`'s headers other than
    /// the signing ones are signed too, so whoever uses the URL must send them unchanged.
    pub fn presign(
        &self,
        request: &Request,
        credentials: &Credentials,
        time: SystemTime,
        expires: Duration,
    ) -> Result<Uri, AwsError> {
        if expires.is_zero() || expires > MAX_PRESIGN_EXPIRY {
            return Err(AwsError::invalid_input(format!(
                "a presigned URL must expire within 1 s to 7 days (604800 s), not {} s: choose \
                 an expiry in that range",
                expires.as_secs()
            )));
        }
        if expires.subsec_nanos() != 0 {
            return Err(AwsError::invalid_input(
                "a presigned URL's expiry is a whole number of seconds: round it",
            ));
        }
        check_credentials(credentials)?;
        let identity = credentials.identity();
        let mut settings = self.profile.settings();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
        // Presigned URLs never carry x-amz-content-sha256; the payload hash is in the canonical
        // request only.
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
        let params = self.params(&identity, time, settings)?;
        let uri = request.uri.to_string();
        let mut headers = header_pairs(request)?;
        headers.retain(|(n, _)| !SIGNING_HEADERS.contains(&n.to_ascii_lowercase().as_str()));
        let body = if self.profile.presign_unsigned_payload {
            SignableBody::UnsignedPayload
        } else {
            SignableBody::Bytes(&request.body)
        };
        let signable = SignableRequest::new(
            request.method.as_str(),
            uri.as_str(),
            headers.into_iter(),
            body,
        )
        .map_err(|e| self.error(request, &e))?;
        let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
            .map_err(|e| self.error(request, &e))?
            .into_parts();
        let (_headers, query) = instructions.into_parts();
        let mut url = uri;
        let mut sep = match request.uri.query() {
            None => "?",
            Some("") => "",
            Some(_) => "&",
        };
        for (k, v) in query {
            url.push_str(sep);
            url.push_str(&uri_encode(k));
            url.push('=');
            url.push_str(&uri_encode(&v));
            sep = "&";
        }
        url.parse().map_err(|e| {
            AwsError::Signing(format!(
                "the presigned URL for {} does not parse ({e}): the credentials hold characters \
                 a URL cannot carry; check them",
                request.redacted_url()
            ))
        })
    }

    fn params<'a>(
        &'a self,
        identity: &'a aws_smithy_runtime_api::client::identity::Identity,
        time: SystemTime,
        settings: SigningSettings,
    ) -> Result<aws_sigv4::http_request::SigningParams<'a>, AwsError> {
        if self.region.is_empty() {
            return Err(AwsError::invalid_input(
                "no region to sign for: give the region the endpoint is in (e.g. us-east-1)",
            ));
        }
        aws_sigv4::sign::v4::SigningParams::builder()
            .identity(identity)
            .region(&self.region)
            .name(&self.profile.service)
            .time(time)
            .settings(settings)
            .build()
            .map(Into::into)
            .map_err(|e| AwsError::Signing(format!("signing parameters: {e}")))
    }

    fn error(&self, request: &Request, e: &(dyn std::error::Error + 'static)) -> AwsError {
        let e = super::http::describe(e);
        AwsError::Signing(format!(
            "cannot sign {} {} for {} in {}: {e}; check that the URL is absolute and \
             percent-encoded and the header values are ASCII",
            request.method,
            request.redacted_url(),
            self.profile.service,
            self.region
        ))
    }
}

/// Keys and token must be printable ASCII: they travel in headers and URLs.
fn check_credentials(c: &Credentials) -> Result<(), AwsError> {
    let printable = |s: &str| s.bytes().all(|b| (0x21..0x7f).contains(&b));
    if !printable(c.access_key_id()) || !printable(c.secret_access_key()) {
        return Err(AwsError::Credentials(
            "the access key id or secret holds spaces, control characters or non-ASCII: copy \
             them again without surrounding whitespace"
                .into(),
        ));
    }
    if c.session_token().is_some_and(|t| !printable(t)) {
        return Err(AwsError::Credentials(
            "the session token holds spaces, control characters or non-ASCII, which an HTTP \
             header cannot carry: copy the whole token again"
                .into(),
        ));
    }
    Ok(())
}

/// The request's headers as text, for the signer. The host comes from the URL.
fn header_pairs(request: &Request) -> Result<Vec<(&str, &str)>, AwsError> {
    if request.uri.host().is_none() {
        return Err(AwsError::invalid_input(format!(
            "{} has no host: give an absolute URL",
            request.redacted_url()
        )));
    }
    request
        .headers
        .iter()
        .map(|(n, v)| {
            v.to_str().map(|v| (n.as_str(), v)).map_err(|_| {
                AwsError::invalid_input(format!(
                    "header {n} is not ASCII text and cannot be signed: send it percent-encoded"
                ))
            })
        })
        .collect()
}
