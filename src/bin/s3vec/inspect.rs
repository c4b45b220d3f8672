//! `s3vec inspect`: the manifest and every shard, verified; or one shard, from a file or a key.

use crate::config::Config;
use crate::output::{human_bytes, human_count};
use crate::{CliResult, Failure};
use clap::Args;
use s3vec::format::{Manifest, ShardEntry, decode_shard};
use std::path::Path;

/// Show the collection (manifest, shards, checksums, pending deletions), or one shard.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  s3vec --bucket my-vectors --prefix debian inspect\n  \
s3vec inspect ./000001-91700359ec0f0115.s3vs\n  \
s3vec --bucket my-vectors --prefix debian inspect shards/000001-91700359ec0f0115.s3vs"
)]
pub struct InspectArgs {
    /// A shard file on disk, or a shard key relative to the prefix.
    pub shard: Option<String>,
    /// Skip downloading shards to verify them (manifest only).
    #[arg(long)]
    pub no_verify: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(config: &Config, args: InspectArgs) -> CliResult {
    if let Some(target) = &args.shard
        && Path::new(target).is_file()
    {
        let bytes = std::fs::read(target)
            .map_err(|e| Failure::Usage(format!("cannot read {target}: {e}")))?;
        return describe_shard(target, &bytes, None, None);
    }
    let clients = config.clients().await?;
    let store = config.store(&clients)?;
    let current = store.require_manifest().await?;
    let manifest = &current.manifest;
    if let Some(key) = &args.shard {
        let entry = manifest.shards.iter().find(|s| &s.key == key);
        let full = store.key(key);
        let bytes = clients.s3.get_object(&full).await?.body;
        return describe_shard(&full, &bytes, Some(manifest), entry);
    }
    if args.json {
        println!("{}", String::from_utf8_lossy(&manifest.to_json()));
    } else {
        println!(
            "{}  generation {}  etag {}\n  model {}  {} dims  {}  metric cosine  normalized {}\n  {} shards, {} documents listed, {}, {} deleted ids pending compaction",
            config.location(),
            manifest.generation,
            current.etag,
            manifest.model_id,
            manifest.dims,
            manifest.dtype,
            manifest.normalized,
            manifest.shards.len(),
            human_count(manifest.document_count()),
            human_bytes(manifest.shards.iter().map(|s| s.bytes).sum()),
            manifest.deleted.len()
        );
    }
    let mut bad = 0;
    for entry in &manifest.shards {
        let verdict = if args.no_verify {
            "not verified".to_string()
        } else {
            let key = store.key(&entry.key);
            match clients.s3.get_object(&key).await {
                Ok(object) => match verify(manifest, entry, &object.body) {
                    Ok(()) => "ok".to_string(),
                    Err(e) => {
                        bad += 1;
                        format!("BAD: {e}")
                    }
                },
                Err(e) => {
                    bad += 1;
                    format!("BAD: {e}")
                }
            }
        };
        if !args.json {
            println!(
                "  {}  {} docs  {}  {}  {verdict}",
                entry.key,
                human_count(entry.count),
                human_bytes(entry.bytes),
                entry.checksum
            );
        } else if verdict != "ok" && verdict != "not verified" {
            eprintln!("{}: {verdict}", entry.key);
        }
    }
    if !args.json && !manifest.deleted.is_empty() {
        let shown: Vec<&str> = manifest
            .deleted
            .iter()
            .take(10)
            .map(String::as_str)
            .collect();
        println!(
            "  deleted: {}{}",
            shown.join(", "),
            if manifest.deleted.len() > 10 {
                ", …"
            } else {
                ""
            }
        );
    }
    if bad > 0 {
        return Err(Failure::Partial(format!(
            "{bad} of {} shards failed verification",
            manifest.shards.len()
        )));
    }
    Ok(())
}

fn verify(manifest: &Manifest, entry: &ShardEntry, bytes: &[u8]) -> Result<(), String> {
    let shard = decode_shard(bytes).map_err(|e| e.to_string())?;
    manifest
        .check_shard(entry, &shard, bytes.len())
        .map_err(|e| e.to_string())
}

fn describe_shard(
    name: &str,
    bytes: &[u8],
    manifest: Option<&Manifest>,
    entry: Option<&ShardEntry>,
) -> CliResult {
    let shard = decode_shard(bytes).map_err(|e| Failure::Partial(format!("{name}: {e}")))?;
    println!(
        "{name}\n  {} documents  {} dims  {}  {}  checksum xxh3-64:{:016x} (verified)",
        human_count(shard.len() as u64),
        shard.dims,
        shard.dtype,
        human_bytes(bytes.len() as u64),
        shard.checksum
    );
    let with_text = shard.docs.iter().filter(|d| d.text.is_some()).count();
    let with_meta = shard.docs.iter().filter(|d| d.metadata.is_some()).count();
    println!("  {with_text} with text, {with_meta} with metadata");
    for d in shard.docs.iter().take(5) {
        println!("  - {}", d.id);
    }
    if shard.len() > 5 {
        println!("  - … {} more", shard.len() - 5);
    }
    match (manifest, entry) {
        (Some(m), Some(e)) => m
            .check_shard(e, &shard, bytes.len())
            .map_err(|err| Failure::Partial(format!("{name}: {err}")))
            .map(|()| println!("  agrees with its manifest entry")),
        (Some(_), None) => {
            println!("  not listed in the manifest (an unpublished or compacted-away shard)");
            Ok(())
        }
        _ => Ok(()),
    }
}
