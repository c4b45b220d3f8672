//! Collection search against a brute-force oracle, every mode, filters, removal and errors.

mod common;

use common::{Rng, brute_force, f32_shard, plain_shard};
use s3vec::filter::Filter;
use s3vec::format::{Document, Shard, ShardVectors, decode_shard, encode_shard};
use s3vec::index::{Collection, IndexError, Mode, SearchOptions};
use serde_json::json;
use wasm_bindgen_test::wasm_bindgen_test;

fn load(c: &mut Collection, shard: &Shard) -> usize {
    let bytes = encode_shard(shard).unwrap();
    c.add_shard(&decode_shard(&bytes).unwrap()).unwrap()
}

fn ids(hits: &[s3vec::index::Hit<'_>]) -> Vec<String> {
    hits.iter().map(|h| h.id.to_string()).collect()
}

fn opts(k: usize, mode: Mode) -> SearchOptions<'static> {
    SearchOptions {
        k,
        mode,
        ..Default::default()
    }
}

/// 2,000 clustered vectors of 96 dimensions over two shards, and the ids in load order.
fn clustered_collection(seed: u64) -> (Collection, Vec<f32>, Vec<String>, usize) {
    let dims = 256;
    let mut rng = Rng::new(seed);
    let vectors = rng.topics(2000, dims, 20, 8);
    let all_ids: Vec<String> = (0..2000).map(|i| format!("doc-{i}")).collect();
    let mut c = Collection::new();
    let first = plain_shard(dims, vectors[..1000 * dims].to_vec());
    let mut second = plain_shard(dims, vectors[1000 * dims..].to_vec());
    for (i, d) in second.docs.iter_mut().enumerate() {
        d.id = format!("doc-{}", 1000 + i);
    }
    assert_eq!(load(&mut c, &first) + load(&mut c, &second), 2000);
    (c, vectors, all_ids, dims)
}

#[wasm_bindgen_test(unsupported = test)]
fn exact_search_equals_brute_force() {
    let (c, vectors, all_ids, dims) = clustered_collection(11);
    let mut rng = Rng::new(12);
    for _ in 0..20 {
        let q = rng.clustered(1, dims, 20, 0.6);
        let hits = c.search(&q, &opts(10, Mode::Exact)).unwrap();
        assert_eq!(ids(&hits), brute_force(&vectors, dims, &all_ids, &q, 10));
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "best first"
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn quantized_modes_recall_the_exact_results() {
    let (c, _, _, dims) = clustered_collection(21);
    let vectors_near = |c: &Collection, rng: &mut Rng, dims: usize| -> Vec<f32> {
        let v = c.vector(&format!("doc-{}", rng.below(2000))).unwrap();
        v.iter()
            .map(|x| x + 0.3 / (dims as f32).sqrt() * rng.normal())
            .collect()
    };
    let mut rng = Rng::new(22);
    let (mut int8_found, mut binary_found, mut total) = (0, 0, 0);
    for _ in 0..30 {
        // A perturbed copy of a stored document: it has close neighbours, as real queries do.
        let mut q = vectors_near(&c, &mut rng, dims);
        s3vec::rank::quantize::normalize(&mut q);
        let exact = ids(&c.search(&q, &opts(10, Mode::Exact)).unwrap());
        let int8 = c.search(&q, &opts(10, Mode::Int8)).unwrap();
        let binary = c.search(&q, &opts(10, Mode::Binary)).unwrap();
        int8_found += ids(&int8).iter().filter(|id| exact.contains(id)).count();
        binary_found += ids(&binary).iter().filter(|id| exact.contains(id)).count();
        total += exact.len();
        // Reranked scores are exact f32 similarities, so they agree with exact mode's.
        for h in int8.iter().chain(&binary) {
            let v = c.vector(h.id).unwrap();
            let qn = s3vec::rank::quantize::l2_norm(&q);
            let want: f32 = v.iter().zip(&q).map(|(a, b)| a * b / qn).sum();
            assert!(
                (h.score - want).abs() < 1e-4,
                "{} scored {} not {want}",
                h.id,
                h.score
            );
        }
    }
    let (r8, rb) = (
        int8_found as f64 / total as f64,
        binary_found as f64 / total as f64,
    );
    assert!(r8 >= 0.99, "int8 recall@10 {r8}");
    assert!(rb >= 0.95, "binary recall@10 {rb}");
}

#[wasm_bindgen_test(unsupported = test)]
fn oversample_one_still_returns_k_reranked_results() {
    let (c, _, _, dims) = clustered_collection(31);
    let q = Rng::new(32).clustered(1, dims, 20, 0.6);
    let hits = c
        .search(
            &q,
            &SearchOptions {
                k: 7,
                mode: Mode::Binary,
                oversample: Some(1),
                filter: None,
            },
        )
        .unwrap();
    assert_eq!(hits.len(), 7);
    let err = c
        .search(
            &q,
            &SearchOptions {
                k: 7,
                mode: Mode::Int8,
                oversample: Some(0),
                filter: None,
            },
        )
        .unwrap_err();
    assert_eq!(err, IndexError::ZeroOversample);
}

#[wasm_bindgen_test(unsupported = test)]
fn filters_apply_before_ranking() {
    let dims = 8;
    let mut rng = Rng::new(41);
    let n = 300;
    let vectors = rng.clustered(n, dims, 5, 0.5);
    let sections = ["utils", "graphics", "net"];
    let meta = (0..n)
        .map(|i| Some(json!({"section": sections[i % 3], "size": i})))
        .collect();
    let mut c = Collection::new();
    load(&mut c, &f32_shard(dims, vectors, meta));
    let filter = Filter::parse(&json!({"section": "net", "size": {"$lt": 60}})).unwrap();
    let q = rng.clustered(1, dims, 5, 0.5);
    for mode in [Mode::Exact, Mode::Int8, Mode::Binary] {
        // Only 20 documents match; a post-filter over the global top 25 would return far fewer.
        let hits = c
            .search(
                &q,
                &SearchOptions {
                    k: 25,
                    mode,
                    oversample: None,
                    filter: Some(&filter),
                },
            )
            .unwrap();
        assert_eq!(hits.len(), 20, "{mode:?}");
        for h in &hits {
            let m = h.metadata.unwrap();
            assert_eq!(m["section"], "net");
            assert!(m["size"].as_u64().unwrap() < 60);
        }
    }
    let none = Filter::parse(&json!({"section": "games"})).unwrap();
    assert!(
        c.search(
            &q,
            &SearchOptions {
                k: 5,
                filter: Some(&none),
                ..Default::default()
            }
        )
        .unwrap()
        .is_empty()
    );
}

/// A document's score must not depend on the mode that found it: exact's scan and the quantized
/// modes' rerank give the same bits, with removed rows among the ones scanned.
#[wasm_bindgen_test(unsupported = test)]
fn exact_scores_are_the_reranked_scores_bit_for_bit() {
    let (mut c, _, _, dims) = clustered_collection(61);
    assert_eq!(c.remove(["doc-0", "doc-777", "doc-1999"]), 3);
    let live = c.len();
    let mut rng = Rng::new(62);
    for _ in 0..5 {
        let q = rng.clustered(1, dims, 20, 0.6);
        let exact = c.search(&q, &opts(live, Mode::Exact)).unwrap();
        // Oversample 1 with k = every live row: the int8 pool is the whole collection, and the
        // rerank scores each row with the single-row kernel.
        let reranked = c
            .search(
                &q,
                &SearchOptions {
                    oversample: Some(1),
                    ..opts(live, Mode::Int8)
                },
            )
            .unwrap();
        assert_eq!(exact.len(), live);
        assert_eq!(reranked.len(), live);
        let by_id: std::collections::HashMap<&str, u32> =
            reranked.iter().map(|h| (h.id, h.score.to_bits())).collect();
        for h in &exact {
            assert_eq!(Some(&h.score.to_bits()), by_id.get(h.id), "{}", h.id);
        }
        assert_eq!(ids(&exact), ids(&reranked), "same scores, same order");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn removed_documents_are_never_returned() {
    let (mut c, _, _, dims) = clustered_collection(51);
    let q = Rng::new(52).clustered(1, dims, 20, 0.6);
    let before = ids(&c.search(&q, &opts(5, Mode::Exact)).unwrap());
    assert_eq!(
        c.remove(before.iter().map(String::as_str).chain(["no-such-id"])),
        5
    );
    assert_eq!(c.len(), 1995);
    for mode in [Mode::Exact, Mode::Int8, Mode::Binary] {
        let after = ids(&c.search(&q, &opts(50, mode)).unwrap());
        assert!(
            after.iter().all(|id| !before.contains(id)),
            "{mode:?} returned a removed document"
        );
    }
    assert!(c.get(&before[0]).is_none());
    assert_eq!(
        c.remove([before[0].as_str()]),
        0,
        "removing twice removes nothing"
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn a_later_shard_replaces_documents_with_the_same_id() {
    let mut c = Collection::new();
    let mut old = plain_shard(2, vec![1.0, 0.0, 0.0, 1.0]);
    old.docs[0].text = Some("old".into());
    load(&mut c, &old);
    let mut new = plain_shard(2, vec![-1.0, 0.0]);
    new.docs[0].text = Some("new".into());
    load(&mut c, &new);
    assert_eq!(c.len(), 2);
    let hits = c.search(&[1.0, 0.0], &opts(2, Mode::Exact)).unwrap();
    assert_eq!(ids(&hits), ["doc-1", "doc-0"]);
    assert_eq!(hits[1].text, Some("new"));
    assert!((hits[1].score + 1.0).abs() < 1e-6);
}

#[wasm_bindgen_test(unsupported = test)]
fn ties_are_ordered_by_id_whatever_the_load_order() {
    let dims = 4;
    let mut c = Collection::new();
    let docs = ["m", "b", "z", "a"]
        .map(|id| Document {
            id: id.into(),
            ..Default::default()
        })
        .to_vec();
    let shard = Shard {
        dims,
        vectors: ShardVectors::F32([1.0, 0.0, 0.0, 0.0].repeat(4)),
        docs,
    };
    load(&mut c, &shard);
    for mode in [Mode::Exact, Mode::Int8, Mode::Binary] {
        assert_eq!(
            ids(&c.search(&[1.0, 0.0, 0.0, 0.0], &opts(3, mode)).unwrap()),
            ["a", "b", "m"],
            "{mode:?}"
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn zero_vectors_score_zero() {
    let mut c = Collection::new();
    load(&mut c, &plain_shard(3, vec![0.0, 0.0, 0.0, 0.0, 3.0, 0.0]));
    let hits = c.search(&[0.0, 1.0, 0.0], &opts(2, Mode::Exact)).unwrap();
    assert_eq!(ids(&hits), ["doc-1", "doc-0"]);
    assert!(
        (hits[0].score - 1.0).abs() < 1e-6,
        "stored vectors are normalized on load"
    );
    assert_eq!(hits[1].score, 0.0);
}

#[wasm_bindgen_test(unsupported = test)]
fn i8_shards_search_in_every_mode() {
    let dims = 16;
    let mut rng = Rng::new(61);
    let v = rng.clustered(200, dims, 4, 0.4);
    let mut codes = vec![0i8; v.len()];
    let scales = v
        .chunks_exact(dims)
        .zip(codes.chunks_exact_mut(dims))
        .map(|(row, c)| s3vec::rank::quantize::quantize_i8(row, c))
        .collect();
    let shard = Shard {
        vectors: ShardVectors::I8 { codes, scales },
        ..plain_shard(dims, v.clone())
    };
    let mut c = Collection::new();
    load(&mut c, &shard);
    let q = &v[..dims];
    for mode in [Mode::Exact, Mode::Int8, Mode::Binary] {
        let hits = c.search(q, &opts(1, mode)).unwrap();
        assert_eq!(hits[0].id, "doc-0", "{mode:?}: a vector finds itself");
        assert!(hits[0].score > 0.999);
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn binary_collections_rank_by_hamming_and_refuse_float_modes() {
    let dims = 16;
    let docs = (0..3)
        .map(|i| Document {
            id: format!("b{i}"),
            ..Default::default()
        })
        .collect();
    // b0 equals the query's bits, b1 differs in 4 bits, b2 in all 16.
    let bits = vec![0xF0, 0x0F, 0xFF, 0x0F, 0x0F, 0xF0];
    let mut c = Collection::new();
    load(
        &mut c,
        &Shard {
            dims: dims as u32,
            vectors: ShardVectors::Binary(bits),
            docs,
        },
    );
    let q: Vec<f32> = (0..dims)
        .map(|i| {
            if i < 4 || (12..16).contains(&i) {
                1.0
            } else {
                -1.0
            }
        })
        .collect();
    let hits = c.search(&q, &opts(3, Mode::Binary)).unwrap();
    assert_eq!(ids(&hits), ["b0", "b1", "b2"]);
    assert_eq!(
        hits.iter().map(|h| h.score).collect::<Vec<_>>(),
        [1.0, 0.5, -1.0]
    );
    let err = c.search(&q, &opts(3, Mode::Exact)).unwrap_err();
    assert!(
        err.to_string().contains("search it with mode \"binary\""),
        "{err}"
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_requests_get_errors_that_say_what_to_do() {
    let mut c = Collection::new();
    assert_eq!(
        c.search(&[1.0], &opts(1, Mode::Exact)).unwrap_err(),
        IndexError::Empty
    );
    load(&mut c, &plain_shard(3, vec![1.0, 0.0, 0.0]));
    let e = c.search(&[1.0, 0.0], &opts(1, Mode::Exact)).unwrap_err();
    assert_eq!(
        e,
        IndexError::DimensionMismatch {
            what: "query",
            expected: 3,
            got: 2
        }
    );
    assert!(
        e.to_string()
            .contains("use the same model and `dimensions` setting")
    );
    assert_eq!(
        c.search(&[1.0, 0.0, 0.0], &opts(0, Mode::Exact))
            .unwrap_err(),
        IndexError::ZeroK
    );
    assert_eq!(
        c.search(&[0.0; 3], &opts(1, Mode::Exact)).unwrap_err(),
        IndexError::ZeroQuery
    );
    assert_eq!(
        c.search(&[0.0, f32::NAN, 0.0], &opts(1, Mode::Exact))
            .unwrap_err(),
        IndexError::NonFiniteQuery(1)
    );
    assert!(matches!(
        "fast".parse::<Mode>(),
        Err(IndexError::UnknownMode(_))
    ));

    let wrong_dims = encode_shard(&plain_shard(4, vec![1.0; 4])).unwrap();
    let e = c
        .add_shard(&decode_shard(&wrong_dims).unwrap())
        .unwrap_err();
    assert_eq!(
        e,
        IndexError::DimensionMismatch {
            what: "shard",
            expected: 3,
            got: 4
        }
    );
    assert_eq!(c.len(), 1, "a rejected shard adds nothing");

    c.remove(["doc-0"]);
    assert_eq!(
        c.search(&[1.0, 0.0, 0.0], &opts(1, Mode::Exact))
            .unwrap_err(),
        IndexError::Empty
    );
    let k_too_big = {
        let mut c = Collection::new();
        load(&mut c, &plain_shard(3, vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0]));
        c.search(&[1.0, 0.0, 0.0], &opts(10, Mode::Exact))
            .unwrap()
            .len()
    };
    assert_eq!(
        k_too_big, 2,
        "k larger than the collection returns every document"
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn reserve_is_only_a_hint() {
    let mut rng = Rng::new(5);
    let shard = plain_shard(8, rng.vec_f32(3 * 8));
    let mut reserved = Collection::new();
    // A count no allocator grants (as a hostile manifest could claim) is ignored, not an abort.
    reserved.reserve(8, s3vec::format::Dtype::F32, usize::MAX / 4);
    reserved.reserve(8, s3vec::format::Dtype::F32, 3);
    load(&mut reserved, &shard);
    // Other dimensions than the collection's: nothing happens.
    reserved.reserve(16, s3vec::format::Dtype::F32, 1000);
    let mut plain = Collection::new();
    load(&mut plain, &shard);
    let q = rng.vec_f32(8);
    let a = reserved.search(&q, &opts(3, Mode::Exact)).unwrap();
    let b = plain.search(&q, &opts(3, Mode::Exact)).unwrap();
    assert_eq!(a, b);
    assert_eq!(reserved.dims(), Some(8));
}
