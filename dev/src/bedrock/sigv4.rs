//! SigV4 verification for header-signed requests, by recomputing the signature: canonical
//! request, string to sign, the HMAC-SHA256 key chain, then a constant-time comparison.
//!
//! Bedrock is not S3, so the canonical URI is the request path URI-encoded once more: a model id's
//! `:` travels as `%3A` and is signed as `%253A`. The payload hash is always computed from the
//! body (a non-S3 service does not trust `x-amz-content-sha256`).

use super::error::BedrockError;
use hmac::{KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;
use time::macros::format_description;

type HmacSha256 = hmac::Hmac<Sha256>;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far `x-amz-date` may be from the server's clock, either way (AWS allows 15 minutes).
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

/// A request whose signature checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub access_key: String,
    /// `x-amz-security-token`, to be checked against the credential store.
    pub session_token: Option<String>,
}

/// What verification needs from the service.
pub struct Expect<'a> {
    /// The signing name, `bedrock`.
    pub service: &'a str,
    pub region: &'a str,
    pub now: SystemTime,
    pub max_skew: Duration,
}

/// Why a request is unsigned, or how its signature fails. [`VerifyError::UnknownKey`] comes apart
/// from the rest so the caller can answer it the way the service does.
#[derive(Debug, PartialEq, Eq)]
pub enum VerifyError {
    Unsigned,
    UnknownKey,
    Rejected(BedrockError),
}

impl From<BedrockError> for VerifyError {
    fn from(e: BedrockError) -> Self {
        VerifyError::Rejected(e)
    }
}

struct AuthorizationHeader<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

/// Verifies the `Authorization` header of a request. `secret_for` looks up an access key's secret.
pub fn verify(
    parts: &http::request::Parts,
    body: &[u8],
    expect: &Expect<'_>,
    secret_for: impl FnOnce(&str) -> Option<String>,
) -> Result<Verified, VerifyError> {
    let Some(authorization) = parts.headers.get(http::header::AUTHORIZATION) else {
        return Err(VerifyError::Unsigned);
    };
    let authorization = authorization.to_str().map_err(|_| {
        BedrockError::incomplete_signature("The Authorization header is not valid ASCII.")
    })?;
    let auth = parse_authorization(authorization)?;

    let amz_date = header(parts, "x-amz-date").ok_or_else(|| {
        BedrockError::incomplete_signature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    })?;
    let signed_at = parse_amz_date(amz_date).ok_or_else(|| {
        BedrockError::incomplete_signature(format!(
            "Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See \
             http://en.wikipedia.org/wiki/ISO_8601"
        ))
    })?;
    if auth.service != expect.service {
        return Err(BedrockError::invalid_signature(format!(
            "Credential should be scoped to correct service: '{}'. ",
            expect.service
        ))
        .into());
    }
    if auth.region != expect.region {
        return Err(BedrockError::invalid_signature(
            "Credential should be scoped to a valid region. ",
        )
        .into());
    }
    if auth.terminator != "aws4_request" {
        return Err(BedrockError::invalid_signature(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            auth.terminator
        ))
        .into());
    }
    if auth.date != &amz_date[..8] {
        return Err(BedrockError::invalid_signature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
             HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            &amz_date[..8]
        ))
        .into());
    }
    check_skew(signed_at, amz_date, expect)?;
    if !auth.signed_headers.contains(&"host") {
        return Err(BedrockError::invalid_signature(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
        .into());
    }

    let secret = secret_for(auth.access_key).ok_or(VerifyError::UnknownKey)?;
    let canonical = canonical_request(parts, body, &auth.signed_headers);
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(&secret, auth.date, auth.region, auth.service);
    let expected = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(BedrockError::signature_mismatch().into());
    }
    Ok(Verified {
        access_key: auth.access_key.to_string(),
        session_token: header(parts, "x-amz-security-token").map(str::to_string),
    })
}

fn header<'a>(parts: &'a http::request::Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse_authorization(value: &str) -> Result<AuthorizationHeader<'_>, BedrockError> {
    let Some(params) = value.strip_prefix(ALGORITHM) else {
        let algorithm = value.split_whitespace().next().unwrap_or("");
        return Err(BedrockError::incomplete_signature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'."
        )));
    };
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for item in params.split(',') {
        let item = item.trim();
        if let Some(v) = item.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = item.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = item.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let mut missing = String::new();
    for (name, v) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if v.is_none_or(str::is_empty) {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if !missing.is_empty() {
        return Err(BedrockError::incomplete_signature(format!(
            "{missing}Authorization={value}"
        )));
    }
    let credential = credential.unwrap_or_default();
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, terminator] = scope[..] else {
        return Err(BedrockError::incomplete_signature(format!(
            "Credential should have 5 parts separated by '/', got '{credential}'."
        )));
    };
    Ok(AuthorizationHeader {
        access_key,
        date,
        region,
        service,
        terminator,
        signed_headers: signed_headers.unwrap_or_default().split(';').collect(),
        signature: signature.unwrap_or_default(),
    })
}

/// `20150830T123600Z` as a point in time.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    if s.len() != 16 {
        return None;
    }
    time::PrimitiveDateTime::parse(s, format)
        .ok()
        .map(|t| SystemTime::from(t.assume_utc()))
}

/// A point in time as `x-amz-date` writes it.
pub fn format_amz_date(t: SystemTime) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    OffsetDateTime::from(t)
        .format(format)
        .unwrap_or_else(|_| "19700101T000000Z".into())
}

fn check_skew(
    signed_at: SystemTime,
    amz_date: &str,
    expect: &Expect<'_>,
) -> Result<(), BedrockError> {
    let minutes = expect.max_skew.as_secs() / 60;
    let now = format_amz_date(expect.now);
    if signed_at + expect.max_skew < expect.now {
        return Err(BedrockError::invalid_signature(format!(
            "Signature expired: {amz_date} is now earlier than {} ({now} - {minutes} min.)",
            format_amz_date(expect.now - expect.max_skew)
        )));
    }
    if signed_at > expect.now + expect.max_skew {
        return Err(BedrockError::invalid_signature(format!(
            "Signature not yet current: {amz_date} is still later than {} ({now} + {minutes} min.)",
            format_amz_date(expect.now + expect.max_skew)
        )));
    }
    Ok(())
}

/// The canonical request of SigV4 for a non-S3 service.
pub fn canonical_request(
    parts: &http::request::Parts,
    body: &[u8],
    signed_headers: &[&str],
) -> String {
    let mut out = String::new();
    out.push_str(parts.method.as_str());
    out.push('\n');
    out.push_str(&canonical_uri(parts.uri.path()));
    out.push('\n');
    out.push_str(&canonical_query(parts.uri.query().unwrap_or("")));
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let values: Vec<String> = parts
            .headers
            .get_all(*name)
            .iter()
            .map(|v| collapse_spaces(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(&hex::encode(Sha256::digest(body)));
    out
}

/// The path as sent (already percent-encoded once), with dot segments removed, encoded again.
pub fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let trailing_slash = path.len() > 1 && path.ends_with('/');
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut normalized = format!("/{}", segments.join("/"));
    if trailing_slash && normalized.len() > 1 {
        normalized.push('/');
    }
    utf8_percent_encode(&normalized, UNRESERVED_AND_SLASH).to_string()
}

/// Query parameters decoded, encoded the SigV4 way and sorted.
pub fn canonical_query(query: &str) -> String {
    let encode = |s: &str| {
        let decoded = percent_decode_str(s).decode_utf8_lossy();
        utf8_percent_encode(&decoded, UNRESERVED).to_string()
    };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (encode(k), encode(v))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Trims a header value and collapses runs of spaces to one.
fn collapse_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_are_encoded_twice() {
        assert_eq!(
            canonical_uri("/model/amazon.titan-embed-text-v2%3A0/invoke"),
            "/model/amazon.titan-embed-text-v2%253A0/invoke"
        );
        assert_eq!(canonical_uri("/a/./b/../c//d/"), "/a/c/d/");
        assert_eq!(canonical_uri(""), "/");
    }

    #[test]
    fn query_is_decoded_reencoded_and_sorted() {
        assert_eq!(
            canonical_query("b=2&a=x%20y&a=%2F&c"),
            "a=%2F&a=x%20y&b=2&c="
        );
    }

    #[test]
    fn amz_dates_round_trip() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert!(parse_amz_date("2015-08-30T12:36:00Z").is_none());
        assert!(parse_amz_date("20150830T123600").is_none());
    }

    /// The key-derivation example in AWS's SigV4 documentation.
    #[test]
    fn signing_key_matches_aws_example() {
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
