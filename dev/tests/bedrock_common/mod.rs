//! Shared by the Bedrock tests: the model (fetched once, loaded once per test binary), an
//! in-process server on 127.0.0.1:0, SigV4 signing with the `aws-sigv4` crate and a bare HTTP
//! client.
#![allow(dead_code)]

use s3vec_dev::model::pool::{ModelPool, PoolConfig};
use s3vec_dev::model::{Embedder, default_model_dir, ensure_model};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The model directory, after running `dev/scripts/fetch-model.sh` if the model is missing.
pub fn model_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = default_model_dir();
        if let Err(e) = ensure_model(&dir) {
            panic!("the Bedrock tests need the model: {e}");
        }
        dir
    })
    .clone()
}

pub fn embedder() -> Arc<Embedder> {
    static EMBEDDER: OnceLock<Arc<Embedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| Arc::new(Embedder::load(&model_dir()).expect("loading the model")))
        .clone()
}

pub fn pool() -> Arc<ModelPool> {
    static POOL: OnceLock<Arc<ModelPool>> = OnceLock::new();
    POOL.get_or_init(|| Arc::new(ModelPool::start(embedder(), &PoolConfig::default())))
        .clone()
}
