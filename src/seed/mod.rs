//! The seed's storage: one JSON object per embedding at `embeddings/{id}.json`, read, written and
//! imported into shards. `docs/FORMAT.md` ("Seed objects") states the same rules.
//!
//! What the seed writes, in its different snippets, and what we therefore accept:
//!
//! - `{"id", "text", "embedding", "metadata", "dimension"}` (its `EmbeddingService`), also
//!   without `metadata` (its `store_embedding(id, text, embedding)`), `{"id", "embedding"}`, and
//!   `{"embedding"}` alone. Only `embedding` is required; the id then comes from the key.
//! - `embeddings/{id}.json.gz`: the same JSON gzip-compressed, uploaded with
//!   `Content-Encoding: gzip`. Natively the body arrives compressed; in a browser `fetch` has
//!   already decompressed it. [`SeedRecord::decode`] recognises gzip by its magic bytes `1f 8b`
//!   (JSON cannot start with them), so it takes either, under either suffix.
//!
//! What we write is always the full shape, `metadata` `{}` when there is none (as the seed
//! writes it), `text` `null` when there is none (the seed's search reads `doc["text"]`).
//!
//! Rules of a prefix import ([`read_seed_prefix`]):
//!
//! - Keys under the prefix that are not `{id}.json` or `{id}.json.gz` with a storable id are
//!   skipped, with the reason.
//! - When both `{id}.json` and `{id}.json.gz` exist, `.json` is read and `.json.gz` ignored
//!   (reported in [`SeedImport::duplicates`]): the seed's own readers only ever read `.json`, and
//!   [`get_seed`] follows the same rule. The rule looks at keys only, never at the contents.
//! - Every record must have the dimension of the first one in id order; the others are skipped
//!   ("dimension 512, expected 1024").
//! - An object that is not a valid seed object is skipped with a reason naming the problem;
//!   a failed request (other than the object vanishing since the listing) fails the import.
//!
//! [`records_to_shards`] then turns the records into shards of unit vectors (f32, i8 or binary).

mod io;
mod record;
mod shards;

pub use io::{
    Duplicate, SeedImport, SeedProgress, Skipped, delete_seed, get_seed, put_seed, read_seed_prefix,
};
pub use record::{GZIP_MAGIC, MAX_METADATA_DEPTH, MAX_SEED_BYTES, Problem, SeedRecord};
pub use shards::records_to_shards;

use crate::aws::AwsError;
use crate::format::{FormatError, MAX_ID_BYTES};

/// Where the seed keeps its objects: `embeddings/{id}.json`.
pub const DEFAULT_PREFIX: &str = "embeddings/";
/// The suffix of a plain seed object.
pub const JSON_SUFFIX: &str = ".json";
/// The suffix of a gzip-compressed seed object.
pub const GZIP_SUFFIX: &str = ".json.gz";

/// Everything the seed functions fail with. Each message names the key (or id) and the problem.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    /// An object's bytes are not a seed object.
    #[error("seed object {key}: {problem}")]
    Invalid { key: String, problem: Problem },
    /// A record cannot be written as a seed object.
    #[error("seed record {id:?} cannot be written: {problem}")]
    Unwritable { id: String, problem: Problem },
    /// The id cannot be part of an S3 key.
    #[error("seed id {id:?} cannot be stored under a key: {why}")]
    BadId { id: String, why: String },
    /// An argument was refused before anything was done.
    #[error("{0}")]
    InvalidInput(String),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// A seed object's key, split into its parts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SeedKey {
    /// The whole key, `{prefix}{id}.json` or `{prefix}{id}.json.gz`.
    pub key: String,
    pub id: String,
    pub gzip: bool,
}

impl SeedKey {
    /// The key of `id` under `prefix` (normally ending in `/`, as [`DEFAULT_PREFIX`] does),
    /// refusing ids that cannot be a key (see [`check_id`]).
    pub fn new(prefix: &str, id: &str, gzip: bool) -> Result<Self, SeedError> {
        let bad = |why: String| SeedError::BadId {
            id: id.to_string(),
            why,
        };
        check_id(id).map_err(bad)?;
        let suffix = if gzip { GZIP_SUFFIX } else { JSON_SUFFIX };
        let key = format!("{prefix}{id}{suffix}");
        crate::aws::s3::validate_key(&key).map_err(|e| bad(e.to_string()))?;
        Ok(SeedKey {
            key,
            id: id.to_string(),
            gzip,
        })
    }

    /// Reads a listed key back into its id, or says why it is not a seed object's key.
    pub fn parse(prefix: &str, key: &str) -> Result<Self, String> {
        let rest = key
            .strip_prefix(prefix)
            .ok_or_else(|| format!("not under the prefix {prefix:?}"))?;
        let (id, gzip) = if let Some(id) = rest.strip_suffix(GZIP_SUFFIX) {
            (id, true)
        } else if let Some(id) = rest.strip_suffix(JSON_SUFFIX) {
            (id, false)
        } else {
            return Err("not a seed object: the name ends neither in .json nor in .json.gz".into());
        };
        check_id(id).map_err(|why| format!("id {id:?}: {why}"))?;
        crate::aws::s3::validate_key(key).map_err(|e| e.to_string())?;
        Ok(SeedKey {
            key: key.to_string(),
            id: id.to_string(),
            gzip,
        })
    }
}

/// The rules an id must follow to be stored as `{prefix}{id}.json` and read back as the same id:
/// not empty, at most [`MAX_ID_BYTES`] bytes, no control characters (an S3 listing in XML cannot
/// carry most of them), and `/`-separated segments that are neither empty, `.` nor `..` (URL
/// handling, `fetch`'s included, would rewrite those).
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("the id is empty".into());
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!(
            "the id is {} bytes long; the limit is {MAX_ID_BYTES}",
            id.len()
        ));
    }
    if let Some(c) = id.chars().find(|c| c.is_control()) {
        return Err(format!("the id contains the control character {c:?}"));
    }
    if id
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(
            "the id has an empty, `.` or `..` path segment (a leading, trailing or doubled `/`, \
             or a `.`/`..` between slashes), which URLs would rewrite"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_both_ways() {
        let k = SeedKey::new(DEFAULT_PREFIX, "doc1", false).unwrap();
        assert_eq!(k.key, "embeddings/doc1.json");
        let g = SeedKey::new(DEFAULT_PREFIX, "doc1", true).unwrap();
        assert_eq!(g.key, "embeddings/doc1.json.gz");
        assert_eq!(SeedKey::parse(DEFAULT_PREFIX, &k.key).unwrap(), k);
        assert_eq!(SeedKey::parse(DEFAULT_PREFIX, &g.key).unwrap(), g);
        // Ids that end like a suffix still map back to themselves.
        for id in ["x.json", "x.gz", "a/b", "ünï code", "x.json.gz"] {
            for gzip in [false, true] {
                let k = SeedKey::new("p/", id, gzip).unwrap();
                assert_eq!(SeedKey::parse("p/", &k.key).unwrap(), k, "{id}");
            }
        }
    }

    #[test]
    fn unsafe_ids_are_refused_with_the_reason() {
        let long = "x".repeat(MAX_ID_BYTES + 1);
        for (id, why) in [
            ("", "empty"),
            ("a\nb", "control character"),
            ("/a", "empty"),
            ("a/", "empty"),
            ("a//b", "empty"),
            ("..", "`..`"),
            ("a/./b", "`.`"),
            (long.as_str(), "limit"),
        ] {
            let err = SeedKey::new(DEFAULT_PREFIX, id, false).unwrap_err();
            assert!(
                matches!(&err, SeedError::BadId { id: got, .. } if got == id),
                "{err}"
            );
            assert!(err.to_string().contains(why), "{id:?}: {err}");
        }
        // An id that fits alone but not with the prefix and suffix: S3's key limit.
        let id = "x".repeat(MAX_ID_BYTES - 5);
        let err = SeedKey::new(DEFAULT_PREFIX, &id, false).unwrap_err();
        assert!(err.to_string().contains("longer than S3's 1024"), "{err}");
    }

    #[test]
    fn listed_keys_that_are_not_seed_objects_say_why() {
        let p = DEFAULT_PREFIX;
        let why = |k: &str| SeedKey::parse(p, k).unwrap_err();
        assert!(why("embeddings/readme.txt").contains("neither in .json"));
        assert!(why("embeddings/").contains("neither in .json"));
        assert!(why("embeddings/.json").contains("empty"));
        assert!(why("embeddings/a//b.json").contains("empty"));
        assert!(why("other/x.json").contains("not under the prefix"));
    }
}
