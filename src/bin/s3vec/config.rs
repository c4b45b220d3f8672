//! Where the collection is and how to reach it: flags, then environment variables (the
//! seed's `VECTOR_BUCKET_NAME`, `BEDROCK_MODEL_ID`, `AWS_REGION`), then a TOML config file.
//! Credentials come from the standard AWS chain (aws-config), or from the local stack's ready
//! file with `--local-stack`.

use crate::{CliResult, Failure};
use clap::Args;
use s3vec::aws::bedrock::{BedrockClient, BedrockConfig};
use s3vec::aws::s3::{S3Client, S3Config};
use s3vec::aws::{
    AwsError, BoxFuture, CachingProvider, Credentials, CredentialsFetcher, CredentialsProvider,
    Runtime, StaticProvider,
};
use s3vec::store::Store;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const DEFAULT_MODEL: &str = "amazon.titan-embed-text-v2:0";

#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// The bucket holding the collection.
    #[arg(long, global = true, env = "VECTOR_BUCKET_NAME")]
    pub bucket: Option<String>,
    /// The collection's key prefix in the bucket ("" for the root).
    #[arg(long, global = true, env = "S3VEC_PREFIX")]
    pub prefix: Option<String>,
    /// AWS region of the bucket and of Bedrock.
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Bedrock embedding model [default: amazon.titan-embed-text-v2:0].
    #[arg(long, global = true, env = "BEDROCK_MODEL_ID")]
    pub model: Option<String>,
    /// S3 endpoint URL, for S3-compatible servers and the local stack.
    #[arg(long, global = true, env = "S3VEC_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Bedrock runtime endpoint URL, for the local stack or a proxy.
    #[arg(long, global = true, env = "S3VEC_BEDROCK_ENDPOINT")]
    pub bedrock_endpoint: Option<String>,
    /// Use the local stack (`s3vec-dev`): its ready file gives endpoints, region and keys.
    #[arg(
        long,
        global = true,
        env = "S3VEC_LOCAL_STACK",
        value_name = "READY_FILE"
    )]
    pub local_stack: Option<PathBuf>,
    /// TOML config file [default: ./s3vec.toml, else ~/.config/s3vec/config.toml].
    #[arg(long, global = true, env = "S3VEC_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The config file: the same settings as the flags, in snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bucket: Option<String>,
    prefix: Option<String>,
    region: Option<String>,
    model: Option<String>,
    s3_endpoint: Option<String>,
    bedrock_endpoint: Option<String>,
    local_stack: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct Ready {
    s3: String,
    bedrock: Option<String>,
    region: String,
    access_key_id: String,
    secret_access_key: String,
}

/// Settings after flags, environment and file are merged.
#[derive(Debug, Clone)]
pub struct Config {
    pub bucket: String,
    pub prefix: String,
    pub region: Option<String>,
    pub model: String,
    pub s3_endpoint: Option<String>,
    pub bedrock_endpoint: Option<String>,
    /// Root keys of the local stack, when `--local-stack` is used.
    local_keys: Option<(String, String)>,
}

impl GlobalArgs {
    pub fn resolve(self) -> CliResult<Config> {
        let file = load_file(self.config.as_deref())?;
        let local_stack = self.local_stack.or(file.local_stack);
        let ready = match &local_stack {
            Some(path) => Some(read_ready(path)?),
            None => None,
        };
        let bucket = self.bucket.or(file.bucket).ok_or_else(|| {
            Failure::Usage(
                "no bucket: pass --bucket, set VECTOR_BUCKET_NAME, or put `bucket = \"...\"` in the config file".into(),
            )
        })?;
        let region = self
            .region
            .or(file.region)
            .or_else(|| ready.as_ref().map(|r| r.region.clone()));
        Ok(Config {
            bucket,
            prefix: self.prefix.or(file.prefix).unwrap_or_default(),
            region,
            model: self
                .model
                .or(file.model)
                .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
            s3_endpoint: self
                .s3_endpoint
                .or(file.s3_endpoint)
                .or_else(|| ready.as_ref().map(|r| r.s3.clone())),
            bedrock_endpoint: self
                .bedrock_endpoint
                .or(file.bedrock_endpoint)
                .or_else(|| ready.as_ref().and_then(|r| r.bedrock.clone())),
            local_keys: ready.map(|r| (r.access_key_id, r.secret_access_key)),
        })
    }
}

fn load_file(explicit: Option<&Path>) -> CliResult<FileConfig> {
    let candidates: Vec<PathBuf> = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => {
            let mut c = vec![PathBuf::from("s3vec.toml")];
            if let Some(home) = std::env::var_os("HOME") {
                c.push(Path::new(&home).join(".config/s3vec/config.toml"));
            }
            c
        }
    };
    for path in candidates {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                return toml::from_str(&text)
                    .map_err(|e| Failure::Usage(format!("config file {}: {e}", path.display())));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {}
            Err(e) => {
                return Err(Failure::Usage(format!(
                    "cannot read config file {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Ok(FileConfig::default())
}

fn read_ready(path: &Path) -> CliResult<Ready> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::Usage(format!(
            "cannot read the local stack's ready file {}: {e}; start it with `cargo run -p s3vec-dev -- --ready-file {}` (see dev/README.md)",
            path.display(),
            path.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::Usage(format!(
            "{} is not an s3vec-dev ready file: {e}",
            path.display()
        ))
    })
}

/// The standard AWS chain through aws-config, fetched (and cached) by our provider.
struct ChainFetcher(aws_credential_types::provider::SharedCredentialsProvider);

impl CredentialsFetcher for ChainFetcher {
    fn fetch(&self) -> BoxFuture<'_, Result<Credentials, AwsError>> {
        use aws_credential_types::provider::ProvideCredentials;
        Box::pin(async move {
            let c = self.0.provide_credentials().await.map_err(|e| {
                AwsError::Credentials(format!(
                    "the AWS credential chain found none ({e}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run `aws sso login`"
                ))
            })?;
            Ok(Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                c.session_token().map(str::to_string),
                c.expiry(),
            ))
        })
    }
}

/// Everything a command talks to.
pub struct Clients {
    pub runtime: Runtime,
    pub credentials: Arc<dyn CredentialsProvider>,
    pub region: String,
    pub s3: Arc<S3Client>,
}

impl Config {
    pub async fn clients(&self) -> CliResult<Clients> {
        let runtime = Runtime::platform()?;
        let (credentials, chain_region): (Arc<dyn CredentialsProvider>, Option<String>) =
            match &self.local_keys {
                Some((key, secret)) => (
                    Arc::new(StaticProvider::new(Credentials::new(
                        key.clone(),
                        secret.clone(),
                        None,
                        None,
                    ))),
                    None,
                ),
                None => {
                    let http = aws_smithy_http_client::Builder::new()
                        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                        ))
                        .build_https();
                    let loaded = aws_config::defaults(aws_config::BehaviorVersion::latest())
                        .http_client(http)
                        .load()
                        .await;
                    let provider = loaded.credentials_provider().ok_or_else(|| {
                        Failure::Aws("no AWS credential provider is configured".into())
                    })?;
                    (
                        Arc::new(CachingProvider::new(Arc::new(ChainFetcher(provider)))),
                        loaded.region().map(|r| r.to_string()),
                    )
                }
            };
        let region = self.region.clone().or(chain_region).ok_or_else(|| {
            Failure::Usage(
                "no region: pass --region, set AWS_REGION, or set one in your AWS profile".into(),
            )
        })?;
        let mut s3_config = S3Config::new(region.clone(), self.bucket.clone());
        if let Some(e) = &self.s3_endpoint {
            s3_config = s3_config.endpoint(e.clone());
        }
        let s3 = Arc::new(S3Client::new(
            s3_config,
            credentials.clone(),
            runtime.clone(),
        )?);
        Ok(Clients {
            runtime,
            credentials,
            region,
            s3,
        })
    }

    pub fn bedrock(&self, clients: &Clients, concurrency: usize) -> CliResult<BedrockClient> {
        let mut config =
            BedrockConfig::new(clients.region.clone(), self.model.clone()).concurrency(concurrency);
        if let Some(e) = &self.bedrock_endpoint {
            config = config.endpoint(e.clone());
        }
        Ok(BedrockClient::new(
            config,
            clients.credentials.clone(),
            clients.runtime.clone(),
        )?)
    }

    pub fn store(&self, clients: &Clients) -> CliResult<Store> {
        Ok(Store::new(
            clients.s3.clone(),
            &self.prefix,
            &clients.runtime,
        )?)
    }

    /// The same settings with another model (a query must use the collection's).
    pub fn with_model(&self, model: &str) -> Config {
        Config {
            model: model.to_string(),
            ..self.clone()
        }
    }

    /// `s3://bucket/prefix` for messages.
    pub fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix.trim_end_matches('/'))
        }
    }
}
