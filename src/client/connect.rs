//! Connecting: credentials (presign endpoint or static), the settings they come with, and the
//! S3, store and Bedrock clients built from them.

use super::config::{self, Resolved};
use super::query_cache::QueryCache;
use super::route::RouteTransport;
use super::{Client, ClientConfig, ClientError, CredentialSource, sync};
use crate::aws::StaticProvider;
use crate::aws::bedrock::{BedrockClient, BedrockConfig};
use crate::aws::credentials::{CachingProvider, CredentialsProvider, PresignFetcher};
use crate::aws::runtime::Runtime;
use crate::aws::s3::{S3Client, S3Config};
use crate::store::{Store, StoreOptions};
use serde_json::{Map, Value};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

impl Client {
    /// Checks the configuration, fetches credentials once (presign) and builds the clients.
    /// Reads nothing from S3.
    pub async fn connect(config: ClientConfig) -> Result<Client, ClientError> {
        if config.concurrency == 0 || config.load_concurrency == 0 {
            return Err(ClientError::invalid(
                "concurrency and loadConcurrency must be at least 1",
            ));
        }
        let runtime = match &config.runtime {
            Some(r) => r.clone(),
            None => Runtime::platform()?,
        };
        let (credentials, presign, answer): (Arc<dyn CredentialsProvider>, _, _) = match &config
            .credentials
        {
            CredentialSource::Static(c) => (Arc::new(StaticProvider::new(c.clone())), None, None),
            CredentialSource::Provider(p) => (p.clone(), None, None),
            CredentialSource::Presign {
                url,
                access,
                write_token,
            } => {
                let mut body = Map::new();
                if let Some(p) = &config.prefix {
                    body.insert("prefix".into(), Value::from(p.as_str()));
                }
                if let Some(a) = access {
                    body.insert("access".into(), Value::from(a.as_str()));
                }
                let mut fetcher = PresignFetcher::new(runtime.transport.clone(), url.clone())
                    .post_json(Value::Object(body).to_string());
                if let Some(token) = write_token {
                    fetcher = fetcher.header("authorization", format!("Bearer {token}"));
                }
                let fetcher = Arc::new(fetcher);
                let caching = Arc::new(CachingProvider::new(fetcher.clone()));
                caching.credentials(runtime.now()).await?;
                (caching.clone(), Some(caching), fetcher.latest_config())
            }
        };
        let settings = config::resolve(&config, answer.as_ref()).map_err(ClientError::invalid)?;
        let mut s3 = S3Config::new(settings.region.clone(), settings.bucket.clone());
        if let Some(e) = &settings.s3_endpoint {
            s3 = s3.endpoint(e.clone());
        }
        let s3 = S3Client::new(s3, credentials.clone(), runtime.clone())?;
        let options = StoreOptions {
            load_concurrency: config.load_concurrency,
            ..StoreOptions::default()
        };
        let mut store = Store::with_options(Arc::new(s3), &settings.prefix, &runtime, options)?;
        if let Some(cache) = &config.shard_cache {
            store = store.with_cache(cache.clone());
        }
        let route = Arc::new(
            RouteTransport::new(
                runtime.transport.clone(),
                settings.bedrock_endpoint.clone(),
                settings.bedrock_relay.clone(),
                config.bedrock_route,
            )
            .map_err(ClientError::invalid)?,
        );
        let bedrock = make_bedrock(
            &settings,
            &route,
            &runtime,
            &credentials,
            config.concurrency,
            &settings.model_id,
        )?;
        Ok(Client {
            new_dims: config.dims,
            new_dtype: config.dtype,
            store,
            credentials,
            route,
            concurrency: config.concurrency,
            bedrock: Mutex::new(Arc::new(bedrock)),
            presign,
            state: Mutex::new(sync::State::default()),
            writer: futures_util::lock::Mutex::new(()),
            queries: Mutex::new(QueryCache::new(config.query_cache_size)),
            closed: AtomicBool::new(false),
            runtime,
            settings,
        })
    }

    /// A Bedrock client for another model (a collection made with a model other than the
    /// default one).
    pub(super) fn bedrock_for(&self, model_id: &str) -> Result<BedrockClient, ClientError> {
        make_bedrock(
            &self.settings,
            &self.route,
            &self.runtime,
            &self.credentials,
            self.concurrency,
            model_id,
        )
    }
}

/// A Bedrock client for `model_id` that sends through `route`.
fn make_bedrock(
    settings: &Resolved,
    route: &Arc<RouteTransport>,
    runtime: &Runtime,
    credentials: &Arc<dyn CredentialsProvider>,
    concurrency: usize,
    model_id: &str,
) -> Result<BedrockClient, ClientError> {
    let runtime = Runtime {
        transport: route.clone(),
        ..runtime.clone()
    };
    let config = BedrockConfig::new(settings.region.clone(), model_id)
        .endpoint(settings.bedrock_endpoint.clone())
        .concurrency(concurrency);
    Ok(BedrockClient::new(config, credentials.clone(), runtime)?)
}
