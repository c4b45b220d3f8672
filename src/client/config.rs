//! What [`super::Client::connect`] needs, and how the presign endpoint's answer fills in what
//! the caller left out.

use super::route::BedrockRoute;
use crate::aws::credentials::{Credentials, CredentialsProvider, PresignConfig};
use crate::aws::runtime::Runtime;
use crate::format::Dtype;
use crate::store::ShardCache;
use std::sync::Arc;

/// Where credentials come from.
#[derive(Clone)]
pub enum CredentialSource {
    /// The presign endpoint: `POST url` with `{"prefix"?, "access"?}` (and the write token as
    /// a bearer token); its answer also names the region, bucket, prefix, model and endpoints.
    /// Fetched again before the credentials expire.
    Presign {
        url: String,
        access: Option<String>,
        write_token: Option<String>,
    },
    /// Fixed keys.
    Static(Credentials),
    /// Any provider (tests; STS from a server).
    Provider(Arc<dyn CredentialsProvider>),
}

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::Presign { url, access, .. } => f
                .debug_struct("Presign")
                .field("url", &crate::aws::error::redact_url(url))
                .field("access", access)
                .finish_non_exhaustive(),
            CredentialSource::Static(c) => f.debug_tuple("Static").field(c).finish(),
            CredentialSource::Provider(_) => f.write_str("Provider"),
        }
    }
}

/// Endpoint overrides; `None` takes the presign answer's, then AWS's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub s3: Option<String>,
    pub bedrock: Option<String>,
    /// The presign service's Bedrock relay base (`https://…/bedrock`).
    pub bedrock_relay: Option<String>,
}

/// Everything a client is made of. `None` fields come from the presign answer, or defaults.
#[derive(Clone)]
pub struct ClientConfig {
    pub credentials: CredentialSource,
    pub region: Option<String>,
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub model_id: Option<String>,
    /// For a new collection; an existing one's manifest decides.
    pub dims: Option<u32>,
    pub dtype: Option<Dtype>,
    pub endpoints: Endpoints,
    pub bedrock_route: BedrockRoute,
    /// Bedrock requests in flight while adding.
    pub concurrency: usize,
    /// Shards downloaded at once.
    pub load_concurrency: usize,
    /// Query embeddings remembered (0: none).
    pub query_cache_size: usize,
    pub shard_cache: Option<Arc<dyn ShardCache>>,
    /// Clock, timer and transport; `None`: the platform's.
    pub runtime: Option<Runtime>,
}

impl ClientConfig {
    pub fn new(credentials: CredentialSource) -> Self {
        ClientConfig {
            credentials,
            region: None,
            bucket: None,
            prefix: None,
            model_id: None,
            dims: None,
            dtype: None,
            endpoints: Endpoints::default(),
            bedrock_route: BedrockRoute::Auto,
            concurrency: 4,
            load_concurrency: 6,
            query_cache_size: 256,
            shard_cache: None,
            runtime: None,
        }
    }

    /// Static keys for `bucket` in `region`.
    pub fn with_static(credentials: Credentials, region: &str, bucket: &str) -> Self {
        ClientConfig {
            region: Some(region.into()),
            bucket: Some(bucket.into()),
            ..Self::new(CredentialSource::Static(credentials))
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("model_id", &self.model_id)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// The settings in force: the caller's, else the presign answer's, else the defaults.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub region: String,
    pub bucket: String,
    pub prefix: String,
    pub model_id: String,
    /// Whether the model was named (by the caller or the presign endpoint) rather than the
    /// default: a collection of another model is then an error, not a reason to switch.
    pub model_named: bool,
    pub s3_endpoint: Option<String>,
    pub bedrock_endpoint: String,
    pub bedrock_relay: Option<String>,
    pub access: Option<String>,
}

pub(crate) fn resolve(
    config: &ClientConfig,
    presign: Option<&PresignConfig>,
) -> Result<Resolved, String> {
    let from = |mine: &Option<String>, theirs: fn(&PresignConfig) -> &Option<String>| {
        mine.clone()
            .or_else(|| presign.and_then(|p| theirs(p).clone()))
            .filter(|v| !v.is_empty())
    };
    let hint = if presign.is_some() {
        "the presign endpoint did not say either"
    } else {
        "static credentials need it"
    };
    let region = from(&config.region, |p| &p.region)
        .ok_or_else(|| format!("no region: give `region` ({hint})"))?;
    let bucket = from(&config.bucket, |p| &p.bucket)
        .ok_or_else(|| format!("no bucket: give `bucket` ({hint})"))?;
    let prefix = config
        .prefix
        .clone()
        .or_else(|| presign.and_then(|p| p.prefix.clone()))
        .unwrap_or_default();
    let named = from(&config.model_id, |p| &p.model_id);
    let endpoints = presign.map(|p| p.endpoints.clone()).unwrap_or_default();
    let bedrock_endpoint = config
        .endpoints
        .bedrock
        .clone()
        .or(endpoints.bedrock)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format!("https://bedrock-runtime.{region}.amazonaws.com"));
    Ok(Resolved {
        model_named: named.is_some(),
        model_id: named.unwrap_or_else(|| crate::aws::bedrock::TITAN_V2.to_string()),
        s3_endpoint: config
            .endpoints
            .s3
            .clone()
            .or(endpoints.s3)
            .filter(|v| !v.is_empty()),
        bedrock_endpoint: bedrock_endpoint.trim_end_matches('/').to_string(),
        bedrock_relay: config
            .endpoints
            .bedrock_relay
            .clone()
            .or(endpoints.bedrock_relay)
            .filter(|v| !v.is_empty())
            .map(|r| r.trim_end_matches('/').to_string()),
        access: presign.and_then(|p| p.access.clone()),
        region,
        bucket,
        prefix,
    })
}
