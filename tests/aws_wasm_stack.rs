//! The S3 client through the real transport (reqwest: `fetch` under wasm) against a running
//! local stack. Opt-in, because a wasm test cannot start the stack itself: start one with CORS
//! open, then build the tests with its address and keys in `S3VEC_TEST_STACK`
//! (`endpoint|access key|secret|region`), e.g.
//!
//! ```sh
//! cargo run -p s3vec-dev -- --s3-port 9100 --bucket vec-test --cors-origin '*' &
//! S3VEC_TEST_STACK='http://127.0.0.1:9100|AKIAIOSFODNN7EXAMPLE|wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY|us-east-1' \
//!   cargo test -p s3vec --target wasm32-unknown-unknown --test aws_wasm_stack
//! ```
//!
//! (natively too, without `--target`). `make test` does this through `scripts/with-stack.sh`.
//! Without the variable the test checks nothing, and under wasm it fails when built with `CI` set.
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

use http::Method;
use s3vec::aws::s3::{ByteRange, ListRequest, PutOptions, S3Client, S3Config};
use s3vec::aws::{Credentials, Request, Runtime, StaticProvider};
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen_test::wasm_bindgen_test;

fn stack() -> Option<(S3Client, Runtime)> {
    let spec = option_env!("S3VEC_TEST_STACK")?;
    let parts: Vec<&str> = spec.split('|').collect();
    let [endpoint, key, secret, region] = parts[..] else {
        panic!("S3VEC_TEST_STACK is `endpoint|access key|secret|region`, not {spec:?}");
    };
    let runtime = Runtime::platform().unwrap();
    let s3 = S3Client::new(
        S3Config::new(region, "vec-test").endpoint(endpoint),
        Arc::new(StaticProvider::new(Credentials::new(
            key, secret, None, None,
        ))),
        runtime.clone(),
    )
    .unwrap();
    Some((s3, runtime))
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn s3_round_trip_through_the_platform_transport() {
    let Some((s3, runtime)) = stack() else {
        // `make test` (and so CI) runs the wasm tests through scripts/with-stack.sh, so under
        // wasm in CI a missing stack is a broken pipeline, not a skip. (Natively,
        // tests/aws_s3_local.rs starts its own stack and covers the same calls.)
        if cfg!(target_arch = "wasm32") && option_env!("CI").is_some() {
            panic!(
                "S3VEC_TEST_STACK must be set in CI: run the wasm tests through scripts/with-stack.sh"
            );
        }
        eprintln!("SKIPPED: S3VEC_TEST_STACK was not set when this test was built");
        return;
    };
    // A key per run and target, so native, node and browser runs do not collide.
    let run = format!(
        "wasm-e2e/{}-{}",
        cfg!(target_arch = "wasm32"),
        runtime
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let key = format!("{run}/a b+ü.bin");
    let body: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let put = s3
        .put_object(&key, body.clone(), PutOptions::if_none_match())
        .await
        .unwrap();
    let got = s3.get_object(&key).await.unwrap();
    assert_eq!(&got.body[..], &body[..]);
    assert_eq!(got.meta.etag, put.etag, "ETag readable (CORS exposes it)");
    let part = s3
        .get_object_range(
            &key,
            ByteRange::Inclusive {
                first: 10,
                last: 19,
            },
        )
        .await
        .unwrap();
    assert_eq!(&part.body[..], &body[10..20]);
    assert_eq!(
        part.range.unwrap().total,
        Some(5000),
        "Content-Range readable"
    );
    let head = s3.head_object(&key).await.unwrap();
    assert_eq!(head.size, 5000);
    let err = s3
        .put_object(&key, b"x".to_vec(), PutOptions::if_none_match())
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err}");
    for i in 0..3 {
        s3.put_object(&format!("{run}/p/{i}"), vec![i], PutOptions::default())
            .await
            .unwrap();
    }
    let all = s3
        .list_all_from(ListRequest {
            prefix: Some(format!("{run}/p/")),
            max_keys: Some(2),
            ..ListRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let url = s3.presign_get(&key, Duration::from_secs(60)).await.unwrap();
    let r = runtime
        .transport
        .send(Request::parse(Method::GET, &url).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], &body[..]);
    s3.delete_object(&key).await.unwrap();
    let err = s3.get_object(&key).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = s3.head_object(&key).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

/// The store's publish, load, delete and compaction through the platform transport: the same
/// code the browser runs (`fetch`), against the real local S3 server.
#[wasm_bindgen_test(unsupported = tokio::test)]
async fn store_publishes_loads_and_compacts_through_the_platform_transport() {
    use s3vec::format::{Document, Dtype, Shard, ShardVectors};
    use s3vec::store::{CollectionSpec, CompactOptions, Store};
    let Some((s3, runtime)) = stack() else {
        if cfg!(target_arch = "wasm32") && option_env!("CI").is_some() {
            panic!("S3VEC_TEST_STACK must be set in CI: see the test above");
        }
        return;
    };
    let prefix = format!(
        "wasm-store/{}-{}",
        cfg!(target_arch = "wasm32"),
        runtime
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let store = Store::new(Arc::new(s3), &prefix, &runtime).unwrap();
    let spec = CollectionSpec::new("amazon.titan-embed-text-v2:0", 4, Dtype::F32);
    let shard = |ids: &[&str], base: f32| Shard {
        dims: 4,
        vectors: ShardVectors::F32((0..ids.len() * 4).map(|i| base + (i % 5) as f32).collect()),
        docs: ids
            .iter()
            .map(|id| Document {
                id: id.to_string(),
                ..Document::default()
            })
            .collect(),
    };
    store
        .add(&spec, &shard(&["a", "b", "c"], 1.0))
        .await
        .unwrap();
    store.add(&spec, &shard(&["c", "d"], 2.0)).await.unwrap();
    store.delete(&["b".to_string()]).await.unwrap();
    let mut reports = 0;
    let loaded = store.load(|_| reports += 1).await.unwrap();
    assert_eq!(reports, 3, "one report before and one after each shard");
    let mut ids: Vec<&str> = loaded.collection.ids().collect();
    ids.sort_unstable();
    assert_eq!(ids, ["a", "c", "d"]);
    let report = store
        .compact(&CompactOptions {
            delete_old_after: Duration::ZERO,
            ..CompactOptions::default()
        })
        .await
        .unwrap();
    assert!(report.compacted);
    assert_eq!((report.shards_after, report.documents_kept), (1, 3));
    let reloaded = store.load(|_| {}).await.unwrap();
    assert_eq!(reloaded.collection.len(), 3);
    assert_eq!(
        reloaded.collection.vector("c"),
        loaded.collection.vector("c"),
        "the newer copy of c survives compaction"
    );
}
