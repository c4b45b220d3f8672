//! The store against the local S3 server: publishing by compare-and-swap with concurrent
//! writers, tombstones, corrupt and truncated shards, and compaction under readers.
#![cfg(not(target_arch = "wasm32"))]

mod aws_common;
mod common;

use aws_common::{BUCKET, Stack};
use common::Rng;
use s3vec::aws::http::ReqwestTransport;
use s3vec::aws::s3::{PutOptions, S3Client, S3Config};
use s3vec::aws::{BoxFuture, Request, Response, Runtime, Transport, TransportError};
use s3vec::format::{Document, Dtype, FormatError, Shard, ShardVectors};
use s3vec::store::{CollectionSpec, CompactOptions, LoadProgress, Store, StoreError};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const DIMS: u32 = 16;

fn spec() -> CollectionSpec {
    CollectionSpec::new("amazon.titan-embed-text-v2:0", DIMS, Dtype::F32)
}

fn shard(rng: &mut Rng, ids: &[String]) -> Shard {
    Shard {
        dims: DIMS,
        vectors: ShardVectors::F32(rng.vec_f32(ids.len() * DIMS as usize)),
        docs: ids
            .iter()
            .map(|id| Document {
                id: id.clone(),
                metadata: None,
                text: Some(format!("text of {id}")),
            })
            .collect(),
    }
}

fn ids(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i:04}")).collect()
}

fn store_on(stack: &Stack, runtime: Runtime, prefix: &str) -> Store {
    let s3 = S3Client::new(
        S3Config::new(stack.ready.region.clone(), BUCKET).endpoint(stack.ready.s3.clone()),
        stack.root(),
        runtime.clone(),
    )
    .expect("S3 client");
    Store::new(Arc::new(s3), prefix, &runtime).expect("store")
}

fn open(stack: &Stack, prefix: &str) -> Store {
    store_on(stack, Runtime::platform().expect("runtime"), prefix)
}

async fn load_ids(store: &Store) -> BTreeSet<String> {
    let loaded = store.load(|_| {}).await.expect("load");
    assert!(loaded.failed.is_empty(), "{:?}", loaded.failed);
    loaded.collection.ids().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_delete_readd_and_load_follow_the_manifest_rules() {
    let stack = Stack::start(&[]);
    let store = open(&stack, "coll");
    let mut rng = Rng::new(1);

    let err = store.load(|_| {}).await.unwrap_err();
    assert!(matches!(err, StoreError::NoCollection { .. }), "{err}");
    assert!(err.to_string().contains("coll/manifest.json"), "{err}");

    let first = store
        .add(&spec(), &shard(&mut rng, &ids("a", 0..50)))
        .await
        .unwrap();
    assert_eq!(first.manifest.generation, 1);
    assert_eq!(first.attempts, 1);
    let second = store
        .add(&spec(), &shard(&mut rng, &ids("a", 40..60)))
        .await
        .unwrap();
    assert_eq!(second.manifest.generation, 2);
    assert_eq!(second.manifest.document_count(), 70);

    let deleted = store.delete(&ids("a", 0..5)).await.unwrap();
    assert_eq!(deleted.manifest.deleted.len(), 5);
    let mut progress: Vec<LoadProgress> = Vec::new();
    let loaded = store.load(|p| progress.push(p)).await.unwrap();
    assert_eq!(loaded.collection.len(), 55, "60 distinct ids, 5 deleted");
    assert!(!loaded.collection.contains("a0000"));
    assert_eq!(progress.first().unwrap().loaded_shards, 0);
    let last = progress.last().unwrap();
    assert_eq!((last.loaded_shards, last.total_shards), (2, 2));
    assert_eq!(last.loaded_bytes, last.total_bytes);
    // "a0045" is in both shards: the later shard's copy wins.
    let v_new = loaded.collection.vector("a0045").unwrap().to_vec();
    assert_eq!(
        loaded.collection.get("a0045").unwrap().text,
        Some("text of a0045")
    );

    // Re-adding a deleted id takes it out of `deleted`.
    let readd = store
        .add(&spec(), &shard(&mut rng, &ids("a", 0..1)))
        .await
        .unwrap();
    assert_eq!(readd.manifest.deleted, ids("a", 1..5));
    let loaded = store.load(|_| {}).await.unwrap();
    assert!(loaded.collection.contains("a0000"));
    assert_eq!(loaded.collection.len(), 56);
    assert_eq!(loaded.collection.vector("a0045").unwrap(), &v_new[..]);

    // A write with another model or size is refused before anything is written.
    let wrong = CollectionSpec::new("amazon.titan-embed-text-v2:0", 8, Dtype::F32);
    let before = store.s3().list_all("coll/").await.unwrap().len();
    let err = store.add(&wrong, &shard(&mut rng, &ids("b", 0..1))).await;
    assert!(matches!(
        err,
        Err(StoreError::Incompatible {
            field: "dimension count",
            ..
        })
    ));
    assert_eq!(store.s3().list_all("coll/").await.unwrap().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_writers_lose_nothing() {
    let stack = Arc::new(Stack::start(&[]));
    let mut writers = Vec::new();
    for w in 0..8 {
        let stack = stack.clone();
        writers.push(tokio::spawn(async move {
            let store = open(&stack, "shared");
            let mut rng = Rng::new(100 + w);
            let mut attempts = 0;
            // Ten publishes of ten documents each: 80 publishes racing for one manifest.
            for batch in 0..10 {
                let batch_ids = ids(&format!("w{w}-"), batch * 10..batch * 10 + 10);
                let published = store
                    .add(&spec(), &shard(&mut rng, &batch_ids))
                    .await
                    .unwrap();
                attempts += published.attempts;
            }
            attempts
        }));
    }
    let mut attempts = 0;
    for w in writers {
        attempts += w.await.unwrap();
    }
    let store = open(&stack, "shared");
    let manifest = store.require_manifest().await.unwrap().manifest;
    assert_eq!(manifest.shards.len(), 80);
    assert_eq!(manifest.document_count(), 800);
    assert_eq!(manifest.generation, 80);
    let loaded = load_ids(&store).await;
    assert_eq!(loaded.len(), 800);
    for w in 0..8 {
        for id in ids(&format!("w{w}-"), 0..100) {
            assert!(loaded.contains(&id), "{id} lost");
        }
    }
    eprintln!("80 publishes took {attempts} compare-and-swap attempts");
    assert!(attempts >= 80);
}

/// Corrupts the body of the first GET of every key containing `needle`, as a flaky network
/// or proxy would; later GETs pass through.
struct CorruptOnce {
    inner: ReqwestTransport,
    needle: &'static str,
    seen: std::sync::Mutex<BTreeSet<String>>,
    corrupted: AtomicUsize,
}

impl Transport for CorruptOnce {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(async move {
            let path = request.uri.path().to_string();
            let mut resp = self.inner.send(request).await?;
            let first = path.contains(self.needle) && self.seen.lock().unwrap().insert(path);
            if first && resp.status == 200 && resp.body.len() > 200 {
                let mut body = resp.body.to_vec();
                body[150] ^= 0x40;
                resp.body = body.into();
                self.corrupted.fetch_add(1, Ordering::Relaxed);
            }
            Ok(resp)
        })
    }
}

/// Answers the first manifest GET after being armed with the manifest response it saw before,
/// as a reader that fetched the manifest just before a compaction published would have it.
struct StaleManifestOnce {
    inner: ReqwestTransport,
    old: std::sync::Mutex<Option<Response>>,
    armed: AtomicBool,
}

impl Transport for StaleManifestOnce {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(async move {
            let manifest = request.uri.path().ends_with("/manifest.json");
            let replay = manifest && self.armed.swap(false, Ordering::Relaxed);
            if replay && let Some(old) = self.old.lock().unwrap().clone() {
                return Ok(old);
            }
            let resp = self.inner.send(request).await?;
            if manifest && resp.status == 200 {
                self.old.lock().unwrap().get_or_insert_with(|| resp.clone());
            }
            Ok(resp)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_shards_are_refetched_once_then_reported() {
    let stack = Stack::start(&[]);
    let store = open(&stack, "c");
    let mut rng = Rng::new(7);
    for n in 0..4 {
        store
            .add(&spec(), &shard(&mut rng, &ids(&format!("s{n}-"), 0..20)))
            .await
            .unwrap();
    }
    let manifest = store.require_manifest().await.unwrap().manifest;

    // In transit: every shard arrives corrupt once, and loads on the second fetch.
    let flaky = Arc::new(CorruptOnce {
        inner: ReqwestTransport::new().unwrap(),
        needle: "/shards/",
        seen: Default::default(),
        corrupted: AtomicUsize::new(0),
    });
    let platform = Runtime::platform().unwrap();
    let runtime = Runtime::new(flaky.clone(), platform.clock, platform.sleep);
    let loaded = store_on(&stack, runtime, "c").load(|_| {}).await.unwrap();
    assert_eq!(flaky.corrupted.load(Ordering::Relaxed), 4);
    assert_eq!(loaded.refetched, 4);
    assert!(loaded.failed.is_empty());
    assert_eq!(loaded.collection.len(), 80);

    // At rest: one shard flipped, one cut short. Both are reported; the others load.
    let key = |n: usize| format!("c/{}", manifest.shards[n].key);
    let mut flipped = store.s3().get_object(&key(1)).await.unwrap().body.to_vec();
    let at = flipped.len() - 3;
    flipped[at] ^= 1;
    store
        .s3()
        .put_object(&key(1), flipped, PutOptions::default())
        .await
        .unwrap();
    let mut cut = store.s3().get_object(&key(2)).await.unwrap().body.to_vec();
    cut.truncate(cut.len() / 2);
    store
        .s3()
        .put_object(&key(2), cut, PutOptions::default())
        .await
        .unwrap();

    let loaded = store.load(|_| {}).await.unwrap();
    assert_eq!(loaded.collection.len(), 40);
    assert_eq!(loaded.failed.len(), 2);
    assert_eq!(loaded.failed[0].key, key(1));
    let StoreError::Format { source, .. } = &loaded.failed[0].error else {
        panic!("{:?}", loaded.failed[0].error)
    };
    assert!(
        matches!(source, FormatError::ChecksumMismatch { .. }),
        "{source}"
    );
    assert_eq!(loaded.failed[1].key, key(2));
    let message = loaded.failed[1].error.to_string();
    assert!(
        message.contains("bytes") && message.contains(&key(2)),
        "{message}"
    );
    assert!(loaded.collection.contains("s0-0000") && loaded.collection.contains("s3-0019"));
    assert!(!loaded.collection.contains("s1-0000"));

    // Compaction refuses a collection that does not load whole.
    let err = store.compact(&CompactOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains(&key(1)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_under_concurrent_readers_never_breaks_a_reader() {
    let stack = Arc::new(Stack::start(&[]));
    let store = Arc::new(open(&stack, "k"));
    let mut rng = Rng::new(9);
    for n in 0..6 {
        store
            .add(&spec(), &shard(&mut rng, &ids("d", n * 30..n * 30 + 40)))
            .await
            .unwrap();
    }
    // 190 distinct ids (overlapping shards), 20 deleted.
    store.delete(&ids("d", 100..120)).await.unwrap();
    let expected: BTreeSet<String> = ids("d", 0..100)
        .into_iter()
        .chain(ids("d", 120..190))
        .collect();
    assert_eq!(load_ids(&store).await, expected);
    let before = store.require_manifest().await.unwrap().manifest;

    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (stack, stop, expected) = (stack.clone(), stop.clone(), expected.clone());
        readers.push(tokio::spawn(async move {
            let store = open(&stack, "k");
            let mut loads = 0;
            while !stop.load(Ordering::Relaxed) || loads == 0 {
                assert_eq!(load_ids(&store).await, expected);
                loads += 1;
            }
            loads
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let options = CompactOptions {
        max_docs_per_shard: 64,
        delete_old_after: Duration::ZERO,
    };
    let report = store.compact(&options).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut loads = 0;
    for r in readers {
        loads += r.await.unwrap();
    }
    eprintln!("{loads} loads during compaction; {report:?}");

    assert!(report.compacted);
    assert_eq!(report.shards_before, 6);
    assert_eq!(report.shards_after, 3);
    assert_eq!(report.documents_kept, 170);
    assert_eq!(report.documents_dropped, 240 - 170);
    assert!(report.leftover_keys.is_empty());
    let after = store.require_manifest().await.unwrap().manifest;
    assert!(after.deleted.is_empty());
    assert_eq!(after.document_count(), 170);
    assert_eq!(load_ids(&store).await, expected);
    let objects: BTreeSet<String> = store
        .s3()
        .list_all("k/shards/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    let listed: BTreeSet<String> = after
        .shards
        .iter()
        .map(|s| format!("k/{}", s.key))
        .collect();
    assert_eq!(objects, listed, "old shards deleted, new ones kept");
    assert!(
        before
            .shards
            .iter()
            .all(|s| !listed.contains(&format!("k/{}", s.key)))
    );

    // A reader holding the manifest from before the compaction finds its shards gone, sees
    // the manifest changed, and starts over from the new one.
    let stale = Arc::new(StaleManifestOnce {
        inner: ReqwestTransport::new().unwrap(),
        old: std::sync::Mutex::new(None),
        armed: AtomicBool::new(false),
    });
    let platform = Runtime::platform().unwrap();
    let runtime = Runtime::new(stale.clone(), platform.clock, platform.sleep);
    let reader = store_on(&stack, runtime, "k");
    store
        .add(&spec(), &shard(&mut rng, &ids("e", 0..10)))
        .await
        .unwrap();
    let _ = reader.load(|_| {}).await.unwrap();
    store.delete(&ids("e", 0..10)).await.unwrap();
    store.compact(&options).await.unwrap();
    stale.armed.store(true, Ordering::Relaxed);
    let loaded = reader.load(|_| {}).await.unwrap();
    assert_eq!(loaded.restarts, 1);
    assert!(loaded.failed.is_empty());
    let live: BTreeSet<String> = loaded.collection.ids().map(str::to_string).collect();
    assert_eq!(live, expected);

    // A second compaction finds nothing to do and writes nothing.
    let now = store.require_manifest().await.unwrap().manifest;
    let again = store.compact(&options).await.unwrap();
    assert!(!again.compacted);
    assert_eq!(again.generation, now.generation);
    assert_eq!(store.require_manifest().await.unwrap().manifest, now);
}
