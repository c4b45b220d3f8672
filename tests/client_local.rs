//! The client (`s3vec::client`) against the local stack with its Bedrock service: query
//! embeddings remembered, added documents searchable at once, refreshes that fetch only what
//! another writer appended, removals, the shard cache, and the codes errors carry.
#![cfg(not(target_arch = "wasm32"))]

mod aws_common;

use aws_common::{BUCKET, Stack, read_only_policy};
use s3vec::aws::credentials::{Credentials, parse_presign_response};
use s3vec::aws::http::ReqwestTransport;
use s3vec::aws::sts::{AssumeRole, AssumeRoleFetcher};
use s3vec::aws::{
    BoxFuture, CachingProvider, Request, Response, Runtime, Transport, TransportError,
};
use s3vec::client::{
    Client, ClientConfig, CredentialSource, Doc, Endpoints, LoadKind, LoadReport, Query, Search,
};
use s3vec::store::{MemoryCache, ShardCache};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const DIMS: u32 = 512;

fn stack() -> Stack {
    Stack::start(&["--bedrock-port", "0", "--bedrock-workers", "1"])
}

fn config(stack: &Stack, prefix: &str) -> ClientConfig {
    let keys = Credentials::new(
        stack.ready.access_key_id.clone(),
        stack.ready.secret_access_key.clone(),
        None,
        None,
    );
    ClientConfig {
        prefix: Some(prefix.into()),
        dims: Some(DIMS),
        endpoints: Endpoints {
            s3: Some(stack.ready.s3.clone()),
            bedrock: stack.ready.bedrock.clone(),
            bedrock_relay: None,
        },
        ..ClientConfig::with_static(keys, &stack.ready.region, BUCKET)
    }
}

/// Counts GETs of shard objects, to see what a load or refresh downloads.
struct Counting {
    inner: ReqwestTransport,
    shard_gets: AtomicUsize,
}

impl Transport for Counting {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        if request.method == http::Method::GET && request.uri.path().contains("/shards/") {
            self.shard_gets.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.send(request)
    }
}

fn counting() -> (Arc<Counting>, Runtime) {
    let t = Arc::new(Counting {
        inner: ReqwestTransport::new().unwrap(),
        shard_gets: AtomicUsize::new(0),
    });
    let runtime = Runtime {
        transport: t.clone(),
        ..Runtime::platform().unwrap()
    };
    (t, runtime)
}

fn docs() -> Vec<Doc> {
    vec![
        Doc::new(
            "gimp",
            "GNU Image Manipulation Program: edit, resize and retouch photos",
        )
        .metadata(json!({"section": "graphics"})),
        Doc::new(
            "python3",
            "interactive high-level object-oriented programming language",
        )
        .metadata(json!({"section": "python"})),
        Doc::new(
            "curl",
            "command line tool for transferring data with URL syntax",
        )
        .metadata(json!({"section": "web"})),
    ]
}

/// A new client on `cfg`, loaded: the report of its first load.
async fn fresh_load(cfg: ClientConfig) -> LoadReport {
    Client::connect(cfg)
        .await
        .unwrap()
        .load(|_| {})
        .await
        .unwrap()
}

async fn search_ids(client: &Client, text: &str, k: usize) -> Vec<String> {
    let hits = client
        .search(
            Query::Text(text),
            &Search {
                k: Some(k),
                ..Search::default()
            },
        )
        .await
        .unwrap();
    hits.into_iter().map(|h| h.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_documents_are_searchable_at_once_and_queries_are_remembered() {
    let stack = stack();
    let client = Client::connect(config(&stack, "coll")).await.unwrap();
    assert_eq!(
        client
            .search(Query::Text("x"), &Search::default())
            .await
            .unwrap_err()
            .code(),
        "NotLoaded"
    );
    assert_eq!(
        client.load(|_| {}).await.unwrap_err().code(),
        "NoCollection"
    );

    let mut progress = Vec::new();
    let added = client
        .add(&docs(), |done, total| progress.push((done, total)))
        .await
        .unwrap();
    assert_eq!((added.added, added.generation), (3, 1));
    assert!(added.shard.starts_with("shards/"), "{}", added.shard);
    assert_eq!(progress.last(), Some(&(3, 3)));
    assert_eq!(client.len(), 3);
    assert_eq!(client.stats().bedrock_requests, 3);

    // Searchable without a load, and the query is embedded once.
    assert_eq!(
        search_ids(&client, "a program to resize images", 1).await,
        ["gimp"]
    );
    assert_eq!(client.stats().bedrock_requests, 4);
    assert_eq!(
        search_ids(&client, "a program to resize images", 1).await,
        ["gimp"]
    );
    let stats = client.stats();
    assert_eq!(
        stats.bedrock_requests, 4,
        "a repeated query costs no Bedrock call"
    );
    assert_eq!((stats.query_cache_hits, stats.query_cache_misses), (1, 1));
    assert_eq!(stats.bedrock_route, "direct");

    // Filters, modes and vectors.
    let hits = client
        .search(
            Query::Text("a program to resize images"),
            &Search {
                filter: Some(json!({"section": {"$in": ["python", "web"]}})),
                mode: "int8".parse().unwrap(),
                ..Search::default()
            },
        )
        .await
        .unwrap();
    assert!(
        hits.iter().all(|h| h.id != "gimp") && hits.len() == 2,
        "{hits:?}"
    );
    let v = client.embed("transfer files over http").await.unwrap();
    assert_eq!(v.len(), DIMS as usize);
    let hits = client
        .search(Query::Vector(&v), &Search::default())
        .await
        .unwrap();
    assert_eq!(hits[0].id, "curl");
    assert_eq!(hits[0].metadata.as_ref().unwrap()["section"], "web");
    assert!(hits[0].text.as_deref().unwrap().contains("URL syntax"));
    let bad = client
        .search(Query::Vector(&v[..10]), &Search::default())
        .await
        .unwrap_err();
    assert_eq!(bad.code(), "DimensionMismatch", "{bad}");
    let bad = client
        .search(
            Query::Vector(&v),
            &Search {
                filter: Some(json!({"a": {"$nope": 1}})),
                ..Search::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.code(), "InvalidFilter", "{bad}");

    // The ids and the 2-D map of what is in memory.
    let mut ids = client.ids().unwrap();
    ids.sort();
    assert_eq!(ids, ["curl", "gimp", "python3"]);
    let (ids, map) = client.pca2().unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(
        (map.points.len(), map.mean.len(), map.components.len()),
        (6, 512, 1024)
    );
    assert!(map.explained[0] >= map.explained[1] && map.explained[0] > 0.0);

    // A fresh client loads what was published; get and remove.
    let other = Client::connect(config(&stack, "coll")).await.unwrap();
    let report = other.load(|_| {}).await.unwrap();
    assert_eq!(
        (report.kind, report.documents, report.generation),
        (LoadKind::Loaded, 3, 1)
    );
    assert_eq!(other.get("python3").unwrap().unwrap().id, "python3");
    let removed = other
        .remove(&["python3".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!((removed.removed, removed.generation), (1, 2));
    assert!(other.get("python3").unwrap().is_none());
    assert!(
        !search_ids(&other, "programming language", 3)
            .await
            .contains(&"python3".to_string())
    );

    // Bad documents fail before any Bedrock call.
    let before = client.stats().bedrock_requests;
    let dup = vec![Doc::new("a", "x"), Doc::new("a", "y")];
    assert_eq!(
        client.add(&dup, |_, _| {}).await.unwrap_err().code(),
        "InvalidArgument"
    );
    assert_eq!(
        client
            .add(&[Doc::new("", "x")], |_, _| {})
            .await
            .unwrap_err()
            .code(),
        "InvalidArgument"
    );
    assert_eq!(client.stats().bedrock_requests, before);

    client.close();
    assert_eq!(client.get("gimp").unwrap_err().code(), "Closed");
    assert_eq!(client.load(|_| {}).await.unwrap_err().code(), "Closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_fetches_only_what_another_writer_appended() {
    let stack = stack();
    let writer = Client::connect(config(&stack, "shared")).await.unwrap();
    writer.add(&docs(), |_, _| {}).await.unwrap();

    let (count, runtime) = counting();
    let reader = Client::connect(ClientConfig {
        runtime: Some(runtime),
        ..config(&stack, "shared")
    })
    .await
    .unwrap();
    let mut seen = Vec::new();
    let first = reader.load(|p| seen.push(p)).await.unwrap();
    assert_eq!((first.documents, first.shards), (3, 1));
    assert_eq!(count.shard_gets.load(Ordering::SeqCst), 1);
    assert_eq!(seen.first().map(|p| p.loaded_shards), Some(0));
    assert_eq!(
        seen.last().map(|p| (p.loaded_shards, p.total_shards)),
        Some((1, 1))
    );

    let same = reader.refresh(|_| {}).await.unwrap();
    assert_eq!((same.kind, same.shards), (LoadKind::Unchanged, 0));
    assert_eq!(count.shard_gets.load(Ordering::SeqCst), 1);

    // Another writer appends a shard: only that one is fetched.
    let more = vec![
        Doc::new(
            "ffmpeg",
            "tools for transcoding, streaming and playing multimedia files",
        ),
        Doc::new(
            "imagemagick",
            "image manipulation programs: convert, resize, crop images",
        ),
    ];
    let added = writer.add(&more, |_, _| {}).await.unwrap();
    let refreshed = reader.refresh(|_| {}).await.unwrap();
    assert_eq!(refreshed.kind, LoadKind::Extended);
    assert_eq!((refreshed.shards, refreshed.documents), (1, 5));
    assert_eq!(refreshed.generation, added.generation);
    assert_eq!(
        count.shard_gets.load(Ordering::SeqCst),
        2,
        "one new shard, one GET"
    );
    assert!(reader.get("ffmpeg").unwrap().is_some());

    // A removal elsewhere is a tombstone: applied without fetching anything.
    writer.remove(&["curl".into()]).await.unwrap();
    let refreshed = reader.refresh(|_| {}).await.unwrap();
    assert_eq!(
        (refreshed.kind, refreshed.shards, refreshed.documents),
        (LoadKind::Extended, 0, 4)
    );
    assert!(reader.get("curl").unwrap().is_none());
    assert_eq!(count.shard_gets.load(Ordering::SeqCst), 2);

    // The reader's own add is adopted: its refresh then has nothing to do.
    reader
        .add(&[Doc::new("vim", "Vi IMproved, a text editor")], |_, _| {})
        .await
        .unwrap();
    let refreshed = reader.refresh(|_| {}).await.unwrap();
    assert_eq!(refreshed.kind, LoadKind::Unchanged);
    assert_eq!(reader.len(), 5);

    // A re-added id comes back; a compaction (a rewritten shard list) means a full reload.
    writer
        .add(&[Doc::new("curl", "curl again: transfer a URL")], |_, _| {})
        .await
        .unwrap();
    let store = s3vec::store::Store::new(
        Arc::new(stack.s3(stack.root())),
        "shared",
        &Runtime::platform().unwrap(),
    )
    .unwrap();
    store.compact(&compact_now()).await.unwrap();
    let refreshed = reader.refresh(|_| {}).await.unwrap();
    assert_eq!(refreshed.kind, LoadKind::Reloaded);
    assert_eq!(refreshed.documents, 6);
    assert!(
        reader
            .get("curl")
            .unwrap()
            .unwrap()
            .text
            .unwrap()
            .contains("again")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_cache_serves_the_second_load_and_survives_corruption() {
    let stack = stack();
    let writer = Client::connect(config(&stack, "cached")).await.unwrap();
    writer.add(&docs(), |_, _| {}).await.unwrap();
    writer
        .add(&[Doc::new("vim", "Vi IMproved, a text editor")], |_, _| {})
        .await
        .unwrap();

    let cache = Arc::new(MemoryCache::new());
    let open = |cache: &Arc<MemoryCache>| {
        let (count, runtime) = counting();
        let config = ClientConfig {
            runtime: Some(runtime),
            shard_cache: Some(cache.clone() as Arc<dyn ShardCache>),
            ..config(&stack, "cached")
        };
        (count, config)
    };
    let (count, cfg) = open(&cache);
    let first = fresh_load(cfg).await;
    assert_eq!((first.shards, first.cached_shards), (2, 0));
    assert_eq!(count.shard_gets.load(Ordering::SeqCst), 2);
    assert_eq!(cache.len(), 2);
    assert!(
        cache
            .urls()
            .iter()
            .all(|u| u.contains("/vec-test/cached/shards/")),
        "{:?}",
        cache.urls()
    );

    let (count, cfg) = open(&cache);
    let report = fresh_load(cfg).await;
    assert_eq!(
        (
            report.cached_shards,
            report.downloaded_bytes,
            report.documents
        ),
        (2, 0, 4)
    );
    assert_eq!(
        count.shard_gets.load(Ordering::SeqCst),
        0,
        "nothing but the manifest"
    );

    // A corrupt entry is downloaded again and replaced.
    let (count, cfg) = open(&cache);
    let manifest = s3vec::store::Store::new(
        Arc::new(stack.s3(stack.root())),
        "cached",
        &Runtime::platform().unwrap(),
    )
    .unwrap()
    .require_manifest()
    .await
    .unwrap()
    .manifest;
    let entry = &manifest.shards[0];
    let url = format!("{}/{BUCKET}/cached/{}", stack.ready.s3, entry.key);
    cache.insert(
        s3vec::store::ShardName {
            url: &url,
            checksum: &entry.checksum,
        },
        bytes::Bytes::from(vec![0u8; entry.bytes as usize]),
    );
    let report = fresh_load(cfg).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!((report.documents, report.cached_shards), (4, 1));
    assert_eq!(count.shard_gets.load(Ordering::SeqCst), 1);
    let (count, cfg) = open(&cache);
    let report = fresh_load(cfg).await;
    assert_eq!(
        (
            report.cached_shards,
            count.shard_gets.load(Ordering::SeqCst)
        ),
        (2, 0),
        "the entry was replaced"
    );

    // After a compaction, a load keeps only the entries of the shards still listed.
    s3vec::store::Store::new(
        Arc::new(stack.s3(stack.root())),
        "cached",
        &Runtime::platform().unwrap(),
    )
    .unwrap()
    .compact(&compact_now())
    .await
    .unwrap();
    let (_, cfg) = open(&cache);
    let report = fresh_load(cfg).await;
    assert_eq!((report.shards, report.cached_shards), (1, 0));
    assert_eq!(cache.len(), 1, "{:?}", cache.urls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_stable_codes() {
    let stack = stack();
    let writer = Client::connect(config(&stack, "ro")).await.unwrap();
    writer.add(&docs(), |_, _| {}).await.unwrap();

    // Read-only session credentials: load and search work, writes are AccessDenied.
    let fetcher = Arc::new(AssumeRoleFetcher::new(
        stack.sts(),
        AssumeRole::new(stack.role_arn(), "reader").policy(read_and_invoke(&stack, "ro/")),
    ));
    let reader = Client::connect(ClientConfig {
        credentials: CredentialSource::Provider(Arc::new(CachingProvider::new(fetcher))),
        ..config(&stack, "ro")
    })
    .await
    .unwrap();
    assert_eq!(reader.load(|_| {}).await.unwrap().documents, 3);
    assert_eq!(search_ids(&reader, "photo editor", 1).await, ["gimp"]);
    let err = reader
        .add(&[Doc::new("x", "some text")], |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), "AccessDenied", "{err}");
    let err = reader.remove(&["gimp".into()]).await.unwrap_err();
    assert_eq!(err.code(), "AccessDenied", "{err}");
    assert!(
        reader.get("gimp").unwrap().is_some(),
        "a failed remove changes nothing"
    );

    // Another model than the collection's, named explicitly.
    let other = Client::connect(ClientConfig {
        model_id: Some("amazon.titan-embed-text-v1".into()),
        ..config(&stack, "ro")
    })
    .await
    .unwrap();
    assert_eq!(other.load(|_| {}).await.unwrap_err().code(), "Incompatible");
    // Another size for an existing collection.
    let sized = Client::connect(ClientConfig {
        dims: Some(256),
        ..config(&stack, "ro")
    })
    .await
    .unwrap();
    let err = sized
        .add(&[Doc::new("x", "text")], |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), "DimensionMismatch", "{err}");

    // Wrong keys, an unknown model, nothing listening.
    let bad = Client::connect(ClientConfig {
        credentials: CredentialSource::Static(Credentials::new(
            stack.ready.access_key_id.clone(),
            "wrong-secret",
            None,
            None,
        )),
        ..config(&stack, "ro")
    })
    .await
    .unwrap();
    let err = bad.load(|_| {}).await.unwrap_err();
    assert_eq!(err.code(), "InvalidCredentials", "{err}");
    let unknown = Client::connect(ClientConfig {
        model_id: Some("amazon.titan-embed-text-v9:0".into()),
        ..config(&stack, "fresh")
    })
    .await
    .unwrap();
    let err = unknown
        .add(&[Doc::new("x", "text")], |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ModelNotAvailable", "{err}");
    let mut cfg = config(&stack, "ro");
    cfg.endpoints.s3 = Some("http://127.0.0.1:9".into());
    let err = Client::connect(cfg)
        .await
        .unwrap()
        .load(|_| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), "Network", "{err}");
    assert!(err.is_retryable());
    let mut cfg = config(&stack, "ro");
    cfg.bucket = None;
    assert_eq!(
        Client::connect(cfg).await.unwrap_err().code(),
        "InvalidArgument"
    );
}

/// Read the prefix and invoke any model.
fn read_and_invoke(stack: &Stack, prefix: &str) -> String {
    let mut policy: serde_json::Value =
        serde_json::from_str(&read_only_policy(BUCKET, prefix)).unwrap();
    policy["Statement"].as_array_mut().unwrap().push(json!({
        "Effect": "Allow",
        "Action": "bedrock:InvokeModel",
        "Resource": format!("arn:aws:bedrock:{}::foundation-model/*", stack.ready.region)
    }));
    policy.to_string()
}

#[test]
fn the_presign_lambdas_answer_is_read_whole() {
    // The shape presign-lambda/src/handler.rs answers with.
    let body = br#"{"accessKeyId":"ASIA1","secretAccessKey":"s","sessionToken":"t",
        "expiration":"2030-01-02T03:04:05Z","region":"us-east-1","bucket":"vec-docs",
        "prefix":"docs/","modelId":"amazon.titan-embed-text-v2:0","access":"read",
        "endpoints":{"s3":"https://s3.us-east-1.amazonaws.com",
          "bedrock":"https://bedrock-runtime.us-east-1.amazonaws.com",
          "bedrockRelay":"https://abc.lambda-url.us-east-1.on.aws/bedrock"}}"#;
    let r = parse_presign_response(body, "https://abc.lambda-url.us-east-1.on.aws/credentials")
        .unwrap();
    assert_eq!(r.config.access.as_deref(), Some("read"));
    assert_eq!(
        r.config.endpoints.bedrock_relay.as_deref(),
        Some("https://abc.lambda-url.us-east-1.on.aws/bedrock")
    );
    assert_eq!(r.config.prefix.as_deref(), Some("docs/"));
}

/// A presign endpoint served by the test: answers every `POST /credentials` with the stack's
/// root keys and the settings the presign Lambda sends, and records each request.
async fn fake_presign(stack: &Stack) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/credentials", listener.local_addr().unwrap());
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let answer = json!({
        "accessKeyId": stack.ready.access_key_id,
        "secretAccessKey": stack.ready.secret_access_key,
        "expiration": "2099-01-01T00:00:00Z",
        "region": stack.ready.region,
        "bucket": BUCKET,
        "prefix": "presigned",
        "modelId": "amazon.titan-embed-text-v2:0",
        "access": "write",
        "endpoints": {"s3": stack.ready.s3, "bedrock": stack.ready.bedrock,
                      "bedrockRelay": "http://127.0.0.1:9/bedrock"},
    })
    .to_string();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            // Headers, then as much body as Content-Length says (small requests only).
            while let Ok(n) = sock.read(&mut buf[len..]).await {
                len += n;
                let text = String::from_utf8_lossy(&buf[..len]).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let want = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if len >= end + 4 + want || n == 0 {
                        log.lock().unwrap().push(text);
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presign_endpoint_gives_credentials_and_settings() {
    let stack = stack();
    let (url, seen) = fake_presign(&stack).await;
    let client = Client::connect(ClientConfig {
        dims: Some(DIMS),
        ..ClientConfig::new(CredentialSource::Presign {
            url,
            access: Some("write".into()),
            write_token: Some("t0ken".into()),
        })
    })
    .await
    .unwrap();
    // connect fetched credentials once and took the settings from the answer.
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].starts_with("POST /credentials"),
        "{}",
        requests[0]
    );
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer t0ken")
    );
    assert!(
        requests[0].ends_with(r#"{"access":"write"}"#),
        "{}",
        requests[0]
    );
    assert_eq!(
        (client.bucket(), client.prefix(), client.region()),
        (BUCKET, "presigned", "us-east-1")
    );
    assert_eq!(client.access(), Some("write"));
    assert_eq!(client.stats().credential_fetches, 1);

    // The answer's endpoints are used; a direct Bedrock that answers keeps the route direct.
    client.add(&docs(), |_, _| {}).await.unwrap();
    assert_eq!(client.stats().bedrock_route, "direct");
    assert_eq!(client.load(|_| {}).await.unwrap().documents, 3);
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "credentials were reused, not fetched again"
    );
}

/// Compaction without the grace period for readers of the old manifest.
fn compact_now() -> s3vec::store::CompactOptions {
    s3vec::store::CompactOptions {
        delete_old_after: std::time::Duration::ZERO,
        ..Default::default()
    }
}
