//! Amazon Titan Text Embeddings: one text per `InvokeModel` call.
//!
//! V2 (`amazon.titan-embed-text-v2:0`): `{"inputText", "dimensions" (256 | 512 | 1024),
//! "normalize", "embeddingTypes" (["float"], ["binary"] or both)}` → `{"embedding",
//! "embeddingsByType": {"float", "binary"}, "inputTextTokenCount"}`. V1
//! (`amazon.titan-embed-text-v1`): `{"inputText"}` → `{"embedding" (1536 floats),
//! "inputTextTokenCount"}`.

use super::{EmbedOptions, Embedding, TitanVersion};
use crate::aws::error::AwsError;
use serde::Deserialize;
use serde_json::{Value, json};

/// The longest `inputText` Titan accepts, in characters (Unicode scalar values).
pub const MAX_INPUT_CHARS: usize = 50_000;

pub(super) fn validate(options: &EmbedOptions, version: TitanVersion) -> Result<(), AwsError> {
    if options.truncate.is_some() {
        return Err(AwsError::invalid_input(
            "Titan takes no truncate setting (it is Cohere Embed's): drop it",
        ));
    }
    match version {
        TitanVersion::V1 => {
            if options.dimensions.is_some()
                || options.normalize.is_some()
                || options.binary
                || options.int8
                || options.uint8
                || options.ubinary
                || !options.float
            {
                return Err(AwsError::invalid_input(
                    "Titan V1 takes only inputText: drop dimensions, normalize and \
                     embeddingTypes, or use amazon.titan-embed-text-v2:0",
                ));
            }
        }
        TitanVersion::V2 => {
            if let Some(d) = options.dimensions
                && ![256, 512, 1024].contains(&d)
            {
                return Err(AwsError::invalid_input(format!(
                    "Titan V2 makes 256, 512 or 1024 dimensions, not {d}: choose one of those"
                )));
            }
            if options.int8 || options.uint8 || options.ubinary {
                return Err(AwsError::invalid_input(
                    "Titan V2 makes float and binary embeddings only: int8, uint8 and ubinary \
                     are Cohere Embed's",
                ));
            }
            if !options.float && !options.binary {
                return Err(AwsError::invalid_input(
                    "ask for at least one embedding type (float or binary)",
                ));
            }
        }
    }
    Ok(())
}

/// The request body for one text (already checked against the limits).
pub(super) fn request_body(text: &str, options: &EmbedOptions, version: TitanVersion) -> Value {
    match version {
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
            // Float alone is the default: leaving it out keeps the body what V2 documents.
            if types != ["float"] {
                b.insert("embeddingTypes".into(), json!(types));
            }
            Value::Object(b)
        }
    }
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

pub(super) fn parse(
    body: &[u8],
    options: &EmbedOptions,
    version: TitanVersion,
    resource: &str,
) -> Result<Embedding, AwsError> {
    let bad = |what: String| {
        AwsError::InvalidResponse(format!(
            "Bedrock InvokeModel {resource}: the answer {what}: check that the model id names a \
             Titan text embedding model"
        ))
    };
    let r: TitanResponse = serde_json::from_slice(body)
        .map_err(|e| bad(format!("is not Titan's embedding JSON ({e})")))?;
    let (mut float, mut binary) = match r.embeddings_by_type {
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
        int8: None,
        uint8: None,
        ubinary: None,
        input_text_token_count: r.input_text_token_count.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_leave_defaults_out() {
        let o = EmbedOptions::default();
        assert_eq!(
            request_body("hi", &o, TitanVersion::V2),
            json!({"inputText": "hi"})
        );
        let o = EmbedOptions::default()
            .dimensions(512)
            .normalize(false)
            .types(false, true);
        assert_eq!(
            request_body("hi", &o, TitanVersion::V2),
            json!({"inputText": "hi", "dimensions": 512, "normalize": false,
                   "embeddingTypes": ["binary"]})
        );
        assert_eq!(
            request_body("hi", &EmbedOptions::default(), TitanVersion::V1),
            json!({"inputText": "hi"})
        );
    }

    #[test]
    fn cohere_only_settings_are_refused() {
        use super::super::{EmbeddingType, Truncate};
        let int8 = EmbedOptions::default().embedding_types(&[EmbeddingType::Int8]);
        let err = validate(&int8, TitanVersion::V2).unwrap_err().to_string();
        assert!(err.contains("int8, uint8 and ubinary"), "{err}");
        let err = validate(&int8, TitanVersion::V1).unwrap_err().to_string();
        assert!(err.contains("Titan V1 takes only inputText"), "{err}");
        let t = EmbedOptions::default().truncate(Truncate::End);
        let err = validate(&t, TitanVersion::V2).unwrap_err().to_string();
        assert!(err.contains("no truncate"), "{err}");
    }

    #[test]
    fn answers_are_checked_against_the_request() {
        let o = EmbedOptions::default().dimensions(256).types(true, true);
        let ok = json!({"embedding": vec![0.5f32; 256],
                        "embeddingsByType": {"float": vec![0.5f32; 256], "binary": vec![1u8; 256]},
                        "inputTextTokenCount": 7});
        let e = parse(ok.to_string().as_bytes(), &o, TitanVersion::V2, "m").unwrap();
        assert_eq!(e.input_text_token_count, 7);
        assert_eq!(e.binary.unwrap().len(), 256);
        let float_only = EmbedOptions::default().dimensions(256);
        let err = parse(
            b"{\"embedding\": [0.1]}",
            &float_only,
            TitanVersion::V2,
            "m",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("1 dimensions where 256"), "{err}");
        let cases = [
            (
                json!({"embeddingsByType": {"float": vec![0.5f32; 256]}}),
                "has no binary embedding",
            ),
            (
                json!({"embeddingsByType": {"float": vec![0.5f32; 256], "binary": vec![2u8; 256]}}),
                "values other than 0 and 1",
            ),
            (json!({"embedding": "x"}), "is not Titan's embedding JSON"),
        ];
        for (body, want) in cases {
            let err = parse(body.to_string().as_bytes(), &o, TitanVersion::V2, "m")
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{body}: {err}");
        }
    }
}
