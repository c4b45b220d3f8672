//! The local AWS stack for s3vec. Real servers speaking AWS's wire formats on 127.0.0.1, so code
//! that passes against them works against AWS unchanged.

pub mod creds;
pub mod policy;
