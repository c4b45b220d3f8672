//! What the platform provides: the time, sleeping, and the HTTP transport.
//!
//! Everything else in [`crate::aws`] takes these as values, so the same code runs natively and
//! on wasm32, and tests can drive the clock. The platform-specific parts are the two small
//! modules at the end: `native` (`SystemTime::now()`, tokio's timer) and `js` (`Date.now()`,
//! `setTimeout`). They are the only places in `src/aws` that read the real clock.

use super::http::{ReqwestTransport, Transport};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// `Send` natively, nothing on wasm32 (where futures from `fetch` are not `Send`).
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}
/// `Send` natively, nothing on wasm32 (where futures from `fetch` are not `Send`).
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` natively, nothing on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}
/// `Sync` natively, nothing on wasm32.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// A boxed future: `Send` natively, not on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed future: `Send` natively, not on wasm32.
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Wall-clock time, for signing and credential expiry. Implemented for any
/// `Fn() -> SystemTime`, so a test can pass a closure.
pub trait Clock: MaybeSend + MaybeSync {
    fn now(&self) -> SystemTime;
}

impl<F: Fn() -> SystemTime + MaybeSend + MaybeSync> Clock for F {
    fn now(&self) -> SystemTime {
        self()
    }
}

/// A clock that only moves when told to: for tests, natively and on wasm32.
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    pub fn new(start: SystemTime) -> Self {
        ManualClock(Mutex::new(start))
    }

    /// A clock at `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> Self {
        Self::new(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }

    pub fn set(&self, to: SystemTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Waiting between retries.
pub trait Sleep: MaybeSend + MaybeSync {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Sleeps for no time at all: for tests of retry logic that should not wait.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSleep;

impl Sleep for NoSleep {
    fn sleep(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// The clock, the timer and the HTTP transport every client uses. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    pub transport: Arc<dyn Transport>,
    pub clock: Arc<dyn Clock>,
    pub sleep: Arc<dyn Sleep>,
}

impl Runtime {
    /// The platform's defaults: reqwest (30 s timeout per request), the system clock
    /// (`Date.now()` on wasm32) and the platform's timer.
    pub fn platform() -> Result<Self, super::AwsError> {
        Ok(Runtime {
            transport: Arc::new(ReqwestTransport::new()?),
            clock: default_clock(),
            sleep: default_sleep(),
        })
    }

    /// The platform's transport and timer with another clock (the JS bindings pass theirs; tests
    /// pass a [`ManualClock`]).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Result<Self, super::AwsError> {
        Ok(Runtime {
            clock,
            ..Self::platform()?
        })
    }

    pub fn new(
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        sleep: Arc<dyn Sleep>,
    ) -> Self {
        Runtime {
            transport,
            clock,
            sleep,
        }
    }

    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

/// The platform's clock: `SystemTime::now()` natively, `Date.now()` on wasm32.
pub fn default_clock() -> Arc<dyn Clock> {
    #[cfg(not(target_arch = "wasm32"))]
    return Arc::new(native::SystemClock);
    #[cfg(target_arch = "wasm32")]
    return Arc::new(js::JsClock);
}

/// The platform's timer: tokio natively, `setTimeout` on wasm32.
pub fn default_sleep() -> Arc<dyn Sleep> {
    #[cfg(not(target_arch = "wasm32"))]
    return Arc::new(native::TokioSleep);
    #[cfg(target_arch = "wasm32")]
    return Arc::new(js::JsSleep);
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::{SystemClock, TokioSleep};

#[cfg(target_arch = "wasm32")]
pub use js::{JsClock, JsSleep};

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::{BoxFuture, Clock, Sleep};
    use std::time::{Duration, SystemTime};

    /// `SystemTime::now()`. Native only: on wasm32 it would panic.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct SystemClock;

    impl Clock for SystemClock {
        fn now(&self) -> SystemTime {
            SystemTime::now()
        }
    }

    /// `tokio::time::sleep` (reqwest needs a tokio runtime natively anyway).
    #[derive(Debug, Default, Clone, Copy)]
    pub struct TokioSleep;

    impl Sleep for TokioSleep {
        fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
            Box::pin(tokio::time::sleep(duration))
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod js {
    use super::{BoxFuture, Clock, Sleep};
    use std::time::{Duration, SystemTime};
    use wasm_bindgen::{JsCast, JsValue};

    /// `Date.now()`: milliseconds since the Unix epoch, from JavaScript.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct JsClock;

    impl Clock for JsClock {
        fn now(&self) -> SystemTime {
            let ms = js_sys::Date::now();
            // Date.now() is never negative or NaN for a real clock; clamp rather than panic.
            let ms = if ms.is_finite() && ms > 0.0 { ms } else { 0.0 };
            SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64)
        }
    }

    /// `setTimeout` on the global object (a window, a worker or node).
    #[derive(Debug, Default, Clone, Copy)]
    pub struct JsSleep;

    impl Sleep for JsSleep {
        fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
            let ms = duration.as_millis().min(i32::MAX as u128) as i32;
            let promise = js_sys::Promise::new(&mut |resolve, _reject| {
                let global = js_sys::global();
                let set_timeout = js_sys::Reflect::get(&global, &JsValue::from_str("setTimeout"))
                    .ok()
                    .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
                match set_timeout {
                    Some(f) => {
                        if f.call2(&global, &resolve, &JsValue::from(ms)).is_err() {
                            let _ = resolve.call0(&JsValue::UNDEFINED);
                        }
                    }
                    // No timer at all: do not wait rather than hang.
                    None => {
                        let _ = resolve.call0(&JsValue::UNDEFINED);
                    }
                }
            });
            Box::pin(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
            })
        }
    }
}
