//! A collection of loaded shards: one contiguous, 64-byte-aligned store per encoding, searched in
//! place. Nothing here does IO or reads the clock.
//!
//! Every f32 or i8 collection keeps three stores, filled once when a shard is added: unit-length
//! `f32` rows (for `exact` search and for reranking), `i8` rows with a scale each, and packed sign
//! bits. A binary shard carries only bits, so a binary collection answers only `binary` searches.
//!
//! Ids are unique: adding a document whose id is already present replaces it (the last shard
//! added wins), which is how re-indexed documents supersede old ones.

use crate::filter::Filter;
use crate::format::shard::ShardRef;
use crate::format::{Document, Dtype, FormatError};
use crate::rank::quantize::{dequantize_i8, normalize, pack_binary, quantize_i8, unpack_binary};
use crate::rank::select::{self, Ties};
use crate::rank::topk::{Scored, TopK};
use crate::rank::{binary, dot_f32, dot_i8, hamming_distance};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::HashMap;
use thiserror::Error;

/// How a search ranks the collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Cosine similarity against every candidate's `f32` vector.
    #[default]
    Exact,
    /// `i8` dot products pick `k × oversample` candidates, reranked with `f32`.
    Int8,
    /// Hamming distance on sign bits picks `k × oversample` candidates; their `i8` rows narrow
    /// them to `4k`, reranked with `f32`.
    Binary,
}

impl Mode {
    /// Default candidates per result for the quantized modes, chosen from the recall curves in
    /// `docs/BENCHMARKS.md`.
    pub const fn default_oversample(self) -> usize {
        match self {
            Mode::Exact => 1,
            Mode::Int8 => 4,
            Mode::Binary => 32,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Mode::Exact => "exact",
            Mode::Int8 => "int8",
            Mode::Binary => "binary",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = IndexError;
    fn from_str(s: &str) -> Result<Self, IndexError> {
        match s {
            "exact" => Ok(Mode::Exact),
            "int8" => Ok(Mode::Int8),
            "binary" => Ok(Mode::Binary),
            other => Err(IndexError::UnknownMode(other.to_string())),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct SearchOptions<'f> {
    pub k: usize,
    pub mode: Mode,
    /// Candidates per result for `int8` and `binary`; `None` takes [`Mode::default_oversample`].
    pub oversample: Option<usize>,
    pub filter: Option<&'f Filter>,
}

/// One result: the document and its cosine similarity to the query (`-1.0..=1.0`).
#[derive(Clone, Debug, PartialEq)]
pub struct Hit<'a> {
    pub id: &'a str,
    pub score: f32,
    pub metadata: Option<&'a Map<String, Value>>,
    pub text: Option<&'a str>,
}

#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum IndexError {
    #[error(
        "dimension mismatch: the {what} has {got} dimensions but the collection has {expected}; use the same model and `dimensions` setting for documents and queries"
    )]
    DimensionMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error(
        "the shard stores {shard} vectors but the collection holds {collection}; a collection uses one encoding"
    )]
    DtypeMismatch { shard: Dtype, collection: Dtype },
    #[error("the collection is empty: load a shard before searching")]
    Empty,
    #[error("k must be at least 1")]
    ZeroK,
    #[error("oversample must be at least 1")]
    ZeroOversample,
    #[error(
        "the query vector is all zeros, so it has no direction to compare; embed some text first"
    )]
    ZeroQuery,
    #[error("the query vector has a NaN or infinite component at index {0}")]
    NonFiniteQuery(usize),
    #[error(
        "mode {mode:?} needs f32 or i8 vectors, but this collection stores binary vectors; search it with mode \"binary\""
    )]
    ModeUnavailable { mode: &'static str },
    #[error("unknown search mode {0:?}; expected \"exact\", \"int8\" or \"binary\"")]
    UnknownMode(String),
    #[error("the collection would exceed 2^32 - 1 documents")]
    TooManyDocuments,
    #[error(transparent)]
    Format(#[from] FormatError),
}

/// One 64-byte line; stores are slices of these, so every row starts cache-line aligned.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Line([u8; 64]);

#[derive(Default)]
struct AlignedStore {
    lines: Vec<Line>,
}

impl AlignedStore {
    /// Grows (never shrinks) to hold `bytes`, the new lines zeroed. One `write_bytes` (a
    /// `memset`, `memory.fill` on wasm32) instead of `Vec::resize`, which at the release
    /// profile's opt-level "s" wrote the zeros a line at a time: 0.56 s of a 100k × 1024 load
    /// in Chromium.
    fn grow_to_bytes(&mut self, bytes: usize) {
        let want = bytes.div_ceil(64);
        let add = want.saturating_sub(self.lines.len());
        if add == 0 {
            return;
        }
        self.lines.reserve(add);
        let spare = &mut self.lines.spare_capacity_mut()[..add];
        // SAFETY: `spare` is `add` lines of allocated capacity; all-zero bytes are a valid
        // `Line` (it is `Pod`), so once written they are initialised and `set_len` may count them.
        unsafe {
            spare.as_mut_ptr().write_bytes(0, add);
            self.lines.set_len(want);
        }
    }
    /// Capacity for `bytes` in one allocation; a size the allocator refuses is a `false`, not
    /// an abort.
    fn try_reserve_bytes(&mut self, bytes: usize) -> bool {
        let want = bytes.div_ceil(64);
        self.lines
            .try_reserve_exact(want.saturating_sub(self.lines.len()))
            .is_ok()
    }
    fn as_slice<T: bytemuck::Pod>(&self) -> &[T] {
        bytemuck::cast_slice(&self.lines)
    }
    fn as_mut_slice<T: bytemuck::Pod>(&mut self) -> &mut [T] {
        bytemuck::cast_slice_mut(&mut self.lines)
    }
    fn bytes(&self) -> usize {
        self.lines.len() * 64
    }
}

/// Loaded documents, searchable in memory.
#[derive(Default)]
pub struct Collection {
    dims: usize,
    dtype: Option<Dtype>,
    /// Row lengths in elements, padded so kernels see whole SIMD blocks; padding is zero.
    f32_stride: usize,
    i8_stride: usize,
    words: usize,
    f32s: AlignedStore,
    i8s: AlignedStore,
    scales: Vec<f32>,
    bits: AlignedStore,
    docs: Vec<Document>,
    live: Vec<bool>,
    live_count: usize,
    by_id: HashMap<String, u32>,
}

impl Collection {
    pub fn new() -> Self {
        Self::default()
    }

    /// Dimensions, once the first shard fixed them.
    pub fn dims(&self) -> Option<usize> {
        self.dtype.map(|_| self.dims)
    }

    pub fn dtype(&self) -> Option<Dtype> {
        self.dtype
    }

    /// Documents that can be found (removed and replaced ones excluded).
    pub fn len(&self) -> usize {
        self.live_count
    }

    pub fn is_empty(&self) -> bool {
        self.live_count == 0
    }

    /// Bytes held by the vector stores.
    pub fn vector_bytes(&self) -> usize {
        self.f32s.bytes() + self.i8s.bytes() + self.bits.bytes() + self.scales.len() * 4
    }

    /// Makes room for `docs` more documents of `dims` dimensions before shards arrive, so
    /// loading a large collection does not copy its stores as they grow. A hint: it does
    /// nothing if the collection already holds other dimensions, or if the allocator refuses
    /// (the count may come from an untrusted manifest).
    pub fn reserve(&mut self, dims: usize, dtype: Dtype, docs: usize) {
        if dims == 0 || self.dtype.is_some_and(|_| dims != self.dims) {
            return;
        }
        let (f32_stride, i8_stride, words) = Self::strides(dims);
        let total = self.docs.len().saturating_add(docs);
        let mut ok = true;
        if dtype != Dtype::Binary {
            ok &= self
                .f32s
                .try_reserve_bytes(total.saturating_mul(f32_stride).saturating_mul(4));
            ok = ok && self.i8s.try_reserve_bytes(total.saturating_mul(i8_stride));
        }
        ok = ok
            && self
                .bits
                .try_reserve_bytes(total.saturating_mul(words).saturating_mul(8));
        if ok {
            let _ = self.docs.try_reserve(docs);
            let _ = self.live.try_reserve(docs);
            let _ = self.scales.try_reserve(docs);
            let _ = self.by_id.try_reserve(docs);
        }
    }

    fn strides(dims: usize) -> (usize, usize, usize) {
        (
            dims.next_multiple_of(32),
            dims.next_multiple_of(32),
            dims.div_ceil(64),
        )
    }

    /// Adds every document of a decoded shard; returns how many were added. On error nothing
    /// was added.
    pub fn add_shard(&mut self, shard: &ShardRef<'_>) -> Result<usize, IndexError> {
        let dims = shard.dims as usize;
        match self.dtype {
            Some(dtype) => {
                if dims != self.dims {
                    return Err(IndexError::DimensionMismatch {
                        what: "shard",
                        expected: self.dims,
                        got: dims,
                    });
                }
                if dtype != shard.dtype {
                    return Err(IndexError::DtypeMismatch {
                        shard: shard.dtype,
                        collection: dtype,
                    });
                }
            }
            None => {
                self.dims = dims;
                (self.f32_stride, self.i8_stride, self.words) = Self::strides(dims);
            }
        }
        let first = self.docs.len();
        let total = first + shard.len();
        if u32::try_from(total).is_err() {
            return Err(IndexError::TooManyDocuments);
        }
        self.dtype = Some(shard.dtype);
        let has_floats = shard.dtype != Dtype::Binary;
        if has_floats {
            self.f32s.grow_to_bytes(total * self.f32_stride * 4);
            self.i8s.grow_to_bytes(total * self.i8_stride);
        }
        self.bits.grow_to_bytes(total * self.words * 8);
        self.scales.resize(total, 0.0);

        let mut v = vec![0.0f32; dims];
        let mut packed = vec![0u8; dims.div_ceil(8)];
        for row in 0..shard.len() {
            let at = first + row;
            let raw = shard.row(row);
            match shard.dtype {
                Dtype::F32 => {
                    let (values, _) = raw.as_chunks::<4>();
                    v.iter_mut()
                        .zip(values)
                        .for_each(|(x, b)| *x = f32::from_le_bytes(*b));
                    normalize(&mut v);
                }
                Dtype::I8 => {
                    let codes: &[i8] = bytemuck::cast_slice(raw);
                    dequantize_i8(codes, shard.scale(row), &mut v);
                    normalize(&mut v);
                }
                Dtype::Binary => {}
            }
            let bits_row = &mut self.bits.as_mut_slice::<u64>()[at * self.words..][..self.words];
            if has_floats {
                self.f32s.as_mut_slice::<f32>()[at * self.f32_stride..][..dims].copy_from_slice(&v);
                let codes = &mut self.i8s.as_mut_slice::<i8>()[at * self.i8_stride..][..dims];
                self.scales[at] = quantize_i8(&v, codes);
                pack_binary(&v, &mut packed);
                binary::bytes_to_words(&packed, bits_row);
            } else {
                binary::bytes_to_words(raw, bits_row);
            }
        }
        for (row, doc) in shard.docs.iter().enumerate() {
            let at = (first + row) as u32;
            if let Some(old) = self.by_id.insert(doc.id.clone(), at) {
                self.live[old as usize] = false;
                self.live_count -= 1;
            }
            self.docs.push(doc.clone());
            self.live.push(true);
            self.live_count += 1;
        }
        Ok(shard.len())
    }

    /// Removes documents by id; ids not present are ignored. Returns how many were removed.
    pub fn remove<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> usize {
        let mut removed = 0;
        for id in ids {
            if let Some(row) = self.by_id.remove(id) {
                self.live[row as usize] = false;
                self.live_count -= 1;
                removed += 1;
            }
        }
        removed
    }

    /// The ids of the documents that can be found, in the order they were added: the store's
    /// row order, so a pass over their vectors reads memory front to back (in hash order the
    /// 100k × 1024 map took 5 to 10 % longer in node).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.docs
            .iter()
            .zip(&self.live)
            .filter(|&(_, &live)| live)
            .map(|(doc, _)| doc.id.as_str())
    }

    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// A document by id, with score 1.0.
    pub fn get(&self, id: &str) -> Option<Hit<'_>> {
        self.by_id
            .get(id)
            .map(|&row| self.hit(Scored { score: 1.0, row }))
    }

    /// The stored (unit-length) vector of a document, `None` for binary collections.
    pub fn vector(&self, id: &str) -> Option<&[f32]> {
        let row = *self.by_id.get(id)? as usize;
        (self.dtype != Some(Dtype::Binary))
            .then(|| &self.f32s.as_slice::<f32>()[row * self.f32_stride..][..self.dims])
    }

    /// The `k` documents most similar to `query` (cosine similarity), best first; ties broken by
    /// id. The filter is applied before ranking, so a selective filter still yields `k` results
    /// whenever `k` documents match it.
    pub fn search(
        &self,
        query: &[f32],
        options: &SearchOptions<'_>,
    ) -> Result<Vec<Hit<'_>>, IndexError> {
        let dtype = self.dtype.ok_or(IndexError::Empty)?;
        if self.live_count == 0 {
            return Err(IndexError::Empty);
        }
        if options.k == 0 {
            return Err(IndexError::ZeroK);
        }
        if query.len() != self.dims {
            return Err(IndexError::DimensionMismatch {
                what: "query",
                expected: self.dims,
                got: query.len(),
            });
        }
        if let Some(i) = query.iter().position(|x| !x.is_finite()) {
            return Err(IndexError::NonFiniteQuery(i));
        }
        let oversample = options
            .oversample
            .unwrap_or(options.mode.default_oversample());
        if oversample == 0 {
            return Err(IndexError::ZeroOversample);
        }
        let binary_only = dtype == Dtype::Binary;
        if binary_only && options.mode != Mode::Binary {
            return Err(IndexError::ModeUnavailable {
                mode: options.mode.name(),
            });
        }
        // Line-aligned like the rows: the allocator aligns a `Vec<f32>` to 8 bytes only, and
        // then every fourth 16-byte load of the query straddles two cache lines.
        let mut q_lines = AlignedStore::default();
        q_lines.grow_to_bytes(self.f32_stride.max(self.dims) * 4);
        let q = &mut q_lines.as_mut_slice::<f32>()[..self.f32_stride.max(self.dims)];
        q[..self.dims].copy_from_slice(query);
        if normalize(&mut q[..self.dims]) == 0.0 {
            return Err(IndexError::ZeroQuery);
        }
        let q: &[f32] = q;

        let candidates = self.candidates(options.filter);
        let by_row = |a: u32, b: u32| a.cmp(&b);
        let by_id = |a: u32, b: u32| self.docs[a as usize].id.cmp(&self.docs[b as usize].id);
        let k = options.k;
        let pool = k.saturating_mul(oversample);
        let top = match options.mode {
            Mode::Exact => self.scan(&candidates, k, |row| self.dot_row(row, q), &by_id),
            Mode::Int8 => {
                let rough = self.scan_i8(&candidates, pool, q, &by_row);
                self.rerank(&rough, k, q, &by_id)
            }
            Mode::Binary => {
                let mut packed = vec![0u8; self.dims.div_ceil(8)];
                pack_binary(&q[..self.dims], &mut packed);
                let mut words = vec![0u64; self.words];
                binary::bytes_to_words(&packed, &mut words);
                let distances = self.binary_distances(&candidates, &words);
                let row_at = |i: u32| match &candidates {
                    Candidates::AllLive => i,
                    Candidates::Rows(rows) => rows[i as usize],
                };
                let max = self.dims as u32;
                if binary_only {
                    // Every document tied at the cut-off comes back, so the id decides among
                    // them as it does in the other modes.
                    let dims = self.dims as f32;
                    let mut top = TopK::new(k);
                    for i in select::smallest(&distances, max, k, Ties::All) {
                        let d = distances[i as usize] as f32;
                        let row = row_at(i);
                        top.push(
                            Scored {
                                score: 1.0 - 2.0 * d / dims,
                                row,
                            },
                            &by_id,
                        );
                    }
                    top.into_sorted(&by_id)
                } else {
                    // The pool's rows are scattered and cache-cold, so reading them costs
                    // latency more than bandwidth: their i8 rows (a quarter of the bytes) pick
                    // the few per result whose f32 rows are then read.
                    let i8_score = self.i8_score(q);
                    let mut narrowed = TopK::new(k.saturating_mul(I8_STAGE).min(pool));
                    let rows: Vec<u32> =
                        select::smallest(&distances, max, pool, Ties::FirstPositions)
                            .into_iter()
                            .map(row_at)
                            .collect();
                    touch_rows(
                        self.i8s.as_slice::<u8>(),
                        self.i8_stride,
                        rows.iter().copied(),
                    );
                    for &row in &rows {
                        let score = i8_score(row as usize);
                        narrowed.push(Scored { score, row }, &by_row);
                    }
                    self.rerank(&narrowed.into_sorted(&by_row), k, q, &by_id)
                }
            }
        };
        Ok(top.into_iter().map(|s| self.hit(s)).collect())
    }

    /// The (unit) query quantized like the rows: its `i8` codes widened for [`dot_i8`] and
    /// padded to the row stride, and its scale.
    fn i8_query(&self, q: &[f32]) -> (Vec<i16>, f32) {
        let mut codes = vec![0i8; self.i8_stride];
        let q_scale = quantize_i8(&q[..self.dims], &mut codes[..self.dims]);
        (crate::rank::dot_i8::widen_query(&codes), q_scale)
    }

    /// A row's `int8` score against the (unit) query `q`, as [`Self::scan_i8`] computes it
    /// ([`i8_row_score`]). Binary mode's i8 stage scores its pool with it.
    fn i8_score(&self, q: &[f32]) -> impl Fn(usize) -> f32 + '_ {
        let (wide, q_scale) = self.i8_query(q);
        let i8s = self.i8s.as_slice::<i8>();
        let stride = self.i8_stride;
        // Both operands sliced to `stride`, so the kernel's length check folds away. Inlined
        // by force: with two callers LLVM kept it out of line, a call per row of the scan.
        #[inline(always)]
        move |row| {
            i8_row_score(
                &i8s[row * stride..][..stride],
                &wide[..stride],
                q_scale,
                self.scales[row],
            )
        }
    }

    /// Hamming distance of each candidate's sign bits to the query's, in candidate order;
    /// `u32::MAX` for removed rows, which selection then never picks.
    fn binary_distances(&self, candidates: &Candidates, query: &[u64]) -> Vec<u32> {
        let n = self.words;
        let bits = &self.bits.as_slice::<u64>()[..self.docs.len() * n];
        match candidates {
            Candidates::AllLive => {
                let mut out = vec![0; self.docs.len()];
                binary::distances(bits, query, &mut out);
                if self.live_count < self.docs.len() {
                    for (d, &live) in out.iter_mut().zip(&self.live) {
                        if !live {
                            *d = u32::MAX;
                        }
                    }
                }
                out
            }
            Candidates::Rows(rows) => rows
                .iter()
                .map(|&row| hamming_distance(&bits[row as usize * n..][..n], query))
                .collect(),
        }
    }

    fn candidates(&self, filter: Option<&Filter>) -> Candidates {
        match filter {
            None => Candidates::AllLive,
            Some(f) => Candidates::Rows(
                (0..self.docs.len())
                    .filter(|&row| self.live[row] && f.matches(self.docs[row].metadata.as_ref()))
                    .map(|row| row as u32)
                    .collect(),
            ),
        }
    }

    #[inline]
    fn dot_row(&self, row: usize, q: &[f32]) -> f32 {
        dot_f32(
            &self.f32s.as_slice::<f32>()[row * self.f32_stride..][..self.f32_stride],
            &q[..self.f32_stride],
        )
    }

    /// The int8 scan, written out rather than through [`Self::scan`]: the stores are sliced
    /// once and walked by iterators (no bounds check per row), and the admission threshold is
    /// a local, so a row that cannot enter costs its dot product and one compare.
    fn scan_i8(
        &self,
        candidates: &Candidates,
        k: usize,
        q: &[f32],
        tie: &impl Fn(u32, u32) -> Ordering,
    ) -> Vec<Scored> {
        let stride = self.i8_stride;
        let (wide, q_scale) = self.i8_query(q);
        let wide = &wide[..stride];
        let rows = self.docs.len();
        let i8s = &self.i8s.as_slice::<i8>()[..rows * stride];
        let scales = &self.scales[..rows];
        let mut top = TopK::new(k);
        let mut bound = f32::NEG_INFINITY;
        let mut offer = |row: usize, score: f32| {
            if score >= bound {
                top.push(
                    Scored {
                        score,
                        row: row as u32,
                    },
                    tie,
                );
                bound = top.threshold();
            }
        };
        match candidates {
            Candidates::AllLive => {
                let rows = i8s.chunks_exact(stride).zip(scales).zip(&self.live);
                for (row, ((doc, &scale), &live)) in rows.enumerate() {
                    if live {
                        offer(row, i8_row_score(doc, wide, q_scale, scale));
                    }
                }
            }
            Candidates::Rows(rows) => {
                for &row in rows {
                    let row = row as usize;
                    let doc = &i8s[row * stride..][..stride];
                    offer(row, i8_row_score(doc, wide, q_scale, scales[row]));
                }
            }
        }
        top.into_sorted(tie)
    }

    fn scan(
        &self,
        candidates: &Candidates,
        k: usize,
        score: impl Fn(usize) -> f32,
        tie: &impl Fn(u32, u32) -> Ordering,
    ) -> Vec<Scored> {
        let mut top = TopK::new(k);
        // One loop with one call of `score`, so LLVM inlines the kernel into it even at
        // opt-level "s" (with a call site per candidate kind, neither the per-row closure nor
        // the kernel was inlined: two calls per row).
        let count = match candidates {
            Candidates::AllLive => self.docs.len(),
            Candidates::Rows(rows) => rows.len(),
        };
        for i in 0..count {
            let row = match candidates {
                Candidates::AllLive if self.live[i] => i,
                Candidates::AllLive => continue,
                Candidates::Rows(rows) => rows[i] as usize,
            };
            let s = score(row);
            if top.admits(s) {
                top.push(
                    Scored {
                        score: s,
                        row: row as u32,
                    },
                    tie,
                );
            }
        }
        top.into_sorted(tie)
    }

    fn rerank(
        &self,
        rough: &[Scored],
        k: usize,
        q: &[f32],
        tie: &impl Fn(u32, u32) -> Ordering,
    ) -> Vec<Scored> {
        touch_rows(
            self.f32s.as_slice::<u8>(),
            self.f32_stride * 4,
            rough.iter().map(|c| c.row),
        );
        let mut top = TopK::new(k);
        for c in rough {
            let score = self.dot_row(c.row as usize, q);
            top.push(Scored { score, row: c.row }, tie);
        }
        top.into_sorted(tie)
    }

    fn hit(&self, s: Scored) -> Hit<'_> {
        let doc = &self.docs[s.row as usize];
        Hit {
            id: &doc.id,
            score: s.score,
            metadata: doc.metadata.as_ref(),
            text: doc.text.as_deref(),
        }
    }

    /// The unit-length `f32` view of a binary document (±1/√dims per component), for callers
    /// that need a float vector from a binary collection.
    pub fn unpacked_binary(&self, id: &str) -> Option<Vec<f32>> {
        let mut v = vec![0.0; self.dims];
        self.unpack_binary_into(id, &mut v).then_some(v)
    }

    /// [`Self::unpacked_binary`] written into `out` (`dims` long), for passes over many
    /// documents; `false` when there is no document `id`.
    pub fn unpack_binary_into(&self, id: &str, out: &mut [f32]) -> bool {
        let Some(&row) = self.by_id.get(id) else {
            return false;
        };
        let words = &self.bits.as_slice::<u64>()[row as usize * self.words..][..self.words];
        unpack_binary(words, &mut out[..self.dims]);
        true
    }
}

/// Candidates per result that binary mode's i8 stage passes on to the `f32` rerank.
const I8_STAGE: usize = 4;

enum Candidates {
    AllLive,
    Rows(Vec<u32>),
}

/// Reads one byte of every cache line of the given rows, so that their misses are in flight
/// together: the scoring loop that follows has one row's misses in flight at a time.
fn touch_rows(store: &[u8], stride: usize, rows: impl IntoIterator<Item = u32>) {
    let mut acc = 0u8;
    for row in rows {
        let start = row as usize * stride;
        for line in store[start..start + stride].iter().step_by(64) {
            acc ^= *line;
        }
    }
    std::hint::black_box(acc);
}

/// The i8 dot product of a row with the widened query, rescaled by both scales to approximate
/// the cosine similarity: the one formula the int8 scan and binary mode's i8 stage share.
#[inline(always)]
fn i8_row_score(doc: &[i8], wide: &[i16], q_scale: f32, row_scale: f32) -> f32 {
    dot_i8(doc, wide) as f32 * (q_scale * row_scale)
}
