//! Seed records into shards.

use super::{SeedError, SeedRecord};
use crate::format::{Document, Dtype, MAX_DIMS, Shard, ShardVectors};
use crate::rank::quantize::{binary_len, normalize, pack_binary, quantize_i8};
use std::collections::HashSet;

/// Packs `records` (all of `dims` dimensions, ids unique) into shards of at most
/// `max_docs_per_shard` documents each, in the order given, with vectors scaled to unit length
/// (manifests say `normalized: true`; a zero vector stays zero) and then stored as `dtype`:
/// f32, i8 with one scale per vector, or packed sign bits. Encode each with
/// [`crate::format::encode_shard`].
pub fn records_to_shards(
    records: Vec<SeedRecord>,
    dims: usize,
    dtype: Dtype,
    max_docs_per_shard: usize,
) -> Result<Vec<Shard>, SeedError> {
    if dims == 0 || dims > MAX_DIMS as usize {
        return Err(SeedError::InvalidInput(format!(
            "records_to_shards: {dims} dimensions; give between 1 and {MAX_DIMS}"
        )));
    }
    if max_docs_per_shard == 0 {
        return Err(SeedError::InvalidInput(
            "records_to_shards: max_docs_per_shard is 0; give at least 1".into(),
        ));
    }
    let mut seen = HashSet::with_capacity(records.len());
    for r in &records {
        if r.embedding.len() != dims {
            return Err(SeedError::InvalidInput(format!(
                "records_to_shards: record {:?} has {} dimensions, expected {dims}",
                r.id,
                r.embedding.len()
            )));
        }
        if !seen.insert(r.id.as_str()) {
            return Err(SeedError::InvalidInput(format!(
                "records_to_shards: id {:?} appears twice; ids must be unique",
                r.id
            )));
        }
    }
    drop(seen);

    let mut shards = Vec::with_capacity(records.len().div_ceil(max_docs_per_shard));
    let mut records = records.into_iter().peekable();
    let mut row = vec![0.0f32; dims];
    while records.peek().is_some() {
        let chunk: Vec<SeedRecord> = records.by_ref().take(max_docs_per_shard).collect();
        let n = chunk.len();
        let mut f32s = Vec::new();
        let mut codes = Vec::new();
        let mut scales = Vec::new();
        let mut bits = Vec::new();
        match dtype {
            Dtype::F32 => f32s.reserve_exact(n * dims),
            Dtype::I8 => {
                codes.resize(n * dims, 0i8);
                scales.reserve_exact(n);
            }
            Dtype::Binary => bits.resize(n * binary_len(dims), 0u8),
        }
        let mut docs = Vec::with_capacity(n);
        for (i, r) in chunk.into_iter().enumerate() {
            row.copy_from_slice(&r.embedding);
            normalize(&mut row);
            match dtype {
                Dtype::F32 => f32s.extend_from_slice(&row),
                Dtype::I8 => scales.push(quantize_i8(&row, &mut codes[i * dims..(i + 1) * dims])),
                Dtype::Binary => {
                    let w = binary_len(dims);
                    pack_binary(&row, &mut bits[i * w..(i + 1) * w]);
                }
            }
            docs.push(Document {
                id: r.id,
                metadata: r.metadata,
                text: r.text,
            });
        }
        let vectors = match dtype {
            Dtype::F32 => ShardVectors::F32(f32s),
            Dtype::I8 => ShardVectors::I8 { codes, scales },
            Dtype::Binary => ShardVectors::Binary(bits),
        };
        shards.push(Shard {
            dims: dims as u32,
            vectors,
            docs,
        });
    }
    Ok(shards)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{decode_shard, encode_shard};
    use crate::index::{Collection, Mode, SearchOptions};
    use serde_json::{Map, json};

    fn record(id: &str, embedding: Vec<f32>) -> SeedRecord {
        SeedRecord {
            id: id.into(),
            text: Some(format!("text of {id}")),
            embedding,
            metadata: None,
        }
    }

    fn records(n: usize, dims: usize) -> Vec<SeedRecord> {
        (0..n)
            .map(|i| {
                let v = (0..dims)
                    .map(|d| ((i * 31 + d * 7) % 13) as f32 - 6.0)
                    .collect();
                record(&format!("doc-{i:03}"), v)
            })
            .collect()
    }

    #[test]
    fn shards_hold_unit_vectors_in_order_and_in_bounded_counts() {
        let mut rs = records(25, 5);
        let mut m = Map::new();
        m.insert("category".into(), json!("tech"));
        rs[3].metadata = Some(m.clone());
        rs[4].embedding = vec![0.0; 5];
        let shards = records_to_shards(rs.clone(), 5, Dtype::F32, 10).unwrap();
        assert_eq!(
            shards.iter().map(|s| s.docs.len()).collect::<Vec<_>>(),
            [10, 10, 5]
        );
        let all: Vec<&Document> = shards.iter().flat_map(|s| &s.docs).collect();
        assert!(
            all.iter()
                .zip(&rs)
                .all(|(d, r)| d.id == r.id && d.text == r.text)
        );
        assert_eq!(all[3].metadata.as_ref(), Some(&m));
        let ShardVectors::F32(v) = &shards[0].vectors else {
            panic!("f32 expected")
        };
        for (i, row) in v.chunks_exact(5).enumerate() {
            let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            let want = if i == 4 { 0.0 } else { 1.0 };
            assert!((norm - want).abs() < 1e-5, "row {i}: {norm}");
        }
    }

    #[test]
    fn every_dtype_encodes_and_loads_into_a_collection() {
        let rs = records(30, 12);
        for dtype in [Dtype::F32, Dtype::I8, Dtype::Binary] {
            let shards = records_to_shards(rs.clone(), 12, dtype, 8).unwrap();
            let mut c = Collection::new();
            for s in &shards {
                assert_eq!(s.vectors.dtype(), dtype);
                let bytes = encode_shard(s).unwrap();
                c.add_shard(&decode_shard(&bytes).unwrap()).unwrap();
            }
            assert_eq!(c.len(), 30);
            let mode = if dtype == Dtype::Binary {
                Mode::Binary
            } else {
                Mode::Exact
            };
            let opts = SearchOptions {
                k: 1,
                mode,
                ..SearchOptions::default()
            };
            let hits = c.search(&rs[17].embedding, &opts).unwrap();
            // Records 4 and 17 have the same vector ((i * 31) % 13 repeats every 13).
            assert!(["doc-004", "doc-017"].contains(&hits[0].id), "{dtype}");
        }
    }

    #[test]
    fn bad_arguments_are_refused() {
        let rs = records(3, 4);
        let msg = |r: Result<Vec<Shard>, SeedError>| r.unwrap_err().to_string();
        assert!(msg(records_to_shards(rs.clone(), 5, Dtype::F32, 10)).contains("expected 5"));
        assert!(msg(records_to_shards(rs.clone(), 4, Dtype::F32, 0)).contains("at least 1"));
        assert!(msg(records_to_shards(rs.clone(), 0, Dtype::F32, 1)).contains("between 1"));
        let mut twice = rs.clone();
        twice.push(rs[1].clone());
        assert!(msg(records_to_shards(twice, 4, Dtype::F32, 10)).contains("appears twice"));
        assert!(
            records_to_shards(Vec::new(), 4, Dtype::F32, 10)
                .unwrap()
                .is_empty()
        );
    }
}
