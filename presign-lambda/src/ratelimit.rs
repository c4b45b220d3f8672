//! Per-caller token buckets, in the memory of one execution environment.
//!
//! What this does and does not guarantee on Lambda: each execution environment keeps its own
//! buckets, so a caller can get up to `limit × concurrent environments` per minute (the
//! function's reserved concurrency caps the number of environments), and a new environment
//! starts with full buckets. Callers are keyed by source IP (IPv6 by its /64, which one host
//! usually owns whole), so many addresses get many buckets. It stops one client looping on the
//! endpoint; reserved concurrency bounds the total.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Callers tracked at once; past this, idle (refilled) buckets are dropped first.
const MAX_CALLERS: usize = 10_000;

pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<u128, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// `per_minute` requests a minute, all of which may come at once.
    pub fn per_minute(per_minute: u32) -> Self {
        let capacity = f64::from(per_minute.max(1));
        RateLimiter {
            capacity,
            per_second: capacity / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `caller`, or says how long until one is free.
    pub fn check(&self, caller: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let key = caller.map(caller_key).unwrap_or(u128::MAX);
        // A poisoned lock only means another request panicked mid-update: the map is still
        // a usable set of buckets.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_CALLERS && !buckets.contains_key(&key) {
            let (capacity, rate) = (self.capacity, self.per_second);
            buckets.retain(|_, b| refilled(b, now, capacity, rate) < capacity);
            if buckets.len() >= MAX_CALLERS {
                // Every tracked caller is active: forget them all rather than refuse newcomers.
                tracing::warn!(callers = buckets.len(), "rate limiter full; reset");
                buckets.clear();
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.capacity,
            at: now,
        });
        bucket.tokens = refilled(bucket, now, self.capacity, self.per_second);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                ((1.0 - bucket.tokens) / self.per_second).max(0.001),
            ))
        }
    }
}

fn refilled(b: &Bucket, now: Instant, capacity: f64, per_second: f64) -> f64 {
    let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
    (b.tokens + elapsed * per_second).min(capacity)
}

fn caller_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => (u128::from(v6) >> 64) << 64 | (1 << 63),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn a_burst_of_the_limit_passes_then_the_caller_waits_for_a_refill() {
        let limiter = RateLimiter::per_minute(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter.check(ip("192.0.2.1"), t0).unwrap();
        }
        let wait = limiter.check(ip("192.0.2.1"), t0).unwrap_err();
        assert!((19.9..=20.1).contains(&wait.as_secs_f64()), "{wait:?}");
        // Another caller is not affected.
        limiter.check(ip("192.0.2.2"), t0).unwrap();
        // One token back after 20 s, not two.
        let t1 = t0 + Duration::from_secs(20);
        limiter.check(ip("192.0.2.1"), t1).unwrap();
        assert!(limiter.check(ip("192.0.2.1"), t1).is_err());
    }

    #[test]
    fn ipv6_callers_share_a_bucket_per_64_and_mapped_v4_is_v4() {
        let limiter = RateLimiter::per_minute(1);
        let t0 = Instant::now();
        limiter.check(ip("2001:db8:1:2::1"), t0).unwrap();
        assert!(limiter.check(ip("2001:db8:1:2::ffff"), t0).is_err());
        limiter.check(ip("2001:db8:1:3::1"), t0).unwrap();
        limiter.check(ip("198.51.100.7"), t0).unwrap();
        assert!(limiter.check(ip("::ffff:198.51.100.7"), t0).is_err());
    }

    #[test]
    fn a_full_table_drops_idle_callers_before_active_ones() {
        let limiter = RateLimiter::per_minute(60);
        let t0 = Instant::now();
        for i in 0..MAX_CALLERS as u32 {
            limiter.check(Some(IpAddr::V4(i.into())), t0).unwrap();
        }
        // A minute later every bucket has refilled: all are idle and make room.
        let t1 = t0 + Duration::from_secs(60);
        limiter.check(ip("203.0.113.9"), t1).unwrap();
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1);
    }
}
