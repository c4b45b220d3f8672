//! The local AWS stack for s3vec. Real servers speaking AWS's wire formats on 127.0.0.1, so code
//! that passes against them works against AWS unchanged.

pub mod creds;
pub mod policy;
// S3 + STS, and what every server of the stack shares.
pub mod cors;
pub mod s3;
pub mod stack;
pub mod sts;
// The Bedrock-compatible embedding service and the model behind it.
pub mod bedrock;
pub mod model;
