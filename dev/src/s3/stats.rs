//! A request counter on the S3 port, for tests that must see what a client fetched (a browser
//! that claims to read shards from its cache, for one): `GET /_dev/stats` answers
//! `{"total": n, "recent": [{"seq", "method", "path", "status"}, …]}`, the last
//! [`KEEP`] requests oldest first, preflights and the stats calls themselves not counted.
//! Like `/_dev/bedrock` it is not part of S3 and takes no credentials (the server listens on
//! 127.0.0.1 only); no bucket name can start with `_`, so the path is never an S3 request.

use std::collections::VecDeque;
use std::sync::Mutex;

pub const PATH: &str = "/_dev/stats";
/// Enough for a test's page load of a few hundred shards, small enough to never matter.
pub const KEEP: usize = 4096;

#[derive(Default)]
pub struct Stats {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    total: u64,
    recent: VecDeque<Entry>,
}

struct Entry {
    seq: u64,
    method: String,
    path: String,
    status: u16,
}

impl Stats {
    pub fn record(&self, method: &str, path: &str, status: u16) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.total += 1;
        let seq = inner.total;
        if inner.recent.len() == KEEP {
            inner.recent.pop_front();
        }
        inner.recent.push_back(Entry {
            seq,
            method: method.to_string(),
            path: path.to_string(),
            status,
        });
    }

    pub fn to_json(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let recent: Vec<serde_json::Value> = inner
            .recent
            .iter()
            .map(|e| {
                serde_json::json!({
                    "seq": e.seq, "method": e.method, "path": e.path, "status": e.status,
                })
            })
            .collect();
        serde_json::json!({"total": inner.total, "recent": recent}).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_requests_and_counts_them_all() {
        let s = Stats::default();
        for i in 0..KEEP + 3 {
            s.record("GET", &format!("/b/k{i}"), 200);
        }
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(v["total"], (KEEP + 3) as u64);
        let recent = v["recent"].as_array().unwrap();
        assert_eq!(recent.len(), KEEP);
        assert_eq!(recent[0]["seq"], 4);
        assert_eq!(recent[0]["path"], "/b/k3");
        assert_eq!(recent[KEEP - 1]["status"], 200);
    }
}
