//! Reading and writing seed objects in a bucket. Runtime-agnostic (no executor of its own, no
//! spawning): the same futures run natively and on wasm32.

use super::{MAX_SEED_BYTES, SeedError, SeedKey, SeedRecord};
use crate::aws::s3::{PutOptions, PutOutput, S3Client};
use futures_util::StreamExt;
use std::collections::BTreeMap;

/// An object of the prefix that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub key: String,
    pub reason: String,
}

/// An id stored both as `.json` and `.json.gz`: `kept` was read, `ignored` was not fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    pub id: String,
    pub kept: String,
    pub ignored: String,
}

/// What [`read_seed_prefix`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeedImport {
    /// Valid records of one dimension, sorted by id.
    pub records: Vec<SeedRecord>,
    /// Sorted by key.
    pub skipped: Vec<Skipped>,
    /// Sorted by id.
    pub duplicates: Vec<Duplicate>,
    /// The records' dimension (that of the first record in id order); `None` without records.
    pub dims: Option<usize>,
    /// Objects the listing returned.
    pub listed: usize,
    /// Objects fetched (GetObject requests that succeeded).
    pub fetched: usize,
    /// Body bytes received, as transferred (compressed for `.json.gz` natively).
    pub bytes: u64,
}

/// Progress of [`read_seed_prefix`]: reported once after listing, then after every object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeedProgress {
    pub listed: usize,
    /// Objects that will be fetched.
    pub to_fetch: usize,
    /// Objects fetched (or found gone) so far.
    pub fetched: usize,
    pub bytes: u64,
}

/// Writes `record` at `{prefix}{id}.json` (`gzip`: `{prefix}{id}.json.gz`, gzip-compressed,
/// `Content-Encoding: gzip`), as `application/json`.
///
/// Since `.json` wins over `.json.gz` for readers (this crate's and the seed's), writing the
/// `.json.gz` then deletes `{prefix}{id}.json` if there is one, so the new object is what is
/// read. Writing `.json` leaves a `.json.gz` in place (shadowed; [`delete_seed`] removes both).
pub async fn put_seed(
    client: &S3Client,
    prefix: &str,
    record: &SeedRecord,
    gzip: bool,
) -> Result<PutOutput, SeedError> {
    let key = SeedKey::new(prefix, &record.id, gzip)?;
    let mut options = PutOptions::default().content_type("application/json");
    let body = if gzip {
        options = options.content_encoding("gzip");
        record.encode_gzip()?
    } else {
        record.encode()?
    };
    let out = client.put_object(&key.key, body, options).await?;
    if gzip {
        let plain = SeedKey::new(prefix, &record.id, false)?;
        client.delete_object(&plain.key).await?;
    }
    Ok(out)
}

/// Reads `{prefix}{id}.json`, or else `{prefix}{id}.json.gz`; `None` when neither exists.
pub async fn get_seed(
    client: &S3Client,
    prefix: &str,
    id: &str,
) -> Result<Option<SeedRecord>, SeedError> {
    for gzip in [false, true] {
        let key = SeedKey::new(prefix, id, gzip)?;
        match client.get_object(&key.key).await {
            Ok(obj) => return SeedRecord::decode(&key, &obj.body).map(Some),
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// Deletes `{prefix}{id}.json` and `{prefix}{id}.json.gz` (either may be absent).
pub async fn delete_seed(client: &S3Client, prefix: &str, id: &str) -> Result<(), SeedError> {
    for gzip in [false, true] {
        client
            .delete_object(&SeedKey::new(prefix, id, gzip)?.key)
            .await?;
    }
    Ok(())
}

/// Lists `prefix` and reads every seed object under it, `concurrency` requests at a time (at
/// least 1), following the rules in the [module docs](super). `on_progress` is called after the
/// listing and after each object.
pub async fn read_seed_prefix(
    client: &S3Client,
    prefix: &str,
    concurrency: usize,
    mut on_progress: impl FnMut(SeedProgress),
) -> Result<SeedImport, SeedError> {
    let listing = client.list_all(prefix).await?;
    let mut import = SeedImport {
        listed: listing.len(),
        ..SeedImport::default()
    };
    // id → (plain, gzip) keys with their listed sizes.
    type Found = (Option<(SeedKey, u64)>, Option<(SeedKey, u64)>);
    let mut by_id: BTreeMap<String, Found> = BTreeMap::new();
    for obj in listing {
        match SeedKey::parse(prefix, &obj.key) {
            Ok(k) => {
                let slot = by_id.entry(k.id.clone()).or_default();
                if k.gzip {
                    slot.1 = Some((k, obj.size));
                } else {
                    slot.0 = Some((k, obj.size));
                }
            }
            Err(reason) => import.skipped.push(Skipped {
                key: obj.key,
                reason,
            }),
        }
    }
    let mut to_fetch = Vec::with_capacity(by_id.len());
    for (id, found) in by_id {
        let (chosen, size) = match found {
            (Some(plain), Some(gz)) => {
                import.duplicates.push(Duplicate {
                    id,
                    kept: plain.0.key.clone(),
                    ignored: gz.0.key,
                });
                plain
            }
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => continue,
        };
        if size > MAX_SEED_BYTES as u64 {
            import.skipped.push(Skipped {
                key: chosen.key,
                reason: format!(
                    "{size} bytes is more than the {MAX_SEED_BYTES}-byte limit for one seed \
                     object (not fetched)"
                ),
            });
            continue;
        }
        to_fetch.push(chosen);
    }

    let mut progress = SeedProgress {
        listed: import.listed,
        to_fetch: to_fetch.len(),
        ..SeedProgress::default()
    };
    on_progress(progress);
    let mut read: Vec<(String, SeedRecord)> = Vec::with_capacity(progress.to_fetch);
    let mut results = futures_util::stream::iter(to_fetch)
        .map(|key| async move {
            let got = client.get_object(&key.key).await;
            (key, got)
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((key, got)) = results.next().await {
        progress.fetched += 1;
        match got {
            Ok(obj) => {
                import.fetched += 1;
                import.bytes += obj.body.len() as u64;
                progress.bytes = import.bytes;
                match SeedRecord::decode(&key, &obj.body) {
                    Ok(record) => read.push((key.key, record)),
                    Err(SeedError::Invalid { problem, .. }) => import.skipped.push(Skipped {
                        key: key.key,
                        reason: problem.to_string(),
                    }),
                    Err(other) => return Err(other),
                }
            }
            Err(e) if e.is_not_found() => import.skipped.push(Skipped {
                key: key.key,
                reason: "deleted after it was listed".into(),
            }),
            Err(e) => return Err(e.into()),
        }
        on_progress(progress);
    }

    // The records with the keys they were read from, in id order; the first sets the dimension.
    read.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    import.dims = read.first().map(|(_, r)| r.embedding.len());
    for (key, record) in read {
        match import.dims {
            Some(dims) if record.embedding.len() != dims => import.skipped.push(Skipped {
                key,
                reason: format!("dimension {}, expected {dims}", record.embedding.len()),
            }),
            _ => import.records.push(record),
        }
    }
    import.skipped.sort_by(|a, b| a.key.cmp(&b.key));
    import.duplicates.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(import)
}
