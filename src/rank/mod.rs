//! Similarity kernels and top-k selection.
//!
//! Metric names are exact: every kernel here returns a *similarity* (higher is closer) except
//! [`binary::hamming_distance`], a *distance* (lower is closer).
//!
//! Vectors are expected to be L2-normalised, so the dot product *is* the cosine similarity. A zero
//! vector cannot be normalised; it has dot product 0.0 with everything, so it ranks as
//! "unrelated" rather than producing NaN. [`quantize`] keeps that property (its scale is 0.0).
//!
//! Each kernel has a scalar reference in [`scalar`] that the SIMD version is tested against.
//! Nothing in this module does IO, reads the clock or knows about JavaScript.

pub mod add_scaled;
pub mod binary;
pub mod dot_f32;
pub mod dot_i8;
pub mod quantize;
pub mod scalar;
pub mod select;
pub mod topk;

pub use add_scaled::add_scaled;
pub use binary::hamming_distance;
pub use dot_f32::dot_f32;
pub use dot_i8::dot_i8;
pub use topk::TopK;
