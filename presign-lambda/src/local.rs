//! The local server mode: the same handler over HTTP on 127.0.0.1, for the local AWS stack.
//! It writes a ready file once listening and stops on SIGTERM or Ctrl-C.

use crate::handler::{App, Failure, Incoming, failure_response};
use crate::relay::{self, Upstream};
use crate::sts::AssumeRole;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming as HyperBody;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub async fn serve<S: AssumeRole, U: Upstream>(
    app: Arc<App<S, U>>,
    port: u16,
    ready_file: Option<PathBuf>,
) -> Result<(), String> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        format!("cannot listen on 127.0.0.1:{port} ({e}): pick another --port or 0")
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let base = format!("http://{addr}");
    if let Some(path) = &ready_file {
        write_ready(path, &base).await?;
    }
    tracing::info!(url = %base, "presign-lambda listening");
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let app = app.clone();
                let base = base.clone();
                let service = service_fn(move |req| {
                    let app = app.clone();
                    let base = base.clone();
                    async move { Ok::<_, Infallible>(answer(&app, req, peer, base).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended");
                    }
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after 5 s; stopping anyway");
    }
    if let Some(path) = &ready_file {
        let _ = tokio::fs::remove_file(path).await;
    }
    Ok(())
}

async fn answer<S: AssumeRole, U: Upstream>(
    app: &App<S, U>,
    request: hyper::Request<HyperBody>,
    peer: SocketAddr,
    base: String,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    // Read no more than the largest body any route takes, whatever Content-Length says.
    let body = match Limited::new(body, relay::MAX_BODY + 1).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let f = Failure {
                status: http::StatusCode::PAYLOAD_TOO_LARGE,
                code: "RequestTooLarge",
                message: format!(
                    "the body is over {} bytes, or was cut off: send less",
                    relay::MAX_BODY
                ),
                retryable: false,
                retry_after: None,
            };
            return failure_response(&f).map(Full::new);
        }
    };
    let incoming = Incoming {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        source_ip: Some(peer.ip()),
        base_url: Some(base),
    };
    app.handle(incoming).await.map(Full::new)
}

async fn write_ready(path: &Path, url: &str) -> Result<(), String> {
    let text = serde_json::json!({"url": url, "pid": std::process::id()}).to_string();
    // Written whole, then renamed, so a reader never sees half a file.
    let tmp = path.with_extension("tmp");
    let fail = |e: std::io::Error| format!("cannot write the ready file {} ({e})", path.display());
    tokio::fs::write(&tmp, text).await.map_err(fail)?;
    tokio::fs::rename(&tmp, path).await.map_err(fail)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
