//! The Lambda front end: function URL events (API Gateway's v2 payload) in and out of the
//! handler.

use crate::handler::{App, Incoming};
use crate::relay::Upstream;
use crate::sts::AssumeRole;
use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt, service_fn};
use std::convert::Infallible;
use std::sync::Arc;

pub async fn run<S: AssumeRole, U: Upstream>(
    app: Arc<App<S, U>>,
) -> Result<(), lambda_http::Error> {
    lambda_http::run(service_fn(move |event: lambda_http::Request| {
        let app = app.clone();
        async move {
            let response = app.handle(incoming(event)).await;
            Ok::<_, Infallible>(response.map(|b| match String::from_utf8(b.to_vec()) {
                Ok(text) if !text.is_empty() => Body::Text(text),
                Ok(_) => Body::Empty,
                Err(e) => Body::Binary(e.into_bytes()),
            }))
        }
    }))
    .await
}

fn incoming(event: lambda_http::Request) -> Incoming {
    let (source_ip, domain) = match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (
            ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok()),
            ctx.domain_name.clone(),
        ),
        _ => (None, None),
    };
    let host = event
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or(domain);
    let path = match event.raw_http_path() {
        "" => event.uri().path().to_string(),
        raw => raw.to_string(),
    };
    let query = event.uri().query().map(str::to_string);
    let (parts, body) = event.into_parts();
    Incoming {
        method: parts.method,
        path,
        query,
        headers: parts.headers,
        body: match body {
            Body::Empty => Bytes::new(),
            Body::Text(t) => Bytes::from(t),
            Body::Binary(b) => Bytes::from(b),
            // A body kind this crate does not know yet: treat it as absent, so the route
            // answers with its own error rather than guessing at the bytes.
            _ => Bytes::new(),
        },
        source_ip,
        // Function URLs are HTTPS only.
        base_url: host.map(|h| format!("https://{h}")),
    }
}
