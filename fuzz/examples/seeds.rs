//! Writes small seed corpora for the fuzz targets: valid shards of every dtype and a few
//! manifests, into `fuzz/corpus/{shard,manifest}/` (gitignored).
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds` (from the repository root).

use s3vec::format::manifest::ShardEntry;
use s3vec::format::{Document, Dtype, Manifest, Shard, ShardVectors, checksum, encode_shard};
use serde_json::{Map, Value, json};
use std::fs;
use std::path::Path;

fn docs(n: usize) -> Vec<Document> {
    (0..n)
        .map(|i| Document {
            id: match i {
                0 => "a".to_string(),
                1 => "doc-ü-日本".to_string(),
                _ => format!("d{i}"),
            },
            metadata: match i % 3 {
                0 => None,
                1 => Some(obj(
                    json!({"lang": "en", "n": 1.5e-7, "tags": ["x", "y"], "ok": true}),
                )),
                _ => Some(obj(json!({"nested": {"k": null, "v": -12345678901234i64}}))),
            },
            text: (i % 2 == 1).then(|| format!("text of document {i} \u{1F600}")),
        })
        .collect()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn vectors(dtype: Dtype, dims: usize, n: usize) -> ShardVectors {
    let f: Vec<f32> = (0..dims * n)
        .map(|i| ((i * 7919) % 23) as f32 / 11.0 - 1.0)
        .collect();
    match dtype {
        Dtype::F32 => ShardVectors::F32(f),
        Dtype::I8 => ShardVectors::I8 {
            codes: f.iter().map(|x| (x * 127.0).round() as i8).collect(),
            scales: (0..n).map(|i| i as f32 / 127.0).collect(),
        },
        Dtype::Binary => {
            let row = dims.div_ceil(8);
            let mut out = vec![0u8; row * n];
            for (i, x) in f.iter().enumerate() {
                if *x > 0.0 {
                    out[i / dims * row + (i % dims) / 8] |= 0x80 >> (i % dims % 8);
                }
            }
            ShardVectors::Binary(out)
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let shard_dir = root.join("shard");
    let manifest_dir = root.join("manifest");
    fs::create_dir_all(&shard_dir).unwrap();
    fs::create_dir_all(&manifest_dir).unwrap();

    let mut manifest = Manifest::new("amazon.titan-embed-text-v2:0", 3, Dtype::F32);
    let mut written = 0;
    for dtype in [Dtype::F32, Dtype::I8, Dtype::Binary] {
        for (dims, n) in [(1, 0), (3, 2), (8, 3), (9, 4), (17, 5)] {
            let shard = Shard {
                dims: dims as u32,
                vectors: vectors(dtype, dims, n),
                docs: docs(n),
            };
            let bytes = encode_shard(&shard).expect("seed shard encodes");
            fs::write(shard_dir.join(format!("{dtype}-{dims}-{n}.s3vs")), &bytes).unwrap();
            written += 1;
            if dtype == Dtype::F32 && dims == 3 {
                manifest.shards.push(ShardEntry {
                    key: format!(
                        "shards/{:06}-{:016x}.s3vs",
                        manifest.shards.len() + 1,
                        checksum(&bytes[16..])
                    ),
                    count: n as u64,
                    bytes: bytes.len() as u64,
                    checksum: ShardEntry::format_checksum(checksum(&bytes[16..])),
                });
            }
        }
    }

    let empty = Manifest::new("amazon.titan-embed-text-v2:0", 1024, Dtype::I8);
    fs::write(manifest_dir.join("empty.json"), empty.to_json()).unwrap();
    manifest.generation = 7;
    manifest.deleted = vec!["a".into(), "doc-ü-日本".into()];
    fs::write(manifest_dir.join("one-shard.json"), manifest.to_json()).unwrap();
    let compact = serde_json::to_vec(&manifest).unwrap();
    fs::write(manifest_dir.join("compact.json"), compact).unwrap();
    let mut binary = Manifest::new("cohere.embed-english-v3", 256, Dtype::Binary);
    binary.normalized = false;
    binary.generation = u64::MAX;
    fs::write(manifest_dir.join("binary.json"), binary.to_json()).unwrap();
    println!(
        "wrote {written} shards and 4 manifests under {}",
        root.display()
    );
}
