//! Shared by the Bedrock tests (and the throughput example): the model (fetched once, loaded
//! once per test binary), an in-process server on 127.0.0.1:0, SigV4 signing with the
//! `aws-sigv4` crate (an implementation independent of the server's) and a plain HTTP client.
#![allow(dead_code)]

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use s3vec_dev::bedrock::{BedrockConfig, BedrockState, serve};
use s3vec_dev::creds::CredentialStore;
use s3vec_dev::model::pool::{ModelPool, PoolConfig};
use s3vec_dev::model::{Embedder, default_model_dir, ensure_model};
use s3vec_dev::policy::Policy;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const V2: &str = "amazon.titan-embed-text-v2:0";
pub const V1: &str = "amazon.titan-embed-text-v1";
pub const REGION: &str = "us-east-1";
pub const ROOT_KEY: &str = "AKIALOCALROOTEXAMPLE";
pub const ROOT_SECRET: &str = "local/root/secret/EXAMPLEKEY";
pub const ROLE_ARN: &str = "arn:aws:sts::000000000000:assumed-role/browser/test";

/// The model directory, after running `dev/scripts/fetch-model.sh` if the model is missing.
pub fn model_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = default_model_dir();
        if let Err(e) = ensure_model(&dir) {
            panic!("the Bedrock tests need the model: {e}");
        }
        dir
    })
    .clone()
}

pub fn embedder() -> Arc<Embedder> {
    static EMBEDDER: OnceLock<Arc<Embedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| Arc::new(Embedder::load(&model_dir()).expect("loading the model")))
        .clone()
}

/// One pool of model workers for every server of a test binary.
pub fn pool() -> Arc<ModelPool> {
    static POOL: OnceLock<Arc<ModelPool>> = OnceLock::new();
    POOL.get_or_init(|| Arc::new(ModelPool::start(embedder(), &PoolConfig::default())))
        .clone()
}

/// A Bedrock service running in this process until dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<BedrockState>,
    pub creds: Arc<CredentialStore>,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn start(config: BedrockConfig) -> Server {
    start_with_pool(config, pool()).await
}

pub async fn start_with_pool(config: BedrockConfig, pool: Arc<ModelPool>) -> Server {
    let creds = Arc::new(CredentialStore::new(ROOT_KEY, ROOT_SECRET));
    let state = Arc::new(BedrockState::new(creds.clone(), pool, config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        state,
        creds,
        stop: Some(stop),
    }
}

/// Credentials to sign with.
#[derive(Clone, Debug)]
pub struct Keys {
    pub access_key: String,
    pub secret: String,
    pub token: Option<String>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn root(&self) -> Keys {
        Keys {
            access_key: ROOT_KEY.into(),
            secret: ROOT_SECRET.into(),
            token: None,
        }
    }

    /// Temporary credentials with an optional session policy, issued at `now`.
    pub fn session(&self, policy: Option<&str>, lifetime: Duration, now: SystemTime) -> Keys {
        let policy = policy.map(|p| Policy::parse(p).expect("test policy"));
        let s = self.creds.issue(policy, lifetime, now, ROLE_ARN);
        Keys {
            access_key: s.access_key_id,
            secret: s.secret_access_key,
            token: Some(s.session_token),
        }
    }

    /// `/model/{modelId}/invoke` with the id percent-encoded as the AWS SDKs send it.
    pub fn invoke_url(&self, model_id: &str) -> String {
        format!("{}/model/{}/invoke", self.url(), encode_label(model_id))
    }

    /// Signs and sends an InvokeModel request with the body `body`.
    pub async fn invoke(&self, model_id: &str, body: &Value, keys: &Keys) -> Reply {
        let request = signed(
            "POST",
            &self.invoke_url(model_id),
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ],
            body.to_string().into_bytes(),
            keys,
            SystemTime::now(),
        );
        send(request).await
    }
}

/// Percent-encodes a URI path label the way the AWS SDKs do (`:` → `%3A`).
pub fn encode_label(label: &str) -> String {
    label
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A request signed by the `aws-sigv4` crate for the `bedrock` service at `time`.
pub fn signed(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    keys: &Keys,
    time: SystemTime,
) -> http::Request<Vec<u8>> {
    let mut builder = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let mut request = builder.body(body).unwrap();
    let identity = aws_credential_types::Credentials::new(
        &keys.access_key,
        &keys.secret,
        keys.token.clone(),
        None,
        "bedrock-tests",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("bedrock")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        request.method().as_str(),
        request.uri().to_string(),
        request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap())),
        SignableBody::Bytes(request.body()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut request);
    request
}

/// An unsigned request.
pub fn unsigned(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> http::Request<Vec<u8>> {
    let mut builder = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(body).unwrap()
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// `x-amzn-ErrorType`, or "" when absent.
    pub fn error_type(&self) -> &str {
        self.headers
            .get("x-amzn-ErrorType")
            .map_or("", |v| v.to_str().unwrap())
    }

    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts an error as Bedrock sends it: status, `x-amzn-ErrorType`, `{"message"}` and a
    /// request id.
    #[track_caller]
    pub fn assert_error(&self, status: u16, kind: &str) {
        assert_eq!(
            (self.status, self.error_type()),
            (status, kind),
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        let body = self.json();
        assert!(body["message"].is_string(), "{body}");
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        assert!(self.header("x-amzn-RequestId").is_some());
    }
}

pub async fn send(request: http::Request<Vec<u8>>) -> Reply {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .request(request.map(|b| Full::new(Bytes::from(b))))
        .await
        .expect("sending the request");
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}
