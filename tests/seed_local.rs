//! The seed's `embeddings/{id}.json` objects against the local stack (`s3vec-dev`): objects in
//! every shape the seed's snippets write (plain and gzip), read back by a prefix import with
//! read-only session credentials, and put/get/delete round trips. Native only (the wasm tests
//! cannot start processes).
#![cfg(not(target_arch = "wasm32"))]

mod aws_common;

use aws_common::{BUCKET, Stack, read_only_policy};
use http::Method;
use s3vec::aws::s3::{PutOptions, S3Client};
use s3vec::aws::sts::AssumeRole;
use s3vec::aws::{CredentialsProvider, Request, Runtime, StaticProvider};
use s3vec::format::{Dtype, decode_shard, encode_shard};
use s3vec::index::{Collection, SearchOptions};
use s3vec::seed::{
    DEFAULT_PREFIX, Duplicate, SeedError, SeedImport, SeedProgress, SeedRecord, Skipped,
    delete_seed, get_seed, put_seed, read_seed_prefix, records_to_shards,
};
use serde_json::{Map, json};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

const DIMS: usize = 64;

/// A deterministic embedding whose values are exact in JSON both ways (f32 shortest form).
fn embedding(i: usize, dims: usize) -> Vec<f32> {
    (0..dims)
        .map(|d| (((i * 7919 + d * 104_729) % 2001) as f32 - 1000.0) / 997.0)
        .collect()
}

/// `[a, b, ...]` as Python's json.dumps writes a list of floats (", " between items).
fn py_list(v: &[f32]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", items.join(", "))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Writes record `i` the way one of the seed's snippets does; returns what reading must give.
async fn write_seed_shape(s3: &S3Client, i: usize) -> SeedRecord {
    let id = format!("doc-{i:03}");
    let e = embedding(i, DIMS);
    let text = format!("document number {i}");
    let plain = |body: String, ct: bool| {
        let key = format!("embeddings/{id}.json");
        let options = if ct {
            PutOptions::default().content_type("application/json")
        } else {
            PutOptions::default()
        };
        async move { s3.put_object(&key, body, options).await.unwrap() }
    };
    let mut record = SeedRecord {
        id: id.clone(),
        text: None,
        embedding: e.clone(),
        metadata: None,
    };
    match i % 5 {
        // EmbeddingService.store_document: the full shape.
        0 => {
            plain(
                format!(
                    r#"{{"id": "{id}", "text": "{text}", "embedding": {}, "metadata": {{"category": "c{}", "n": {i}}}, "dimension": {DIMS}}}"#,
                    py_list(&e),
                    i % 3
                ),
                true,
            )
            .await;
            let mut m = Map::new();
            m.insert("category".into(), json!(format!("c{}", i % 3)));
            m.insert("n".into(), json!(i));
            record.text = Some(text);
            record.metadata = Some(m);
        }
        // The Bedrock section's store_embedding(id, text, embedding): no metadata.
        1 => {
            plain(
                format!(
                    r#"{{"id": "{id}", "text": "{text}", "embedding": {}, "dimension": {DIMS}}}"#,
                    py_list(&e)
                ),
                true,
            )
            .await;
            record.text = Some(text);
        }
        // store_embedding(id, embedding): id and embedding.
        2 => {
            plain(
                format!(r#"{{"id": "{id}", "embedding": {}}}"#, py_list(&e)),
                true,
            )
            .await;
        }
        // The quick start: the embedding alone, no Content-Type.
        3 => {
            plain(format!(r#"{{"embedding": {}}}"#, py_list(&e)), false).await;
        }
        // store_compressed: gzip at .json.gz with Content-Encoding: gzip, no Content-Type.
        _ => {
            let body = gzip(format!(r#"{{"embedding": {}}}"#, py_list(&e)).as_bytes());
            s3.put_object(
                &format!("embeddings/{id}.json.gz"),
                body,
                PutOptions::default().content_encoding("gzip"),
            )
            .await
            .unwrap();
        }
    }
    record
}

async fn read_only_client(stack: &Stack) -> S3Client {
    let req = AssumeRole::new(stack.role_arn(), "seed-import")
        .duration(Duration::from_secs(900))
        .policy(read_only_policy(BUCKET, DEFAULT_PREFIX));
    let creds = stack.sts().assume_role(&req).await.unwrap().credentials;
    let provider: Arc<dyn CredentialsProvider> = Arc::new(StaticProvider::new(creds));
    stack.s3(provider)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_of_seed_objects_imports_with_every_problem_reported() {
    let stack = Stack::start(&[]);
    let s3 = stack.s3(stack.root());
    let mut expected = Vec::new();
    for i in 0..50 {
        expected.push(write_seed_shape(&s3, i).await);
    }
    // doc-002 also as .json.gz with another vector: .json wins, the .json.gz is reported.
    let other = SeedRecord {
        embedding: embedding(999, DIMS),
        ..expected[2].clone()
    };
    s3.put_object(
        "embeddings/doc-002.json.gz",
        other.encode_gzip().unwrap(),
        PutOptions::default().content_encoding("gzip"),
    )
    .await
    .unwrap();
    // A corrupt object, one of another dimension, a file that is not a seed object, one whose
    // body names another id, and an object outside the prefix.
    let put = |key: &'static str, body: &'static str| {
        let s3 = &s3;
        async move {
            s3.put_object(key, body.as_bytes().to_vec(), PutOptions::default())
                .await
                .unwrap()
        }
    };
    put(
        "embeddings/broken.json",
        r#"{"id": "broken", "embedding": [0.1, 0.2"#,
    )
    .await;
    put("embeddings/small.json", r#"{"embedding": [0.5, 0.5, 0.5]}"#).await;
    put("embeddings/README.txt", "seed vectors").await;
    put(
        "embeddings/zz-moved.json",
        r#"{"id": "zz-old", "embedding": [1]}"#,
    )
    .await;
    put("other/doc-999.json", r#"{"embedding": [1]}"#).await;

    let reader = read_only_client(&stack).await;
    let mut reports: Vec<SeedProgress> = Vec::new();
    let import = read_seed_prefix(&reader, DEFAULT_PREFIX, 8, |p| reports.push(p))
        .await
        .unwrap();

    let SeedImport {
        records,
        skipped,
        duplicates,
        dims,
        listed,
        fetched,
        bytes,
    } = import;
    assert_eq!(records, expected);
    assert_eq!(dims, Some(DIMS));
    let skip = |key: &str, reason: &str| Skipped {
        key: key.into(),
        reason: reason.into(),
    };
    assert_eq!(
        skipped,
        vec![
            skip(
                "embeddings/README.txt",
                "not a seed object: the name ends neither in .json nor in .json.gz"
            ),
            skip(
                "embeddings/broken.json",
                "not JSON: EOF while parsing a list at line 1 column 39"
            ),
            skip("embeddings/small.json", "dimension 3, expected 64"),
            skip(
                "embeddings/zz-moved.json",
                "\"id\" is \"zz-old\" but the key names \"zz-moved\""
            ),
        ]
    );
    assert_eq!(
        duplicates,
        vec![Duplicate {
            id: "doc-002".into(),
            kept: "embeddings/doc-002.json".into(),
            ignored: "embeddings/doc-002.json.gz".into(),
        }]
    );
    // 50 + the duplicate + 4 others; the duplicate's .json.gz and README.txt are not fetched.
    assert_eq!((listed, fetched), (55, 53));
    assert!(bytes > 0);
    assert_eq!(reports.len(), 54, "one after listing, one per object");
    assert_eq!(reports[0].to_fetch, 53);
    assert_eq!(reports[0].fetched, 0);
    let last = reports.last().unwrap();
    assert_eq!((last.fetched, last.bytes), (53, bytes));
    assert!(reports.windows(2).all(|w| w[1].fetched == w[0].fetched + 1));

    // Into shards and a collection: every record is found by its own vector.
    let shards = records_to_shards(records.clone(), DIMS, Dtype::F32, 20).unwrap();
    assert_eq!(shards.len(), 3);
    let mut collection = Collection::new();
    for shard in &shards {
        let bytes = encode_shard(shard).unwrap();
        collection
            .add_shard(&decode_shard(&bytes).unwrap())
            .unwrap();
    }
    assert_eq!(collection.len(), 50);
    for r in &records {
        let options = SearchOptions {
            k: 1,
            ..SearchOptions::default()
        };
        let hits = collection.search(&r.embedding, &options).unwrap();
        assert_eq!(hits[0].id, r.id);
        assert!((hits[0].score - 1.0).abs() < 1e-5);
        assert_eq!(hits[0].text, r.text.as_deref());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_delete_round_trips_plain_and_gzip() {
    let stack = Stack::start(&[]);
    let s3 = stack.s3(stack.root());
    let prefix = "coll/seed/";
    let mut metadata = Map::new();
    metadata.insert("category".into(), json!("tech"));
    let record = SeedRecord {
        id: "doc1".into(),
        text: Some("Python is a programming language".into()),
        embedding: embedding(1, 1024),
        metadata: Some(metadata),
    };

    assert_eq!(get_seed(&s3, prefix, "doc1").await.unwrap(), None);
    put_seed(&s3, prefix, &record, false).await.unwrap();
    assert_eq!(
        get_seed(&s3, prefix, "doc1").await.unwrap().as_ref(),
        Some(&record)
    );
    // Exactly the seed's shape, as application/json.
    let obj = s3.get_object("coll/seed/doc1.json").await.unwrap();
    assert_eq!(obj.meta.content_type.as_deref(), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&obj.body).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["dimension", "embedding", "id", "metadata", "text"]);
    assert_eq!(v["dimension"], 1024);

    // The gzip variant replaces it: written with Content-Encoding: gzip, the .json removed.
    let newer = SeedRecord {
        embedding: embedding(2, 1024),
        ..record.clone()
    };
    put_seed(&s3, prefix, &newer, true).await.unwrap();
    let keys: Vec<String> = s3
        .list_all(prefix)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, ["coll/seed/doc1.json.gz"]);
    assert_eq!(
        get_seed(&s3, prefix, "doc1").await.unwrap().as_ref(),
        Some(&newer)
    );
    // What a browser's fetch sees: Content-Encoding: gzip (so it decompresses); natively the
    // body arrives as sent, compressed.
    let url = s3
        .presign_get("coll/seed/doc1.json.gz", Duration::from_secs(60))
        .await
        .unwrap();
    let http = Runtime::platform().unwrap().transport;
    let resp = http
        .send(Request::parse(Method::GET, &url).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.body[..2], [0x1f, 0x8b]);

    delete_seed(&s3, prefix, "doc1").await.unwrap();
    assert_eq!(get_seed(&s3, prefix, "doc1").await.unwrap(), None);
    assert!(s3.list_all(prefix).await.unwrap().is_empty());
    // Deleting what is not there succeeds, as on S3.
    delete_seed(&s3, prefix, "doc1").await.unwrap();

    // A corrupt object is an error naming its key; an unsafe id is refused before any request.
    s3.put_object(
        "coll/seed/bad.json",
        b"{\"embedding\": []}".to_vec(),
        PutOptions::default(),
    )
    .await
    .unwrap();
    let err = get_seed(&s3, prefix, "bad").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "seed object coll/seed/bad.json: \"embedding\" is empty"
    );
    for id in ["", "../x", "a//b"] {
        let err = put_seed(
            &s3,
            prefix,
            &SeedRecord {
                id: id.into(),
                ..record.clone()
            },
            false,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, SeedError::BadId { .. }), "{id:?}: {err}");
        assert!(matches!(
            get_seed(&s3, prefix, id).await,
            Err(SeedError::BadId { .. })
        ));
    }
}
