//! The shard and manifest formats (specified in `docs/FORMAT.md`).
//!
//! Pure: bytes in, values out. Decoding untrusted input never panics, never allocates more than
//! the input's own length justifies, and every rejection says what is wrong and where.

mod error;
pub mod manifest;
pub mod shard;

pub use error::FormatError;
pub use manifest::{Manifest, ShardEntry};
pub use shard::{Document, Shard, ShardVectors, decode_shard, encode_shard};

use std::fmt;

/// Largest number of dimensions a shard or manifest may declare. Bedrock's embedding models top
/// out at 1536 (Titan V1); the cap keeps a forged header from implying absurd sizes.
pub const MAX_DIMS: u32 = 65_536;

/// Longest document id, in bytes: S3's key limit, so the seed's `embeddings/{id}.json` fits.
pub const MAX_ID_BYTES: usize = 1024;

/// How a shard stores its vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// 4-byte little-endian IEEE 754 floats.
    F32,
    /// One signed byte per dimension plus one `f32` scale per vector (symmetric quantization).
    I8,
    /// One bit per dimension, packed most significant bit first (Titan V2's binary embeddings).
    Binary,
}

impl Dtype {
    /// The code in the shard header.
    pub const fn code(self) -> u8 {
        match self {
            Dtype::F32 => 1,
            Dtype::I8 => 2,
            Dtype::Binary => 3,
        }
    }

    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Dtype::F32),
            2 => Some(Dtype::I8),
            3 => Some(Dtype::Binary),
            _ => None,
        }
    }

    /// Bytes one vector of `dims` dimensions takes in the vectors section.
    pub const fn row_bytes(self, dims: usize) -> usize {
        match self {
            Dtype::F32 => dims * 4,
            Dtype::I8 => dims,
            Dtype::Binary => dims.div_ceil(8),
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::I8 => "i8",
            Dtype::Binary => "binary",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Dtype {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f32" => Ok(Dtype::F32),
            "i8" => Ok(Dtype::I8),
            "binary" => Ok(Dtype::Binary),
            other => Err(FormatError::UnknownDtype(other.to_string())),
        }
    }
}

/// XXH3-64 (seed 0) of `bytes`: the checksum of shards and the one the manifest records.
pub fn checksum(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}
