//! presign-lambda: temporary AWS credentials for s3vec's browser client, narrowed to one bucket
//! prefix and one Bedrock model, and a CORS relay for Bedrock `InvokeModel`. See README.md.

pub mod auth;
pub mod config;
pub mod cors;
pub mod handler;
pub mod lambda;
pub mod local;
pub mod policy;
pub mod ratelimit;
pub mod relay;
pub mod sts;

#[cfg(test)]
mod handler_tests;
#[cfg(test)]
mod relay_tests;
