//! The local AWS stack (`s3vec-dev`, with its Bedrock service) and `presign-lambda local` in
//! front of it, both on free ports of 127.0.0.1, both killed when the test ends.
#![allow(dead_code)]

use s3vec::aws::credentials::{Credentials, PresignFetcher, PresignResponse};
use s3vec::aws::http::ReqwestTransport;
use s3vec::aws::s3::{S3Client, S3Config};
use s3vec::aws::{AwsError, CredentialsProvider, Runtime, StaticProvider};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BUCKET: &str = "vec-test";
pub const ROOT_KEY: &str = "AKIAPRESIGNTESTROOT1";
pub const ROOT_SECRET: &str = "presign/test+root=secret";
pub const ORIGIN: &str = "http://localhost:8080";
pub const MODEL: &str = "amazon.titan-embed-text-v2:0";
pub const WRITE_TOKEN: &str = "presign-test-write-token-4f1c9a0e7b2d";

#[derive(Debug, Clone, Deserialize)]
pub struct StackReady {
    pub s3: String,
    pub sts: String,
    pub bedrock: Option<String>,
    pub region: String,
    pub account_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PresignReady {
    pub url: String,
    pub pid: u32,
}

pub struct Env {
    stack: Option<Child>,
    pub presign: Option<Child>,
    pub dir: PathBuf,
    pub stack_ready: StackReady,
    pub presign_ready: PresignReady,
}

/// `target/debug/s3vec-dev`, built first if missing.
fn dev_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("S3VEC_DEV_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("debug").join("s3vec-dev");
    if !bin.exists() {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-p", "s3vec-dev"])
            .current_dir(&root)
            .status()
            .expect("run cargo build -p s3vec-dev");
        assert!(status.success(), "cargo build -p s3vec-dev failed");
    }
    bin
}

fn wait_for<T: for<'de> Deserialize<'de>>(file: &Path, child: &mut Child, log: &Path) -> T {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Ok(v) = serde_json::from_str(&text)
        {
            return v;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{} exited before it was ready ({status}): {}",
                file.display(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} not ready after 300 s",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_file(path: PathBuf) -> Stdio {
    std::fs::File::create(path)
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::inherit())
}

impl Env {
    /// The stack (Bedrock's own CORS off, as on AWS), then the presign server against it.
    pub fn start(extra_presign_args: &[&str]) -> Env {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "presign-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let stack_file = dir.join("stack.json");
        let mut stack = Command::new(dev_binary())
            .args([
                "--s3-port",
                "0",
                "--bucket",
                BUCKET,
                "--access-key",
                ROOT_KEY,
            ])
            .args(["--secret-key", ROOT_SECRET, "--bedrock-port", "0"])
            .args(["--bedrock-workers", "1", "--bedrock-cors", "off"])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--ready-file")
            .arg(&stack_file)
            .env("RUST_LOG", "s3vec_dev=warn")
            .stdin(Stdio::null())
            .stderr(log_file(dir.join("stack.log")))
            .spawn()
            .expect("start s3vec-dev");
        let stack_ready: StackReady = wait_for(&stack_file, &mut stack, &dir.join("stack.log"));
        let bedrock = stack_ready
            .bedrock
            .clone()
            .expect("the stack's Bedrock URL");
        let presign_file = dir.join("presign.json");
        let role = format!("arn:aws:iam::{}:role/s3vec-browser", stack_ready.account_id);
        let mut presign = Command::new(env!("CARGO_BIN_EXE_presign-lambda"))
            .arg("local")
            .args([
                "--port",
                "0",
                "--bucket",
                BUCKET,
                "--prefixes",
                "docs/,team/",
            ])
            .args([
                "--model-id",
                MODEL,
                "--role-arn",
                &role,
                "--allowed-origins",
                ORIGIN,
            ])
            .args(["--write-token-sha256", &sha256_hex(WRITE_TOKEN)])
            .args([
                "--region",
                &stack_ready.region,
                "--s3-endpoint",
                &stack_ready.s3,
            ])
            .args([
                "--bedrock-endpoint",
                &bedrock,
                "--sts-endpoint",
                &stack_ready.sts,
            ])
            .args(["--access-key", ROOT_KEY, "--secret-key", ROOT_SECRET])
            .args(extra_presign_args)
            .arg("--ready-file")
            .arg(&presign_file)
            // Nothing from the caller's environment (AWS_REGION, keys) may leak into settings.
            .env_clear()
            .env("RUST_LOG", "presign_lambda=info")
            .stdin(Stdio::null())
            .stderr(log_file(dir.join("presign.log")))
            .spawn()
            .expect("start presign-lambda local");
        let presign_ready = wait_for(&presign_file, &mut presign, &dir.join("presign.log"));
        Env {
            stack: Some(stack),
            presign: Some(presign),
            dir,
            stack_ready,
            presign_ready,
        }
    }

    pub fn presign_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("presign.log")).unwrap_or_default()
    }

    pub fn credentials_url(&self) -> String {
        format!("{}/credentials", self.presign_ready.url)
    }

    /// `POST /credentials` as the browser client does, from `origin`.
    pub async fn fetch(
        &self,
        origin: &str,
        body: &str,
        token: Option<&str>,
    ) -> Result<PresignResponse, AwsError> {
        let mut fetcher = PresignFetcher::new(
            Arc::new(ReqwestTransport::new().expect("transport")),
            self.credentials_url(),
        )
        .post_json(body.to_string())
        .header("origin", origin);
        if let Some(t) = token {
            fetcher = fetcher.header("authorization", format!("Bearer {t}"));
        }
        fetcher.fetch_response().await
    }

    pub fn root(&self) -> Arc<dyn CredentialsProvider> {
        Arc::new(StaticProvider::new(Credentials::new(
            ROOT_KEY,
            ROOT_SECRET,
            None,
            None,
        )))
    }

    pub fn s3(&self, credentials: Arc<dyn CredentialsProvider>) -> S3Client {
        S3Client::new(
            S3Config::new(self.stack_ready.region.clone(), BUCKET)
                .endpoint(self.stack_ready.s3.clone()),
            credentials,
            Runtime::platform().expect("runtime"),
        )
        .expect("S3 client")
    }
}

pub fn session(response: &PresignResponse) -> Arc<dyn CredentialsProvider> {
    Arc::new(StaticProvider::new(response.credentials.clone()))
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(presign_lambda::auth::sha256(text.as_bytes()))
}

impl Drop for Env {
    fn drop(&mut self) {
        for child in [self.presign.take(), self.stack.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A plain HTTP client for raw requests (headers the typed clients do not show).
pub fn raw_client() -> reqwest::Client {
    // Only the ring provider is compiled in; reqwest wants it installed before a default build.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
