//! Adaptive concurrency (AIMD) and the counters a progress display needs.
//!
//! Bedrock's quotas are per account and model and are not told to the client, so the number of
//! requests in flight is learnt: it starts at the configured maximum, halves (to no less than 1)
//! when the service throttles, and grows by one after as many successes in a row as the current
//! limit (one "round" of requests without throttling), never above the maximum.
//!
//! Every attempt, retries included, takes a [`Permit`] first, so the limit bounds the requests
//! actually in flight: when it halves, retries wait for a free slot instead of going back out
//! at the old rate (jobs that were throttled would otherwise keep the service as busy as before).
//!
//! Requests already in flight when the limit halves were sent under the old limit; their
//! throttling says nothing new, so only a throttle of an attempt started after the last decrease
//! halves again. Without this, one burst of `n` throttled requests would halve the limit `n`
//! times and collapse it to 1.
//!
//! Plain counters and wakers behind a mutex that is never held across an `await`: no timer, no
//! task, so the same code runs under tokio and in a browser's single-threaded executor.

use crate::aws::error::{AwsError, ErrorKind};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

/// What embedding has cost so far, and how hard the service pushed back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmbedStats {
    /// `InvokeModel` calls that succeeded (a Cohere call carries up to 96 texts).
    pub requests: u64,
    /// Retries after `ThrottlingException` (or any 429).
    pub throttle_retries: u64,
    /// Retries after server errors (5xx), timeouts and transport failures.
    pub other_retries: u64,
    /// Input tokens as Bedrock counted them. Titan: the sum of `inputTextTokenCount`. Cohere's
    /// body has no count: the sum of the `X-Amzn-Bedrock-Input-Token-Count` response header,
    /// which a browser can read only if the endpoint's CORS rules expose it; calls without a
    /// readable count add nothing here and are counted in `requests_without_token_count`.
    pub input_tokens: u64,
    /// Successful calls whose token count could not be read (so `input_tokens` is a lower bound
    /// when this is not 0).
    pub requests_without_token_count: u64,
    /// Requests allowed in flight now (for the whole client).
    pub concurrency: usize,
    /// The lowest that limit has been (over the call, or over the client's life for
    /// [`super::BedrockClient::stats`]).
    pub lowest_concurrency: usize,
    /// The configured maximum.
    pub max_concurrency: usize,
}

/// The limit and its history.
#[derive(Debug)]
struct Aimd {
    max: usize,
    limit: usize,
    lowest: usize,
    /// Successes since the limit last changed or the service last throttled.
    run: usize,
    /// Bumped at every decrease; a throttle counts only if its request started in this epoch.
    epoch: u64,
}

impl Aimd {
    fn new(max: usize) -> Self {
        let max = max.max(1);
        Aimd {
            max,
            limit: max,
            lowest: max,
            run: 0,
            epoch: 0,
        }
    }

    fn on_throttle(&mut self, started_in: u64) {
        self.run = 0;
        if started_in == self.epoch {
            self.limit = (self.limit / 2).max(1);
            self.lowest = self.lowest.min(self.limit);
            self.epoch += 1;
        }
    }

    /// Whether the limit grew.
    fn on_success(&mut self) -> bool {
        self.run += 1;
        if self.run >= self.limit {
            self.run = 0;
            if self.limit < self.max {
                self.limit += 1;
                return true;
            }
        }
        false
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    requests: u64,
    throttle_retries: u64,
    other_retries: u64,
    input_tokens: u64,
    requests_without_token_count: u64,
}

impl Counters {
    fn stats(&self, aimd: &Aimd, lowest: usize) -> EmbedStats {
        EmbedStats {
            requests: self.requests,
            throttle_retries: self.throttle_retries,
            other_retries: self.other_retries,
            input_tokens: self.input_tokens,
            requests_without_token_count: self.requests_without_token_count,
            concurrency: aimd.limit,
            lowest_concurrency: lowest,
            max_concurrency: aimd.max,
        }
    }
}

/// A client's limit, the attempts in flight, and lifetime counters.
#[derive(Debug)]
pub(crate) struct Adaptive(Mutex<State>);

#[derive(Debug)]
struct State {
    aimd: Aimd,
    totals: Counters,
    /// Permits held.
    active: usize,
    /// Attempts waiting for a permit.
    waiters: Vec<Waker>,
}

/// Wakes every waiter: each checks the limit again (cheap: there are at most a few dozen).
fn wake(waiters: Vec<Waker>) {
    for w in waiters {
        w.wake();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Adaptive {
    pub fn new(max_concurrency: usize) -> Self {
        Adaptive(Mutex::new(State {
            aimd: Aimd::new(max_concurrency),
            totals: Counters::default(),
            active: 0,
            waiters: Vec::new(),
        }))
    }

    pub fn stats(&self) -> EmbedStats {
        let s = lock(&self.0);
        s.totals.stats(&s.aimd, s.aimd.lowest)
    }

    /// Counters for one call (`embed`, `embed_many`), feeding the client's as well.
    pub fn call(&self) -> Call<'_> {
        let lowest = lock(&self.0).aimd.limit;
        Call {
            shared: self,
            own: Mutex::new((Counters::default(), lowest)),
        }
    }
}

/// One call's view: its own counters, the client's limit.
pub(crate) struct Call<'a> {
    shared: &'a Adaptive,
    /// The call's counters and the lowest limit seen during it.
    own: Mutex<(Counters, usize)>,
}

impl Call<'_> {
    pub fn limit(&self) -> usize {
        lock(&self.shared.0).aimd.limit
    }

    /// Waits until fewer attempts than the limit are in flight, client-wide.
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire(self.shared)
    }

    /// An attempt that started in `epoch` ([`Permit::epoch`]) failed and is to be retried.
    pub fn on_retry(&self, err: &AwsError, epoch: u64) {
        let throttled = err.kind() == Some(ErrorKind::Throttling);
        let limit = {
            let mut s = lock(&self.shared.0);
            if throttled {
                s.totals.throttle_retries += 1;
                s.aimd.on_throttle(epoch);
            } else {
                s.totals.other_retries += 1;
            }
            s.aimd.limit
        };
        let mut own = lock(&self.own);
        if throttled {
            own.0.throttle_retries += 1;
        } else {
            own.0.other_retries += 1;
        }
        own.1 = own.1.min(limit);
    }

    /// A request succeeded; `tokens` is its input token count if the answer told it.
    pub fn on_success(&self, tokens: Option<u64>) {
        let add = |c: &mut Counters| {
            c.requests += 1;
            match tokens {
                Some(t) => c.input_tokens += t,
                None => c.requests_without_token_count += 1,
            }
        };
        let grown = {
            let mut s = lock(&self.shared.0);
            add(&mut s.totals);
            if s.aimd.on_success() {
                std::mem::take(&mut s.waiters)
            } else {
                Vec::new()
            }
        };
        wake(grown);
        add(&mut lock(&self.own).0);
    }

    pub fn stats(&self) -> EmbedStats {
        let own = *lock(&self.own);
        let s = lock(&self.shared.0);
        own.0.stats(&s.aimd, own.1)
    }
}

/// Resolves to a [`Permit`] once an attempt may start.
pub(crate) struct Acquire<'a>(&'a Adaptive);

impl<'a> Future for Acquire<'a> {
    type Output = Permit<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        let shared = self.0;
        let mut s = lock(&shared.0);
        if s.active < s.aimd.limit {
            s.active += 1;
            Poll::Ready(Permit {
                shared,
                epoch: s.aimd.epoch,
            })
        } else {
            if !s.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                s.waiters.push(cx.waker().clone());
            }
            Poll::Pending
        }
    }
}

/// One attempt's slot; dropping it (the attempt ended, or was cancelled) frees the slot.
pub(crate) struct Permit<'a> {
    shared: &'a Adaptive,
    epoch: u64,
}

impl Permit<'_> {
    /// When the attempt started, for [`Call::on_retry`].
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let waiters = {
            let mut s = lock(&self.shared.0);
            s.active -= 1;
            std::mem::take(&mut s.waiters)
        };
        wake(waiters);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::error::ServiceError;
    use futures_util::FutureExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    fn error(status: u16, code: &str) -> AwsError {
        AwsError::from(ServiceError {
            service: "Bedrock",
            operation: "InvokeModel",
            resource: "m".into(),
            status,
            code: code.into(),
            message: String::new(),
            request_id: None,
        })
    }

    fn throttled() -> AwsError {
        error(429, "ThrottlingException")
    }

    /// An epoch as an attempt starting now would have it.
    fn attempt(call: &Call<'_>) -> u64 {
        call.acquire().now_or_never().expect("a free slot").epoch()
    }

    #[derive(Default)]
    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn halves_once_per_round_and_grows_back_one_at_a_time() {
        let a = Adaptive::new(8);
        let call = a.call();
        // Eight attempts in flight, all throttled: one halving, not eight.
        let permits: Vec<Permit<'_>> = (0..8)
            .map(|_| call.acquire().now_or_never().unwrap())
            .collect();
        assert!(call.acquire().now_or_never().is_none(), "a ninth waits");
        let epochs: Vec<u64> = permits.iter().map(Permit::epoch).collect();
        drop(permits);
        for &e in &epochs {
            call.on_retry(&throttled(), e);
        }
        assert_eq!(call.limit(), 4);
        // A retry started after the decrease: its throttle halves again.
        let retry = attempt(&call);
        call.on_retry(&throttled(), retry);
        assert_eq!(call.limit(), 2);
        call.on_retry(&throttled(), retry);
        assert_eq!(
            call.limit(),
            2,
            "that attempt started before the second halving"
        );
        call.on_retry(&throttled(), attempt(&call));
        call.on_retry(&error(429, "SlowDownPlease"), attempt(&call));
        assert_eq!(call.limit(), 1, "never below 1");

        // Additive increase: a limit of n needs n successes in a row to become n + 1.
        let mut limits = Vec::new();
        for _ in 0..20 {
            call.on_success(Some(3));
            limits.push(call.limit());
        }
        assert_eq!(
            limits,
            [2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6]
        );
        for _ in 0..100 {
            call.on_success(None);
        }
        assert_eq!(call.limit(), 8, "never above the maximum");

        let s = call.stats();
        assert_eq!(
            (s.throttle_retries, s.other_retries, s.requests),
            (12, 0, 120),
            "a 429 with an unknown code is throttling too"
        );
        assert_eq!((s.input_tokens, s.requests_without_token_count), (60, 100));
        assert_eq!(
            (s.concurrency, s.lowest_concurrency, s.max_concurrency),
            (8, 1, 8)
        );
    }

    #[test]
    fn other_failures_do_not_shrink_the_limit_and_throttles_reset_the_run() {
        let a = Adaptive::new(4);
        let call = a.call();
        for code in ["InternalServerException", "ServiceUnavailableException"] {
            call.on_retry(&error(503, code), attempt(&call));
        }
        assert_eq!(call.limit(), 4);
        call.on_retry(&throttled(), attempt(&call));
        assert_eq!(call.limit(), 2);
        call.on_success(Some(1));
        // A stale throttle does not halve, but the run of successes starts over.
        call.on_retry(&throttled(), 0);
        call.on_success(Some(1));
        assert_eq!(call.limit(), 2);
        call.on_success(Some(1));
        assert_eq!(call.limit(), 3);
        let s = call.stats();
        assert_eq!((s.other_retries, s.throttle_retries), (2, 2));
    }

    #[test]
    fn attempts_wait_for_a_slot_under_the_current_limit() {
        let a = Adaptive::new(4);
        let call = a.call();
        let mut held: Vec<Permit<'_>> = (0..4)
            .map(|_| call.acquire().now_or_never().unwrap())
            .collect();
        call.on_retry(&throttled(), held[0].epoch());
        assert_eq!(call.limit(), 2);

        let wakes = Arc::new(CountWakes::default());
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let mut waiting = std::pin::pin!(call.acquire());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        // Four in flight under a limit of two: freeing one or two slots is not enough.
        held.pop();
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
            1,
            "registered once, woken once"
        );
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        held.pop();
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        held.pop();
        let Poll::Ready(permit) = waiting.as_mut().poll(&mut cx) else {
            panic!("one in flight, limit two: a slot is free");
        };
        assert_eq!(permit.epoch(), 1, "started after the halving");
        assert!(call.acquire().now_or_never().is_none());
        // Growth frees slots too: two successes at a limit of two make it three.
        let before = wakes.0.load(Ordering::SeqCst);
        let mut third = std::pin::pin!(call.acquire());
        assert!(third.as_mut().poll(&mut cx).is_pending());
        call.on_success(Some(1));
        call.on_success(Some(1));
        assert_eq!(call.limit(), 3);
        assert!(wakes.0.load(Ordering::SeqCst) > before);
        assert!(third.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn calls_have_their_own_counters_and_share_the_limit() {
        let a = Adaptive::new(6);
        let first = a.call();
        first.on_retry(&throttled(), attempt(&first));
        first.on_success(Some(5));
        let second = a.call();
        assert_eq!(second.limit(), 3, "learnt by the first call");
        second.on_success(Some(7));
        assert_eq!(second.stats().input_tokens, 7);
        assert_eq!(second.stats().lowest_concurrency, 3);
        assert_eq!(first.stats().input_tokens, 5);
        let total = a.stats();
        assert_eq!((total.requests, total.input_tokens), (2, 12));
        assert_eq!((total.throttle_retries, total.lowest_concurrency), (1, 3));
    }
}
