//! The local AWS stack (`s3vec-dev`, see dev/README.md) for native integration tests: started
//! on free ports with a fresh data directory, read from its ready file, killed on drop.
#![allow(dead_code)]

use s3vec::aws::credentials::Credentials;
use s3vec::aws::s3::{S3Client, S3Config};
use s3vec::aws::sts::StsClient;
use s3vec::aws::{CredentialsProvider, Runtime, StaticProvider};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub const BUCKET: &str = "vec-test";
pub const ROOT_KEY: &str = "AKIAS3VECTESTROOT001";
pub const ROOT_SECRET: &str = "s3vec/test+root=secret";

#[derive(Debug, Clone, Deserialize)]
pub struct Ready {
    pub s3: String,
    pub sts: String,
    pub bedrock: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
}

pub struct Stack {
    child: Child,
    dir: PathBuf,
    pub ready: Ready,
}

/// The `s3vec-dev` binary: `$S3VEC_DEV_BIN`, else `target/debug/s3vec-dev` of this workspace
/// (built with `cargo build -p s3vec-dev` if missing; `cargo test --workspace` builds it).
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("S3VEC_DEV_BIN") {
            return PathBuf::from(p);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let bin = target.join("debug").join("s3vec-dev");
        if !bin.exists() {
            eprintln!("building s3vec-dev (cargo build -p s3vec-dev) for the AWS tests ...");
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["build", "-p", "s3vec-dev"])
                .current_dir(root)
                .status()
                .expect("run cargo build -p s3vec-dev");
            assert!(
                status.success() && bin.exists(),
                "could not build {}: run `cargo build -p s3vec-dev` first, or set S3VEC_DEV_BIN",
                bin.display()
            );
        }
        bin
    })
    .clone()
}

impl Stack {
    /// Starts the stack with the test bucket and `extra` arguments, and waits for it.
    pub fn start(extra: &[&str]) -> Stack {
        Self::try_start(extra).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Stack::start`], or what the stack printed when it exited before it was ready.
    pub fn try_start(extra: &[&str]) -> Result<Stack, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "s3vec-aws-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ready_file = dir.join("ready.json");
        let child = Command::new(binary())
            .arg("--s3-port")
            .arg("0")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--bucket")
            .arg(BUCKET)
            .arg("--access-key")
            .arg(ROOT_KEY)
            .arg("--secret-key")
            .arg(ROOT_SECRET)
            .arg("--ready-file")
            .arg(&ready_file)
            .args(extra)
            .env("RUST_LOG", "s3vec_dev=warn")
            .stdin(Stdio::null())
            .stderr(
                std::fs::File::create(dir.join("stderr.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::inherit()),
            )
            .spawn()
            .expect("start s3vec-dev");
        let mut stack = Stack {
            child,
            dir,
            ready: Ready {
                s3: String::new(),
                sts: String::new(),
                bedrock: None,
                region: String::new(),
                access_key_id: String::new(),
                secret_access_key: String::new(),
                account_id: String::new(),
            },
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready_file)
                && let Ok(ready) = serde_json::from_str::<Ready>(&text)
            {
                stack.ready = ready;
                return Ok(stack);
            }
            if let Ok(Some(status)) = stack.child.try_wait() {
                let log = std::fs::read_to_string(stack.dir.join("stderr.log")).unwrap_or_default();
                return Err(format!(
                    "s3vec-dev exited before it was ready ({status}): {}",
                    log.trim()
                ));
            }
            if Instant::now() > deadline {
                return Err("s3vec-dev not ready after 300 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The ready file (for programs that read it, such as the CLI's `--local-stack`).
    pub fn ready_file(&self) -> PathBuf {
        self.dir.join("ready.json")
    }

    /// A scratch directory removed with the stack.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Prints the stack's stderr (for a failing test).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    pub fn root(&self) -> Arc<dyn CredentialsProvider> {
        Arc::new(StaticProvider::new(Credentials::new(
            self.ready.access_key_id.clone(),
            self.ready.secret_access_key.clone(),
            None,
            None,
        )))
    }

    pub fn s3(&self, credentials: Arc<dyn CredentialsProvider>) -> S3Client {
        S3Client::new(
            S3Config::new(self.ready.region.clone(), BUCKET).endpoint(self.ready.s3.clone()),
            credentials,
            Runtime::platform().expect("runtime"),
        )
        .expect("S3 client")
    }

    pub fn sts(&self) -> StsClient {
        StsClient::new(
            self.ready.region.clone(),
            Some(self.ready.sts.clone()),
            self.root(),
            Runtime::platform().expect("runtime"),
        )
    }

    pub fn role_arn(&self) -> String {
        format!("arn:aws:iam::{}:role/s3vec-reader", self.ready.account_id)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A session policy: read-only (GetObject, and ListBucket limited to the prefix) under `prefix`.
pub fn read_only_policy(bucket: &str, prefix: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": format!("arn:aws:s3:::{bucket}/{prefix}*")
            },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": format!("arn:aws:s3:::{bucket}"),
                "Condition": {"StringLike": {"s3:prefix": format!("{prefix}*")}}
            }
        ]
    })
    .to_string()
}

/// Read and write (Get, Put, Delete, List) under `prefix`.
pub fn read_write_policy(bucket: &str, prefix: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": format!("arn:aws:s3:::{bucket}/{prefix}*")
            },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": format!("arn:aws:s3:::{bucket}"),
                "Condition": {"StringLike": {"s3:prefix": format!("{prefix}*")}}
            }
        ]
    })
    .to_string()
}
