//! Conversions between JavaScript shard inputs and the Rust shard types.

use super::error::{JsResult, encode_error, js_error};
use crate::format::{Document, Dtype, Shard, ShardVectors, encode_shard};
use crate::rank::quantize::{binary_len, normalize, pack_binary, quantize_i8};
use serde_json::{Map, Value};
use wasm_bindgen::{JsCast, JsValue};

pub fn bytes_from_js(value: &JsValue) -> JsResult<Vec<u8>> {
    if let Some(u8s) = value.dyn_ref::<js_sys::Uint8Array>() {
        Ok(u8s.to_vec())
    } else if value.is_instance_of::<js_sys::ArrayBuffer>() {
        Ok(js_sys::Uint8Array::new(value).to_vec())
    } else {
        Err(js_error(
            "InvalidArgument",
            "loadShard expects a Uint8Array or an ArrayBuffer with the shard's bytes",
        ))
    }
}

/// Everything but `vectors`, which is copied out of its `Float32Array` in one go rather than
/// element by element through serde.
#[derive(serde::Deserialize)]
struct ShardInputJs {
    dims: u32,
    ids: Vec<String>,
    metadata: Option<Vec<Option<Map<String, Value>>>>,
    texts: Option<Vec<Option<String>>>,
    dtype: Option<String>,
}

pub fn encode(input: JsValue) -> JsResult<Vec<u8>> {
    let vectors = js_sys::Reflect::get(&input, &"vectors".into())
        .ok()
        .and_then(|v| v.dyn_into::<js_sys::Float32Array>().ok())
        .ok_or_else(|| {
            js_error(
                "InvalidArgument",
                "encodeShard: `vectors` must be a Float32Array of ids.length × dims values",
            )
        })?
        .to_vec();
    super::error::reject_unknown_keys(
        &input,
        &["dims", "vectors", "ids", "metadata", "texts", "dtype"],
        "encodeShard input",
    )?;
    let input: ShardInputJs = serde_wasm_bindgen::from_value(input)
        .map_err(|e| js_error("InvalidArgument", &format!("encodeShard input: {e}")))?;
    let count = input.ids.len();
    let dims = input.dims as usize;
    if dims == 0 || vectors.len() != count * dims {
        return Err(js_error(
            "InvalidArgument",
            &format!(
                "encodeShard: {} vector values for {count} ids of {dims} dimensions (expected {})",
                vectors.len(),
                count * dims
            ),
        ));
    }
    let column = |name: &str, len: Option<usize>| match len {
        Some(n) if n != count => Err(js_error(
            "InvalidArgument",
            &format!("encodeShard: {name} has {n} entries for {count} ids"),
        )),
        _ => Ok(()),
    };
    column("metadata", input.metadata.as_ref().map(Vec::len))?;
    column("texts", input.texts.as_ref().map(Vec::len))?;
    let dtype: Dtype = input
        .dtype
        .as_deref()
        .unwrap_or("f32")
        .parse()
        .map_err(encode_error)?;
    let vectors = to_dtype(vectors, dims, dtype);
    let mut metadata = input.metadata.unwrap_or_default().into_iter();
    let mut texts = input.texts.unwrap_or_default().into_iter();
    let docs = input
        .ids
        .into_iter()
        .map(|id| Document {
            id,
            metadata: metadata.next().flatten(),
            text: texts.next().flatten(),
        })
        .collect();
    encode_shard(&Shard {
        dims: input.dims,
        vectors,
        docs,
    })
    .map_err(encode_error)
}

/// Normalizes `f32` input and converts it to the requested encoding.
fn to_dtype(mut v: Vec<f32>, dims: usize, dtype: Dtype) -> ShardVectors {
    v.chunks_exact_mut(dims).for_each(|row| {
        normalize(row);
    });
    match dtype {
        Dtype::F32 => ShardVectors::F32(v),
        Dtype::I8 => {
            let mut codes = vec![0i8; v.len()];
            let scales = v
                .chunks_exact(dims)
                .zip(codes.chunks_exact_mut(dims))
                .map(|(row, c)| quantize_i8(row, c))
                .collect();
            ShardVectors::I8 { codes, scales }
        }
        Dtype::Binary => {
            let n = binary_len(dims);
            let mut bits = vec![0u8; v.len() / dims * n];
            v.chunks_exact(dims)
                .zip(bits.chunks_exact_mut(n))
                .for_each(|(row, out)| pack_binary(row, out));
            ShardVectors::Binary(bits)
        }
    }
}
