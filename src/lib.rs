//! s3vec: semantic search in the browser over Bedrock embeddings stored in S3.
//!
//! - [`format`]: the shard and manifest formats (pure).
//! - [`rank`]: similarity kernels and top-k (pure).
//! - [`index`]: a collection of loaded shards that answers searches.
//! - [`aws`]: SigV4, credentials, and the S3, STS and Bedrock clients (native and wasm32).
//! - [`seed`]: the seed's one-JSON-per-embedding objects: read, write, import into shards.
//! - [`store`]: a collection in a bucket: load, publish by compare-and-swap, compaction.
//! - [`client`]: what an app uses: connect, load, search, add, remove, refresh.
//! - `wasm` (wasm32 only): the JavaScript bindings.

pub mod aws;
pub mod client;
pub mod filter;
pub mod format;
pub mod index;
pub mod rank;
pub mod seed;
pub mod store;

#[cfg(target_arch = "wasm32")]
mod wasm;
