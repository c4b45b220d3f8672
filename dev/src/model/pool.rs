//! Inference on a small pool of worker threads fed by one channel.
//!
//! Each worker takes the next request, plus whatever else is already queued (up to
//! `max_batch`), tokenizes them, groups texts of similar length and runs each group as one padded
//! batch. An idle pool therefore runs concurrent requests in parallel, one per worker, and a busy
//! one batches the backlog.
//!
//! candle's CPU kernels share one global thread pool whose calls are serialised, so workers that
//! each use every core get in each other's way. On 2 cores, one worker per core with
//! `RAYON_NUM_THREADS=1` was measured faster than one worker using both (docs/BENCHMARKS.md);
//! [`ModelPool::start`] sets that variable when it is unset and there is more than one worker.

use super::{Embedder, Embedding, ModelError, Tokenized};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Worker threads (default: the number of cores).
    pub workers: usize,
    /// Most texts one forward pass takes (1 disables batching).
    pub max_batch: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_batch: 8,
        }
    }
}

struct Job {
    text: String,
    reply: oneshot::Sender<Result<Embedding, String>>,
}

/// Worker threads around one shared [`Embedder`]. Dropping the pool stops the workers once the
/// queue is drained.
pub struct ModelPool {
    tx: mpsc::Sender<Job>,
    embedder: Arc<Embedder>,
    workers: usize,
}

/// Padding a batch to its longest text wastes work on the shorter ones: texts are batched together
/// only while the longest is at most this factor (plus a few tokens) longer than the shortest.
const LENGTH_SPREAD: f32 = 1.25;
const LENGTH_SLACK: usize = 8;
/// Upper bound on `batch × padded length`, so one batch of long texts cannot hold a worker (and
/// the requests queued behind it) for long.
const MAX_BATCH_TOKENS: usize = 4096;

impl ModelPool {
    pub fn start(embedder: Arc<Embedder>, config: &PoolConfig) -> ModelPool {
        let workers = config.workers.max(1);
        if workers > 1 {
            single_threaded_kernels();
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let (rx, embedder) = (rx.clone(), embedder.clone());
            let max_batch = config.max_batch.max(1);
            std::thread::Builder::new()
                .name(format!("s3vec-model-{i}"))
                .spawn(move || worker(&embedder, &rx, max_batch))
                .expect("spawning a model worker thread");
        }
        ModelPool {
            tx,
            embedder,
            workers,
        }
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// Embeds many texts, in order. All are queued before any answer is awaited, so idle workers
    /// share them and a busy one batches them.
    pub async fn embed_all(&self, texts: Vec<String>) -> Result<Vec<Embedding>, ModelError> {
        let mut answers = Vec::with_capacity(texts.len());
        for text in texts {
            let (reply, answer) = oneshot::channel();
            self.tx
                .send(Job { text, reply })
                .map_err(|_| ModelError::Stopped)?;
            answers.push(answer);
        }
        let mut out = Vec::with_capacity(answers.len());
        for answer in answers {
            match answer.await {
                Ok(result) => out.push(result.map_err(ModelError::Worker)?),
                Err(_) => return Err(ModelError::Stopped),
            }
        }
        Ok(out)
    }

    /// Embeds one text on a worker.
    pub async fn embed(&self, text: String) -> Result<Embedding, ModelError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { text, reply })
            .map_err(|_| ModelError::Stopped)?;
        match answer.await {
            Ok(result) => result.map_err(ModelError::Worker),
            Err(_) => Err(ModelError::Stopped),
        }
    }
}

/// Makes candle's kernels run on the calling thread (see the module docs), unless the user chose
/// a thread count with `RAYON_NUM_THREADS`.
pub fn single_threaded_kernels() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: std serialises its own environment accesses; nothing in this process reads the
        // environment from C code concurrently (the binary calls this before its servers start
        // their work, and candle reads the variable only inside inference).
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
}

fn worker(embedder: &Embedder, rx: &Mutex<mpsc::Receiver<Job>>, max_batch: usize) {
    loop {
        let jobs = {
            let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
            let Ok(first) = rx.recv() else {
                return; // the pool was dropped
            };
            let mut jobs = vec![first];
            while jobs.len() < max_batch {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            jobs
        };
        let mut ready: Vec<(Tokenized, oneshot::Sender<Result<Embedding, String>>)> = Vec::new();
        for job in jobs {
            if job.reply.is_closed() {
                continue; // the client went away
            }
            match embedder.tokenize(&job.text) {
                Ok(t) => ready.push((t, job.reply)),
                Err(e) => {
                    let _ = job.reply.send(Err(e.to_string()));
                }
            }
        }
        ready.sort_by_key(|(t, _)| t.ids.len());
        while !ready.is_empty() {
            let shortest = ready[0].0.ids.len();
            let limit = (shortest as f32 * LENGTH_SPREAD) as usize + LENGTH_SLACK;
            let mut n = 1;
            while n < ready.len()
                && ready[n].0.ids.len() <= limit
                && (n + 1) * ready[n].0.ids.len() <= MAX_BATCH_TOKENS
            {
                n += 1;
            }
            let group: Vec<_> = ready.drain(..n).collect();
            let batch: Vec<&Tokenized> = group.iter().map(|(t, _)| t).collect();
            match embedder.embed_tokenized(&batch) {
                Ok(embeddings) => {
                    for ((_, reply), e) in group.into_iter().zip(embeddings) {
                        let _ = reply.send(Ok(e));
                    }
                }
                Err(e) => {
                    for (_, reply) in group {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
        }
    }
}
