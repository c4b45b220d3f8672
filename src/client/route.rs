//! How Bedrock is reached: directly, or through the presign service's CORS relay.
//!
//! Bedrock's runtime endpoint does not answer browsers' CORS preflights, so a page may have to
//! send its `InvokeModel` calls to the relay (`{relay}/model/{id}/invoke`), which forwards them
//! unchanged to Bedrock. The request is still signed for Bedrock's own host: the relay checks
//! and forwards that signature and adds no authority of its own. So the route is a transport
//! under the Bedrock client: the client signs for the direct URL, and this layer only swaps
//! the base of the URL it sends to.
//!
//! In `Auto`, the first direct call that gets no answer at all (a CORS refusal looks like that
//! to a page, as does a blocked network) is sent again to the relay, and every later call goes
//! to the relay. Timeouts are not a reason to switch: the service may be slow, not unreachable.

use crate::aws::error::{TransportError, TransportErrorKind};
use crate::aws::http::{Request, Response, Transport};
use crate::aws::runtime::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BedrockRoute {
    /// Direct, then the relay for good once a direct call gets no answer (if a relay is known).
    #[default]
    Auto,
    Direct,
    Relay,
}

impl std::str::FromStr for BedrockRoute {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(BedrockRoute::Auto),
            "direct" => Ok(BedrockRoute::Direct),
            "relay" => Ok(BedrockRoute::Relay),
            other => Err(format!(
                "unknown Bedrock route {other:?}; expected \"auto\", \"direct\" or \"relay\""
            )),
        }
    }
}

/// Sends requests for `direct` (a base URL) to it or to `relay`.
pub(crate) struct RouteTransport {
    inner: Arc<dyn Transport>,
    direct: String,
    relay: Option<String>,
    auto: bool,
    relaying: AtomicBool,
}

impl RouteTransport {
    /// `direct` and `relay` are base URLs without a trailing `/`.
    pub fn new(
        inner: Arc<dyn Transport>,
        direct: String,
        relay: Option<String>,
        route: BedrockRoute,
    ) -> Result<Self, String> {
        let relaying = match (route, &relay) {
            (BedrockRoute::Relay, None) => {
                return Err("bedrockRoute \"relay\" needs a relay: give endpoints.bedrockRelay, or use a presign endpoint that offers one".into());
            }
            (BedrockRoute::Relay, Some(_)) => true,
            _ => false,
        };
        Ok(RouteTransport {
            inner,
            direct,
            relay,
            auto: route == BedrockRoute::Auto,
            relaying: AtomicBool::new(relaying),
        })
    }

    /// Whether calls go to the relay now.
    pub fn relaying(&self) -> bool {
        self.relaying.load(Ordering::Relaxed)
    }

    /// `request` with its URL moved from the direct base to the relay's.
    fn to_relay(&self, request: &Request) -> Option<Request> {
        let relay = self.relay.as_deref()?;
        let url = request.uri.to_string();
        let rest = url.strip_prefix(&self.direct)?;
        let mut moved = request.clone();
        moved.uri = format!("{relay}{rest}").parse().ok()?;
        Some(moved)
    }
}

/// A failure that may be a CORS refusal or an unreachable endpoint, which the relay may get
/// around; not a timeout, nor a request that could not even be built.
fn unreachable(e: &TransportError) -> bool {
    !matches!(
        e.kind,
        TransportErrorKind::Timeout | TransportErrorKind::Request
    )
}

impl Transport for RouteTransport {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(async move {
            if self.relaying()
                && let Some(moved) = self.to_relay(&request)
            {
                return self.inner.send(moved).await;
            }
            let direct = self.inner.send(request.clone()).await;
            match direct {
                Err(e) if self.auto && unreachable(&e) => match self.to_relay(&request) {
                    Some(moved) => {
                        let relayed = self.inner.send(moved).await;
                        if relayed.is_ok() {
                            self.relaying.store(true, Ordering::Relaxed);
                        }
                        relayed
                    }
                    None => Err(e),
                },
                other => other,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::http::Response;
    use std::sync::Mutex;

    /// Answers 200 for the relay's host, fails the direct one as a browser does on CORS.
    #[derive(Default)]
    struct Fake {
        seen: Mutex<Vec<String>>,
    }

    impl Transport for Fake {
        fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
            let url = request.uri.to_string();
            self.seen.lock().unwrap().push(url.clone());
            Box::pin(async move {
                if url.starts_with("https://relay.example") {
                    Ok(Response {
                        status: http::StatusCode::OK,
                        headers: Default::default(),
                        body: Default::default(),
                    })
                } else {
                    Err(TransportError {
                        kind: TransportErrorKind::Other,
                        method: "POST".into(),
                        url,
                        message: "TypeError: Failed to fetch".into(),
                    })
                }
            })
        }
    }

    fn request() -> Request {
        Request::parse(
            http::Method::POST,
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke",
        )
        .unwrap()
    }

    fn route(fake: &Arc<Fake>, relay: Option<&str>, mode: BedrockRoute) -> RouteTransport {
        RouteTransport::new(
            fake.clone(),
            "https://bedrock-runtime.us-east-1.amazonaws.com".into(),
            relay.map(str::to_string),
            mode,
        )
        .unwrap()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).expect("the fake answers at once")
    }

    #[test]
    fn auto_switches_to_the_relay_after_a_call_without_answer() {
        let fake = Arc::new(Fake::default());
        let r = route(
            &fake,
            Some("https://relay.example/bedrock"),
            BedrockRoute::Auto,
        );
        assert!(block_on(r.send(request())).is_ok());
        assert!(r.relaying());
        assert!(block_on(r.send(request())).is_ok());
        let seen = fake.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert!(seen[0].starts_with("https://bedrock-runtime."));
        assert_eq!(
            seen[1],
            "https://relay.example/bedrock/model/amazon.titan-embed-text-v2%3A0/invoke"
        );
        assert_eq!(seen[2], seen[1], "once switched, straight to the relay");
    }

    #[test]
    fn direct_never_relays_and_relay_needs_a_url() {
        let fake = Arc::new(Fake::default());
        let r = route(
            &fake,
            Some("https://relay.example/bedrock"),
            BedrockRoute::Direct,
        );
        assert!(block_on(r.send(request())).is_err());
        assert!(!r.relaying());
        let r = route(&fake, None, BedrockRoute::Auto);
        assert!(block_on(r.send(request())).is_err());
        assert!(
            RouteTransport::new(fake.clone(), "https://x".into(), None, BedrockRoute::Relay)
                .is_err()
        );
        let r = route(
            &fake,
            Some("https://relay.example/bedrock"),
            BedrockRoute::Relay,
        );
        assert!(block_on(r.send(request())).is_ok());
        assert_eq!(fake.seen.lock().unwrap().len(), 3);
    }
}
