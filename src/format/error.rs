use thiserror::Error;

/// Why bytes were rejected as a shard or a manifest, or why a shard could not be encoded.
/// Every message names the problem and, where there is one, the offset or field.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum FormatError {
    #[error("not an s3vec shard: expected magic \"S3VSHARD\" at offset 0, found {found:?}")]
    BadMagic { found: String },
    #[error(
        "shard format version {found} is not supported (this reader knows version {supported}); upgrade s3vec"
    )]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error(
        "truncated shard: the {what} at offset {offset} needs {needed} bytes but the input ends at {len}"
    )]
    Truncated {
        what: &'static str,
        offset: u64,
        needed: u64,
        len: u64,
    },
    #[error(
        "shard checksum mismatch: header says {expected:016x}, payload hashes to {actual:016x}; the object is corrupt or was cut short, fetch it again"
    )]
    ChecksumMismatch { expected: u64, actual: u64 },
    #[error(
        "unknown vector dtype code {0} in the shard header (expected 1 = f32, 2 = i8, 3 = binary)"
    )]
    UnknownDtypeCode(u8),
    #[error("unknown dtype {0:?} (expected \"f32\", \"i8\" or \"binary\")")]
    UnknownDtype(String),
    #[error("invalid dimensions {0}: must be between 1 and 65536")]
    BadDims(u64),
    #[error("malformed shard: {0}")]
    Malformed(String),
    #[error("document {row}: {problem}")]
    BadDocument { row: u64, problem: String },
    #[error(
        "shard disagrees with the manifest: {field} is {shard} in the shard but {manifest} in the manifest"
    )]
    ManifestDisagrees {
        field: &'static str,
        shard: String,
        manifest: String,
    },
    #[error("invalid manifest: {0}")]
    BadManifest(String),
    #[error("cannot encode shard: {0}")]
    Encode(String),
}
