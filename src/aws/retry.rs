//! Exponential backoff with full jitter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often and how patiently to retry what [`super::AwsError::is_retryable`] calls retryable.
///
/// Attempt `n` (1-based) that failed waits a random time in `[0, min(max_delay, base × 2^(n-1))]`
/// ("full jitter") before attempt `n + 1`. `max_attempts` counts the first attempt: 1 means
/// never retry.
#[derive(Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    rng: AtomicU64,
}

impl Clone for RetryPolicy {
    fn clone(&self) -> Self {
        RetryPolicy {
            max_attempts: self.max_attempts,
            base_delay: self.base_delay,
            max_delay: self.max_delay,
            rng: AtomicU64::new(self.rng.load(Ordering::Relaxed) ^ 0x5DEE_CE66_D1CE_4E5B),
        }
    }
}

impl Default for RetryPolicy {
    /// Three attempts, 100 ms base, 20 s cap: AWS SDKs' "standard" mode.
    fn default() -> Self {
        Self::new(3, Duration::from_millis(100), Duration::from_secs(20))
    }
}

impl RetryPolicy {
    pub fn new(max_attempts: u32, base_delay: Duration, max_delay: Duration) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            base_delay,
            max_delay,
            rng: AtomicU64::new(0x9E37_79B9_7F4A_7C15),
        }
    }

    /// Never retry.
    pub fn none() -> Self {
        Self::new(1, Duration::ZERO, Duration::ZERO)
    }

    /// Seeds the jitter (e.g. from the clock) so that many clients do not retry in step.
    pub fn with_seed(self, seed: u64) -> Self {
        self.rng.store(seed | 1, Ordering::Relaxed);
        self
    }

    /// The upper bound of the wait after failed attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        self.base_delay
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// A random wait in `[0, ceiling(attempt)]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.next_u64() % (nanos + 1))
    }

    /// SplitMix64 over an atomic counter: no getrandom on wasm32, and good enough for jitter.
    fn next_u64(&self) -> u64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
