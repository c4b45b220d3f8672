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

#[test]
fn token_counts_leave_out_special_tokens() {
    let e = embedder();
    let t = e.tokenize("The weather is lovely today.").unwrap();
    assert_eq!(t.token_count, 6);
    assert_eq!(t.ids.len(), 8, "[CLS] … [SEP]");
    assert_eq!(e.tokenize("").unwrap().token_count, 0);
}

/// sentence-transformers reads 256 tokens of this model, not the 128 that the snapshot's
/// tokenizer.json pins: the text's tail beyond 254 word pieces is ignored, the part between 126
/// and 254 is not.
#[test]
fn long_texts_keep_256_tokens() {
    let e = embedder();
    let sentences: Vec<&str> = include_str!("bedrock_sentences.txt").lines().collect();
    let long = sentences[..40].join(" ");
    let t = e.tokenize(&long).unwrap();
    assert!(t.token_count > 300, "{}", t.token_count);
    assert_eq!(t.ids.len(), MAX_TOKENS);
    assert_eq!(t.ids[MAX_TOKENS - 1], t.ids[t.ids.len() - 1]);
    let longer = format!("{long} {}", sentences[40..].join(" "));
    let [a, b] = &e.embed(&[&long, &longer]).unwrap()[..] else {
        unreachable!()
    };
    assert_ne!(a.token_count, b.token_count);
    assert!(
        max_diff(&a.normalized(), &b.normalized()) < 1e-5,
        "only 256 tokens are read"
    );
    // What a 128-token truncation would give: clearly another vector.
    let mut short = t.clone();
    short.ids.truncate(127);
    short.ids.push(*t.ids.last().unwrap());
    let c = &e.embed_tokenized(&[&short]).unwrap()[0];
    assert!(cosine(&a.normalized(), &c.normalized()) < 0.99);
}

/// Padding a batch to its longest text must not change any embedding (the attention mask and
/// the mask-weighted mean).
#[test]
fn batches_are_padded_without_changing_results() {
    let e = embedder();
    let short = "He drove to the stadium.";
    let long = include_str!("bedrock_sentences.txt")
        .lines()
        .take(12)
        .collect::<Vec<_>>()
        .join(" ");
    let alone = &e.embed(&[short]).unwrap()[0];
    let batched = &e.embed(&[short, &long, "Hi"]).unwrap();
    assert!(max_diff(&alone.pooled, &batched[0].pooled) < 1e-5);
    let hi = &e.embed(&["Hi"]).unwrap()[0];
    assert!(max_diff(&hi.pooled, &batched[2].pooled) < 1e-5);
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The held-out sentences (none of them in the projection's fitting corpus), embedded.
fn held_out() -> Vec<Vec<f32>> {
    let sentences: Vec<&str> = include_str!("bedrock_sentences.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(sentences.len() >= 100);
    let e = embedder();
    let started = std::time::Instant::now();
    let v = sentences
        .chunks(16)
        .flat_map(|chunk| e.embed(chunk).unwrap())
        .map(|e| e.normalized())
        .collect();
    eprintln!(
        "embedded {} sentences in {:?}",
        sentences.len(),
        started.elapsed()
    );
    v
}

/// Mean and largest absolute cosine error over all pairs, and how often each sentence keeps its
/// nearest neighbour, when every vector goes through `map`.
fn cosine_loss(v: &[Vec<f32>], map: impl Fn(&[f32]) -> Vec<f32>) -> (f32, f32, f32) {
    let unit = |x: Vec<f32>| {
        let n = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        x.into_iter().map(|a| a / n).collect::<Vec<f32>>()
    };
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let before: Vec<Vec<f32>> = v.iter().map(|x| unit(x.clone())).collect();
    let after: Vec<Vec<f32>> = v.iter().map(|x| unit(map(x))).collect();
    let n = v.len();
    let mut sims = [vec![0f32; n * n], vec![0f32; n * n]];
    for (s, vs) in sims.iter_mut().zip([&before, &after]) {
        for i in 0..n {
            for j in 0..n {
                s[i * n + j] = if i == j {
                    f32::MIN
                } else {
                    dot(&vs[i], &vs[j])
                };
            }
        }
    }
    let (mut sum, mut max, mut pairs) = (0f32, 0f32, 0usize);
    for i in 0..n {
        for j in i + 1..n {
            let err = (sims[0][i * n + j] - sims[1][i * n + j]).abs();
            sum += err;
            max = max.max(err);
            pairs += 1;
        }
    }
    let nearest = |s: &[f32], i: usize| {
        (0..n)
            .max_by(|&a, &b| s[i * n + a].total_cmp(&s[i * n + b]))
            .unwrap()
    };
    let kept = (0..n)
        .filter(|&i| nearest(&sims[0], i) == nearest(&sims[1], i))
        .count();
    (sum / pairs as f32, max, kept as f32 / n as f32)
}

#[test]
fn dimensions_zero_padding_is_exact_and_pca_beats_truncation() {
    use s3vec_dev::model::project::{to_dimensions, truncate};
    let v = held_out();
    let pairs = v.len() * (v.len() - 1) / 2;
    for dims in [512, 1024, 1536] {
        let (mean, max, kept) = cosine_loss(&v, |x| to_dimensions(x, dims).unwrap());
        assert!(
            max < 1e-6 && mean < 1e-7 && kept == 1.0,
            "{dims}: {mean} {max}"
        );
    }
    let pca = cosine_loss(&v, |x| to_dimensions(x, 256).unwrap());
    let trunc = cosine_loss(&v, |x| truncate(x, 256));
    eprintln!(
        "over {pairs} pairs of {} held-out sentences: mean |Δcos| / max |Δcos| / nearest \
         neighbour kept: PCA-256 {:.4} / {:.4} / {:.3}, truncation-256 {:.4} / {:.4} / {:.3}",
        v.len(),
        pca.0,
        pca.1,
        pca.2,
        trunc.0,
        trunc.1,
        trunc.2
    );
    assert!(pca.0 < trunc.0 / 2.0, "PCA {pca:?} vs truncation {trunc:?}");
    assert!(pca.2 >= trunc.2, "PCA {pca:?} vs truncation {trunc:?}");
}
