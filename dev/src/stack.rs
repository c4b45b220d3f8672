//! What every server of the local stack shares: the credential store, the region, the CORS
//! rules and the shutdown signal, plus the accept loop that serves one hyper service on a
//! listener until shutdown.
//!
//! A service of the stack gets a bound listener (127.0.0.1, port from the command line, 0 for a
//! free one, bound before the ready file is written) and the [`Shared`] state, serves until
//! `shared.shutdown` fires, then lets in-flight requests finish briefly and returns:
//!
//! ```ignore
//! // S3 + STS
//! s3::serve(listener, shared.clone(), s3::Options { .. }).await?;
//! // Bedrock: its state is built from the shared credentials, region and CORS origins
//! let state = bedrock::cli::start(&args.bedrock, &shared).await?;
//! bedrock::serve(listener, state, shared.shutdown.clone().signalled()).await?;
//! ```

use crate::cors::Cors;
use crate::creds::CredentialStore;
use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use rand::Rng;
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The account every local principal belongs to (as LocalStack does).
pub const ACCOUNT_ID: &str = "000000000000";

/// How long in-flight requests may run on after shutdown was asked for.
pub const GRACE: Duration = Duration::from_secs(5);

/// State shared by all servers of the stack. Cheap to clone.
#[derive(Clone)]
pub struct Shared {
    /// Root keys and the sessions `AssumeRole` issued; every service verifies against it.
    pub creds: Arc<CredentialStore>,
    /// The region requests must be signed for, e.g. `us-east-1`.
    pub region: String,
    /// Origins allowed to call the stack from a browser.
    pub cors: Arc<Cors>,
    /// Fires once when the stack is stopping.
    pub shutdown: Shutdown,
}

/// A shutdown signal that any number of tasks can wait on.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Fires the [`Shutdown`] it was created with.
pub struct ShutdownTrigger(watch::Sender<bool>);

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    /// Resolves once shutdown has been triggered (or its trigger dropped).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }

    /// [`Self::wait`] as an owned future, for APIs that take `impl Future<Output = ()>`.
    pub async fn signalled(mut self) {
        self.wait().await;
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

/// Serves `service` on every connection `listener` accepts (HTTP/1.1 and h2c), until
/// `shutdown` fires; then stops accepting and waits up to [`GRACE`] for open connections.
pub async fn serve_http<S, B>(
    listener: TcpListener,
    service: S,
    mut shutdown: Shutdown,
) -> std::io::Result<()>
where
    S: Service<http::Request<Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let http = ConnBuilder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    // Out of file descriptors and the like: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.wait() => break,
        };
        let conn = http.serve_connection_with_upgrades(TokioIo::new(socket), service.clone());
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection ended with an error: {e}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open {GRACE:?} after shutdown; closing them");
    }
    Ok(())
}

/// A request id in the style of S3's (16 upper-case hex digits).
pub fn request_id() -> String {
    let n: u64 = rand::rng().random();
    format!("{n:016X}")
}

/// An id in the style of STS's and Bedrock's `x-amzn-RequestId` (a UUID v4).
pub fn uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Escapes text for an XML element or attribute.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The credential scope of a SigV4 request, from its `Authorization` header or its presigned
/// `X-Amz-Credential` parameter: `(access key, date, region, service)`.
pub fn credential_scope(
    headers: &http::HeaderMap,
    uri: &http::Uri,
) -> Option<(String, String, String, String)> {
    let credential = if let Some(auth) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
        rest.split(',')
            .map(str::trim)
            .find_map(|part| part.strip_prefix("Credential="))?
            .to_string()
    } else {
        form_urlencoded::parse(uri.query()?.as_bytes())
            .find(|(k, _)| k == "X-Amz-Credential")?
            .1
            .into_owned()
    };
    let mut parts = credential.split('/');
    let (ak, date, region, service) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((ak.into(), date.into(), region.into(), service.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_from_header_and_query() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=00"
                .parse()
                .unwrap(),
        );
        let uri: http::Uri = "/b/k".parse().unwrap();
        assert_eq!(
            credential_scope(&h, &uri),
            Some((
                "AKID".into(),
                "20250101".into(),
                "eu-west-1".into(),
                "s3".into()
            ))
        );
        let uri: http::Uri =
            "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
                .parse()
                .unwrap();
        assert_eq!(
            credential_scope(&http::HeaderMap::new(), &uri).map(|s| s.2),
            Some("us-east-1".into())
        );
        assert_eq!(
            credential_scope(&http::HeaderMap::new(), &"/".parse().unwrap()),
            None
        );
    }

    #[test]
    fn ids_and_escaping() {
        assert_eq!(request_id().len(), 16);
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    }
}
