//! Shard and manifest encoding: round trips, and every rejection names its problem.

mod common;

use common::{Rng, f32_shard, plain_shard};
use s3vec::format::manifest::{MAX_MANIFEST_BYTES, Manifest};
use s3vec::format::shard::HEADER_LEN;
use s3vec::format::{
    Document, Dtype, FormatError, Shard, ShardEntry, ShardVectors, checksum, decode_shard,
    encode_shard,
};
use serde_json::json;
use wasm_bindgen_test::wasm_bindgen_test;

/// Recomputes the checksum after a deliberate edit, so the structural check under test is reached.
fn reseal(bytes: &mut [u8]) {
    let sum = checksum(&bytes[16..]);
    bytes[8..16].copy_from_slice(&sum.to_le_bytes());
}

fn sample() -> Shard {
    let mut rng = Rng::new(7);
    f32_shard(
        5,
        rng.vec_f32(15),
        vec![
            Some(json!({"section": "utils", "size": 12})),
            None,
            Some(json!({})),
        ],
    )
}

fn err(bytes: &[u8]) -> FormatError {
    decode_shard(bytes).expect_err("decoding should fail")
}

fn section(bytes: &[u8], i: usize) -> (usize, usize) {
    let at = 32 + i * 16;
    let read = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap()) as usize;
    (read(at), read(at + 8))
}

#[wasm_bindgen_test(unsupported = test)]
fn every_dtype_round_trips() {
    let base = sample();
    let shards = [
        base.clone(),
        Shard {
            vectors: ShardVectors::I8 {
                codes: vec![-127, 0, 5, 127, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
                scales: vec![0.5, 0.0, 1e-3],
            },
            ..base.clone()
        },
        Shard {
            vectors: ShardVectors::Binary(vec![0b1010_1000, 0b0000_1000, 0b1111_1000]),
            ..base.clone()
        },
    ];
    for shard in shards {
        let bytes = encode_shard(&shard).unwrap();
        let decoded = decode_shard(&bytes).unwrap();
        assert_eq!(decoded.dtype, shard.vectors.dtype());
        assert_eq!(decoded.to_owned_shard(), shard);
        assert_eq!(decoded.checksum, checksum(&bytes[16..]));
        assert_eq!(
            section(&bytes, 0).0 % 64,
            0,
            "vectors start cache-line aligned"
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn empty_shard_round_trips() {
    let shard = Shard {
        dims: 8,
        vectors: ShardVectors::F32(vec![]),
        docs: vec![],
    };
    let bytes = encode_shard(&shard).unwrap();
    assert_eq!(decode_shard(&bytes).unwrap().to_owned_shard(), shard);
}

#[wasm_bindgen_test(unsupported = test)]
fn rejects_bad_magic_and_names_it() {
    let e = err(b"PK\x03\x04 this is a zip file, not a shard");
    assert!(matches!(e, FormatError::BadMagic { .. }), "{e}");
    assert!(e.to_string().contains("S3VSHARD"), "{e}");
    assert!(matches!(err(b""), FormatError::BadMagic { .. }));
}

#[wasm_bindgen_test(unsupported = test)]
fn rejects_newer_version_before_checksum() {
    let mut bytes = encode_shard(&sample()).unwrap();
    bytes[16] = 2;
    let e = err(&bytes);
    assert_eq!(
        e,
        FormatError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    assert!(e.to_string().contains("upgrade"), "{e}");
}

#[wasm_bindgen_test(unsupported = test)]
fn rejects_every_truncation_without_panicking() {
    let bytes = encode_shard(&sample()).unwrap();
    for len in 0..bytes.len() {
        let e = err(&bytes[..len]);
        let ok = matches!(
            e,
            FormatError::BadMagic { .. }
                | FormatError::Truncated { .. }
                | FormatError::ChecksumMismatch { .. }
        );
        assert!(ok, "cut at {len}: unexpected {e}");
    }
    assert!(matches!(
        err(&bytes[..100]),
        FormatError::Truncated {
            what: "header",
            offset: 0,
            needed: 128,
            len: 100
        }
    ));
}

#[wasm_bindgen_test(unsupported = test)]
fn truncated_section_names_the_section_and_offset() {
    let mut bytes = encode_shard(&sample()).unwrap();
    let (text_at, _) = section(&bytes, 4);
    bytes.truncate(text_at + 2);
    reseal(&mut bytes);
    let e = err(&bytes);
    assert!(
        matches!(
            e,
            FormatError::Truncated {
                what: "text section",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains(&format!("offset {text_at}")), "{e}");
}

#[wasm_bindgen_test(unsupported = test)]
fn any_flipped_payload_bit_is_a_checksum_mismatch() {
    let bytes = encode_shard(&sample()).unwrap();
    for at in [16, 20, 40, HEADER_LEN, HEADER_LEN + 7, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        let e = err(&bad);
        if at == 16 {
            // The version byte is read before the checksum.
            assert!(matches!(e, FormatError::UnsupportedVersion { .. }), "{e}");
        } else {
            assert!(
                matches!(e, FormatError::ChecksumMismatch { .. }),
                "byte {at}: {e}"
            );
            assert!(e.to_string().contains("fetch it again"), "{e}");
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn rejects_structural_lies_even_with_a_valid_checksum() {
    let good = encode_shard(&sample()).unwrap();
    type Edit = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("unknown dtype", Box::new(|b| b[18] = 9), "dtype code 9"),
        ("reserved byte", Box::new(|b| b[19] = 1), "reserved"),
        (
            "zero dims",
            Box::new(|b| b[20..24].copy_from_slice(&0u32.to_le_bytes())),
            "dimensions 0",
        ),
        (
            "huge dims",
            Box::new(|b| b[20..24].copy_from_slice(&70_000u32.to_le_bytes())),
            "dimensions 70000",
        ),
        (
            "count larger than vectors",
            Box::new(|b| b[24..28].copy_from_slice(&4u32.to_le_bytes())),
            "vectors section",
        ),
        (
            "count near u32::MAX",
            Box::new(|b| b[24..28].copy_from_slice(&u32::MAX.to_le_bytes())),
            "vectors section",
        ),
        (
            "misaligned vectors",
            Box::new(|b| b[32..40].copy_from_slice(&129u64.to_le_bytes())),
            "aligned",
        ),
        (
            "overlapping sections",
            Box::new(|b| {
                let (v, _) = section(b, 0);
                b[64..72].copy_from_slice(&(v as u64).to_le_bytes())
            }),
            "sections must follow",
        ),
        (
            "huge section length",
            Box::new(|b| b[72..80].copy_from_slice(&u64::MAX.to_le_bytes())),
            "truncated",
        ),
        (
            "trailing bytes",
            Box::new(|b| b.extend_from_slice(&[0; 8])),
            "after the last section",
        ),
    ];
    for (name, edit, expect) in cases {
        let mut bytes = good.clone();
        edit(&mut bytes);
        reseal(&mut bytes);
        let e = err(&bytes).to_string();
        assert!(
            e.contains(expect),
            "{name}: {e:?} should mention {expect:?}"
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn rejects_bad_documents_with_their_row() {
    let good = encode_shard(&sample()).unwrap();
    let (ids_at, _) = section(&good, 2);
    let (meta_at, _) = section(&good, 3);
    let (text_at, _) = section(&good, 4);
    // ids "doc-0", "doc-1", "doc-2": data starts after 4 offsets.
    let id_data = ids_at + 16;
    let mut bytes = good.clone();
    bytes[id_data + 5] = 0xFF;
    reseal(&mut bytes);
    assert_eq!(
        err(&bytes).to_string().split(':').next(),
        Some("document 1")
    );

    let mut bytes = good.clone();
    bytes[id_data + 5..id_data + 10].copy_from_slice(b"doc-0");
    reseal(&mut bytes);
    let e = err(&bytes).to_string();
    assert!(e.contains("already used by document 0"), "{e}");

    let mut bytes = good.clone();
    bytes[meta_at + 16] = b'[';
    reseal(&mut bytes);
    let e = err(&bytes).to_string();
    assert!(
        e.starts_with("document 0: metadata is not valid JSON"),
        "{e}"
    );

    let mut bytes = good.clone();
    bytes[text_at + 4..text_at + 8].copy_from_slice(&1000u32.to_le_bytes());
    reseal(&mut bytes);
    let e = err(&bytes).to_string();
    assert!(e.contains("text section: offset 1 is 1000"), "{e}");

    let mut bytes = good;
    bytes[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    reseal(&mut bytes);
    assert_eq!(
        err(&bytes).to_string(),
        "document 0: vector component 0 is NaN or infinite"
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn decoder_names_the_first_non_finite_component_wherever_it_is() {
    // 3 documents × 100 dimensions: the bad values sit past the first block of 64 the check
    // scans at once, one in the middle of a block, a later one in another block.
    let dims = 100;
    let mut rng = Rng::new(8);
    let good =
        encode_shard(&f32_shard(dims, rng.vec_f32(3 * dims), vec![None; 3])).expect("encode");
    for (bad, want) in [
        (
            vec![(2 * dims + 37, f32::INFINITY)],
            "document 2: vector component 37",
        ),
        (
            vec![(dims + 1, f32::NAN), (2 * dims + 63, f32::NEG_INFINITY)],
            "document 1: vector component 1",
        ),
        (
            vec![(3 * dims - 1, f32::NAN)],
            "document 2: vector component 99",
        ),
    ] {
        let mut bytes = good.clone();
        for (at, x) in bad {
            bytes[HEADER_LEN + at * 4..][..4].copy_from_slice(&x.to_le_bytes());
        }
        reseal(&mut bytes);
        let e = err(&bytes).to_string();
        assert!(e.starts_with(want), "{e}");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn encoder_refuses_what_the_decoder_would_reject() {
    let base = plain_shard(2, vec![0.1, 0.2, 0.3, 0.4]);
    let mut dup = base.clone();
    dup.docs[1].id = "doc-0".into();
    assert!(
        encode_shard(&dup)
            .unwrap_err()
            .to_string()
            .contains("already used")
    );
    let mut empty = base.clone();
    empty.docs[0].id.clear();
    assert!(
        encode_shard(&empty)
            .unwrap_err()
            .to_string()
            .contains("id is empty")
    );
    let mut long = base.clone();
    long.docs[0].id = "x".repeat(1025);
    assert!(
        encode_shard(&long)
            .unwrap_err()
            .to_string()
            .contains("limit is 1024")
    );
    let nan = Shard {
        vectors: ShardVectors::F32(vec![0.1, f32::INFINITY, 0.3, 0.4]),
        ..base.clone()
    };
    assert_eq!(
        encode_shard(&nan).unwrap_err().to_string(),
        "document 0: vector component 1 is NaN or infinite"
    );
    let short = Shard {
        vectors: ShardVectors::F32(vec![0.1]),
        ..base.clone()
    };
    assert!(
        encode_shard(&short)
            .unwrap_err()
            .to_string()
            .contains("expected 4")
    );
    let bits = Shard {
        dims: 3,
        vectors: ShardVectors::Binary(vec![0b1111_0000, 0]),
        ..base.clone()
    };
    assert!(
        encode_shard(&bits)
            .unwrap_err()
            .to_string()
            .contains("bits set past its last dimension")
    );
    let min = Shard {
        vectors: ShardVectors::I8 {
            codes: vec![0, -128, 1, 1],
            scales: vec![0.1, 0.1],
        },
        ..base.clone()
    };
    assert_eq!(
        encode_shard(&min).unwrap_err().to_string(),
        "document 0: i8 code at component 1 is -128; the symmetric range is -127..=127"
    );
    let mut deep = json!(1);
    for _ in 0..120 {
        deep = json!([deep]);
    }
    let mut nested = base.clone();
    nested.docs[1].metadata = Some(json!({ "x": deep }).as_object().unwrap().clone());
    assert!(
        encode_shard(&nested)
            .unwrap_err()
            .to_string()
            .starts_with("document 1: metadata is nested 122 levels deep")
    );
    let dims = Shard { dims: 0, ..base };
    assert_eq!(encode_shard(&dims).unwrap_err(), FormatError::BadDims(0));
}

fn manifest_with_one_shard() -> (Manifest, Vec<u8>) {
    let bytes = encode_shard(&sample()).unwrap();
    let mut m = Manifest::new("amazon.titan-embed-text-v2:0", 5, Dtype::F32);
    m.generation = 1;
    m.shards.push(ShardEntry {
        key: "shards/000001.s3vs".into(),
        count: 3,
        bytes: bytes.len() as u64,
        checksum: ShardEntry::format_checksum(checksum(&bytes[16..])),
    });
    (m, bytes)
}

#[wasm_bindgen_test(unsupported = test)]
fn manifest_round_trips_and_checks_its_shards() {
    let (m, bytes) = manifest_with_one_shard();
    let decoded = Manifest::decode(&m.to_json()).unwrap();
    assert_eq!(decoded, m);
    assert_eq!(decoded.document_count(), 3);
    let shard = decode_shard(&bytes).unwrap();
    m.check_shard(&m.shards[0], &shard, bytes.len()).unwrap();

    let mut other = m.clone();
    other.dims = 6;
    let e = other
        .check_shard(&m.shards[0], &shard, bytes.len())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "shard disagrees with the manifest: dims is 5 in the shard but 6 in the manifest"
    );
    let mut entry = m.shards[0].clone();
    entry.count = 4;
    assert!(
        m.check_shard(&entry, &shard, bytes.len())
            .unwrap_err()
            .to_string()
            .contains("count is 3 in the shard but 4")
    );
    entry = m.shards[0].clone();
    entry.checksum = ShardEntry::format_checksum(1);
    assert!(
        m.check_shard(&entry, &shard, bytes.len())
            .unwrap_err()
            .to_string()
            .contains("checksum")
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn manifest_rejections_name_the_field() {
    let (m, _) = manifest_with_one_shard();
    let value = serde_json::to_value(&m).unwrap();
    let with = |path: &str, v: serde_json::Value| {
        let mut doc = value.clone();
        *doc.pointer_mut(path).unwrap() = v;
        Manifest::decode(&serde_json::to_vec(&doc).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert!(with("/version", json!(2)).contains("version 2 is not supported"));
    assert!(with("/format", json!("other")).contains("\"format\""));
    assert!(with("/dims", json!(0)).contains("dimensions 0"));
    assert!(with("/dtype", json!("f16")).contains("f16"));
    assert!(with("/shards/0/key", json!("../escape")).contains("relative path"));
    assert!(with("/shards/0/key", json!("/abs")).contains("relative path"));
    assert!(with("/shards/0/checksum", json!("md5:abc")).contains("16 lowercase hex digits"));
    assert!(with("/shards/0/checksum", json!("xxh3-64:+1700359ec0f0115")).contains("hex digits"));
    assert!(with("/shards/0/checksum", json!("xxh3-64:1700359EC0F01150")).contains("lowercase"));
    assert!(with("/shards/0/key", json!("s\\..\\x")).contains("relative path"));
    assert!(with("/version", json!(1.5)).contains("version 1.5 is not supported"));
    assert!(with("/shards/0/count", json!(-1)).contains("invalid value"));
    let mut twice = value.clone();
    let entry = twice["shards"][0].clone();
    twice["shards"].as_array_mut().unwrap().push(entry);
    assert!(
        Manifest::decode(&serde_json::to_vec(&twice).unwrap())
            .unwrap_err()
            .to_string()
            .contains("listed twice")
    );
    assert!(
        Manifest::decode(b"[1,2]")
            .unwrap_err()
            .to_string()
            .contains("must be a JSON object")
    );
    assert!(
        Manifest::decode(b"{")
            .unwrap_err()
            .to_string()
            .contains("not valid JSON")
    );
    assert!(
        Manifest::decode(b"{\"format\":\"s3vec-manifest\"}")
            .unwrap_err()
            .to_string()
            .contains("\"version\" is missing")
    );
    let huge = vec![b' '; MAX_MANIFEST_BYTES + 1];
    assert!(
        Manifest::decode(&huge)
            .unwrap_err()
            .to_string()
            .contains("limit")
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn documents_without_metadata_or_text_stay_absent() {
    let shard = Shard {
        dims: 1,
        vectors: ShardVectors::F32(vec![1.0]),
        docs: vec![Document {
            id: "only".into(),
            metadata: None,
            text: None,
        }],
    };
    let bytes = encode_shard(&shard).unwrap();
    let d = decode_shard(&bytes).unwrap();
    assert_eq!(d.docs[0], shard.docs[0]);
}

/// Found by fuzzing: without serde_json's `float_roundtrip`, `5e36` drifted by one ULP per rewrite.
#[wasm_bindgen_test(unsupported = test)]
fn metadata_floats_survive_rewrites() {
    let metadata: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(r#"{"n":5e36,"m":0.1,"k":1.7976931348623157e308}"#).unwrap();
    let shard = Shard {
        dims: 1,
        vectors: ShardVectors::F32(vec![1.0]),
        docs: vec![Document {
            id: "a".into(),
            metadata: Some(metadata),
            text: None,
        }],
    };
    let once = encode_shard(&shard).unwrap();
    let decoded = decode_shard(&once).unwrap().to_owned_shard();
    assert_eq!(decoded, shard);
    assert_eq!(
        encode_shard(&decoded).unwrap(),
        once,
        "rewriting a shard changes nothing"
    );
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use common::Rng;
    use proptest::prelude::*;

    /// Metadata values include arbitrary finite floats: decimals must survive every rewrite.
    fn document()
    -> impl Strategy<Value = (String, Option<String>, Option<(String, serde_json::Value)>)> {
        let value = prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            ".{0,20}".prop_map(serde_json::Value::from),
        ];
        (
            "[a-zA-Z0-9/_\\-é]{1,40}",
            proptest::option::of(".{0,80}"),
            proptest::option::of(("[a-z]{1,8}", value)),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn shards_round_trip(
            dims in 1usize..70,
            dtype in 0u8..3,
            docs in prop::collection::vec(document(), 0..12),
            seed in any::<u64>(),
        ) {
            let mut seen = std::collections::HashSet::new();
            let docs: Vec<Document> = docs
                .into_iter()
                .filter(|(id, _, _)| seen.insert(id.clone()))
                .map(|(id, text, meta)| Document {
                    id,
                    text: text.filter(|t| !t.is_empty()),
                    metadata: meta.map(|(k, v)| json!({ k: v }).as_object().unwrap().clone()),
                })
                .collect();
            let n = docs.len();
            let mut rng = Rng::new(seed);
            let vectors = match dtype {
                0 => ShardVectors::F32(rng.vec_f32(n * dims)),
                1 => ShardVectors::I8 { codes: rng.vec_i8(n * dims), scales: (0..n).map(|_| rng.uniform().abs()).collect() },
                _ => {
                    let row = dims.div_ceil(8);
                    let mut bits = vec![0u8; n * row];
                    for chunk in bits.chunks_exact_mut(row) {
                        s3vec::rank::quantize::pack_binary(&rng.vec_f32(dims), chunk);
                    }
                    ShardVectors::Binary(bits)
                }
            };
            let shard = Shard { dims: dims as u32, vectors, docs };
            let bytes = encode_shard(&shard).unwrap();
            prop_assert_eq!(decode_shard(&bytes).unwrap().to_owned_shard(), shard);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode_shard(&bytes);
            let _ = Manifest::decode(&bytes);
        }

        #[test]
        fn corrupted_shards_are_rejected_or_identical(at in 0usize..400, flip in 1u8..=255) {
            let bytes = encode_shard(&sample()).unwrap();
            let mut bad = bytes.clone();
            let at = at % bad.len();
            bad[at] ^= flip;
            prop_assert!(decode_shard(&bad).is_err(), "flipping byte {} went unnoticed", at);
        }
    }
}

/// The ranged id listing reads a header and an ids section from the network: good ones give
/// the ids, bad ones a named error, never a panic.
#[wasm_bindgen_test(unsupported = test)]
fn ids_section_and_decode_ids_read_ranges_and_refuse_bad_bytes() {
    use s3vec::format::shard::{decode_ids, ids_section};
    let mut rng = Rng::new(11);
    let shard = plain_shard(4, rng.vec_f32(3 * 4));
    let bytes = encode_shard(&shard).unwrap();
    let (count, range) = ids_section(&bytes[..HEADER_LEN]).unwrap();
    assert_eq!(count, 3);
    let ids = decode_ids(&bytes[range.start as usize..range.end as usize], count).unwrap();
    let expected: Vec<String> = shard.docs.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids, expected);

    let err = ids_section(&bytes[..40]).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    let err = ids_section(b"NOTASHARD-------").unwrap_err();
    assert!(err.to_string().contains("magic"), "{err}");
    // A section cut short, or one claiming more ids than its bytes hold.
    let section = &bytes[range.start as usize..range.end as usize];
    assert!(decode_ids(&section[..section.len() - 1], count).is_err());
    assert!(decode_ids(section, 1_000_000).is_err());
    // Even 0 documents have a 4-byte offset table, so an empty section is malformed.
    assert!(decode_ids(&[], 0).is_err());
}
