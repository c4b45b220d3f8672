//! Bedrock `InvokeModel` for Amazon Titan Text Embeddings (V2 and V1).
//!
//! V2 (`amazon.titan-embed-text-v2:0`): `{"inputText", "dimensions" (256 | 512 | 1024),
//! "normalize", "embeddingTypes" (["float"], ["binary"] or both)}` → `{"embedding",
//! "embeddingsByType": {"float", "binary"}, "inputTextTokenCount"}`. V1
//! (`amazon.titan-embed-text-v1`): `{"inputText"}` → `{"embedding" (1536 floats),
//! "inputTextTokenCount"}`.
//!
//! [`BedrockClient::embed_many`] embeds many texts with at most `concurrency` requests in flight
//! (no threads: the futures run concurrently in one task, so it works on wasm32 too). Every
//! request is retried with exponential backoff and full jitter on throttling (429), server
//! errors (5xx), timeouts and transport failures, per the [`RetryPolicy`].
//!
//! The model id goes into the path percent-encoded (`amazon.titan-embed-text-v2%3A0`), and is
//! encoded once more in the canonical request, as every service but S3 wants
//! ([`SigningProfile::bedrock`]).

use super::credentials::CredentialsProvider;
use super::error::{AwsError, ServiceError};
use super::http::{Request, Response};
use super::retry::RetryPolicy;
use super::runtime::Runtime;
use super::send::{Op, Sender};
use super::sign::{Signer, SigningProfile, uri_encode};
use futures_util::StreamExt;
use http::Method;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The longest `inputText` Titan accepts, in characters (Unicode scalar values).
pub const MAX_INPUT_CHARS: usize = 50_000;

/// Titan V2's model id.
pub const TITAN_V2: &str = "amazon.titan-embed-text-v2:0";
/// Titan V1's (G1) model id.
pub const TITAN_V1: &str = "amazon.titan-embed-text-v1";

/// Which request and response shape a model speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TitanVersion {
    V1,
    V2,
}

impl TitanVersion {
    /// From a model id, or a foundation-model ARN (`arn:aws:bedrock:…::foundation-model/{id}`).
    /// Unknown ids are read as V2, the current format.
    pub fn of_model(model_id: &str) -> TitanVersion {
        let id = model_id
            .rsplit_once("foundation-model/")
            .map(|(_, id)| id)
            .unwrap_or(model_id);
        if id.starts_with("amazon.titan-embed-text-v1") || id.starts_with("amazon.titan-embed-g1") {
            TitanVersion::V1
        } else {
            TitanVersion::V2
        }
    }
}

/// What to ask Titan V2 for. V1 takes none of these: anything but the defaults is refused for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbedOptions {
    /// 256, 512 or 1024; `None`: the model's default (1024).
    pub dimensions: Option<u32>,
    /// `None`: the model's default (true).
    pub normalize: Option<bool>,
    /// Ask for the float vector (the default).
    pub float: bool,
    /// Ask for the binary (1 bit per dimension, as 0/1) vector.
    pub binary: bool,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            dimensions: None,
            normalize: None,
            float: true,
            binary: false,
        }
    }
}

impl EmbedOptions {
    pub fn dimensions(mut self, dimensions: u32) -> Self {
        self.dimensions = Some(dimensions);
        self
    }

    pub fn normalize(mut self, normalize: bool) -> Self {
        self.normalize = Some(normalize);
        self
    }

    /// Which vectors to get back.
    pub fn types(mut self, float: bool, binary: bool) -> Self {
        self.float = float;
        self.binary = binary;
        self
    }

    fn validate(&self, version: TitanVersion) -> Result<(), AwsError> {
        match version {
            TitanVersion::V1 => {
                if self.dimensions.is_some()
                    || self.normalize.is_some()
                    || self.binary
                    || !self.float
                {
                    return Err(AwsError::invalid_input(
                        "Titan V1 takes only inputText: drop dimensions, normalize and \
                         embeddingTypes, or use amazon.titan-embed-text-v2:0",
                    ));
                }
            }
            TitanVersion::V2 => {
                if let Some(d) = self.dimensions
                    && ![256, 512, 1024].contains(&d)
                {
                    return Err(AwsError::invalid_input(format!(
                        "Titan V2 makes 256, 512 or 1024 dimensions, not {d}: choose one of those"
                    )));
                }
                if !self.float && !self.binary {
                    return Err(AwsError::invalid_input(
                        "ask for at least one embedding type (float or binary)",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One text's embedding.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    /// The float vector, when asked for.
    pub float: Option<Vec<f32>>,
    /// The binary vector, one 0 or 1 per dimension, when asked for.
    pub binary: Option<Vec<u8>>,
    pub input_text_token_count: u32,
}

/// Where the model is and how to call it.
#[derive(Clone, Debug)]
pub struct BedrockConfig {
    pub region: String,
    /// `None`: `https://bedrock-runtime.{region}.amazonaws.com`.
    pub endpoint: Option<String>,
    pub model_id: String,
    /// Requests in flight at once in [`BedrockClient::embed_many`] (at least 1).
    pub concurrency: usize,
}

impl BedrockConfig {
    pub fn new(region: impl Into<String>, model_id: impl Into<String>) -> Self {
        BedrockConfig {
            region: region.into(),
            endpoint: None,
            model_id: model_id.into(),
            concurrency: 4,
        }
    }

    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }
}

/// The default for Bedrock: 6 attempts, 250 ms base, 20 s cap (throttling is routine).
pub fn default_retry() -> RetryPolicy {
    RetryPolicy::new(6, Duration::from_millis(250), Duration::from_secs(20))
}

/// A Bedrock runtime client for one embedding model.
pub struct BedrockClient {
    sender: Sender,
    url: String,
    model_id: String,
    version: TitanVersion,
    concurrency: usize,
}

impl std::fmt::Debug for BedrockClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BedrockClient")
            .field("url", &self.url)
            .field("model_id", &self.model_id)
            .finish_non_exhaustive()
    }
}

impl BedrockClient {
    pub fn new(
        config: BedrockConfig,
        credentials: Arc<dyn CredentialsProvider>,
        runtime: Runtime,
    ) -> Result<Self, AwsError> {
        Self::with_retry(config, credentials, runtime, default_retry())
    }

    pub fn with_retry(
        config: BedrockConfig,
        credentials: Arc<dyn CredentialsProvider>,
        runtime: Runtime,
        retry: RetryPolicy,
    ) -> Result<Self, AwsError> {
        if config.model_id.is_empty() {
            return Err(AwsError::invalid_input(format!(
                "Bedrock: no model id: give one, e.g. {TITAN_V2}"
            )));
        }
        if config.region.is_empty() {
            return Err(AwsError::invalid_input(
                "Bedrock: no region: give the region the model is enabled in (e.g. us-east-1)",
            ));
        }
        let endpoint = match &config.endpoint {
            Some(e) => e.trim_end_matches('/').to_string(),
            None => format!("https://bedrock-runtime.{}.amazonaws.com", config.region),
        };
        let url = format!("{endpoint}/model/{}/invoke", uri_encode(&config.model_id));
        // Parse once so a bad endpoint fails here rather than on every call.
        Request::parse(Method::POST, &url)?;
        Ok(BedrockClient {
            sender: Sender::new(
                runtime,
                credentials,
                Signer::new(config.region, SigningProfile::bedrock()),
                retry,
            ),
            url,
            version: TitanVersion::of_model(&config.model_id),
            model_id: config.model_id,
            concurrency: config.concurrency.max(1),
        })
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The request body for `text` (checked against the model's limits first).
    pub fn request_body(&self, text: &str, options: &EmbedOptions) -> Result<Vec<u8>, AwsError> {
        options.validate(self.version)?;
        check_text(text, None)?;
        let body = match self.version {
            TitanVersion::V1 => json!({ "inputText": text }),
            TitanVersion::V2 => {
                let mut b = serde_json::Map::new();
                b.insert("inputText".into(), json!(text));
                if let Some(d) = options.dimensions {
                    b.insert("dimensions".into(), json!(d));
                }
                if let Some(n) = options.normalize {
                    b.insert("normalize".into(), json!(n));
                }
                let mut types = Vec::new();
                if options.float {
                    types.push("float");
                }
                if options.binary {
                    types.push("binary");
                }
                if types != ["float"] {
                    b.insert("embeddingTypes".into(), json!(types));
                }
                serde_json::Value::Object(b)
            }
        };
        serde_json::to_vec(&body)
            .map_err(|e| AwsError::invalid_input(format!("cannot encode the request: {e}")))
    }

    /// One text's embedding.
    pub async fn embed(&self, text: &str, options: &EmbedOptions) -> Result<Embedding, AwsError> {
        let body = self.request_body(text, options)?;
        let mut request = Request::parse(Method::POST, &self.url)?;
        request.header("content-type", "application/json")?;
        request.header("accept", "application/json")?;
        request.body = body.into();
        let op = Op {
            service: "Bedrock",
            operation: "InvokeModel",
            resource: self.model_id.clone(),
            idempotent: true,
        };
        let resp = self
            .sender
            .send(&request, &op, |s| s == 200, bedrock_error)
            .await?;
        parse_embedding(&resp.body, options, self.version, &op)
    }

    /// Every text's embedding, in order, with at most `concurrency` requests in flight. All
    /// texts are checked before any is sent; the first failure (after retries) ends the call.
    pub async fn embed_many<S: AsRef<str>>(
        &self,
        texts: &[S],
        options: &EmbedOptions,
    ) -> Result<Vec<Embedding>, AwsError> {
        self.embed_many_with_progress(texts, options, |_, _| {})
            .await
    }

    /// [`Self::embed_many`], calling `progress(done, total)` after each text.
    pub async fn embed_many_with_progress<S: AsRef<str>>(
        &self,
        texts: &[S],
        options: &EmbedOptions,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<Embedding>, AwsError> {
        options.validate(self.version)?;
        for (i, t) in texts.iter().enumerate() {
            check_text(t.as_ref(), Some(i))?;
        }
        let total = texts.len();
        let mut out = Vec::with_capacity(total);
        let mut stream = futures_util::stream::iter(texts.iter())
            .map(|t| self.embed(t.as_ref(), options))
            .buffered(self.concurrency);
        while let Some(r) = stream.next().await {
            out.push(r?);
            progress(out.len(), total);
        }
        Ok(out)
    }
}

/// Refuses what Bedrock would refuse before sending it.
fn check_text(text: &str, index: Option<usize>) -> Result<(), AwsError> {
    let which = match index {
        Some(i) => format!("text #{i}"),
        None => "the text".to_string(),
    };
    if text.is_empty() {
        return Err(AwsError::invalid_input(format!(
            "{which} is empty: Titan needs at least one character"
        )));
    }
    // Counting stops early: a huge text is not walked to the end.
    let chars = text.chars().take(MAX_INPUT_CHARS + 1).count();
    if chars > MAX_INPUT_CHARS {
        return Err(AwsError::invalid_input(format!(
            "{which} has more than Titan's {MAX_INPUT_CHARS} characters: split it into smaller \
             chunks"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanResponse {
    embedding: Option<Vec<f32>>,
    embeddings_by_type: Option<ByType>,
    input_text_token_count: Option<u32>,
}

#[derive(Deserialize)]
struct ByType {
    float: Option<Vec<f32>>,
    binary: Option<Vec<u8>>,
}

fn parse_embedding(
    body: &[u8],
    options: &EmbedOptions,
    version: TitanVersion,
    op: &Op,
) -> Result<Embedding, AwsError> {
    let bad = |what: String| {
        AwsError::InvalidResponse(format!(
            "Bedrock InvokeModel {}: the answer {what}: check that the model id names a Titan \
             text embedding model",
            op.resource
        ))
    };
    let r: TitanResponse = serde_json::from_slice(body)
        .map_err(|e| bad(format!("is not Titan's embedding JSON ({e})")))?;
    let by_type = r.embeddings_by_type;
    let (mut float, mut binary) = match by_type {
        Some(t) => (t.float, t.binary),
        None => (None, None),
    };
    if float.is_none() {
        float = r.embedding;
    }
    if !options.binary {
        binary = None;
    }
    if version == TitanVersion::V2 && !options.float {
        float = None;
    }
    if options.float && float.is_none() {
        return Err(bad("has no float embedding".into()));
    }
    if options.binary && binary.is_none() {
        return Err(bad("has no binary embedding".into()));
    }
    if let Some(b) = &binary
        && b.iter().any(|&x| x > 1)
    {
        return Err(bad(
            "has a binary embedding with values other than 0 and 1".into()
        ));
    }
    let want = options.dimensions.map(|d| d as usize);
    for (name, len) in [
        ("float", float.as_ref().map(Vec::len)),
        ("binary", binary.as_ref().map(Vec::len)),
    ] {
        if let (Some(len), Some(want)) = (len, want)
            && len != want
        {
            return Err(bad(format!(
                "has a {name} embedding of {len} dimensions where {want} were asked for"
            )));
        }
    }
    Ok(Embedding {
        float,
        binary,
        input_text_token_count: r.input_text_token_count.unwrap_or(0),
    })
}

/// Reads Bedrock's error: the name in `x-amzn-ErrorType` (before any `:`), the body's
/// `{"message"}`, the request id in `x-amzn-RequestId`.
pub(crate) fn bedrock_error(op: &Op, resp: &Response) -> ServiceError {
    let status = resp.status.as_u16();
    let json: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
    let field = |names: &[&str]| -> Option<String> {
        let v = json.as_ref()?;
        names
            .iter()
            .find_map(|n| v.get(n).and_then(|m| m.as_str()).map(str::to_string))
    };
    let code = resp
        .header("x-amzn-errortype")
        .map(|t| t.split(':').next().unwrap_or(t).to_string())
        .filter(|c| !c.is_empty())
        .or_else(|| {
            field(&["__type", "code"]).map(|t| t.rsplit('#').next().unwrap_or(&t).to_string())
        })
        .unwrap_or_else(|| {
            resp.status
                .canonical_reason()
                .unwrap_or("UnknownError")
                .replace(' ', "")
        });
    let message = field(&["message", "Message"])
        .unwrap_or_else(|| super::credentials::summarize_body(&resp.body));
    let request_id = resp.header("x-amzn-requestid").map(str::to_string);
    op.error(status, code, message, request_id)
}
