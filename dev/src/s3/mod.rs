//! The S3 + STS server: s3s over an s3s-fs data directory, with SigV4 verified by s3s against
//! the [`CredentialStore`](crate::creds::CredentialStore), tokens, expiry and session policies
//! checked by [`access::Access`], STS `AssumeRole` as an s3s custom route ([`crate::sts`]), and
//! a front layer that answers CORS preflights, adds request ids and CORS grants, and words
//! errors as AWS does (STS errors as `<ErrorResponse>`).

pub mod access;
mod keylock;
pub mod stats;

use crate::cors::{Cors, Refusal};
use crate::stack::{self, Shared, xml_escape};
use crate::sts::{Sts, StsError};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use s3s::Body;
use s3s::service::{S3Service, S3ServiceBuilder};
use std::error::Error as StdError;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// What the S3 server needs beyond [`Shared`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Buckets are its subdirectories; it must exist.
    pub data_dir: PathBuf,
    /// Test hook: every session `AssumeRole` issues lives this long.
    pub session_lifetime_override: Option<Duration>,
}

/// Serves S3 and STS on `listener` until `shared.shutdown` fires.
pub async fn serve(listener: TcpListener, shared: Shared, options: Options) -> std::io::Result<()> {
    let front = Front::new(&shared, &options)?;
    stack::serve_http(listener, front, shared.shutdown.clone()).await
}

/// The s3s service: S3 over the data directory, STS as a custom route.
pub fn s3_service(shared: &Shared, options: &Options) -> std::io::Result<S3Service> {
    let fs = s3s_fs::FileSystem::new(&options.data_dir).map_err(|e| {
        std::io::Error::other(format!(
            "cannot serve data directory {}: {e:?}",
            options.data_dir.display()
        ))
    })?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(access::Auth {
        creds: shared.creds.clone(),
    });
    builder.set_access(access::Access {
        creds: shared.creds.clone(),
        region: shared.region.clone(),
    });
    builder.set_route(Sts::new(
        shared.creds.clone(),
        shared.region.clone(),
        options.session_lifetime_override,
    ));
    Ok(builder.build())
}

/// The hyper service in front of s3s.
#[derive(Clone)]
pub struct Front {
    s3: S3Service,
    cors: Arc<Cors>,
    locks: Arc<keylock::KeyLocks>,
    stats: Arc<stats::Stats>,
}

type BoxError = Box<dyn StdError + Send + Sync>;

impl Front {
    pub fn new(shared: &Shared, options: &Options) -> std::io::Result<Front> {
        Ok(Front {
            s3: s3_service(shared, options)?,
            cors: shared.cors.clone(),
            locks: Arc::default(),
            stats: Arc::default(),
        })
    }

    pub async fn handle(&self, req: Request<Body>) -> Result<Response<Body>, BoxError> {
        if req.uri().path() == stats::PATH && req.method() == Method::GET {
            let mut resp = Response::new(Body::from(self.stats.to_json()));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Ok(resp);
        }
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let request_id = stack::request_id();
        let host_id = format!("{}{}", stack::request_id(), stack::request_id());
        let mut origin = http::HeaderMap::new();
        if let Some(o) = req.headers().get(header::ORIGIN) {
            origin.insert(header::ORIGIN, o.clone());
        }
        // S3 has no `POST /`: all of those are STS's, whatever went wrong with them.
        let is_sts = req.method() == Method::POST && req.uri().path() == "/";
        let is_preflight = req.method() == Method::OPTIONS;
        let mut resp = if is_preflight {
            self.preflight(&req, &request_id, &host_id)
        } else if !is_sts && access::is_sig_v2(req.headers(), req.uri()) {
            s3_error_response(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
                &request_id,
                &host_id,
            )
        } else {
            let writes = !matches!(*req.method(), Method::GET | Method::HEAD);
            let _guard = self.locks.acquire(req.uri().path(), writes).await;
            let resp = self.s3.call(req).await.map_err(BoxError::from)?;
            if resp.status().is_client_error() || resp.status().is_server_error() {
                reword_error(resp, is_sts, &request_id, &host_id).await
            } else {
                resp
            }
        };
        let headers = resp.headers_mut();
        if is_sts {
            if !headers.contains_key("x-amzn-requestid")
                && let Ok(v) = HeaderValue::from_str(&stack::uuid())
            {
                headers.insert("x-amzn-requestid", v);
            }
        } else {
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                headers.insert("x-amz-request-id", v);
            }
            if let Ok(v) = HeaderValue::from_str(&host_id) {
                headers.insert("x-amz-id-2", v);
            }
            headers.insert(header::SERVER, HeaderValue::from_static("AmazonS3"));
        }
        // A preflight carries its own grant, or none when refused.
        if !is_preflight {
            self.cors.decorate(&origin, headers);
            self.stats.record(&method, &path, resp.status().as_u16());
        }
        Ok(resp)
    }

    fn preflight(&self, req: &Request<Body>, request_id: &str, host_id: &str) -> Response<Body> {
        match self.cors.preflight(req.headers()) {
            Ok(headers) => {
                let mut resp = Response::new(Body::empty());
                *resp.headers_mut() = headers;
                resp.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                resp
            }
            Err(refusal) => {
                let (status, code, message) = match refusal {
                    Refusal::MissingOrigin => (
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "Insufficient information. Origin request header needed.".to_string(),
                    ),
                    Refusal::MissingMethod => (
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        "Invalid Access-Control-Request-Method: null".to_string(),
                    ),
                    Refusal::NotAllowed => (
                        StatusCode::FORBIDDEN,
                        "AccessForbidden",
                        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.".to_string(),
                    ),
                };
                s3_error_response(status, code, &message, request_id, host_id)
            }
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for Front {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.handle(req.map(Body::from)).await })
    }
}

fn s3_error_xml(code: &str, message: &str, request_id: &str, host_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>",
        xml_escape(code),
        xml_escape(message)
    )
}

fn s3_error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
    host_id: &str,
) -> Response<Body> {
    let mut resp = Response::new(Body::from(s3_error_xml(code, message, request_id, host_id)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// AWS's wording for errors s3s reports without a message (or with its own).
fn aws_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        "AccessDenied" => "Access Denied",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        "InvalidRange" => "The requested range is not satisfiable",
        "RequestTimeTooSkewed" => {
            "The difference between the request time and the current time is too large."
        }
        "BucketAlreadyOwnedByYou" => {
            "Your previous request to create the named bucket succeeded and you already own it."
        }
        "BucketNotEmpty" => "The bucket you tried to delete is not empty",
        _ => return None,
    })
}

fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + len])
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Rewrites an s3s error body the way AWS words it: S3 errors get AWS's message, `RequestId`
/// and `HostId`; errors on STS requests (a bad signature, an unknown key) become STS's
/// `<ErrorResponse>`.
async fn reword_error(
    resp: Response<Body>,
    is_sts: bool,
    request_id: &str,
    host_id: &str,
) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    let bytes = match http_body_util::Limited::new(body, 1 << 20).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let text = String::from_utf8_lossy(&bytes);
    let Some(code) = xml_text(&text, "Code").map(xml_unescape) else {
        // Not an s3s error document (STS's own, or a HEAD response without a body).
        return Response::from_parts(parts, Body::from(bytes));
    };
    if text.contains("<ErrorResponse") {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let message = xml_text(&text, "Message").map(xml_unescape);
    parts.headers.remove(header::CONTENT_LENGTH);
    if is_sts {
        let (status, code, message) = match code.as_str() {
            "InvalidAccessKeyId" => (
                StatusCode::FORBIDDEN,
                "InvalidClientTokenId".to_string(),
                "The security token included in the request is invalid.".to_string(),
            ),
            "SignatureDoesNotMatch" => (
                StatusCode::FORBIDDEN,
                code,
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".to_string(),
            ),
            "RequestTimeTooSkewed" => (
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch".to_string(),
                "Signature expired: the request time is more than 15 minutes from the server time"
                    .to_string(),
            ),
            _ => (parts.status, code, message.unwrap_or_default()),
        };
        let e = StsError {
            status,
            code,
            message,
        };
        parts.status = status;
        parts
            .headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        let rid = stack::uuid();
        if let Ok(v) = HeaderValue::from_str(&rid) {
            parts.headers.insert("x-amzn-requestid", v);
        }
        return Response::from_parts(parts, Body::from(e.to_xml(&rid)));
    }
    let message = match (aws_message(&code), message) {
        (Some(aws), None) => aws.to_string(),
        (Some(aws), Some(_)) if code == "PreconditionFailed" => aws.to_string(),
        (_, Some(m)) => m,
        (None, None) => String::new(),
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    let xml = s3_error_xml(&code, &message, request_id, host_id);
    Response::from_parts(parts, Body::from(xml))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_error_documents() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>a &amp; b</Message></Error>";
        assert_eq!(xml_text(xml, "Code"), Some("NoSuchKey"));
        assert_eq!(
            xml_text(xml, "Message").map(xml_unescape).as_deref(),
            Some("a & b")
        );
        assert_eq!(xml_text(xml, "RequestId"), None);
    }
}
