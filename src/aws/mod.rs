//! The AWS client layer: SigV4 signing, credentials, and small S3, STS and Bedrock clients over
//! one HTTP transport. The same code runs natively (reqwest over hyper, rustls) and compiled to
//! wasm32 (reqwest over `fetch`).
//!
//! - [`runtime`]: what the platform provides: the [`Clock`], [`Sleep`] between retries, and the
//!   [`Runtime`] bundle of clock + sleep + [`Transport`]. The only module that knows about the
//!   platform (`SystemTime::now()` natively, `Date.now()`/`setTimeout` on wasm32).
//! - [`sign`]: SigV4 through AWS's `aws-sigv4`, with the settings each service needs
//!   ([`SigningProfile::s3`], [`SigningProfile::bedrock`], [`SigningProfile::sts`]); time is
//!   always an argument.
//! - [`credentials`]: [`Credentials`], static and environment providers, and
//!   [`CachingProvider`]: refreshes before expiry, coalesces concurrent refreshes into one
//!   fetch, and is told to drop credentials the service called expired. [`PresignFetcher`]
//!   fetches them from the presign endpoint.
//! - [`http`]: the [`Transport`] trait and its reqwest implementation.
//! - [`s3`], [`sts`], [`bedrock`]: the clients.
//! - [`error`]: [`AwsError`]: AWS's code, message and request id, whether a retry can help,
//!   and what to do about it.
//!
//! Invariant: nothing here calls `SystemTime::now()` (it panics on wasm32) except
//! [`runtime::SystemClock`], which does not exist on wasm32.

pub mod bedrock;
pub mod credentials;
pub mod error;
pub mod http;
mod retry;
pub mod runtime;
pub mod s3;
mod send;
pub mod sign;
pub mod sts;
mod xml;

pub use credentials::{
    CachingProvider, Credentials, CredentialsFetcher, CredentialsProvider, PresignConfig,
    PresignFetcher, StaticProvider,
};
pub use error::{AwsError, ErrorKind, ServiceError, TransportError};
pub use http::{Request, Response, Transport};
pub use retry::RetryPolicy;
pub use runtime::{BoxFuture, Clock, MaybeSend, MaybeSync, Runtime, Sleep};
pub use sign::{Signer, SigningProfile};
