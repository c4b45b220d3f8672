//! Titan Text Embeddings' request and response bodies, validated the way Bedrock validates them
//! (JSON-schema messages such as `#/dimensions: 300 is not a valid enum value`).
//!
//! V2 (`amazon.titan-embed-text-v2:0`): `{"inputText", "dimensions" (256 | 512 | 1024, default
//! 1024), "normalize" (default true), "embeddingTypes" (["float"] | ["binary"] | both, default
//! float)}` → `{"embedding", "embeddingsByType", "inputTextTokenCount"}`. `embedding` is the float
//! vector and is left out when only binary was asked for; binary vectors are arrays of 0/1.
//!
//! V1 (`amazon.titan-embed-text-v1`): `{"inputText"}` → `{"embedding" (1536), "inputTextTokenCount"}`.

use super::error::BedrockError;
use crate::model::project;
use crate::model::{Embedding, MODEL_DIMENSIONS, l2_normalize};
use serde_json::{Map, Value, json};

/// Characters Titan accepts in `inputText`.
pub const MAX_INPUT_CHARS: usize = 50_000;
/// Tokens Titan accepts in `inputText` (the model itself reads the first 256).
pub const MAX_INPUT_TOKENS: usize = 8_192;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TitanModel {
    /// `amazon.titan-embed-text-v1`
    V1,
    /// `amazon.titan-embed-text-v2:0`
    V2,
}

impl TitanModel {
    /// The model a `modelId` names: a model id or a foundation-model ARN.
    pub fn from_model_id(model_id: &str) -> Option<TitanModel> {
        let id = match model_id.strip_prefix("arn:aws:bedrock:") {
            Some(rest) => rest.split_once("::foundation-model/")?.1,
            None => model_id,
        };
        match id {
            "amazon.titan-embed-text-v1" => Some(TitanModel::V1),
            "amazon.titan-embed-text-v2:0" => Some(TitanModel::V2),
            _ => None,
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            TitanModel::V1 => "amazon.titan-embed-text-v1",
            TitanModel::V2 => "amazon.titan-embed-text-v2:0",
        }
    }
}

/// A validated request.
#[derive(Clone, Debug, PartialEq)]
pub struct InvokeRequest {
    pub input_text: String,
    pub dimensions: usize,
    pub normalize: bool,
    pub float: bool,
    pub binary: bool,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Integer",
        Value::Number(_) => "BigDecimal",
        Value::String(_) => "String",
        Value::Array(_) => "JSONArray",
        Value::Object(_) => "JSONObject",
    }
}

pub(super) fn wrong_type(path: &str, expected: &str, found: &Value) -> BedrockError {
    BedrockError::malformed(format!(
        "{path}: expected type: {expected}, found: {}",
        type_name(found)
    ))
}

/// Parses and validates a request body for `model`.
pub fn parse_request(model: TitanModel, body: &[u8]) -> Result<InvokeRequest, BedrockError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        BedrockError::malformed(format!("the request body is not valid JSON ({e})"))
    })?;
    let Value::Object(obj) = &value else {
        return Err(wrong_type("#", "JSONObject", &value));
    };
    let allowed: &[&str] = match model {
        TitanModel::V1 => &["inputText"],
        TitanModel::V2 => &["inputText", "dimensions", "normalize", "embeddingTypes"],
    };
    if let Some(key) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(BedrockError::malformed(format!(
            "#: extraneous key [{key}] is not permitted"
        )));
    }
    let input_text = input_text(obj)?;
    let mut request = InvokeRequest {
        input_text,
        dimensions: match model {
            TitanModel::V1 => 1536,
            TitanModel::V2 => 1024,
        },
        normalize: true,
        float: true,
        binary: false,
    };
    if let Some(v) = obj.get("dimensions") {
        let Some(d) = v.as_u64().filter(|_| v.is_u64() || v.is_i64()) else {
            return Err(match v {
                Value::Number(n) if n.is_i64() => {
                    BedrockError::malformed(format!("#/dimensions: {n} is not a valid enum value"))
                }
                _ => wrong_type("#/dimensions", "Integer", v),
            });
        };
        if ![256, 512, 1024].contains(&d) {
            return Err(BedrockError::malformed(format!(
                "#/dimensions: {d} is not a valid enum value"
            )));
        }
        request.dimensions = d as usize;
    }
    if let Some(v) = obj.get("normalize") {
        request.normalize = v
            .as_bool()
            .ok_or_else(|| wrong_type("#/normalize", "Boolean", v))?;
    }
    if let Some(v) = obj.get("embeddingTypes") {
        let Value::Array(types) = v else {
            return Err(wrong_type("#/embeddingTypes", "JSONArray", v));
        };
        if types.is_empty() {
            return Err(BedrockError::malformed(
                "#/embeddingTypes: expected minimum item count: 1, found: 0",
            ));
        }
        request.float = false;
        for (i, t) in types.iter().enumerate() {
            match t.as_str() {
                Some("float") => request.float = true,
                Some("binary") => request.binary = true,
                Some(other) => {
                    return Err(BedrockError::malformed(format!(
                        "#/embeddingTypes/{i}: {other} is not a valid enum value"
                    )));
                }
                None => return Err(wrong_type(&format!("#/embeddingTypes/{i}"), "String", t)),
            }
        }
    }
    Ok(request)
}

fn input_text(obj: &Map<String, Value>) -> Result<String, BedrockError> {
    let Some(v) = obj.get("inputText") else {
        return Err(BedrockError::malformed(
            "#: required key [inputText] not found",
        ));
    };
    let Value::String(text) = v else {
        return Err(wrong_type("#/inputText", "String", v));
    };
    let chars = text.chars().count();
    if chars == 0 {
        return Err(BedrockError::malformed(
            "#/inputText: expected minLength: 1, actual: 0",
        ));
    }
    if chars > MAX_INPUT_CHARS {
        return Err(BedrockError::malformed(format!(
            "#/inputText: expected maxLength: {MAX_INPUT_CHARS}, actual: {chars}"
        )));
    }
    Ok(text.clone())
}

/// Checks what only the tokenizer can tell: Titan's token limit.
pub fn check_tokens(token_count: usize) -> Result<(), BedrockError> {
    if token_count > MAX_INPUT_TOKENS {
        return Err(BedrockError::validation(format!(
            "400 Bad Request: Too many input tokens. Max input tokens: {MAX_INPUT_TOKENS}, \
             request input token count: {token_count} "
        )));
    }
    Ok(())
}

/// The float vector Titan would answer with, from the model's embedding.
pub fn vector(request: &InvokeRequest, embedding: &Embedding) -> Vec<f32> {
    debug_assert_eq!(embedding.pooled.len(), MODEL_DIMENSIONS);
    if request.normalize {
        let mut v = project::to_dimensions(&embedding.normalized(), request.dimensions)
            .expect("validated dimensions");
        // Zero-padding keeps unit length; the 256-d projection shortens a little.
        l2_normalize(&mut v);
        v
    } else {
        project::to_dimensions(&embedding.pooled, request.dimensions).expect("validated dimensions")
    }
}

/// The response body.
pub fn response(model: TitanModel, request: &InvokeRequest, embedding: &Embedding) -> Value {
    let v = vector(request, embedding);
    match model {
        TitanModel::V1 => json!({
            "embedding": v,
            "inputTextTokenCount": embedding.token_count,
        }),
        TitanModel::V2 => {
            let mut by_type = Map::new();
            if request.binary {
                by_type.insert("binary".into(), json!(project::binary(&v)));
            }
            let mut out = Map::new();
            if request.float {
                by_type.insert("float".into(), json!(v));
                out.insert("embedding".into(), json!(v));
            }
            out.insert("embeddingsByType".into(), Value::Object(by_type));
            out.insert("inputTextTokenCount".into(), json!(embedding.token_count));
            Value::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(model: TitanModel, body: &str) -> Result<InvokeRequest, String> {
        parse_request(model, body.as_bytes()).map_err(|e| e.message)
    }

    #[test]
    fn defaults_and_options() {
        let r = parse(TitanModel::V2, r#"{"inputText": "hi"}"#).unwrap();
        assert_eq!(
            (r.dimensions, r.normalize, r.float, r.binary),
            (1024, true, true, false)
        );
        let r = parse(
            TitanModel::V2,
            r#"{"inputText": "hi", "dimensions": 256, "normalize": false, "embeddingTypes": ["binary"]}"#,
        )
        .unwrap();
        assert_eq!(
            (r.dimensions, r.normalize, r.float, r.binary),
            (256, false, false, true)
        );
        let r = parse(TitanModel::V1, r#"{"inputText": "hi"}"#).unwrap();
        assert_eq!(r.dimensions, 1536);
    }

    #[test]
    fn schema_violations() {
        let cases = [
            (
                r#"{"inputText": ""}"#,
                "#/inputText: expected minLength: 1, actual: 0",
            ),
            (r#"{}"#, "#: required key [inputText] not found"),
            (
                r#"{"inputText": 5}"#,
                "#/inputText: expected type: String, found: Integer",
            ),
            (
                r#"{"inputText": "a", "dimensions": 300}"#,
                "#/dimensions: 300 is not a valid enum value",
            ),
            (
                r#"{"inputText": "a", "dimensions": -1}"#,
                "#/dimensions: -1 is not a valid enum value",
            ),
            (
                r#"{"inputText": "a", "dimensions": "256"}"#,
                "#/dimensions: expected type: Integer, found: String",
            ),
            (
                r#"{"inputText": "a", "dimensions": 256.5}"#,
                "#/dimensions: expected type: Integer, found: BigDecimal",
            ),
            (
                r#"{"inputText": "a", "normalize": "yes"}"#,
                "#/normalize: expected type: Boolean, found: String",
            ),
            (
                r#"{"inputText": "a", "embeddingTypes": "float"}"#,
                "#/embeddingTypes: expected type: JSONArray, found: String",
            ),
            (
                r#"{"inputText": "a", "embeddingTypes": []}"#,
                "#/embeddingTypes: expected minimum item count: 1, found: 0",
            ),
            (
                r#"{"inputText": "a", "embeddingTypes": ["int8"]}"#,
                "#/embeddingTypes/0: int8 is not a valid enum value",
            ),
            (
                r#"{"inputText": "a", "texts": []}"#,
                "#: extraneous key [texts] is not permitted",
            ),
            (r#"["a"]"#, "#: expected type: JSONObject, found: JSONArray"),
        ];
        for (body, detail) in cases {
            assert_eq!(
                parse(TitanModel::V2, body).unwrap_err(),
                format!(
                    "Malformed input request: {detail}, please reformat your input and try again."
                ),
                "{body}"
            );
        }
        assert!(
            parse(TitanModel::V1, r#"{"inputText": "a", "dimensions": 1024}"#)
                .unwrap_err()
                .contains("extraneous key [dimensions]")
        );
        let long = format!(r#"{{"inputText": "{}"}}"#, "é".repeat(MAX_INPUT_CHARS + 1));
        assert!(
            parse(TitanModel::V2, &long)
                .unwrap_err()
                .contains("expected maxLength: 50000, actual: 50001")
        );
        let exact = format!(r#"{{"inputText": "{}"}}"#, "é".repeat(MAX_INPUT_CHARS));
        assert!(parse(TitanModel::V2, &exact).is_ok());
        assert!(
            parse(TitanModel::V2, "not json")
                .unwrap_err()
                .starts_with("Malformed input request: the request body is not valid JSON")
        );
    }

    #[test]
    fn model_ids_and_arns() {
        assert_eq!(
            TitanModel::from_model_id("amazon.titan-embed-text-v2:0"),
            Some(TitanModel::V2)
        );
        assert_eq!(
            TitanModel::from_model_id(
                "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v1"
            ),
            Some(TitanModel::V1)
        );
        assert_eq!(
            TitanModel::from_model_id("amazon.titan-embed-text-v2"),
            None
        );
        assert_eq!(TitanModel::from_model_id("cohere.embed-english-v3"), None);
    }
}
