//! Formatting for people: counts, sizes, prices, and result tables.

/// USD per 1,000 input tokens, on-demand, as AWS lists them for us-east-1 (Bedrock pricing
/// page, 2024–2025): Titan Text Embeddings V2 $0.00002, Titan Embeddings G1 - Text $0.0001,
/// Cohere Embed v3 $0.0001. `--price-per-1k-tokens` overrides it for other regions or prices.
pub fn cost_per_1k_tokens(model_id: &str) -> f64 {
    let id = model_id.rsplit('/').next().unwrap_or(model_id);
    if id.starts_with("amazon.titan-embed-text-v2") {
        0.00002
    } else if id.starts_with("cohere.embed-") || id.starts_with("amazon.titan-embed-text-v1") {
        0.0001
    } else {
        0.0
    }
}

/// `1234567` → `1,234,567`.
pub fn human_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `s` cut to `width` characters, with an ellipsis when cut; newlines become spaces.
pub fn clip(s: &str, width: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= width {
        flat
    } else {
        let mut out: String = flat.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(human_count(0), "0");
        assert_eq!(human_count(1234567), "1,234,567");
        assert_eq!(human_count(100), "100");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(clip("abc\ndef", 10), "abc def");
        assert_eq!(clip("abcdefgh", 5), "abcd…");
        assert!(cost_per_1k_tokens("amazon.titan-embed-text-v2:0") > 0.0);
    }
}
