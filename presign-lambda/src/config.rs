//! Settings, from the environment (Lambda) or flags (the local server), checked once at start so
//! that a misconfigured function fails its cold start with a message instead of its requests.

use crate::policy::validate_prefix;
use std::time::Duration;

/// The raw settings. Each flag falls back to the environment variable named beside it.
#[derive(clap::Args, Clone, Debug)]
pub struct Settings {
    /// The vector bucket (`${project}-${env}-vector-${purpose}`).
    #[arg(long, env = "VECTOR_BUCKET_NAME")]
    pub bucket: String,
    /// Collection prefixes sessions may be scoped to, comma-separated; the first is the default.
    #[arg(
        long,
        env = "VECTOR_PREFIXES",
        value_delimiter = ',',
        default_value = "docs/"
    )]
    pub prefixes: Vec<String>,
    /// The one Bedrock model sessions may invoke.
    #[arg(
        long,
        env = "BEDROCK_MODEL_ID",
        default_value = "amazon.titan-embed-text-v2:0"
    )]
    pub model_id: String,
    /// The role assumed for every session; its policy bounds every session policy.
    #[arg(long, env = "BROWSER_ROLE_ARN")]
    pub role_arn: String,
    /// Browser origins granted credentials and CORS, comma-separated (`https://example.com`).
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Also serve requests without an `Origin` header (non-browser clients such as the CLI).
    #[arg(long, env = "ALLOW_MISSING_ORIGIN", default_value_t = false)]
    pub allow_missing_origin: bool,
    /// Hex SHA-256 of the bearer token that unlocks write access; none: read-only for all.
    #[arg(long, env = "WRITE_TOKEN_SHA256")]
    pub write_token_sha256: Option<String>,
    /// Lifetime of issued credentials (900 to 43200 s, at most the role's maximum).
    #[arg(long, env = "SESSION_DURATION_SECONDS", default_value_t = 900)]
    pub session_duration_seconds: u32,
    #[arg(long, env = "AWS_REGION")]
    pub region: String,
    /// The bucket's KMS key, if SSE-KMS: sessions get Decrypt (and GenerateDataKey to write).
    #[arg(long, env = "KMS_KEY_ARN")]
    pub kms_key_arn: Option<String>,
    /// S3 endpoint given to clients (default: the region's).
    #[arg(long, env = "S3_ENDPOINT_URL")]
    pub s3_endpoint: Option<String>,
    /// Bedrock runtime endpoint given to clients and used by the relay (default: the region's).
    #[arg(long, env = "BEDROCK_ENDPOINT_URL")]
    pub bedrock_endpoint: Option<String>,
    /// Serve the Bedrock CORS relay under `/bedrock/`.
    #[arg(long, env = "RELAY_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub relay: bool,
    /// Credential requests per caller per minute, per execution environment.
    #[arg(long, env = "CREDENTIALS_PER_MINUTE", default_value_t = 10)]
    pub credentials_per_minute: u32,
    /// Relayed InvokeModel calls per caller per minute, per execution environment.
    #[arg(long, env = "RELAY_PER_MINUTE", default_value_t = 600)]
    pub relay_per_minute: u32,
}

/// Checked settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub region: String,
    /// From the role ARN (`aws`, `aws-cn`, `aws-us-gov`): every ARN we build uses it.
    pub partition: String,
    pub bucket: String,
    pub prefixes: Vec<String>,
    pub model_id: String,
    pub role_arn: String,
    pub origins: Vec<String>,
    pub allow_missing_origin: bool,
    pub write_token_sha256: Option<[u8; 32]>,
    pub session_duration: Duration,
    pub kms_key_arn: Option<String>,
    pub s3_endpoint: String,
    pub bedrock_endpoint: String,
    pub relay: bool,
    pub credentials_per_minute: u32,
    pub relay_per_minute: u32,
}

impl Config {
    pub fn from_settings(mut s: Settings) -> Result<Config, String> {
        // An optional variable set to "" means unset, as in a Lambda console that cannot
        // delete one.
        for v in [
            &mut s.kms_key_arn,
            &mut s.s3_endpoint,
            &mut s.bedrock_endpoint,
        ] {
            if v.as_deref().is_some_and(|t| t.trim().is_empty()) {
                *v = None;
            }
        }
        let region = s.region.trim().to_string();
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "AWS_REGION {region:?} is not a region name: set it like us-east-1"
            ));
        }
        let partition = role_partition(&s.role_arn)?;
        let bucket = s.bucket.trim().to_string();
        if !valid_bucket(&bucket) {
            return Err(format!(
                "VECTOR_BUCKET_NAME {bucket:?} is not a bucket name: 3 to 63 lowercase letters, \
                 digits, '-' and '.', like s3vec-dev-vector-docs"
            ));
        }
        let mut prefixes = Vec::new();
        for p in s
            .prefixes
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
        {
            prefixes.push(validate_prefix(p).map_err(|e| format!("VECTOR_PREFIXES: {e}"))?);
        }
        if prefixes.is_empty() {
            return Err("VECTOR_PREFIXES is empty: name at least one prefix, like docs/".into());
        }
        let model_id = s.model_id.trim().to_string();
        if model_id.is_empty()
            || !model_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'))
        {
            return Err(format!(
                "BEDROCK_MODEL_ID {model_id:?} is not a foundation model id: set it like \
                 amazon.titan-embed-text-v2:0"
            ));
        }
        let mut origins = Vec::new();
        for o in s
            .allowed_origins
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
        {
            origins.push(normalize_origin(o)?);
        }
        if origins.is_empty() && !s.allow_missing_origin {
            return Err(
                "ALLOWED_ORIGINS is empty: list the site's origins, like https://example.com"
                    .into(),
            );
        }
        let write_token_sha256 = match s.write_token_sha256.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(h) => Some(parse_sha256(h)?),
        };
        if !(900..=43_200).contains(&s.session_duration_seconds) {
            return Err(format!(
                "SESSION_DURATION_SECONDS is {}: STS accepts 900 to 43200 (and at most the \
                 role's maximum session duration)",
                s.session_duration_seconds
            ));
        }
        if let Some(key) = &s.kms_key_arn
            && !key.starts_with(&format!("arn:{partition}:kms:"))
        {
            return Err(format!(
                "KMS_KEY_ARN {key:?} is not a KMS key ARN in partition {partition}: give the \
                 key's ARN, not its id or alias"
            ));
        }
        if s.credentials_per_minute == 0 || s.relay_per_minute == 0 {
            return Err(
                "CREDENTIALS_PER_MINUTE and RELAY_PER_MINUTE must be at least 1 (set \
                 RELAY_ENABLED=false to turn the relay off)"
                    .into(),
            );
        }
        let suffix = if partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let s3_endpoint = endpoint(
            "S3_ENDPOINT_URL",
            s.s3_endpoint,
            format!("https://s3.{region}.{suffix}"),
        )?;
        let bedrock_endpoint = endpoint(
            "BEDROCK_ENDPOINT_URL",
            s.bedrock_endpoint,
            format!("https://bedrock-runtime.{region}.{suffix}"),
        )?;
        Ok(Config {
            region,
            partition,
            bucket,
            prefixes,
            model_id,
            role_arn: s.role_arn,
            origins,
            allow_missing_origin: s.allow_missing_origin,
            write_token_sha256,
            session_duration: Duration::from_secs(u64::from(s.session_duration_seconds)),
            kms_key_arn: s.kms_key_arn,
            s3_endpoint,
            bedrock_endpoint,
            relay: s.relay,
            credentials_per_minute: s.credentials_per_minute,
            relay_per_minute: s.relay_per_minute,
        })
    }
}

fn role_partition(arn: &str) -> Result<String, String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > "role/".len();
    if !ok {
        return Err(format!(
            "BROWSER_ROLE_ARN {arn:?} is not a role ARN: give it as \
             arn:aws:iam::123456789012:role/NAME"
        ));
    }
    Ok(parts[1].to_string())
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        && b.as_bytes()[0].is_ascii_alphanumeric()
        && b.as_bytes()[b.len() - 1].is_ascii_alphanumeric()
}

/// `scheme://host[:port]`, lowercased, without a trailing slash: how browsers send `Origin`.
pub fn normalize_origin(origin: &str) -> Result<String, String> {
    let o = origin.trim_end_matches('/').to_ascii_lowercase();
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"));
    let valid = rest.is_some_and(|host| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    });
    if !valid {
        return Err(format!(
            "ALLOWED_ORIGINS: {origin:?} is not an origin: give scheme, host and optional port \
             only, like https://example.com or http://localhost:8080 (no path, no wildcard)"
        ));
    }
    Ok(o)
}

fn parse_sha256(hex_text: &str) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).map_err(|_| {
        "WRITE_TOKEN_SHA256 is not 64 hex digits: set it to the output of \
         `printf %s \"$TOKEN\" | sha256sum`"
            .to_string()
    })?;
    Ok(out)
}

fn endpoint(name: &str, given: Option<String>, default: String) -> Result<String, String> {
    let url = given
        .map(|u| u.trim().trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or(default);
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{name} {url:?} is not a URL ({e}): give it like https://host"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https"))
        || uri.host().is_none()
        || uri.path() != "/"
    {
        return Err(format!(
            "{name} {url:?} must be an http(s) URL with a host and no path"
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn settings() -> Settings {
        Settings {
            bucket: "s3vec-dev-vector-docs".into(),
            prefixes: vec!["docs/".into(), "notes".into()],
            model_id: "amazon.titan-embed-text-v2:0".into(),
            role_arn: "arn:aws:iam::123456789012:role/s3vec-dev-browser".into(),
            allowed_origins: vec!["https://Example.com/".into()],
            allow_missing_origin: false,
            write_token_sha256: None,
            session_duration_seconds: 900,
            region: "us-east-1".into(),
            kms_key_arn: None,
            s3_endpoint: None,
            bedrock_endpoint: None,
            relay: true,
            credentials_per_minute: 10,
            relay_per_minute: 600,
        }
    }

    #[test]
    fn defaults_fill_in_regional_endpoints_and_normalise() {
        let c = Config::from_settings(settings()).unwrap();
        assert_eq!(c.partition, "aws");
        assert_eq!(c.prefixes, ["docs/", "notes/"]);
        assert_eq!(c.origins, ["https://example.com"]);
        assert_eq!(c.s3_endpoint, "https://s3.us-east-1.amazonaws.com");
        assert_eq!(
            c.bedrock_endpoint,
            "https://bedrock-runtime.us-east-1.amazonaws.com"
        );
        assert_eq!(c.session_duration, Duration::from_secs(900));
    }

    #[test]
    fn each_bad_setting_is_named_with_its_fix() {
        type Change = fn(&mut Settings);
        let cases: Vec<(Change, &str)> = vec![
            (|s| s.region = "US East".into(), "AWS_REGION"),
            (|s| s.role_arn = "s3vec-browser".into(), "BROWSER_ROLE_ARN"),
            (|s| s.bucket = "Bad_Bucket".into(), "VECTOR_BUCKET_NAME"),
            (|s| s.prefixes = vec!["*".into()], "VECTOR_PREFIXES"),
            (|s| s.prefixes = vec![], "VECTOR_PREFIXES"),
            (|s| s.model_id = "a model".into(), "BEDROCK_MODEL_ID"),
            (|s| s.allowed_origins = vec!["*".into()], "ALLOWED_ORIGINS"),
            (
                |s| s.allowed_origins = vec!["https://a.com/app".into()],
                "ALLOWED_ORIGINS",
            ),
            (|s| s.allowed_origins = vec![], "ALLOWED_ORIGINS"),
            (
                |s| s.write_token_sha256 = Some("abc".into()),
                "WRITE_TOKEN_SHA256",
            ),
            (
                |s| s.session_duration_seconds = 899,
                "SESSION_DURATION_SECONDS",
            ),
            (|s| s.kms_key_arn = Some("alias/x".into()), "KMS_KEY_ARN"),
            (
                |s| s.s3_endpoint = Some("ftp://x".into()),
                "S3_ENDPOINT_URL",
            ),
            (
                |s| s.bedrock_endpoint = Some("http://h/p".into()),
                "BEDROCK_ENDPOINT_URL",
            ),
            (|s| s.relay_per_minute = 0, "RELAY_PER_MINUTE"),
        ];
        for (change, name) in cases {
            let mut s = settings();
            change(&mut s);
            let err = Config::from_settings(s).unwrap_err();
            assert!(err.contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn china_regions_get_their_partition_and_domain() {
        let mut s = settings();
        s.region = "cn-north-1".into();
        s.role_arn = "arn:aws-cn:iam::123456789012:role/browser".into();
        let c = Config::from_settings(s).unwrap();
        assert_eq!(c.partition, "aws-cn");
        assert_eq!(c.s3_endpoint, "https://s3.cn-north-1.amazonaws.com.cn");
    }

    #[test]
    fn a_token_hash_is_read_as_32_bytes() {
        let mut s = settings();
        s.write_token_sha256 = Some("ab".repeat(32));
        let c = Config::from_settings(s).unwrap();
        assert_eq!(c.write_token_sha256, Some([0xab; 32]));
    }
}
