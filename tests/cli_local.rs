//! The `s3vec` CLI against the local stack (S3 and the Bedrock-compatible service with its real
//! model): indexing a slice of the committed Debian corpus, resuming after a kill at a random
//! point, bad lines, search, get, rm, inspect and compact. Needs `--features cli`.
#![cfg(all(feature = "cli", not(target_arch = "wasm32")))]

mod aws_common;

use aws_common::Stack;
use s3vec::aws::Runtime;
use s3vec::store::Store;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn stack() -> Stack {
    Stack::start(&["--bedrock-port", "0", "--bedrock-workers", "2"])
}

fn cli(stack: &Stack, prefix: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_s3vec"));
    c.arg("--local-stack")
        .arg(stack.ready_file())
        .args(["--bucket", aws_common::BUCKET, "--prefix", prefix])
        .env_remove("VECTOR_BUCKET_NAME")
        .env_remove("S3VEC_PREFIX")
        .env_remove("BEDROCK_MODEL_ID")
        .env_remove("AWS_REGION")
        .env("S3VEC_CONFIG", "/dev/null")
        .stdin(Stdio::null());
    c
}

fn run(mut c: Command) -> Output {
    let out = c.output().expect("run s3vec");
    eprintln!(
        "s3vec exited {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The first `n` documents of the committed corpus, as a JSONL file in `dir`.
fn corpus(dir: &Path, n: usize, extra: &[&str]) -> (PathBuf, Vec<String>) {
    let gz = std::fs::File::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/corpus/debian-3000.jsonl.gz"
    ))
    .expect("corpus/debian-3000.jsonl.gz");
    let lines: Vec<String> = BufReader::new(flate2::read::GzDecoder::new(gz))
        .lines()
        .take(n)
        .map(|l| l.expect("corpus line"))
        .collect();
    let ids = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let path = dir.join(format!("corpus-{n}-{}.jsonl", extra.len()));
    let mut f = std::fs::File::create(&path).unwrap();
    for l in lines
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
    {
        writeln!(f, "{l}").unwrap();
    }
    (path, ids)
}

fn store(stack: &Stack, prefix: &str) -> Store {
    let runtime = Runtime::platform().unwrap();
    Store::new(Arc::new(stack.s3(stack.root())), prefix, &runtime).unwrap()
}

fn published(stack: &Stack, prefix: &str) -> (BTreeSet<String>, u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = store(stack, prefix);
        match store.read_manifest().await.unwrap() {
            None => (BTreeSet::new(), 0),
            Some(v) => {
                let ids = store.published_ids(&v.manifest).await.unwrap();
                (ids.into_iter().collect(), v.manifest.document_count())
            }
        }
    })
}

#[test]
fn index_resumes_after_a_kill_without_duplicates() {
    let stack = stack();
    let (path, ids) = corpus(stack.dir(), 240, &[]);
    let expected: BTreeSet<String> = ids.into_iter().collect();

    // Kill the first run at a random point after it has published something.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let kill_after_shards = 1 + (seed % 8) as u64;
    let mut first = cli(&stack, "resume");
    first.args([
        "index",
        path.to_str().unwrap(),
        "--dims",
        "256",
        "--shard-size",
        "20",
    ]);
    let mut child = first.stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (_, count) = published(&stack, "resume");
        if count >= kill_after_shards * 20 || child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the first run published nothing");
        std::thread::sleep(Duration::from_millis(20 + (seed % 50) as u64));
    }
    let _ = child.kill();
    let _ = child.wait();
    let (before, _) = published(&stack, "resume");
    eprintln!("killed after {} of 240 documents", before.len());
    assert!(
        before.len() < 240,
        "the run finished before the kill; nothing was resumed"
    );

    let mut again = cli(&stack, "resume");
    again.args([
        "index",
        path.to_str().unwrap(),
        "--dims",
        "256",
        "--shard-size",
        "20",
    ]);
    let out = run(again);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{} already published", before.len())),
        "{stderr}"
    );
    let (after, listed) = published(&stack, "resume");
    assert_eq!(after, expected);
    assert_eq!(listed, 240, "no document was published twice");

    // A third run has nothing to do.
    let mut third = cli(&stack, "resume");
    third.args(["index", path.to_str().unwrap(), "--dims", "256"]);
    let out = run(third);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 to embed"));
}

#[test]
fn bad_lines_fail_or_are_skipped_and_the_collection_is_usable() {
    let stack = stack();
    let bad = [
        "{\"id\": \"no-text\"}",
        "not json at all",
        "{\"id\": \"0ad\", \"text\": \"0ad: a strategy game, again\", \"metadata\": {\"section\": \"games\"}}",
    ];
    let (path, ids) = corpus(stack.dir(), 40, &bad);

    let mut fail = cli(&stack, "c");
    fail.args(["index", path.to_str().unwrap(), "--dims", "256"]);
    let out = run(fail);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 41: id \"no-text\": missing \"text\""),
        "{stderr}"
    );
    assert!(stderr.contains("line 42: not a JSON object"), "{stderr}");
    assert!(
        stderr.contains("duplicate id \"0ad\": line 43 replaces line 1"),
        "{stderr}"
    );
    assert_eq!(
        published(&stack, "c").1,
        0,
        "nothing indexed when failing on bad lines"
    );

    let mut skip = cli(&stack, "c");
    skip.args([
        "index",
        path.to_str().unwrap(),
        "--dims",
        "256",
        "--bad-lines",
        "skip",
    ]);
    let out = run(skip);
    assert_eq!(out.status.code(), Some(4), "partial success");
    let (got, _) = published(&stack, "c");
    assert_eq!(got, ids.iter().cloned().collect::<BTreeSet<_>>());

    // search: the document's own text finds it first; the filter holds.
    let mut search = cli(&stack, "c");
    search.args(["search", "0ad: a strategy game, again", "-k", "3", "--json"]);
    let out = run(search);
    assert!(out.status.success());
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hits[0]["id"], "0ad");
    assert_eq!(
        hits[0]["metadata"]["section"], "games",
        "the last line's metadata won"
    );
    let mut filtered = cli(&stack, "c");
    filtered.args(["search", "a game", "-k", "40", "--json", "--mode", "int8"]);
    filtered.args(["--filter", "{\"section\": {\"$ne\": \"games\"}}"]);
    let out = run(filtered);
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!hits.as_array().unwrap().is_empty());
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .all(|h| h["metadata"]["section"] != "games")
    );

    // get, rm, inspect, compact.
    let mut get = cli(&stack, "c");
    get.args(["get", &ids[1]]);
    let out = run(get);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["id"], ids[1].as_str());
    assert_eq!(doc["dimension"], 256);
    assert_eq!(doc["embedding"].as_array().unwrap().len(), 256);

    let mut rm = cli(&stack, "c");
    rm.args(["rm", &ids[1], "no-such-id"]);
    let out = run(rm);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-id"));
    let mut get = cli(&stack, "c");
    get.args(["get", &ids[1]]);
    assert_eq!(run(get).status.code(), Some(1));

    let mut inspect = cli(&stack, "c");
    inspect.arg("inspect");
    let out = run(inspect);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 deleted ids pending compaction"),
        "{stdout}"
    );
    assert!(stdout.contains(" ok"), "{stdout}");

    let mut compact = cli(&stack, "c");
    compact.args(["compact", "--delete-after", "0"]);
    let out = run(compact);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dropped 1"));
    let (after, listed) = published(&stack, "c");
    assert_eq!(after.len(), 39);
    assert_eq!(listed, 39);
}

#[test]
fn usage_errors_name_the_fix() {
    let out = run({
        let mut c = Command::new(env!("CARGO_BIN_EXE_s3vec"));
        c.args(["search", "x"])
            .env_remove("VECTOR_BUCKET_NAME")
            .env("S3VEC_CONFIG", "/dev/null");
        c
    });
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VECTOR_BUCKET_NAME"));
}
