//! Cohere Embed English v3 and Multilingual v3: up to 96 texts per `InvokeModel` call.
//!
//! As the Amazon Bedrock User Guide documents them ("Cohere Embed v3",
//! <https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed-v3.html>):
//!
//! - request `{"texts": [string], "input_type": "search_document" | "search_query" |
//!   "classification" | "clustering", "truncate": "NONE" | "START" | "END", "embedding_types":
//!   ["float" | "int8" | "uint8" | "binary" | "ubinary", ...]}`. `texts` and `input_type` are
//!   required; the guide's table allows 0 to 96 texts per call and 0 to 2048 characters per text.
//!   `truncate` defaults to `NONE` (an error when a text is longer than the model takes);
//!   without `embedding_types` the answer is the "embeddings floats" type.
//! - response `{"id", "response_type": "embeddings_floats", "embeddings": [[float]], "texts"}`,
//!   or with `embedding_types`: `{"id", "response_type": "embeddings_by_type", "embeddings":
//!   {"float": [[...]], "int8": [[...]], ...}, "texts"}`. Always 1024 dimensions.
//!
//! `binary` and `ubinary` come packed, 8 dimensions to a byte, the first dimension in the most
//! significant bit, a bit set where the float value is positive (Cohere's "int8 & binary
//! embeddings" announcement describes 1 bit per dimension; the bit order is the one of Cohere's
//! format as vLLM's Cohere-compatible server documents it). `ubinary` bytes are 0..=255; `binary`
//! bytes are the same bits as a signed byte, i.e. the unsigned value minus 128 (the convention of
//! sentence-transformers' `quantize_embeddings`, whose precisions are named after Cohere's).
//!
//! The body carries no token count: [`super::BedrockClient`] reads Bedrock's
//! `X-Amzn-Bedrock-Input-Token-Count` header instead, when the answer has one.

use super::{EmbedOptions, Embedding};
use crate::aws::error::AwsError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Texts one `InvokeModel` call may carry.
pub const MAX_TEXTS: usize = 96;
/// Characters (Unicode scalar values) one text may have.
pub const MAX_CHARS: usize = 2048;
/// The vectors' length: fixed for the v3 English and Multilingual models.
pub const DIMENSIONS: usize = 1024;

pub(super) fn validate(options: &EmbedOptions) -> Result<(), AwsError> {
    if options.input_type.is_none() {
        return Err(AwsError::invalid_input(
            "Cohere Embed v3 needs an input type: InputType::SearchDocument for the documents \
             you index, InputType::SearchQuery for the queries you search with",
        ));
    }
    if let Some(d) = options.dimensions
        && d as usize != DIMENSIONS
    {
        return Err(AwsError::invalid_input(format!(
            "Cohere Embed v3 makes {DIMENSIONS} dimensions, not {d}: drop dimensions or use \
             {DIMENSIONS}"
        )));
    }
    if options.normalize.is_some() {
        return Err(AwsError::invalid_input(
            "Cohere Embed v3 takes no normalize setting (it is Titan's): drop it",
        ));
    }
    if !(options.float || options.int8 || options.uint8 || options.binary || options.ubinary) {
        return Err(AwsError::invalid_input(
            "ask for at least one embedding type (float, int8, uint8, binary or ubinary)",
        ));
    }
    Ok(())
}

/// The embedding types asked for, in Cohere's order.
fn types(options: &EmbedOptions) -> Vec<&'static str> {
    [
        (options.float, "float"),
        (options.int8, "int8"),
        (options.uint8, "uint8"),
        (options.binary, "binary"),
        (options.ubinary, "ubinary"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// The request body for one call. The texts are checked one by one by the caller; the batch's
/// size is checked here because this is where batches are made.
pub(super) fn request_body<S: AsRef<str>>(
    texts: &[S],
    options: &EmbedOptions,
) -> Result<Value, AwsError> {
    if texts.len() > MAX_TEXTS {
        return Err(AwsError::invalid_input(format!(
            "{} texts in one call is more than Cohere Embed's {MAX_TEXTS}: send at most \
             {MAX_TEXTS} at a time (embed_many batches them for you)",
            texts.len()
        )));
    }
    let input_type = options.input_type.ok_or_else(|| {
        AwsError::invalid_input("Cohere Embed v3 needs an input type (InputType)")
    })?;
    let mut b = serde_json::Map::new();
    let texts: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
    b.insert("texts".into(), json!(texts));
    b.insert("input_type".into(), json!(input_type.as_str()));
    if let Some(t) = options.truncate {
        b.insert("truncate".into(), json!(t.as_str()));
    }
    let types = types(options);
    // Without embedding_types the answer is the plain float list: ask for types only when
    // something other than float alone is wanted.
    if types != ["float"] {
        b.insert("embedding_types".into(), json!(types));
    }
    Ok(Value::Object(b))
}

#[derive(Deserialize)]
struct CohereResponse {
    embeddings: Value,
    response_type: Option<String>,
}

/// The per-type lists of `embeddings_by_type`.
#[derive(Deserialize, Default)]
struct ByType {
    float: Option<Value>,
    int8: Option<Value>,
    uint8: Option<Value>,
    binary: Option<Value>,
    ubinary: Option<Value>,
}

/// One embedding per text, in the order sent.
pub(super) fn parse(
    body: &[u8],
    options: &EmbedOptions,
    count: usize,
    resource: &str,
) -> Result<Vec<Embedding>, AwsError> {
    let bad = |what: String| {
        AwsError::InvalidResponse(format!(
            "Bedrock InvokeModel {resource}: the answer {what}: check that the model id names a \
             Cohere Embed v3 model"
        ))
    };
    let r: CohereResponse = serde_json::from_slice(body)
        .map_err(|e| bad(format!("is not Cohere Embed's JSON ({e})")))?;
    let by_type = match r.embeddings {
        Value::Array(_) => ByType {
            float: Some(r.embeddings),
            ..ByType::default()
        },
        Value::Object(_) => serde_json::from_value(r.embeddings)
            .map_err(|e| bad(format!("has unreadable embeddings by type ({e})")))?,
        other => {
            return Err(bad(format!(
                "has embeddings that are neither a list nor an object: {}",
                kind_of(&other)
            )));
        }
    };
    let plain = by_type.int8.is_none()
        && by_type.uint8.is_none()
        && by_type.binary.is_none()
        && by_type.ubinary.is_none();
    match r.response_type.as_deref() {
        Some("embeddings_floats") if !plain => {
            return Err(bad(
                "says embeddings_floats but has embeddings of other types".into(),
            ));
        }
        _ => {}
    }

    let float: Option<Vec<Vec<f32>>> = take(options.float, by_type.float, "float", count, &bad)?;
    let int8: Option<Vec<Vec<i8>>> = take(options.int8, by_type.int8, "int8", count, &bad)?;
    let uint8: Option<Vec<Vec<u8>>> = take(options.uint8, by_type.uint8, "uint8", count, &bad)?;
    let binary: Option<Vec<Vec<i8>>> = take(options.binary, by_type.binary, "binary", count, &bad)?;
    let ubinary: Option<Vec<Vec<u8>>> =
        take(options.ubinary, by_type.ubinary, "ubinary", count, &bad)?;

    check_lengths("float", &float, DIMENSIONS, &bad)?;
    check_lengths("int8", &int8, DIMENSIONS, &bad)?;
    check_lengths("uint8", &uint8, DIMENSIONS, &bad)?;
    check_lengths("binary", &binary, DIMENSIONS / 8, &bad)?;
    check_lengths("ubinary", &ubinary, DIMENSIONS / 8, &bad)?;

    let mut float = float.map(Vec::into_iter);
    let mut int8 = int8.map(Vec::into_iter);
    let mut uint8 = uint8.map(Vec::into_iter);
    let mut binary = binary.map(Vec::into_iter);
    let mut ubinary = ubinary.map(Vec::into_iter);
    Ok((0..count)
        .map(|_| Embedding {
            float: float.as_mut().and_then(Iterator::next),
            int8: int8.as_mut().and_then(Iterator::next),
            uint8: uint8.as_mut().and_then(Iterator::next),
            binary: binary
                .as_mut()
                .and_then(Iterator::next)
                .map(|b| unpack_signed(&b)),
            ubinary: ubinary.as_mut().and_then(Iterator::next),
            // Per text, Cohere's answer has no count; the client tallies the header's.
            input_text_token_count: 0,
        })
        .collect())
}

/// The vectors of one type: required when asked for, one per text; dropped when not asked for.
fn take<T: DeserializeOwned>(
    wanted: bool,
    value: Option<Value>,
    name: &str,
    count: usize,
    bad: &dyn Fn(String) -> AwsError,
) -> Result<Option<Vec<T>>, AwsError> {
    if !wanted {
        return Ok(None);
    }
    let Some(value) = value else {
        return Err(bad(format!("has no {name} embeddings")));
    };
    let vectors: Vec<T> = serde_json::from_value(value)
        .map_err(|e| bad(format!("has unreadable {name} embeddings ({e})")))?;
    if vectors.len() != count {
        return Err(bad(format!(
            "has {} {name} embeddings for {count} texts",
            vectors.len()
        )));
    }
    Ok(Some(vectors))
}

fn check_lengths<T>(
    name: &str,
    vectors: &Option<Vec<Vec<T>>>,
    want: usize,
    bad: &dyn Fn(String) -> AwsError,
) -> Result<(), AwsError> {
    match vectors.iter().flatten().map(Vec::len).find(|&n| n != want) {
        Some(n) => Err(bad(format!(
            "has a {name} embedding of {n} values where {want} were expected"
        ))),
        None => Ok(()),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Cohere's signed packed bits as one 0/1 per dimension (the form Titan's binary has).
pub(super) fn unpack_signed(packed: &[i8]) -> Vec<u8> {
    packed
        .iter()
        .flat_map(|&b| {
            let u = (i16::from(b) + 128) as u8;
            (0..8).rev().map(move |bit| (u >> bit) & 1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{EmbeddingType, InputType, Truncate};
    use super::*;

    fn doc() -> EmbedOptions {
        EmbedOptions::default().input_type(InputType::SearchDocument)
    }

    #[test]
    fn request_bodies() {
        let body = request_body(&["a", "b"], &doc()).unwrap();
        assert_eq!(
            body,
            json!({"texts": ["a", "b"], "input_type": "search_document"})
        );
        let o = EmbedOptions::default()
            .input_type(InputType::SearchQuery)
            .truncate(Truncate::End)
            .embedding_types(&[
                EmbeddingType::Ubinary,
                EmbeddingType::Float,
                EmbeddingType::Int8,
            ]);
        assert_eq!(
            request_body(&["q"], &o).unwrap(),
            json!({"texts": ["q"], "input_type": "search_query", "truncate": "END",
                   "embedding_types": ["float", "int8", "ubinary"]})
        );
        for (t, s) in [
            (InputType::Classification, "classification"),
            (InputType::Clustering, "clustering"),
        ] {
            assert_eq!(t.as_str(), s);
        }
        assert_eq!(Truncate::None.as_str(), "NONE");
        assert_eq!(Truncate::Start.as_str(), "START");
    }

    #[test]
    fn limits_and_options_are_checked_before_sending() {
        let texts = vec!["x"; MAX_TEXTS + 1];
        let err = request_body(&texts, &doc()).unwrap_err().to_string();
        assert!(
            err.contains("97 texts") && err.contains("Cohere Embed's 96"),
            "{err}"
        );
        assert!(request_body(&texts[..MAX_TEXTS], &doc()).is_ok());

        let err = validate(&EmbedOptions::default()).unwrap_err().to_string();
        assert!(err.contains("needs an input type"), "{err}");
        let err = validate(&doc().dimensions(256)).unwrap_err().to_string();
        assert!(err.contains("1024 dimensions, not 256"), "{err}");
        assert!(validate(&doc().dimensions(1024)).is_ok());
        let err = validate(&doc().normalize(true)).unwrap_err().to_string();
        assert!(err.contains("no normalize"), "{err}");
        let err = validate(&doc().embedding_types(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least one embedding type"), "{err}");
    }

    fn floats(n: usize, value: f32) -> Vec<Vec<f32>> {
        vec![vec![value; DIMENSIONS]; n]
    }

    #[test]
    fn embeddings_floats_answers() {
        let body = json!({"id": "abc", "response_type": "embeddings_floats",
                          "embeddings": [vec![0.5f32; DIMENSIONS], vec![-0.5f32; DIMENSIONS]],
                          "texts": ["a", "b"]});
        let out = parse(body.to_string().as_bytes(), &doc(), 2, "m").unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].float.as_ref().unwrap()[0], -0.5);
        assert!(out[0].int8.is_none() && out[0].binary.is_none());
        assert_eq!(out[0].input_text_token_count, 0);
        // Asked for float only but given by type (embedding_types ["float"]): the same.
        let body = json!({"response_type": "embeddings_by_type",
                          "embeddings": {"float": floats(1, 0.25)}, "texts": ["a"]});
        let out = parse(body.to_string().as_bytes(), &doc(), 1, "m").unwrap();
        assert_eq!(out[0].float.as_ref().unwrap()[3], 0.25);
    }

    #[test]
    fn embeddings_by_type_answers() {
        let o = doc().embedding_types(&[
            EmbeddingType::Int8,
            EmbeddingType::Uint8,
            EmbeddingType::Binary,
            EmbeddingType::Ubinary,
        ]);
        // Dimension 0 positive, 1..7 not: ubinary 0b1000_0000 = 128, binary 128 - 128 = 0.
        let mut ubin = vec![0u8; DIMENSIONS / 8];
        ubin[0] = 128;
        ubin[1] = 0b0000_0011;
        let bin: Vec<i8> = ubin.iter().map(|&u| (i16::from(u) - 128) as i8).collect();
        let body = json!({"id": "x", "response_type": "embeddings_by_type", "texts": ["a"],
                          "embeddings": {"int8": [vec![-128i8; DIMENSIONS]],
                                         "uint8": [vec![255u8; DIMENSIONS]],
                                         "binary": [bin], "ubinary": [ubin.clone()],
                                         "float": floats(1, 1.0)}});
        let out = parse(body.to_string().as_bytes(), &o, 1, "m").unwrap();
        let e = &out[0];
        assert!(e.float.is_none(), "not asked for, so dropped");
        assert_eq!(e.int8.as_ref().unwrap()[0], -128);
        assert_eq!(e.uint8.as_ref().unwrap()[0], 255);
        assert_eq!(e.ubinary.as_ref().unwrap(), &ubin);
        let bits = e.binary.as_ref().unwrap();
        assert_eq!(bits.len(), DIMENSIONS);
        assert_eq!(
            &bits[..16],
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
        );
    }

    #[test]
    fn malformed_answers_are_refused() {
        let o = doc().embedding_types(&[EmbeddingType::Float, EmbeddingType::Int8]);
        let cases = [
            (json!({"embeddings": "x"}), "neither a list nor an object"),
            (json!({"texts": []}), "is not Cohere Embed's JSON"),
            (
                json!({"embeddings": {"float": floats(2, 0.1)}}),
                "has no int8 embeddings",
            ),
            (
                json!({"embeddings": {"float": floats(1, 0.1), "int8": [vec![0i8; DIMENSIONS]]}}),
                "has 1 float embeddings for 2 texts",
            ),
            (
                json!({"embeddings": {"float": floats(2, 0.1),
                                      "int8": [vec![0; DIMENSIONS], vec![300; DIMENSIONS]]}}),
                "unreadable int8 embeddings",
            ),
            (
                json!({"embeddings": {"float": [vec![0.1; 1024], vec![0.1; 384]],
                                      "int8": [vec![0; DIMENSIONS], vec![0; DIMENSIONS]]}}),
                "float embedding of 384 values where 1024",
            ),
            (
                json!({"response_type": "embeddings_floats",
                       "embeddings": {"float": floats(2, 0.1),
                                      "int8": [vec![0; DIMENSIONS], vec![0; DIMENSIONS]]}}),
                "says embeddings_floats",
            ),
        ];
        for (body, want) in cases {
            let err = parse(
                body.to_string().as_bytes(),
                &o,
                2,
                "cohere.embed-english-v3",
            )
            .unwrap_err();
            assert!(matches!(err, AwsError::InvalidResponse(_)));
            let err = err.to_string();
            assert!(err.contains(want), "{body}: {err}");
            assert!(err.contains("cohere.embed-english-v3"), "{err}");
        }
        let bin = doc().embedding_types(&[EmbeddingType::Binary]);
        let body = json!({"embeddings": {"binary": [vec![0i8; 100]]}});
        let err = parse(body.to_string().as_bytes(), &bin, 1, "m").unwrap_err();
        assert!(err.to_string().contains("100 values where 128"), "{err}");
    }

    #[test]
    fn signed_bits_unpack_most_significant_first() {
        assert_eq!(unpack_signed(&[-128]), [0; 8]);
        assert_eq!(unpack_signed(&[127]), [1; 8]);
        assert_eq!(unpack_signed(&[0]), [1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(unpack_signed(&[-127]), [0, 0, 0, 0, 0, 0, 0, 1]);
    }
}
