//! Cohere Embed English v3 and Multilingual v3 request and response bodies, validated with the
//! same JSON-schema wording as Titan's ([`super::titan`]).
//!
//! From the Amazon Bedrock User Guide ("Cohere Embed v3",
//! <https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html>):
//! request `{"texts" (0 to 96 strings of 0 to 2048 characters), "input_type"
//! ("search_document" | "search_query" | "classification" | "clustering"), "truncate" ("NONE" |
//! "START" | "END", default NONE), "embedding_types" (any of "float", "int8", "uint8", "binary",
//! "ubinary")}`; `texts` and `input_type` are required. Response `{"id", "response_type",
//! "embeddings", "texts"}`: without `embedding_types`, `"embeddings_floats"` and a list of float
//! vectors; with them, `"embeddings_by_type"` and an object of lists, one per type asked for.
//!
//! The vectors are the model's unit vector zero-padded to 1024 dimensions (as for Titan 1024).
//! The other types are computed from it:
//! - `binary` / `ubinary`: one bit per dimension, set where the value is positive, packed 8 to a
//!   byte with the first dimension in the most significant bit (128 bytes); `ubinary` gives the
//!   byte (0..=255), `binary` the same bits as a signed byte, i.e. the byte minus 128.
//! - `int8`: the vector scaled so that its largest magnitude is 127, rounded. `uint8`: that plus
//!   128. Cohere does not publish its scalar quantizer (its model is trained for it); this one
//!   keeps cosines within about 1% of the float vector's.

use super::error::BedrockError;
use super::titan::wrong_type;
use crate::model::{Embedding, l2_normalize};
use serde_json::{Map, Value, json};

/// Texts one call may carry.
pub const MAX_TEXTS: usize = 96;
/// Characters per text.
pub const MAX_CHARS: usize = 2048;
/// Tokens per text the model takes; longer texts need `truncate` START or END. (Cohere's figure
/// for its v3 models; the local model itself reads the first 256.)
pub const MAX_TOKENS: usize = 512;
/// Every Cohere v3 vector's length.
pub const DIMENSIONS: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CohereModel {
    /// `cohere.embed-english-v3`
    EnglishV3,
    /// `cohere.embed-multilingual-v3`
    MultilingualV3,
}

impl CohereModel {
    /// The model a `modelId` names: a model id or a foundation-model ARN.
    pub fn from_model_id(model_id: &str) -> Option<CohereModel> {
        let id = match model_id.strip_prefix("arn:aws:bedrock:") {
            Some(rest) => rest.split_once("::foundation-model/")?.1,
            None => model_id,
        };
        match id {
            "cohere.embed-english-v3" => Some(CohereModel::EnglishV3),
            "cohere.embed-multilingual-v3" => Some(CohereModel::MultilingualV3),
            _ => None,
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            CohereModel::EnglishV3 => "cohere.embed-english-v3",
            CohereModel::MultilingualV3 => "cohere.embed-multilingual-v3",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truncate {
    None,
    Start,
    End,
}

/// The embedding types, in the order Cohere lists them.
pub const TYPES: [&str; 5] = ["float", "int8", "uint8", "binary", "ubinary"];
const INPUT_TYPES: [&str; 4] = [
    "search_document",
    "search_query",
    "classification",
    "clustering",
];

/// A validated request.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbedRequest {
    pub texts: Vec<String>,
    pub input_type: String,
    pub truncate: Truncate,
    /// `None`: the plain float answer (`embeddings_floats`). Otherwise the types asked for, in
    /// [`TYPES`] order, without repeats.
    pub types: Option<Vec<&'static str>>,
}

fn enum_value(
    path: &str,
    v: &Value,
    allowed: &[&'static str],
) -> Result<&'static str, BedrockError> {
    let Some(s) = v.as_str() else {
        return Err(wrong_type(path, "String", v));
    };
    allowed
        .iter()
        .copied()
        .find(|a| *a == s)
        .ok_or_else(|| BedrockError::malformed(format!("{path}: {s} is not a valid enum value")))
}

/// Parses and validates a request body.
pub fn parse_request(body: &[u8]) -> Result<EmbedRequest, BedrockError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        BedrockError::malformed(format!("the request body is not valid JSON ({e})"))
    })?;
    let Value::Object(obj) = &value else {
        return Err(wrong_type("#", "JSONObject", &value));
    };
    if obj.contains_key("images") {
        return Err(BedrockError::validation(
            "The local Bedrock service embeds texts only: images are not supported.",
        ));
    }
    let allowed = ["texts", "input_type", "truncate", "embedding_types"];
    if let Some(key) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(BedrockError::malformed(format!(
            "#: extraneous key [{key}] is not permitted"
        )));
    }
    for key in ["texts", "input_type"] {
        if !obj.contains_key(key) {
            return Err(BedrockError::malformed(format!(
                "#: required key [{key}] not found"
            )));
        }
    }
    let texts = texts(obj)?;
    let input_type = enum_value("#/input_type", &obj["input_type"], &INPUT_TYPES)?.to_string();
    let truncate = match obj.get("truncate") {
        None => Truncate::None,
        Some(v) => match enum_value("#/truncate", v, &["NONE", "START", "END"])? {
            "START" => Truncate::Start,
            "END" => Truncate::End,
            _ => Truncate::None,
        },
    };
    let types = match obj.get("embedding_types") {
        None => None,
        Some(Value::Array(list)) => {
            if list.is_empty() {
                return Err(BedrockError::malformed(
                    "#/embedding_types: expected minimum item count: 1, found: 0",
                ));
            }
            let mut asked = Vec::new();
            for (i, t) in list.iter().enumerate() {
                asked.push(enum_value(&format!("#/embedding_types/{i}"), t, &TYPES)?);
            }
            Some(TYPES.into_iter().filter(|t| asked.contains(t)).collect())
        }
        Some(v) => return Err(wrong_type("#/embedding_types", "JSONArray", v)),
    };
    Ok(EmbedRequest {
        texts,
        input_type,
        truncate,
        types,
    })
}

fn texts(obj: &Map<String, Value>) -> Result<Vec<String>, BedrockError> {
    let v = &obj["texts"];
    let Value::Array(list) = v else {
        return Err(wrong_type("#/texts", "JSONArray", v));
    };
    if list.len() > MAX_TEXTS {
        return Err(BedrockError::malformed(format!(
            "#/texts: expected maximum item count: {MAX_TEXTS}, found: {}",
            list.len()
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let Value::String(text) = t else {
                return Err(wrong_type(&format!("#/texts/{i}"), "String", t));
            };
            let chars = text.chars().count();
            if chars > MAX_CHARS {
                return Err(BedrockError::malformed(format!(
                    "#/texts/{i}: expected maxLength: {MAX_CHARS}, actual: {chars}"
                )));
            }
            Ok(text.clone())
        })
        .collect()
}

/// What only the tokenizer can tell: with `truncate` NONE, a text over [`MAX_TOKENS`] tokens is
/// refused.
pub fn check_tokens(request: &EmbedRequest, token_counts: &[usize]) -> Result<(), BedrockError> {
    if request.truncate != Truncate::None {
        return Ok(());
    }
    match token_counts.iter().position(|&n| n > MAX_TOKENS) {
        Some(i) => Err(BedrockError::validation(format!(
            "Text #{i} has {} tokens, more than the {MAX_TOKENS} the model takes: shorten it, or \
             set truncate to START or END.",
            token_counts[i]
        ))),
        None => Ok(()),
    }
}

/// The float vector: the model's unit vector, zero-padded to [`DIMENSIONS`].
pub fn vector(embedding: &Embedding) -> Vec<f32> {
    let mut v = embedding.pooled.clone();
    l2_normalize(&mut v);
    v.resize(DIMENSIONS, 0.0);
    v
}

/// Signed bytes, the largest magnitude scaled to 127.
pub fn int8(v: &[f32]) -> Vec<i8> {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        return vec![0; v.len()];
    }
    v.iter()
        .map(|x| (x / max * 127.0).round().clamp(-128.0, 127.0) as i8)
        .collect()
}

/// [`int8`] shifted to 0..=255.
pub fn uint8(v: &[f32]) -> Vec<u8> {
    int8(v)
        .into_iter()
        .map(|q| (i16::from(q) + 128) as u8)
        .collect()
}

/// The sign bits, 8 to a byte, first dimension in the most significant bit.
pub fn ubinary(v: &[f32]) -> Vec<u8> {
    v.chunks(8)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .fold(0u8, |byte, (i, &x)| byte | (u8::from(x > 0.0) << (7 - i)))
        })
        .collect()
}

/// [`ubinary`] as signed bytes: each byte minus 128.
pub fn binary(v: &[f32]) -> Vec<i8> {
    ubinary(v)
        .into_iter()
        .map(|b| (i16::from(b) - 128) as i8)
        .collect()
}

/// The response body for `request`, one embedding per text, in order.
pub fn response(request: &EmbedRequest, embeddings: &[Embedding], id: &str) -> Value {
    let vectors: Vec<Vec<f32>> = embeddings.iter().map(vector).collect();
    let (response_type, embeddings) = match &request.types {
        None => ("embeddings_floats", json!(vectors)),
        Some(types) => {
            let mut by_type = Map::new();
            for &t in types {
                let lists: Value = match t {
                    "float" => json!(vectors),
                    "int8" => json!(vectors.iter().map(|v| int8(v)).collect::<Vec<_>>()),
                    "uint8" => json!(vectors.iter().map(|v| uint8(v)).collect::<Vec<_>>()),
                    "binary" => json!(vectors.iter().map(|v| binary(v)).collect::<Vec<_>>()),
                    _ => json!(vectors.iter().map(|v| ubinary(v)).collect::<Vec<_>>()),
                };
                by_type.insert(t.into(), lists);
            }
            ("embeddings_by_type", Value::Object(by_type))
        }
    };
    json!({
        "id": id,
        "response_type": response_type,
        "embeddings": embeddings,
        "texts": request.texts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<EmbedRequest, String> {
        parse_request(body.as_bytes()).map_err(|e| e.message)
    }

    #[test]
    fn defaults_and_options() {
        let r = parse(r#"{"texts": ["a", ""], "input_type": "search_document"}"#).unwrap();
        assert_eq!(r.texts, ["a", ""]);
        assert_eq!((r.truncate, r.types), (Truncate::None, None));
        let r = parse(
            r#"{"texts": [], "input_type": "clustering", "truncate": "END",
                "embedding_types": ["ubinary", "float", "ubinary"]}"#,
        )
        .unwrap();
        assert_eq!(r.truncate, Truncate::End);
        assert_eq!(r.types, Some(vec!["float", "ubinary"]));
    }

    #[test]
    fn schema_violations() {
        let many = format!(
            r#"{{"texts": {}, "input_type": "search_query"}}"#,
            serde_json::to_string(&vec!["a"; 97]).unwrap()
        );
        let long = format!(
            r#"{{"texts": ["ok", "{}"], "input_type": "search_query"}}"#,
            "é".repeat(MAX_CHARS + 1)
        );
        let cases = [
            (
                many.as_str(),
                "#/texts: expected maximum item count: 96, found: 97",
            ),
            (
                long.as_str(),
                "#/texts/1: expected maxLength: 2048, actual: 2049",
            ),
            (
                r#"{"texts": ["a"]}"#,
                "#: required key [input_type] not found",
            ),
            (
                r#"{"input_type": "search_query"}"#,
                "#: required key [texts] not found",
            ),
            (
                r#"{"texts": "a", "input_type": "search_query"}"#,
                "#/texts: expected type: JSONArray, found: String",
            ),
            (
                r#"{"texts": [1], "input_type": "search_query"}"#,
                "#/texts/0: expected type: String, found: Integer",
            ),
            (
                r#"{"texts": ["a"], "input_type": "query"}"#,
                "#/input_type: query is not a valid enum value",
            ),
            (
                r#"{"texts": ["a"], "input_type": "search_query", "truncate": "LEFT"}"#,
                "#/truncate: LEFT is not a valid enum value",
            ),
            (
                r#"{"texts": ["a"], "input_type": "search_query", "embedding_types": []}"#,
                "#/embedding_types: expected minimum item count: 1, found: 0",
            ),
            (
                r#"{"texts": ["a"], "input_type": "search_query", "embedding_types": ["base64"]}"#,
                "#/embedding_types/0: base64 is not a valid enum value",
            ),
            (
                r#"{"texts": ["a"], "input_type": "search_query", "inputText": "a"}"#,
                "#: extraneous key [inputText] is not permitted",
            ),
        ];
        for (body, detail) in cases {
            assert_eq!(
                parse(body).unwrap_err(),
                format!(
                    "Malformed input request: {detail}, please reformat your input and try again."
                ),
                "{}",
                &body[..body.len().min(80)]
            );
        }
        let exact = format!(
            r#"{{"texts": ["{}"], "input_type": "search_query"}}"#,
            "é".repeat(MAX_CHARS)
        );
        assert!(parse(&exact).is_ok());
        assert!(
            parse(r#"{"images": ["data:image/png;base64,AA=="], "input_type": "image"}"#)
                .unwrap_err()
                .contains("images are not supported")
        );
    }

    #[test]
    fn token_limit_only_without_truncation() {
        let mut r = parse(r#"{"texts": ["a", "b"], "input_type": "search_query"}"#).unwrap();
        assert!(check_tokens(&r, &[3, MAX_TOKENS]).is_ok());
        let err = check_tokens(&r, &[3, MAX_TOKENS + 1]).unwrap_err();
        assert_eq!(err.kind, "ValidationException");
        assert!(
            err.message.contains("Text #1 has 513 tokens"),
            "{}",
            err.message
        );
        r.truncate = Truncate::Start;
        assert!(check_tokens(&r, &[3, 5000]).is_ok());
    }

    #[test]
    fn quantized_types_from_the_float_vector() {
        let mut v = vec![0.0f32; 16];
        v[0] = 0.5;
        v[1] = -0.25;
        v[8] = 0.125;
        v[15] = 0.001;
        assert_eq!(&int8(&v)[..2], &[127, -64]);
        assert_eq!(int8(&v)[8], 32);
        assert_eq!(&uint8(&v)[..3], &[255, 64, 128]);
        assert_eq!(ubinary(&v), [0b1000_0000, 0b1000_0001]);
        assert_eq!(binary(&v), [0, (0b1000_0001u8 as i16 - 128) as i8]);
        assert_eq!(int8(&[0.0; 4]), [0; 4]);
        assert_eq!(ubinary(&vec![1.0; DIMENSIONS]).len(), 128);
    }

    #[test]
    fn model_ids_and_arns() {
        assert_eq!(
            CohereModel::from_model_id("cohere.embed-english-v3"),
            Some(CohereModel::EnglishV3)
        );
        assert_eq!(
            CohereModel::from_model_id(
                "arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-multilingual-v3"
            ),
            Some(CohereModel::MultilingualV3)
        );
        assert_eq!(
            CohereModel::from_model_id("cohere.embed-english-v3:0"),
            None
        );
        assert_eq!(
            CohereModel::MultilingualV3.id(),
            "cohere.embed-multilingual-v3"
        );
    }
}
