//! The model against its published reference: sentence-transformers' quickstart similarities,
//! 256-token truncation, padding-invariant batches, token counts.

mod bedrock_common;

use bedrock_common::embedder;
use s3vec_dev::model::{MAX_TOKENS, cosine};

#[test]
fn reproduces_the_sentence_transformers_quickstart() {
    let e = embedder();
    let out = e
        .embed(&[
            "The weather is lovely today.",
            "It's so sunny outside!",
            "He drove to the stadium.",
        ])
        .unwrap();
    let v: Vec<Vec<f32>> = out.iter().map(|e| e.normalized()).collect();
    let sims = [
        cosine(&v[0], &v[1]),
        cosine(&v[0], &v[2]),
        cosine(&v[1], &v[2]),
    ];
    eprintln!("quickstart similarities: {sims:?}");
    for (got, want) in sims.iter().zip([0.6660f32, 0.1046, 0.1411]) {
        assert!((got - want).abs() < 5e-4, "{sims:?}");
    }
    for v in &v {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}
