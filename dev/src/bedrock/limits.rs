//! Switches that make a client's error handling testable: a request-rate limit (answered with
//! `ThrottlingException`) and injected faults (added latency, a share of requests failing with
//! `InternalServerException` or `ServiceUnavailableException`).

use std::time::{Duration, Instant};

/// A token bucket: `rate` requests per second on average, bursts of up to `burst`.
#[derive(Clone, Debug)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    /// `rate` requests per second (> 0); the bucket holds `max(1, rate)` requests and starts full.
    pub fn new(rate: f64, now: Instant) -> RateLimit {
        let burst = rate.max(1.0);
        RateLimit {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one request's token, or says the request must be throttled.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Injected faults. The failing requests are chosen deterministically: of the first `n` requests
/// since the faults were set, `ceil(n × error_rate)` fail, the first one included, so a test
/// knows exactly which attempts fail (rate 0.5: fail, succeed, fail, …).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every model invocation, failed or not.
    #[serde(rename = "latencyMs", with = "millis")]
    pub latency: Duration,
    /// Share of invocations (0 to 1) answered with `error_status`.
    pub error_rate: f64,
    /// 500 (`InternalServerException`) or 503 (`ServiceUnavailableException`).
    pub error_status: u16,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: Duration::ZERO,
            error_rate: 0.0,
            error_status: 503,
        }
    }
}

impl Faults {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "errorRate must be within 0..=1, not {}",
                self.error_rate
            ));
        }
        if ![500, 503].contains(&self.error_status) {
            return Err(format!(
                "errorStatus must be 500 or 503, not {}",
                self.error_status
            ));
        }
        Ok(())
    }

    /// Whether the request numbered `n` (from 0) fails.
    pub fn fails(&self, n: u64) -> bool {
        let failures = |k: u64| (k as f64 * self.error_rate - 1e-9).ceil().max(0.0) as u64;
        failures(n + 1) > failures(n)
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(2.0, t0);
        assert!(limit.try_acquire(t0));
        assert!(limit.try_acquire(t0));
        assert!(!limit.try_acquire(t0));
        assert!(!limit.try_acquire(t0 + Duration::from_millis(400)));
        assert!(limit.try_acquire(t0 + Duration::from_millis(600)));
        assert!(!limit.try_acquire(t0 + Duration::from_millis(600)));
        let mut slow = RateLimit::new(0.5, t0);
        assert!(slow.try_acquire(t0));
        assert!(!slow.try_acquire(t0 + Duration::from_secs(1)));
        assert!(slow.try_acquire(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn failures_are_spread_deterministically() {
        let pattern = |rate: f64| -> Vec<bool> {
            let f = Faults {
                error_rate: rate,
                ..Faults::default()
            };
            (0..6).map(|n| f.fails(n)).collect()
        };
        assert_eq!(pattern(0.0), [false; 6]);
        assert_eq!(pattern(1.0), [true; 6]);
        assert_eq!(pattern(0.5), [true, false, true, false, true, false]);
        assert_eq!(pattern(1.0 / 3.0), [true, false, false, true, false, false]);
    }

    #[test]
    fn faults_parse_and_validate() {
        let f: Faults =
            serde_json::from_str(r#"{"latencyMs": 250, "errorRate": 0.5, "errorStatus": 500}"#)
                .unwrap();
        assert_eq!(f.latency, Duration::from_millis(250));
        assert_eq!(f.error_status, 500);
        assert!(serde_json::from_str::<Faults>(r#"{"latency": 250}"#).is_err());
        assert!(f.validate().is_ok());
        assert!(
            Faults {
                error_status: 404,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
    }
}
