//! Bedrock `InvokeModel` for text embeddings: Amazon Titan Text Embeddings V2 and V1
//! ([`titan`]), Cohere Embed English and Multilingual v3 ([`cohere`]).
//!
//! [`BedrockClient::embed_many`] sends Titan one text per call and Cohere up to 96 per call, with
//! a number of calls in flight that adapts to throttling ([`adaptive`]: halved on
//! `ThrottlingException`/429, grown back by one after a round of successes, never above
//! [`BedrockConfig::concurrency`]). No threads and no spawned tasks: the calls are futures polled
//! together in the caller's task, so it works on wasm32 too. Every call is retried with
//! exponential backoff and full jitter on throttling (429), server errors (5xx), timeouts and
//! transport failures, per the [`RetryPolicy`]. [`EmbedStats`] counts the retries, the tokens
//! and the current limit, for progress displays.
//!
//! The model id goes into the path percent-encoded (`amazon.titan-embed-text-v2%3A0`), and is
//! encoded once more in the canonical request, as every service but S3 wants
//! ([`SigningProfile::bedrock`]).

mod adaptive;
pub mod cohere;
pub mod titan;

pub use adaptive::EmbedStats;
pub use titan::MAX_INPUT_CHARS;

use super::credentials::CredentialsProvider;
use super::error::{AwsError, ServiceError};
use super::http::{Request, Response};
use super::retry::RetryPolicy;
use super::runtime::Runtime;
use super::send::{Op, Sender};
use super::sign::{Signer, SigningProfile, uri_encode};
use adaptive::{Adaptive, Call};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use http::Method;
use std::sync::Arc;
use std::time::Duration;

/// Titan V2's model id.
pub const TITAN_V2: &str = "amazon.titan-embed-text-v2:0";
/// Titan V1's (G1) model id.
pub const TITAN_V1: &str = "amazon.titan-embed-text-v1";
/// Cohere Embed English v3's model id.
pub const COHERE_ENGLISH_V3: &str = "cohere.embed-english-v3";
/// Cohere Embed Multilingual v3's model id.
pub const COHERE_MULTILINGUAL_V3: &str = "cohere.embed-multilingual-v3";

/// The model id in a foundation-model ARN (`arn:aws:bedrock:…::foundation-model/{id}`), or the
/// id itself.
fn bare_id(model_id: &str) -> &str {
    model_id
        .rsplit_once("foundation-model/")
        .map(|(_, id)| id)
        .unwrap_or(model_id)
}

/// Which Titan request and response shape a model speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TitanVersion {
    V1,
    V2,
}

impl TitanVersion {
    /// From a model id, or a foundation-model ARN (`arn:aws:bedrock:…::foundation-model/{id}`).
    /// Unknown ids are read as V2, the current format.
    pub fn of_model(model_id: &str) -> TitanVersion {
        let id = bare_id(model_id);
        if id.starts_with("amazon.titan-embed-text-v1") || id.starts_with("amazon.titan-embed-g1") {
            TitanVersion::V1
        } else {
            TitanVersion::V2
        }
    }
}

/// Which request and response shape a model speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFamily {
    Titan(TitanVersion),
    /// Cohere Embed English v3 and Multilingual v3.
    CohereV3,
}

impl ModelFamily {
    /// From a model id or foundation-model ARN. Ids that are not Cohere Embed v3's are read as
    /// Titan's ([`TitanVersion::of_model`]).
    pub fn of_model(model_id: &str) -> ModelFamily {
        let id = bare_id(model_id);
        if id.starts_with(COHERE_ENGLISH_V3) || id.starts_with(COHERE_MULTILINGUAL_V3) {
            ModelFamily::CohereV3
        } else {
            ModelFamily::Titan(TitanVersion::of_model(model_id))
        }
    }

    /// Most texts one `InvokeModel` call carries.
    pub fn texts_per_call(self) -> usize {
        match self {
            ModelFamily::Titan(_) => 1,
            ModelFamily::CohereV3 => cohere::MAX_TEXTS,
        }
    }
}

/// What the texts are for (Cohere's `input_type`; it changes the vectors). Titan has no such
/// setting and ignores it, so callers can set it whatever the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputType {
    /// Documents to store and search (`search_document`).
    SearchDocument,
    /// Queries to search them with (`search_query`).
    SearchQuery,
    Classification,
    Clustering,
}

impl InputType {
    pub fn as_str(self) -> &'static str {
        match self {
            InputType::SearchDocument => "search_document",
            InputType::SearchQuery => "search_query",
            InputType::Classification => "classification",
            InputType::Clustering => "clustering",
        }
    }
}

/// What Cohere does with a text longer than the model takes (`truncate`). Titan refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truncate {
    /// Refuse it (Cohere's default).
    None,
    /// Drop its start.
    Start,
    /// Drop its end.
    End,
}

impl Truncate {
    pub fn as_str(self) -> &'static str {
        match self {
            Truncate::None => "NONE",
            Truncate::Start => "START",
            Truncate::End => "END",
        }
    }
}

/// An embedding type a model can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbeddingType {
    Float,
    /// Cohere only.
    Int8,
    /// Cohere only.
    Uint8,
    Binary,
    /// Cohere only.
    Ubinary,
}

/// What to ask the model for. Titan V1 takes none of these but `input_type` (ignored): anything
/// but the defaults is refused for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbedOptions {
    /// Titan V2: 256, 512 or 1024; `None`: the model's default (1024). Cohere v3: 1024 or `None`.
    pub dimensions: Option<u32>,
    /// Titan V2 only. `None`: the model's default (true).
    pub normalize: Option<bool>,
    /// Ask for the float vector (the default).
    pub float: bool,
    /// Ask for the binary vector (1 bit per dimension, as 0/1).
    pub binary: bool,
    /// Cohere only: signed bytes, one per dimension.
    pub int8: bool,
    /// Cohere only: unsigned bytes, one per dimension.
    pub uint8: bool,
    /// Cohere only: the bits packed 8 to a byte.
    pub ubinary: bool,
    /// Required for Cohere; ignored by Titan.
    pub input_type: Option<InputType>,
    /// Cohere only. `None`: the model's default (`NONE`).
    pub truncate: Option<Truncate>,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            dimensions: None,
            normalize: None,
            float: true,
            binary: false,
            int8: false,
            uint8: false,
            ubinary: false,
            input_type: None,
            truncate: None,
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

    /// Which of Titan's vectors to get back (the Cohere-only types are switched off).
    pub fn types(self, float: bool, binary: bool) -> Self {
        let mut types = Vec::new();
        if float {
            types.push(EmbeddingType::Float);
        }
        if binary {
            types.push(EmbeddingType::Binary);
        }
        self.embedding_types(&types)
    }

    /// Exactly these vectors.
    pub fn embedding_types(mut self, types: &[EmbeddingType]) -> Self {
        let has = |t| types.contains(&t);
        self.float = has(EmbeddingType::Float);
        self.int8 = has(EmbeddingType::Int8);
        self.uint8 = has(EmbeddingType::Uint8);
        self.binary = has(EmbeddingType::Binary);
        self.ubinary = has(EmbeddingType::Ubinary);
        self
    }

    pub fn input_type(mut self, input_type: InputType) -> Self {
        self.input_type = Some(input_type);
        self
    }

    pub fn truncate(mut self, truncate: Truncate) -> Self {
        self.truncate = Some(truncate);
        self
    }

    fn validate(&self, family: ModelFamily) -> Result<(), AwsError> {
        match family {
            ModelFamily::Titan(version) => titan::validate(self, version),
            ModelFamily::CohereV3 => cohere::validate(self),
        }
    }
}

/// One text's embedding: the types asked for, the others `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    pub float: Option<Vec<f32>>,
    /// One 0 or 1 per dimension (1 where the float value is positive). Cohere sends these bits
    /// packed into signed bytes; they are unpacked here so both families give the same form.
    pub binary: Option<Vec<u8>>,
    /// Cohere: one signed byte per dimension.
    pub int8: Option<Vec<i8>>,
    /// Cohere: one unsigned byte per dimension.
    pub uint8: Option<Vec<u8>>,
    /// Cohere: the binary bits packed 8 to a byte, first dimension in the most significant bit,
    /// as sent (128 bytes for 1024 dimensions).
    pub ubinary: Option<Vec<u8>>,
    /// Titan's `inputTextTokenCount`. 0 for Cohere, whose answer counts tokens per call, not per
    /// text: see [`EmbedStats::input_tokens`].
    pub input_text_token_count: u32,
}

/// Where the model is and how to call it.
#[derive(Clone, Debug)]
pub struct BedrockConfig {
    pub region: String,
    /// `None`: `https://bedrock-runtime.{region}.amazonaws.com`.
    pub endpoint: Option<String>,
    pub model_id: String,
    /// Most requests in flight at once in [`BedrockClient::embed_many`] (at least 1), and where
    /// the adaptive limit starts.
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

/// How far [`BedrockClient::embed_many_with_stats`] has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmbedProgress {
    /// Texts embedded so far (Cohere's advance 96 at a time).
    pub done: usize,
    pub total: usize,
    /// This call's counters so far.
    pub stats: EmbedStats,
}

/// What [`BedrockClient::embed_many_with_stats`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbedReport {
    /// One per text, in order.
    pub embeddings: Vec<Embedding>,
    /// The call's counters.
    pub stats: EmbedStats,
}

/// A Bedrock runtime client for one embedding model.
pub struct BedrockClient {
    /// Signs and sends one attempt (re-signing after an expired token or a skewed clock); the
    /// retries with backoff are this client's, so that each one waits for a slot under the
    /// adaptive limit.
    sender: Sender,
    retry: RetryPolicy,
    url: String,
    model_id: String,
    family: ModelFamily,
    adaptive: Adaptive,
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
                RetryPolicy::none(),
            ),
            retry,
            url,
            family: ModelFamily::of_model(&config.model_id),
            model_id: config.model_id,
            adaptive: Adaptive::new(config.concurrency),
        })
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn family(&self) -> ModelFamily {
        self.family
    }

    /// Everything this client has sent so far, and its concurrency limit now.
    pub fn stats(&self) -> EmbedStats {
        self.adaptive.stats()
    }

    /// The request body for `text` alone (checked against the model's limits first).
    pub fn request_body(&self, text: &str, options: &EmbedOptions) -> Result<Vec<u8>, AwsError> {
        options.validate(self.family)?;
        check_text(self.family, text, None)?;
        self.body(&[text], options)
    }

    fn body<S: AsRef<str>>(
        &self,
        texts: &[S],
        options: &EmbedOptions,
    ) -> Result<Vec<u8>, AwsError> {
        let body = match self.family {
            ModelFamily::Titan(version) => match texts {
                [text] => titan::request_body(text.as_ref(), options, version),
                _ => {
                    return Err(AwsError::invalid_input(
                        "Titan embeds one text per call: send the texts one at a time",
                    ));
                }
            },
            ModelFamily::CohereV3 => cohere::request_body(texts, options)?,
        };
        serde_json::to_vec(&body)
            .map_err(|e| AwsError::invalid_input(format!("cannot encode the request: {e}")))
    }

    /// One text's embedding.
    pub async fn embed(&self, text: &str, options: &EmbedOptions) -> Result<Embedding, AwsError> {
        options.validate(self.family)?;
        check_text(self.family, text, None)?;
        let call = self.adaptive.call();
        let mut out = self.invoke(&[text], options, &call).await?;
        out.pop().ok_or_else(|| {
            AwsError::InvalidResponse(format!(
                "Bedrock InvokeModel {}: the answer has no embedding",
                self.model_id
            ))
        })
    }

    /// One `InvokeModel` call for `texts` (one for Titan, up to 96 for Cohere), already checked.
    async fn invoke<S: AsRef<str>>(
        &self,
        texts: &[S],
        options: &EmbedOptions,
        call: &Call<'_>,
    ) -> Result<Vec<Embedding>, AwsError> {
        let body = self.body(texts, options)?;
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
        let mut attempt = 0;
        let resp = loop {
            attempt += 1;
            let permit = call.acquire().await;
            let result = self
                .sender
                .send(&request, &op, |s| s == 200, bedrock_error)
                .await;
            let epoch = permit.epoch();
            // The slot is free during the backoff: others may use it meanwhile.
            drop(permit);
            match result {
                Ok(resp) => break resp,
                // InvokeModel is idempotent: anything retryable is retried, timeouts included.
                Err(err) if err.is_retryable() && attempt < self.retry.max_attempts => {
                    call.on_retry(&err, epoch);
                    let delay = self.retry.delay(attempt);
                    self.sender.runtime.sleep.sleep(delay).await;
                }
                Err(err) => return Err(err),
            }
        };
        let header_tokens = resp
            .header("x-amzn-bedrock-input-token-count")
            .and_then(|t| t.trim().parse::<u64>().ok());
        let (out, tokens) = match self.family {
            ModelFamily::Titan(version) => {
                let e = titan::parse(&resp.body, options, version, &self.model_id)?;
                let tokens = match e.input_text_token_count {
                    0 => header_tokens,
                    n => Some(u64::from(n)),
                };
                (vec![e], tokens)
            }
            ModelFamily::CohereV3 => (
                cohere::parse(&resp.body, options, texts.len(), &self.model_id)?,
                header_tokens,
            ),
        };
        call.on_success(tokens);
        Ok(out)
    }

    /// Every text's embedding, in order (see the module docs for batching and concurrency). All
    /// texts are checked before any is sent; the first failure (after retries) ends the call.
    pub async fn embed_many<S: AsRef<str>>(
        &self,
        texts: &[S],
        options: &EmbedOptions,
    ) -> Result<Vec<Embedding>, AwsError> {
        Ok(self
            .embed_many_with_stats(texts, options, |_| {})
            .await?
            .embeddings)
    }

    /// [`Self::embed_many`], calling `progress(done, total)` as texts complete.
    pub async fn embed_many_with_progress<S: AsRef<str>>(
        &self,
        texts: &[S],
        options: &EmbedOptions,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Vec<Embedding>, AwsError> {
        Ok(self
            .embed_many_with_stats(texts, options, |p| progress(p.done, p.total))
            .await?
            .embeddings)
    }

    /// [`Self::embed_many`], calling `progress` as texts complete with the call's counters
    /// (retries, tokens, the concurrency limit), and returning them with the embeddings.
    pub async fn embed_many_with_stats<S: AsRef<str>>(
        &self,
        texts: &[S],
        options: &EmbedOptions,
        mut progress: impl FnMut(&EmbedProgress),
    ) -> Result<EmbedReport, AwsError> {
        options.validate(self.family)?;
        for (i, t) in texts.iter().enumerate() {
            check_text(self.family, t.as_ref(), Some(i))?;
        }
        let call = self.adaptive.call();
        let batches: Vec<&[S]> = texts.chunks(self.family.texts_per_call()).collect();
        let mut results: Vec<Option<Vec<Embedding>>> = batches.iter().map(|_| None).collect();
        let mut in_flight = FuturesUnordered::new();
        let (mut next, mut done) = (0, 0);
        loop {
            // At most `limit` batches under way (the permits bound the requests actually out);
            // read again after every completion, so that growth lets more start.
            while next < batches.len() && in_flight.len() < call.limit() {
                let (i, batch, call) = (next, batches[next], &call);
                in_flight.push(async move { (i, self.invoke(batch, options, call).await) });
                next += 1;
            }
            let Some((i, result)) = in_flight.next().await else {
                break;
            };
            let embeddings = result?;
            done += embeddings.len();
            results[i] = Some(embeddings);
            progress(&EmbedProgress {
                done,
                total: texts.len(),
                stats: call.stats(),
            });
        }
        Ok(EmbedReport {
            embeddings: results.into_iter().flatten().flatten().collect(),
            stats: call.stats(),
        })
    }
}

/// Refuses what Bedrock would refuse before sending it, naming the limit.
fn check_text(family: ModelFamily, text: &str, index: Option<usize>) -> Result<(), AwsError> {
    let which = match index {
        Some(i) => format!("text #{i}"),
        None => "the text".to_string(),
    };
    let (model, max) = match family {
        ModelFamily::Titan(_) => ("Titan", MAX_INPUT_CHARS),
        ModelFamily::CohereV3 => ("Cohere Embed v3", cohere::MAX_CHARS),
    };
    // Cohere's documented minimum is 0 characters; Titan's schema wants at least one.
    if text.is_empty() && matches!(family, ModelFamily::Titan(_)) {
        return Err(AwsError::invalid_input(format!(
            "{which} is empty: Titan needs at least one character"
        )));
    }
    // Counting stops early: a huge text is not walked to the end.
    let chars = text.chars().take(max + 1).count();
    if chars > max {
        return Err(AwsError::invalid_input(format!(
            "{which} has more than {model}'s {max} characters: split it into smaller chunks"
        )));
    }
    Ok(())
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

#[cfg(test)]
mod tests;
