//! Shard encode/decode. The byte layout is specified in `docs/FORMAT.md`; keep the two in step.

use super::{Dtype, FormatError, MAX_DIMS, MAX_ID_BYTES, checksum};
use serde_json::{Map, Value};
use std::collections::HashMap;

pub const MAGIC: &[u8; 8] = b"S3VSHARD";
pub const VERSION: u16 = 1;
pub const HEADER_LEN: usize = 128;
/// Where the checksum starts covering: everything after the magic and the checksum itself.
const CHECKSUM_FROM: usize = 16;
const SECTION_TABLE_AT: usize = 32;
const SECTION_NAMES: [&str; SECTIONS] = [
    "vectors section",
    "scales section",
    "ids section",
    "metadata section",
    "text section",
];
const SECTIONS: usize = 5;
/// Sections start on 8-byte boundaries; the vectors section on 64 (one cache line, any SIMD width).
const SECTION_ALIGN: usize = 8;
const VECTORS_ALIGN: usize = 64;

/// The vectors of a shard, in one of the three encodings, row-major.
#[derive(Clone, Debug, PartialEq)]
pub enum ShardVectors {
    F32(Vec<f32>),
    /// `codes` row-major, one `scale` per vector: `v[i] ≈ codes[i] · scale`.
    I8 {
        codes: Vec<i8>,
        scales: Vec<f32>,
    },
    /// Packed sign bits, `ceil(dims / 8)` bytes per vector, most significant bit first.
    Binary(Vec<u8>),
}

impl ShardVectors {
    pub fn dtype(&self) -> Dtype {
        match self {
            ShardVectors::F32(_) => Dtype::F32,
            ShardVectors::I8 { .. } => Dtype::I8,
            ShardVectors::Binary(_) => Dtype::Binary,
        }
    }
}

/// What a shard stores besides the vector of a document.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    pub id: String,
    pub metadata: Option<Map<String, Value>>,
    pub text: Option<String>,
}

/// An owned shard, the input of [`encode_shard`].
#[derive(Clone, Debug, PartialEq)]
pub struct Shard {
    pub dims: u32,
    pub vectors: ShardVectors,
    pub docs: Vec<Document>,
}

/// A decoded shard borrowing its vectors from the input bytes (no copy of the largest part);
/// ids, metadata and text are parsed and owned.
#[derive(Clone, Debug)]
pub struct ShardRef<'a> {
    pub dims: u32,
    pub dtype: Dtype,
    /// The vectors section, `count × dtype.row_bytes(dims)` bytes, little-endian.
    pub vectors: &'a [u8],
    /// For `i8`: one little-endian `f32` scale per vector. Empty otherwise.
    pub scales: &'a [u8],
    pub docs: Vec<Document>,
    /// XXH3-64 of the shard as recorded in (and verified against) its header.
    pub checksum: u64,
}

impl ShardRef<'_> {
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub fn row_bytes(&self) -> usize {
        self.dtype.row_bytes(self.dims as usize)
    }

    /// The raw bytes of vector `row`.
    pub fn row(&self, row: usize) -> &[u8] {
        let n = self.row_bytes();
        &self.vectors[row * n..(row + 1) * n]
    }

    /// The scale of `i8` vector `row` (1.0 for other encodings).
    pub fn scale(&self, row: usize) -> f32 {
        if self.dtype == Dtype::I8 {
            read_f32(&self.scales[row * 4..])
        } else {
            1.0
        }
    }

    /// Copies the shard into an owned [`Shard`].
    pub fn to_owned_shard(&self) -> Shard {
        let vectors = match self.dtype {
            Dtype::F32 => ShardVectors::F32(self.vectors.chunks_exact(4).map(read_f32).collect()),
            Dtype::I8 => ShardVectors::I8 {
                codes: self.vectors.iter().map(|&b| b as i8).collect(),
                scales: self.scales.chunks_exact(4).map(read_f32).collect(),
            },
            Dtype::Binary => ShardVectors::Binary(self.vectors.to_vec()),
        };
        Shard {
            dims: self.dims,
            vectors,
            docs: self.docs.clone(),
        }
    }
}

/// Index of the first NaN or infinity among little-endian `f32`s. Blocks of 64 are checked
/// without an early exit, which lets the check run four values at a time (a `position` over
/// every value does not, and it was a tenth of the time of loading a shard); only a block that
/// has one is searched for it.
fn first_non_finite(bytes: &[u8]) -> Option<usize> {
    let (values, _) = bytes.as_chunks::<4>();
    values.chunks(64).enumerate().find_map(|(block, chunk)| {
        any_non_finite(chunk).then(|| {
            let at = chunk.iter().position(is_non_finite);
            block * 64 + at.unwrap_or(0)
        })
    })
}

/// A little-endian `f32` that is NaN or infinite: its exponent is all ones.
#[inline(always)]
fn is_non_finite(b: &[u8; 4]) -> bool {
    u32::from_le_bytes(*b) & 0x7f80_0000 == 0x7f80_0000
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn any_non_finite(values: &[[u8; 4]]) -> bool {
    values.iter().fold(false, |bad, b| bad | is_non_finite(b))
}

/// On wasm32 by hand: the release profile's opt-level "s" leaves the portable fold scalar.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn any_non_finite(values: &[[u8; 4]]) -> bool {
    use core::arch::wasm32::{
        i32x4_eq, i32x4_splat, v128, v128_and, v128_any_true, v128_load, v128_or,
    };
    let exponent = i32x4_splat(0x7f80_0000);
    let (quads, tail) = values.as_chunks::<4>();
    let mut bad = i32x4_splat(0);
    for q in quads {
        // SAFETY: `q` is 16 readable bytes; `v128_load` has no alignment requirement.
        let x = unsafe { v128_load(q.as_ptr().cast::<v128>()) };
        bad = v128_or(bad, i32x4_eq(v128_and(x, exponent), exponent));
    }
    v128_any_true(bad) || tail.iter().any(is_non_finite)
}

#[inline]
pub(crate) fn read_f32(b: &[u8]) -> f32 {
    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn read_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Encodes a shard. Checks everything [`decode_shard`] would reject, so a shard this writes is
/// always readable.
pub fn encode_shard(shard: &Shard) -> Result<Vec<u8>, FormatError> {
    let dims = shard.dims as usize;
    if shard.dims == 0 || shard.dims > MAX_DIMS {
        return Err(FormatError::BadDims(u64::from(shard.dims)));
    }
    let count = shard.docs.len();
    let count_u32 = u32::try_from(count).map_err(|_| {
        FormatError::Encode(format!(
            "{count} documents is more than a shard holds (2^32 - 1)"
        ))
    })?;
    let dtype = shard.vectors.dtype();
    let (vector_bytes, scale_bytes): (Vec<u8>, Vec<u8>) = match &shard.vectors {
        ShardVectors::F32(v) => {
            check_len("f32 values", v.len(), count * dims, count, dims)?;
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(non_finite(i / dims, i % dims));
            }
            (v.iter().flat_map(|x| x.to_le_bytes()).collect(), Vec::new())
        }
        ShardVectors::I8 { codes, scales } => {
            check_len("i8 codes", codes.len(), count * dims, count, dims)?;
            if scales.len() != count {
                return Err(FormatError::Encode(format!(
                    "{} scales for {count} documents; i8 vectors need one scale each",
                    scales.len()
                )));
            }
            if let Some(i) = codes.iter().position(|&c| c == i8::MIN) {
                return Err(i8_min(i / dims, i % dims));
            }
            if let Some(row) = scales.iter().position(|s| !s.is_finite() || *s < 0.0) {
                return Err(FormatError::BadDocument {
                    row: row as u64,
                    problem: "i8 scale must be finite and not negative".into(),
                });
            }
            (
                codes.iter().map(|&c| c as u8).collect(),
                scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
            )
        }
        ShardVectors::Binary(b) => {
            check_len(
                "binary bytes",
                b.len(),
                count * dtype.row_bytes(dims),
                count,
                dims,
            )?;
            check_binary_padding(b, dims)?;
            (b.clone(), Vec::new())
        }
    };
    check_ids(shard.docs.iter().map(|d| d.id.as_str()))?;

    let ids = string_table(shard.docs.iter().map(|d| d.id.as_bytes()))?;
    let meta_json: Vec<Vec<u8>> = shard
        .docs
        .iter()
        .enumerate()
        .map(|(row, d)| match &d.metadata {
            Some(m) => {
                let depth = m.values().map(json_depth).max().unwrap_or(0) + 1;
                if depth > MAX_METADATA_DEPTH {
                    return Err(FormatError::BadDocument {
                        row: row as u64,
                        problem: format!("metadata is nested {depth} levels deep; the limit is {MAX_METADATA_DEPTH}"),
                    });
                }
                serde_json::to_vec(m).map_err(|e| FormatError::Encode(e.to_string()))
            }
            None => Ok(Vec::new()),
        })
        .collect::<Result<_, _>>()?;
    let metadata = string_table(meta_json.iter().map(Vec::as_slice))?;
    let text = string_table(
        shard
            .docs
            .iter()
            .map(|d| d.text.as_deref().unwrap_or("").as_bytes()),
    )?;

    let mut out = vec![0u8; HEADER_LEN];
    out[..8].copy_from_slice(MAGIC);
    out[16..18].copy_from_slice(&VERSION.to_le_bytes());
    out[18] = dtype.code();
    out[20..24].copy_from_slice(&shard.dims.to_le_bytes());
    out[24..28].copy_from_slice(&count_u32.to_le_bytes());
    let sections = [vector_bytes, scale_bytes, ids, metadata, text];
    for (i, section) in sections.iter().enumerate() {
        let align = if i == 0 { VECTORS_ALIGN } else { SECTION_ALIGN };
        out.resize(out.len().next_multiple_of(align), 0);
        let entry = SECTION_TABLE_AT + i * 16;
        let offset = out.len() as u64;
        out[entry..entry + 8].copy_from_slice(&offset.to_le_bytes());
        out[entry + 8..entry + 16].copy_from_slice(&(section.len() as u64).to_le_bytes());
        out.extend_from_slice(section);
    }
    let sum = checksum(&out[CHECKSUM_FROM..]);
    out[8..16].copy_from_slice(&sum.to_le_bytes());
    Ok(out)
}

fn check_len(
    what: &str,
    got: usize,
    expected: usize,
    count: usize,
    dims: usize,
) -> Result<(), FormatError> {
    if got != expected {
        return Err(FormatError::Encode(format!(
            "{got} {what} for {count} documents of {dims} dimensions (expected {expected})"
        )));
    }
    Ok(())
}

fn non_finite(row: usize, dim: usize) -> FormatError {
    FormatError::BadDocument {
        row: row as u64,
        problem: format!("vector component {dim} is NaN or infinite"),
    }
}

fn i8_min(row: usize, dim: usize) -> FormatError {
    FormatError::BadDocument {
        row: row as u64,
        problem: format!("i8 code at component {dim} is -128; the symmetric range is -127..=127"),
    }
}

/// serde_json refuses to parse JSON nested deeper than 128 levels, so a writer must not produce it.
const MAX_METADATA_DEPTH: usize = 100;

fn json_depth(root: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, depth + 1))),
            _ => {}
        }
    }
    deepest
}

fn check_binary_padding(bytes: &[u8], dims: usize) -> Result<(), FormatError> {
    let used = dims % 8;
    if used == 0 {
        return Ok(());
    }
    let mask = 0xFFu8 >> used;
    let row_bytes = dims.div_ceil(8);
    for (row, v) in bytes.chunks_exact(row_bytes).enumerate() {
        if v[row_bytes - 1] & mask != 0 {
            return Err(FormatError::BadDocument {
                row: row as u64,
                problem: "binary vector has bits set past its last dimension".into(),
            });
        }
    }
    Ok(())
}

fn check_ids<'a>(ids: impl Iterator<Item = &'a str>) -> Result<(), FormatError> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (row, id) in ids.enumerate() {
        if id.is_empty() {
            return Err(FormatError::BadDocument {
                row: row as u64,
                problem: "id is empty".into(),
            });
        }
        if id.len() > MAX_ID_BYTES {
            return Err(FormatError::BadDocument {
                row: row as u64,
                problem: format!("id is {} bytes long; the limit is {MAX_ID_BYTES}", id.len()),
            });
        }
        if let Some(first) = seen.insert(id, row) {
            return Err(FormatError::BadDocument {
                row: row as u64,
                problem: format!("id {id:?} already used by document {first}"),
            });
        }
    }
    Ok(())
}

/// `(count + 1)` little-endian `u32` end offsets (the first is 0), then the concatenated bytes.
fn string_table<'a>(items: impl Iterator<Item = &'a [u8]>) -> Result<Vec<u8>, FormatError> {
    let mut offsets = vec![0u8; 4];
    let mut data = Vec::new();
    for item in items {
        data.extend_from_slice(item);
        let end = u32::try_from(data.len())
            .map_err(|_| FormatError::Encode("a string section exceeds 4 GiB".into()))?;
        offsets.extend_from_slice(&end.to_le_bytes());
    }
    offsets.extend_from_slice(&data);
    Ok(offsets)
}

/// Decodes and fully validates a shard: magic, version, checksum, section bounds, and every
/// document (finite vectors, UTF-8 ids that are unique, metadata that is a JSON object).
pub fn decode_shard(bytes: &[u8]) -> Result<ShardRef<'_>, FormatError> {
    let len = bytes.len() as u64;
    let truncated = |what: &'static str, offset: u64, needed: u64| FormatError::Truncated {
        what,
        offset,
        needed,
        len,
    };
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        let found = String::from_utf8_lossy(&bytes[..bytes.len().min(8)]).into_owned();
        return Err(FormatError::BadMagic { found });
    }
    if bytes.len() < 18 {
        return Err(truncated("header", 0, HEADER_LEN as u64));
    }
    let version = read_u16(bytes, 16);
    if version != VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(truncated("header", 0, HEADER_LEN as u64));
    }
    let expected = read_u64(bytes, 8);
    let actual = checksum(&bytes[CHECKSUM_FROM..]);
    if expected != actual {
        return Err(FormatError::ChecksumMismatch { expected, actual });
    }
    let dtype = Dtype::from_code(bytes[18]).ok_or(FormatError::UnknownDtypeCode(bytes[18]))?;
    if bytes[19] != 0 || read_u32(bytes, 28) != 0 || bytes[112..HEADER_LEN].iter().any(|&b| b != 0)
    {
        return Err(FormatError::Malformed(
            "reserved header bytes are not zero (written by a newer s3vec?)".into(),
        ));
    }
    let dims = read_u32(bytes, 20);
    if dims == 0 || dims > MAX_DIMS {
        return Err(FormatError::BadDims(u64::from(dims)));
    }
    let count = u64::from(read_u32(bytes, 24));

    let mut sections: [&[u8]; SECTIONS] = [&[]; SECTIONS];
    let mut previous_end = HEADER_LEN as u64;
    for (i, name) in SECTION_NAMES.iter().enumerate() {
        let entry = SECTION_TABLE_AT + i * 16;
        let offset = read_u64(bytes, entry);
        let length = read_u64(bytes, entry + 8);
        let align = if i == 0 { VECTORS_ALIGN } else { SECTION_ALIGN } as u64;
        if offset < previous_end || !offset.is_multiple_of(align) {
            return Err(FormatError::Malformed(format!(
                "{name} starts at offset {offset}: sections must follow each other after byte {previous_end}, aligned to {align} bytes"
            )));
        }
        let end = offset
            .checked_add(length)
            .filter(|&e| e <= len)
            .ok_or_else(|| truncated(name, offset, length))?;
        sections[i] = &bytes[offset as usize..end as usize];
        previous_end = end;
    }
    if previous_end != len {
        return Err(FormatError::Malformed(format!(
            "{} bytes after the last section (offset {previous_end})",
            len - previous_end
        )));
    }
    let [vectors, scales, ids, metadata, text] = sections;

    let row_bytes = dtype.row_bytes(dims as usize) as u64;
    let vectors_expected = count.saturating_mul(row_bytes);
    if vectors.len() as u64 != vectors_expected {
        return Err(FormatError::Malformed(format!(
            "vectors section is {} bytes; {count} {dtype} vectors of {dims} dimensions need {vectors_expected}",
            vectors.len()
        )));
    }
    let scales_expected = if dtype == Dtype::I8 { count * 4 } else { 0 };
    if scales.len() as u64 != scales_expected {
        return Err(FormatError::Malformed(format!(
            "scales section is {} bytes; expected {scales_expected}",
            scales.len()
        )));
    }
    match dtype {
        Dtype::F32 => {
            if let Some(i) = first_non_finite(vectors) {
                return Err(non_finite(i / dims as usize, i % dims as usize));
            }
        }
        Dtype::I8 => {
            if let Some(i) = vectors.iter().position(|&b| b as i8 == i8::MIN) {
                return Err(i8_min(i / dims as usize, i % dims as usize));
            }
            if let Some(row) = scales
                .chunks_exact(4)
                .map(read_f32)
                .position(|s| !s.is_finite() || s < 0.0)
            {
                return Err(FormatError::BadDocument {
                    row: row as u64,
                    problem: "i8 scale is negative, NaN or infinite".into(),
                });
            }
        }
        Dtype::Binary => check_binary_padding(vectors, dims as usize)?,
    }

    let ids = read_table(ids, count, "ids section")?;
    let metadata = read_table(metadata, count, "metadata section")?;
    let text = read_table(text, count, "text section")?;
    let mut docs = Vec::with_capacity(count as usize);
    for row in 0..count as usize {
        let bad = |problem: String| FormatError::BadDocument {
            row: row as u64,
            problem,
        };
        let id = std::str::from_utf8(ids[row]).map_err(|e| bad(format!("id is not UTF-8: {e}")))?;
        let metadata = match metadata[row] {
            [] => None,
            json => match serde_json::from_slice::<Value>(json) {
                Ok(Value::Object(map)) => Some(map),
                Ok(_) => return Err(bad("metadata is JSON but not an object".into())),
                Err(e) => return Err(bad(format!("metadata is not valid JSON: {e}"))),
            },
        };
        let text = match text[row] {
            [] => None,
            t => Some(
                std::str::from_utf8(t)
                    .map_err(|e| bad(format!("text is not UTF-8: {e}")))?
                    .to_string(),
            ),
        };
        docs.push(Document {
            id: id.to_string(),
            metadata,
            text,
        });
    }
    check_ids(docs.iter().map(|d| d.id.as_str()))?;
    Ok(ShardRef {
        dims,
        dtype,
        vectors,
        scales,
        docs,
        checksum: expected,
    })
}

/// Splits a string table into its `count` entries, checking the offsets first so a forged table
/// can neither index out of bounds nor make us allocate for entries the bytes cannot hold.
fn read_table<'a>(
    section: &'a [u8],
    count: u64,
    name: &'static str,
) -> Result<Vec<&'a [u8]>, FormatError> {
    let table_len = (count + 1) * 4;
    if (section.len() as u64) < table_len {
        return Err(FormatError::Malformed(format!(
            "{name} is {} bytes, too short for the offset table of {count} documents ({table_len} bytes)",
            section.len()
        )));
    }
    let (table, data) = section.split_at(table_len as usize);
    if read_u32(table, 0) != 0 {
        return Err(FormatError::Malformed(format!(
            "{name}: the first offset must be 0"
        )));
    }
    let mut entries = Vec::with_capacity(count as usize);
    let mut start = 0usize;
    for i in 1..=count as usize {
        let end = read_u32(table, i * 4) as usize;
        if end < start || end > data.len() {
            return Err(FormatError::Malformed(format!(
                "{name}: offset {i} is {end}, outside {start}..={} (offsets must not decrease or pass the data)",
                data.len()
            )));
        }
        entries.push(&data[start..end]);
        start = end;
    }
    if start != data.len() {
        return Err(FormatError::Malformed(format!(
            "{name}: {} bytes after the last entry",
            data.len() - start
        )));
    }
    Ok(entries)
}

/// The document count and the byte range of the ids section, from a shard's first 128 bytes:
/// enough to list a shard's ids with two ranged reads instead of downloading its vectors. The
/// header is not verified against the checksum (that needs the whole shard), so the caller
/// must treat the ids as a hint, checked again when the shard is loaded.
pub fn ids_section(header: &[u8]) -> Result<(u64, std::ops::Range<u64>), FormatError> {
    if header.len() < 8 || &header[..8] != MAGIC {
        let found = String::from_utf8_lossy(&header[..header.len().min(8)]).into_owned();
        return Err(FormatError::BadMagic { found });
    }
    if header.len() < HEADER_LEN {
        return Err(FormatError::Truncated {
            what: "header",
            offset: 0,
            needed: HEADER_LEN as u64,
            len: header.len() as u64,
        });
    }
    let version = read_u16(header, 16);
    if version != VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    let count = u64::from(read_u32(header, 24));
    let entry = SECTION_TABLE_AT + 2 * 16;
    let offset = read_u64(header, entry);
    let length = read_u64(header, entry + 8);
    let end = offset.checked_add(length).ok_or_else(|| {
        FormatError::Malformed(format!(
            "ids section at {offset} of length {length} overflows"
        ))
    })?;
    Ok((count, offset..end))
}

/// The ids of a shard from its ids section (see [`ids_section`]).
pub fn decode_ids(section: &[u8], count: u64) -> Result<Vec<String>, FormatError> {
    read_table(section, count, "ids section")?
        .into_iter()
        .enumerate()
        .map(|(row, id)| {
            std::str::from_utf8(id)
                .map(str::to_string)
                .map_err(|e| FormatError::BadDocument {
                    row: row as u64,
                    problem: format!("id is not UTF-8: {e}"),
                })
        })
        .collect()
}
