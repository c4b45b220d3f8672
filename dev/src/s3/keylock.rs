//! Per-object locks that make each object's reads and writes atomic with respect to each
//! other, as they are on S3. s3s-fs checks `If-Match`/`If-None-Match` and then writes, as two
//! steps, and keeps the ETag beside the file: without this, two concurrent compare-and-swap
//! writers can both pass the check (and one's update is lost), and a reader can see a new body
//! with the old ETag.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

#[derive(Default)]
pub struct KeyLocks {
    locks: Mutex<HashMap<String, Arc<RwLock<()>>>>,
}

pub enum Guard {
    Read(#[allow(dead_code)] OwnedRwLockReadGuard<()>),
    Write(#[allow(dead_code)] OwnedRwLockWriteGuard<()>),
}

impl KeyLocks {
    fn lock_for(&self, path: &str) -> Arc<RwLock<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Forget locks nobody holds, so the table stays as small as the requests in flight.
        if locks.len() > 1024 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(path.to_string()).or_default().clone()
    }

    /// Shared for reads of `path`, exclusive for anything that may change it.
    pub async fn acquire(&self, path: &str, writes: bool) -> Guard {
        let lock = self.lock_for(path);
        if writes {
            Guard::Write(lock.write_owned().await)
        } else {
            Guard::Read(lock.read_owned().await)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_writer_excludes_readers_of_the_same_key_only() {
        let locks = Arc::new(KeyLocks::default());
        let w = locks.acquire("/b/k", true).await;
        let other = tokio::time::timeout(Duration::from_millis(50), locks.acquire("/b/j", true));
        assert!(other.await.is_ok(), "another key is not blocked");
        let same = tokio::time::timeout(Duration::from_millis(50), locks.acquire("/b/k", false));
        assert!(same.await.is_err(), "a reader waits for the writer");
        drop(w);
        let r1 = locks.acquire("/b/k", false).await;
        let r2 = tokio::time::timeout(Duration::from_millis(50), locks.acquire("/b/k", false));
        assert!(r2.await.is_ok(), "readers share");
        drop(r1);
    }
}
