//! One seed object: decoding from untrusted bytes (plain or gzip JSON) and encoding.

use super::{SeedError, SeedKey, check_id};
use crate::format::MAX_DIMS;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::io::{Read, Write};

/// The largest seed object read or written, decompressed: 16 MiB. A 1536-dimension embedding is
/// about 30 KB of JSON, so this leaves room for long texts and metadata, while bounding what a
/// hostile object (a gzip bomb included: decompression stops at the limit) can make us hold.
pub const MAX_SEED_BYTES: usize = 16 << 20;

/// The first two bytes of every gzip stream.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How deeply `metadata` may nest; the shard encoder refuses deeper metadata, so an object that
/// could not be imported is refused when it is read.
pub const MAX_METADATA_DEPTH: usize = 100;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One embedding as the seed stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedRecord {
    pub id: String,
    pub text: Option<String>,
    /// As stored: not normalised (shards are; see [`super::records_to_shards`]).
    pub embedding: Vec<f32>,
    /// `None` when the object has none, `null`, or `{}`.
    pub metadata: Option<Map<String, Value>>,
}

/// What is wrong with a seed object's bytes, or with a record to be written.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    #[error("{size} bytes is more than the {limit}-byte limit for one seed object")]
    TooLarge { size: u64, limit: usize },
    #[error(
        "it decompresses to more than the {limit}-byte limit for one seed object (a gzip bomb, \
         or not a seed object); decompression was stopped there"
    )]
    GzipTooLarge { limit: usize },
    #[error("it starts like gzip (1f 8b) but does not decompress: {0}")]
    BadGzip(String),
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error(
        "JSON but not an object: a seed object is {{\"id\", \"text\", \"embedding\", \
         \"metadata\", \"dimension\"}}, at least {{\"embedding\"}}"
    )]
    NotObject,
    #[error("not a seed object: {0}")]
    BadShape(String),
    #[error("\"embedding\" is missing or null")]
    MissingEmbedding,
    #[error("\"embedding\" is {0}, not an array of numbers")]
    EmbeddingNotArray(&'static str),
    #[error("\"embedding\" is empty")]
    EmptyEmbedding,
    #[error("\"embedding\"[{index}] is {found}, not a number")]
    NonNumeric { index: usize, found: &'static str },
    #[error("\"embedding\"[{index}] is {value:e}, which is not a finite 32-bit float")]
    NonFinite { index: usize, value: f64 },
    #[error("\"embedding\" has more than {limit} values")]
    TooManyDims { limit: u32 },
    #[error("\"dimension\" is {declared} but \"embedding\" has {actual} values")]
    DimensionMismatch { declared: u64, actual: usize },
    #[error("\"id\" is {body:?} but the key names {key:?}")]
    IdMismatch { body: String, key: String },
    #[error("\"{field}\" is {found}; expected {expected}")]
    BadField {
        field: &'static str,
        found: &'static str,
        expected: &'static str,
    },
    #[error("\"metadata\" is nested {depth} levels deep; the limit is {limit}")]
    MetadataTooDeep { depth: usize, limit: usize },
    #[error("the id cannot be stored: {0}")]
    BadId(String),
}

impl SeedRecord {
    /// Decodes the object stored at `key` (plain or gzip JSON, whatever the suffix says), taking
    /// the id from the key when the body has none.
    pub fn decode(key: &SeedKey, bytes: &[u8]) -> Result<Self, SeedError> {
        decode_body(&key.id, bytes).map_err(|problem| SeedError::Invalid {
            key: key.key.clone(),
            problem,
        })
    }

    /// The seed's full shape, `{"id","text","embedding","metadata","dimension"}`, as compact
    /// JSON. Refuses what [`SeedRecord::decode`] would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, SeedError> {
        self.encode_json().map_err(|problem| SeedError::Unwritable {
            id: self.id.clone(),
            problem,
        })
    }

    /// [`SeedRecord::encode`], gzip-compressed: the body of a `.json.gz` object.
    pub fn encode_gzip(&self) -> Result<Vec<u8>, SeedError> {
        let json = self.encode()?;
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(json.len() / 2),
            flate2::Compression::default(),
        );
        gz.write_all(&json)
            .and_then(|()| gz.finish())
            .map_err(|e| SeedError::Unwritable {
                id: self.id.clone(),
                problem: Problem::BadGzip(e.to_string()),
            })
    }

    fn encode_json(&self) -> Result<Vec<u8>, Problem> {
        check_id(&self.id).map_err(Problem::BadId)?;
        check_embedding(&self.embedding)?;
        let empty = Map::new();
        let metadata = self.metadata.as_ref().unwrap_or(&empty);
        check_metadata_depth(metadata)?;
        #[derive(Serialize)]
        struct Out<'a> {
            id: &'a str,
            text: Option<&'a str>,
            embedding: &'a [f32],
            metadata: &'a Map<String, Value>,
            dimension: usize,
        }
        let json = serde_json::to_vec(&Out {
            id: &self.id,
            text: self.text.as_deref(),
            embedding: &self.embedding,
            metadata,
            dimension: self.embedding.len(),
        })
        .map_err(|e| Problem::BadShape(e.to_string()))?;
        if json.len() > MAX_SEED_BYTES {
            return Err(Problem::TooLarge {
                size: json.len() as u64,
                limit: MAX_SEED_BYTES,
            });
        }
        Ok(json)
    }
}

fn check_embedding(v: &[f32]) -> Result<(), Problem> {
    if v.is_empty() {
        return Err(Problem::EmptyEmbedding);
    }
    if v.len() > MAX_DIMS as usize {
        return Err(Problem::TooManyDims { limit: MAX_DIMS });
    }
    if let Some(index) = v.iter().position(|x| !x.is_finite()) {
        return Err(Problem::NonFinite {
            index,
            value: f64::from(v[index]),
        });
    }
    Ok(())
}

fn check_metadata_depth(m: &Map<String, Value>) -> Result<(), Problem> {
    let mut deepest = 1;
    let mut stack: Vec<(&Value, usize)> = m.values().map(|v| (v, 2)).collect();
    while let Some((v, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
    if deepest > MAX_METADATA_DEPTH {
        return Err(Problem::MetadataTooDeep {
            depth: deepest,
            limit: MAX_METADATA_DEPTH,
        });
    }
    Ok(())
}

/// Decompresses at most [`MAX_SEED_BYTES`]; more is an error, found without inflating it all.
fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, Problem> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(MAX_SEED_BYTES));
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_SEED_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Problem::BadGzip(e.to_string()))?;
    if out.len() > MAX_SEED_BYTES {
        return Err(Problem::GzipTooLarge {
            limit: MAX_SEED_BYTES,
        });
    }
    Ok(out)
}

fn decode_body(key_id: &str, bytes: &[u8]) -> Result<SeedRecord, Problem> {
    if bytes.len() > MAX_SEED_BYTES {
        return Err(Problem::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_SEED_BYTES,
        });
    }
    let inflated;
    let mut json = bytes;
    if bytes.starts_with(&GZIP_MAGIC) {
        inflated = gunzip(bytes)?;
        json = &inflated;
    }
    let json = json.strip_prefix(UTF8_BOM).unwrap_or(json);
    // serde would read a struct from an array too (by position): only objects are seed objects.
    match json.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => return Err(Problem::NotJson("the object is empty".into())),
        Some(_) => {
            return Err(match serde_json::from_slice::<IgnoredAny>(json) {
                Ok(_) => Problem::NotObject,
                Err(e) => not_json(json, &e),
            });
        }
    }
    let raw: Raw = serde_json::from_slice(json).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Problem::BadShape(e.to_string()),
        _ => not_json(json, &e),
    })?;

    let embedding = match raw.embedding {
        None => return Err(Problem::MissingEmbedding),
        Some(EmbeddingField::Bad(p)) => return Err(p),
        Some(EmbeddingField::Values(v)) => v,
    };
    match raw.dimension {
        None => {}
        Some(Value::Number(n)) if n.as_u64().is_some() => {
            let declared = n.as_u64().unwrap_or_default();
            if declared != embedding.len() as u64 {
                return Err(Problem::DimensionMismatch {
                    declared,
                    actual: embedding.len(),
                });
            }
        }
        Some(other) => return Err(bad_field("dimension", &other, "a whole number")),
    }
    let id = match raw.id {
        None => key_id.to_string(),
        Some(Value::String(s)) => s,
        // Python writes whatever it was given: `store_embedding(5, ...)` stores `"id": 5` at
        // `embeddings/5.json`.
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        Some(other) => return Err(bad_field("id", &other, "a string")),
    };
    if id != key_id {
        return Err(Problem::IdMismatch {
            body: id,
            key: key_id.to_string(),
        });
    }
    let text = match raw.text {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => return Err(bad_field("text", &other, "a string or null")),
    };
    let metadata = match raw.metadata {
        None => None,
        Some(Value::Object(m)) => {
            check_metadata_depth(&m)?;
            Some(m).filter(|m| !m.is_empty())
        }
        Some(other) => return Err(bad_field("metadata", &other, "an object or null")),
    };
    Ok(SeedRecord {
        id,
        text,
        embedding,
        metadata,
    })
}

fn not_json(json: &[u8], e: &serde_json::Error) -> Problem {
    // Python's json.dumps writes NaN and Infinity for non-finite floats; JSON has no such values.
    let python_non_finite = [&b"NaN"[..], b"Infinity"].iter().any(|token| {
        json.windows(token.len() + 1)
            .any(|w| matches!(w[0], b'[' | b',' | b':' | b' ' | b'-') && &w[1..] == *token)
    });
    let hint = if python_non_finite {
        " (NaN or Infinity, as Python writes non-finite floats, is not JSON: the embedding must \
         be finite)"
    } else {
        ""
    };
    Problem::NotJson(format!("{e}{hint}"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn bad_field(field: &'static str, v: &Value, expected: &'static str) -> Problem {
    let found = match v {
        Value::Number(n) if n.as_f64().is_some_and(|x| x.fract() != 0.0) => "a fraction",
        Value::Number(n) if n.as_i64().is_some_and(|x| x < 0) => "negative",
        _ => kind(v),
    };
    Problem::BadField {
        field,
        found,
        expected,
    }
}

/// The fields read; others are ignored. `Option` so that missing and `null` read as `None`.
#[derive(Deserialize)]
struct Raw {
    id: Option<Value>,
    text: Option<Value>,
    embedding: Option<EmbeddingField>,
    metadata: Option<Value>,
    dimension: Option<Value>,
}

/// The embedding, or what is wrong with it (found while parsing, without a `Value` per number).
enum EmbeddingField {
    Values(Vec<f32>),
    Bad(Problem),
}

impl<'de> Deserialize<'de> for EmbeddingField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EmbeddingVisitor)
    }
}

struct EmbeddingVisitor;

impl EmbeddingVisitor {
    fn not_array(found: &'static str) -> EmbeddingField {
        EmbeddingField::Bad(Problem::EmbeddingNotArray(found))
    }
}

impl<'de> Visitor<'de> for EmbeddingVisitor {
    type Value = EmbeddingField;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of numbers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EmbeddingField, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        let mut bad = None;
        let mut index = 0usize;
        while let Some(elem) = seq.next_element::<Elem>()? {
            if bad.is_none() {
                match elem {
                    Elem::Number(value) => {
                        let x = value as f32;
                        if !x.is_finite() {
                            bad = Some(Problem::NonFinite { index, value });
                        } else if values.len() >= MAX_DIMS as usize {
                            bad = Some(Problem::TooManyDims { limit: MAX_DIMS });
                            values = Vec::new();
                        } else {
                            values.push(x);
                        }
                    }
                    Elem::Other(found) => bad = Some(Problem::NonNumeric { index, found }),
                }
            }
            index += 1;
        }
        Ok(match bad {
            Some(p) => EmbeddingField::Bad(p),
            None if values.is_empty() => EmbeddingField::Bad(Problem::EmptyEmbedding),
            None => EmbeddingField::Values(values),
        })
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<EmbeddingField, E> {
        Ok(Self::not_array("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<EmbeddingField, E> {
        Ok(Self::not_array("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<EmbeddingField, E> {
        Ok(Self::not_array("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<EmbeddingField, E> {
        Ok(Self::not_array("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<EmbeddingField, E> {
        Ok(Self::not_array("a string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<EmbeddingField, E> {
        Ok(Self::not_array("null"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EmbeddingField, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::not_array("an object"))
    }
}

/// One element of the embedding array: a number, or what else it is.
enum Elem {
    Number(f64),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Elem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ElemVisitor)
    }
}

struct ElemVisitor;

impl<'de> Visitor<'de> for ElemVisitor {
    type Value = Elem;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Elem, E> {
        Ok(Elem::Number(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Elem, E> {
        Ok(Elem::Number(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Elem, E> {
        Ok(Elem::Number(v as f64))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Elem, E> {
        Ok(Elem::Other("a boolean"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Elem, E> {
        Ok(Elem::Other("a string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Elem, E> {
        Ok(Elem::Other("null"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Elem, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Elem::Other("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Elem, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Elem::Other("an object"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::DEFAULT_PREFIX;
    use super::*;
    use serde_json::json;

    fn key(id: &str) -> SeedKey {
        SeedKey::new(DEFAULT_PREFIX, id, false).unwrap()
    }

    fn decode(id: &str, bytes: &[u8]) -> Result<SeedRecord, Problem> {
        match SeedRecord::decode(&key(id), bytes) {
            Ok(r) => Ok(r),
            Err(SeedError::Invalid { key: k, problem }) => {
                assert_eq!(k, format!("embeddings/{id}.json"));
                Err(problem)
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    fn problem(body: Value) -> Problem {
        decode("doc1", body.to_string().as_bytes()).expect_err("should be refused")
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    fn full() -> SeedRecord {
        let mut m = Map::new();
        m.insert("category".into(), json!("tech"));
        SeedRecord {
            id: "doc1".into(),
            text: Some("Python is a programming language".into()),
            embedding: vec![0.1, -0.25, 3.0],
            metadata: Some(m),
        }
    }

    #[test]
    fn reads_every_shape_the_seed_writes() {
        // EmbeddingService.store_document: the full shape (Python's separators).
        let r = decode(
            "doc1",
            br#"{"id": "doc1", "text": "Python is a programming language", "embedding": [0.1, -0.25, 3], "metadata": {"category": "tech"}, "dimension": 3}"#,
        )
        .unwrap();
        assert_eq!(r, full());
        // store_embedding(id, text, embedding): no metadata.
        let r = decode(
            "doc1",
            br#"{"id": "doc1", "text": "t", "embedding": [1.0, 2.0], "dimension": 2}"#,
        )
        .unwrap();
        assert_eq!((r.text.as_deref(), r.metadata), (Some("t"), None));
        // store_embedding(id, embedding): id and embedding.
        let r = decode("doc1", br#"{"id": "doc1", "embedding": [1, 2]}"#).unwrap();
        assert_eq!((r.id.as_str(), r.embedding), ("doc1", vec![1.0, 2.0]));
        // The quick start and store_compressed: the embedding alone; the id is the key's.
        let r = decode("k-7", br#"{"embedding": [0.5]}"#).unwrap();
        assert_eq!(
            r,
            SeedRecord {
                id: "k-7".into(),
                text: None,
                embedding: vec![0.5],
                metadata: None
            }
        );
        // An integer id (Python writes what it is given), nulls, {} metadata, unknown fields,
        // a byte order mark and surrounding whitespace.
        let r = decode(
            "5",
            b"\xEF\xBB\xBF \n{\"id\": 5, \"text\": null, \"metadata\": {}, \"embedding\": [1], \"dimension\": null, \"model\": \"titan\"}\n",
        )
        .unwrap();
        assert_eq!((r.id.as_str(), r.text, r.metadata), ("5", None, None));
    }

    #[test]
    fn gzip_is_recognised_by_its_magic_under_either_suffix() {
        let plain = br#"{"embedding": [0.25, 0.5]}"#;
        let gz = gzip(plain);
        let gz_key = SeedKey::new(DEFAULT_PREFIX, "z", true).unwrap();
        // Natively the .json.gz body arrives compressed; in a browser already decompressed.
        let a = SeedRecord::decode(&gz_key, &gz).unwrap();
        let b = SeedRecord::decode(&gz_key, plain).unwrap();
        let c = SeedRecord::decode(&key("z"), &gz).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.embedding, vec![0.25, 0.5]);
        // Concatenated gzip members are one stream.
        let mut two = gzip(br#"{"embedding": "#);
        two.extend(gzip(b"[1, 2]}"));
        assert_eq!(decode("z", &two).unwrap().embedding, vec![1.0, 2.0]);
    }

    #[test]
    fn encode_writes_the_seed_full_shape() {
        let json = full().encode().unwrap();
        assert_eq!(
            String::from_utf8(json.clone()).unwrap(),
            r#"{"id":"doc1","text":"Python is a programming language","embedding":[0.1,-0.25,3.0],"metadata":{"category":"tech"},"dimension":3}"#
        );
        assert_eq!(decode("doc1", &json).unwrap(), full());
        // metadata {} and text null when there are none, as the seed's readers expect.
        let bare = SeedRecord {
            id: "b".into(),
            text: None,
            embedding: vec![1.0],
            metadata: None,
        };
        let v: Value = serde_json::from_slice(&bare.encode().unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"id": "b", "text": null, "embedding": [1.0], "metadata": {}, "dimension": 1})
        );
        let gz = full().encode_gzip().unwrap();
        assert!(gz.starts_with(&GZIP_MAGIC));
        assert_eq!(gunzip(&gz).unwrap(), json);
        assert_eq!(decode("doc1", &gz).unwrap(), full());
    }

    #[test]
    fn f32_values_survive_a_round_trip_exactly() {
        let embedding: Vec<f32> = (0..1024)
            .map(|i| ((i as f32) * 0.618_034).sin() / 7.0 + f32::EPSILON * i as f32)
            .chain([f32::MAX, f32::MIN_POSITIVE, -1e-45, 0.0])
            .collect();
        let r = SeedRecord {
            embedding,
            ..full()
        };
        assert_eq!(decode("doc1", &r.encode().unwrap()).unwrap(), r);
    }

    #[test]
    fn every_bad_object_names_its_problem() {
        use Problem::*;
        assert_eq!(problem(json!({"id": "doc1"})), MissingEmbedding);
        assert_eq!(problem(json!({"embedding": null})), MissingEmbedding);
        assert_eq!(problem(json!({"embedding": []})), EmptyEmbedding);
        assert_eq!(
            problem(json!({"embedding": "0.1,0.2"})),
            EmbeddingNotArray("a string")
        );
        assert_eq!(
            problem(json!({"embedding": {"a": 1}})),
            EmbeddingNotArray("an object")
        );
        assert_eq!(
            problem(json!({"embedding": 3})),
            EmbeddingNotArray("a number")
        );
        assert_eq!(
            problem(json!({"embedding": [0.1, "0.2"]})),
            NonNumeric {
                index: 1,
                found: "a string"
            }
        );
        assert_eq!(
            problem(json!({"embedding": [0.1, 0.2, null]})),
            NonNumeric {
                index: 2,
                found: "null"
            }
        );
        assert_eq!(
            problem(json!({"embedding": [[0.1], 0.2]})),
            NonNumeric {
                index: 0,
                found: "an array"
            }
        );
        // Finite as JSON (f64) but not as f32.
        assert_eq!(
            problem(json!({"embedding": [0.0, 1e39]})),
            NonFinite {
                index: 1,
                value: 1e39
            }
        );
        assert_eq!(
            problem(json!({"embedding": [1, 2, 3], "dimension": 1024})),
            DimensionMismatch {
                declared: 1024,
                actual: 3
            }
        );
        assert_eq!(
            problem(json!({"embedding": [1], "dimension": "1"})),
            BadField {
                field: "dimension",
                found: "a string",
                expected: "a whole number"
            }
        );
        assert_eq!(
            problem(json!({"embedding": [1], "dimension": 1.5})),
            BadField {
                field: "dimension",
                found: "a fraction",
                expected: "a whole number"
            }
        );
        assert_eq!(
            problem(json!({"embedding": [1], "dimension": -1})),
            BadField {
                field: "dimension",
                found: "negative",
                expected: "a whole number"
            }
        );
        assert_eq!(
            problem(json!({"id": "doc2", "embedding": [1]})),
            IdMismatch {
                body: "doc2".into(),
                key: "doc1".into()
            }
        );
        assert_eq!(
            problem(json!({"id": ["doc1"], "embedding": [1]})),
            BadField {
                field: "id",
                found: "an array",
                expected: "a string"
            }
        );
        assert_eq!(
            problem(json!({"text": 7, "embedding": [1]})),
            BadField {
                field: "text",
                found: "a number",
                expected: "a string or null"
            }
        );
        assert_eq!(
            problem(json!({"metadata": ["tech"], "embedding": [1]})),
            BadField {
                field: "metadata",
                found: "an array",
                expected: "an object or null"
            }
        );
        assert_eq!(problem(json!([1.0, 2.0])), NotObject);
        assert_eq!(problem(json!("embedding")), NotObject);
        let many = vec![0.5f32; MAX_DIMS as usize + 1];
        assert_eq!(
            problem(json!({ "embedding": many })),
            TooManyDims { limit: MAX_DIMS }
        );
        let mut deep = json!(1);
        for _ in 0..MAX_METADATA_DEPTH {
            deep = json!({ "d": deep });
        }
        assert_eq!(
            problem(json!({"embedding": [1], "metadata": deep})),
            MetadataTooDeep {
                depth: MAX_METADATA_DEPTH + 1,
                limit: MAX_METADATA_DEPTH
            }
        );
        assert!(matches!(
            decode("doc1", br#"{"embedding": [1], "embedding": [2]}"#),
            Err(BadShape(m)) if m.contains("duplicate field")
        ));
    }

    #[test]
    fn what_is_not_json_says_so() {
        for body in [
            &b""[..],
            b"   ",
            b"{\"embedding\": [1, 2",
            b"not json",
            b"{]",
        ] {
            assert!(
                matches!(decode("x", body), Err(Problem::NotJson(_))),
                "{body:?}: {:?}",
                decode("x", body)
            );
        }
        // Python's json.dumps([float("nan")]) writes NaN; the message says why that fails.
        let err = decode("x", br#"{"embedding": [0.1, NaN]}"#).unwrap_err();
        assert!(
            matches!(&err, Problem::NotJson(m) if m.contains("NaN or Infinity")),
            "{err}"
        );
        let err = decode("x", br#"{"embedding": [-Infinity]}"#).unwrap_err();
        assert!(err.to_string().contains("NaN or Infinity"), "{err}");
        let err = decode("x", br#"{"embedding": [1e400]}"#).unwrap_err();
        assert!(
            matches!(&err, Problem::NotJson(m) if m.contains("out of range")),
            "{err}"
        );
        // Corrupt gzip.
        let mut gz = gzip(br#"{"embedding": [1]}"#);
        let n = gz.len();
        gz[n / 2] ^= 0xff;
        gz.truncate(n - 4);
        assert!(matches!(decode("x", &gz), Err(Problem::BadGzip(_))));
        assert!(matches!(
            decode("x", &[0x1f, 0x8b]),
            Err(Problem::BadGzip(_))
        ));
    }

    #[test]
    fn errors_name_the_key() {
        let err = SeedRecord::decode(&key("doc9"), br#"{"embedding": []}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "seed object embeddings/doc9.json: \"embedding\" is empty"
        );
    }

    #[test]
    fn size_is_bounded_plain_and_while_decompressing() {
        let mut big = br#"{"embedding": [1], "text": ""#.to_vec();
        big.resize(MAX_SEED_BYTES + 1, b'a');
        assert_eq!(
            decode("x", &big).unwrap_err(),
            Problem::TooLarge {
                size: MAX_SEED_BYTES as u64 + 1,
                limit: MAX_SEED_BYTES
            }
        );
        // Gzip bombs: one member of the limit plus one byte, and 1 GiB of zeros in 5 MB (1024
        // concatenated members, one gzip stream), which decompression stops reading at the limit.
        let one_more = gzip(&vec![b' '; MAX_SEED_BYTES + 1]);
        let member = gzip(&vec![0u8; 1 << 20]);
        let bomb: Vec<u8> = member
            .iter()
            .copied()
            .cycle()
            .take(member.len() * 1024)
            .collect();
        assert!(bomb.len() < MAX_SEED_BYTES / 2, "{}", bomb.len());
        for bomb in [one_more, bomb] {
            assert_eq!(
                decode("x", &bomb).unwrap_err(),
                Problem::GzipTooLarge {
                    limit: MAX_SEED_BYTES
                }
            );
        }
        // Exactly at the limit decompresses (and then fails as JSON, being zeros).
        let at_limit = gzip(&vec![b' '; MAX_SEED_BYTES]);
        assert!(matches!(decode("x", &at_limit), Err(Problem::NotJson(_))));
    }

    #[test]
    fn encode_refuses_what_decode_would_refuse() {
        let bad = |r: SeedRecord| match r.encode() {
            Err(SeedError::Unwritable { problem, .. }) => problem,
            other => panic!("expected Unwritable, got {other:?}"),
        };
        assert_eq!(
            bad(SeedRecord {
                embedding: vec![],
                ..full()
            }),
            Problem::EmptyEmbedding
        );
        assert!(matches!(
            bad(SeedRecord {
                embedding: vec![1.0, f32::NAN],
                ..full()
            }),
            Problem::NonFinite { index: 1, value } if value.is_nan()
        ));
        assert!(matches!(
            bad(SeedRecord {
                id: "a//b".into(),
                ..full()
            }),
            Problem::BadId(_)
        ));
        assert!(matches!(
            bad(SeedRecord {
                text: Some("x".repeat(MAX_SEED_BYTES)),
                ..full()
            }),
            Problem::TooLarge { .. }
        ));
        assert!(matches!(
            full().encode_gzip().map(|_| ()).and(
                SeedRecord {
                    embedding: vec![f32::INFINITY],
                    ..full()
                }
                .encode_gzip()
                .map(|_| ())
            ),
            Err(SeedError::Unwritable { .. })
        ));
    }
}
