//! Documents to add: checking them, what to ask the model for, and packing their embeddings
//! into one shard in the collection's encoding.

use super::ClientError;
use crate::aws::bedrock::{EmbedOptions, Embedding, InputType, ModelFamily, TitanVersion};
use crate::format::{Document, Dtype, MAX_ID_BYTES, Shard, ShardVectors};
use crate::rank::quantize::{normalize, pack_bits, quantize_i8};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// One document to add.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Doc {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

impl Doc {
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> Self {
        Doc {
            id: id.into(),
            text: text.into(),
            metadata: None,
        }
    }

    pub fn metadata(mut self, metadata: Value) -> Self {
        if let Value::Object(m) = metadata {
            self.metadata = Some(m);
        }
        self
    }
}

/// Refuses what the shard encoder or the model would refuse, naming the document, before
/// any Bedrock call is paid for.
pub(crate) fn check(docs: &[Doc]) -> Result<(), ClientError> {
    if docs.is_empty() {
        return Err(ClientError::invalid(
            "add: no documents; pass [{id, text, metadata?}, ...]",
        ));
    }
    let mut seen = HashSet::with_capacity(docs.len());
    for (i, d) in docs.iter().enumerate() {
        if d.id.is_empty() || d.id.len() > MAX_ID_BYTES {
            return Err(ClientError::invalid(format!(
                "add: document #{i} has an id of {} bytes; ids are 1 to {MAX_ID_BYTES} bytes",
                d.id.len()
            )));
        }
        if !seen.insert(d.id.as_str()) {
            return Err(ClientError::invalid(format!(
                "add: id {:?} appears twice; give each document once",
                d.id
            )));
        }
        if d.text.trim().is_empty() {
            return Err(ClientError::invalid(format!(
                "add: document {:?} has no text to embed",
                d.id
            )));
        }
    }
    Ok(())
}

/// What to ask the model for: documents or queries, at the collection's size and encoding.
pub fn embed_options(
    family: ModelFamily,
    dims: u32,
    dtype: Dtype,
    input: InputType,
) -> EmbedOptions {
    // Queries are always compared as floats (a binary collection packs their signs itself).
    let binary = dtype == Dtype::Binary && input == InputType::SearchDocument;
    let options = EmbedOptions::default().input_type(input);
    match family {
        ModelFamily::Titan(TitanVersion::V2) => options
            .dimensions(dims)
            .normalize(true)
            .types(!binary, binary),
        _ => options.types(!binary, binary),
    }
}

/// The dimensions a model gives when nobody asked for others.
pub(crate) fn default_dims(family: ModelFamily) -> u32 {
    match family {
        ModelFamily::Titan(TitanVersion::V1) => 1536,
        _ => 1024,
    }
}

/// One shard of `docs` in `dtype`, vectors unit-normalised (binary: their signs). The CLI's
/// bulk indexing packs its shards with this too.
pub fn build_shard(
    docs: &[Doc],
    embeddings: Vec<Embedding>,
    dims: u32,
    dtype: Dtype,
) -> Result<Shard, ClientError> {
    if embeddings.len() != docs.len() {
        return Err(ClientError::invalid(format!(
            "Bedrock returned {} embeddings for {} texts",
            embeddings.len(),
            docs.len()
        )));
    }
    let d = dims as usize;
    let wrong = |got: usize| {
        ClientError::Index(crate::index::IndexError::DimensionMismatch {
            what: "embedding Bedrock returned",
            expected: d,
            got,
        })
    };
    let missing = |what: &str, id: &str| {
        ClientError::invalid(format!(
            "Bedrock returned no {what} embedding for {id:?}: check the model supports it"
        ))
    };
    let (mut floats, mut codes, mut scales, mut bits) = (vec![], vec![], vec![], vec![]);
    for (doc, e) in docs.iter().zip(embeddings) {
        if dtype == Dtype::Binary {
            let b = e.binary.ok_or_else(|| missing("binary", &doc.id))?;
            if b.len() != d {
                return Err(wrong(b.len()));
            }
            let mut packed = vec![0u8; d.div_ceil(8)];
            pack_bits(&b, &mut packed);
            bits.extend_from_slice(&packed);
            continue;
        }
        let mut v = e.float.ok_or_else(|| missing("float", &doc.id))?;
        if v.len() != d {
            return Err(wrong(v.len()));
        }
        normalize(&mut v);
        if dtype == Dtype::F32 {
            floats.extend_from_slice(&v);
        } else {
            let mut c = vec![0i8; d];
            scales.push(quantize_i8(&v, &mut c));
            codes.extend_from_slice(&c);
        }
    }
    let vectors = match dtype {
        Dtype::F32 => ShardVectors::F32(floats),
        Dtype::I8 => ShardVectors::I8 { codes, scales },
        Dtype::Binary => ShardVectors::Binary(bits),
    };
    Ok(Shard {
        dims,
        vectors,
        docs: docs
            .iter()
            .map(|doc| Document {
                id: doc.id.clone(),
                metadata: doc.metadata.clone(),
                text: Some(doc.text.clone()),
            })
            .collect(),
    })
}
