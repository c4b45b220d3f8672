//! Who may write: a bearer token whose SHA-256 matches the configured hash. Only the hash is
//! configured (an environment variable is no place for the secret itself), and the comparison
//! is constant-time so response timing says nothing about how much of a guess was right.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Longest token accepted, so hashing stays cheap whatever is sent.
pub const MAX_TOKEN_LEN: usize = 512;

#[derive(Debug, PartialEq, Eq)]
pub enum AuthError {
    /// The header is not `Bearer <token>`.
    Malformed,
    /// A token was sent but this deployment grants no write access.
    NoWriteAccessConfigured,
    /// The token is not the configured one.
    WrongToken,
}

impl AuthError {
    pub fn message(&self) -> &'static str {
        match self {
            AuthError::Malformed => {
                "the Authorization header is not `Bearer <token>`: send the write token as a \
                 bearer token, or no Authorization header for read-only credentials"
            }
            AuthError::NoWriteAccessConfigured => {
                "this endpoint grants no write access (no WRITE_TOKEN_SHA256 is configured): \
                 send no Authorization header for read-only credentials"
            }
            AuthError::WrongToken => {
                "the bearer token is not this endpoint's write token: check it, or send no \
                 Authorization header for read-only credentials"
            }
        }
    }
}

pub fn sha256(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// `Ok(false)`: no Authorization header (anonymous). `Ok(true)`: the right token.
pub fn check_bearer(header: Option<&[u8]>, expected: Option<&[u8; 32]>) -> Result<bool, AuthError> {
    let Some(header) = header else {
        return Ok(false);
    };
    let token = header
        .strip_prefix(b"Bearer ")
        .or_else(|| header.strip_prefix(b"bearer "))
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN)
        .ok_or(AuthError::Malformed)?;
    let expected = expected.ok_or(AuthError::NoWriteAccessConfigured)?;
    if bool::from(sha256(token).ct_eq(expected)) {
        Ok(true)
    } else {
        Err(AuthError::WrongToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_header_is_anonymous_whatever_is_configured() {
        assert_eq!(check_bearer(None, None), Ok(false));
        assert_eq!(check_bearer(None, Some(&sha256(b"t"))), Ok(false));
    }

    #[test]
    fn the_right_token_authorises_and_a_wrong_one_is_refused() {
        let hash = sha256(b"correct horse battery staple");
        assert_eq!(
            check_bearer(Some(b"Bearer correct horse battery staple"), Some(&hash)),
            Ok(true)
        );
        assert_eq!(
            check_bearer(Some(b"Bearer correct horse battery stapl"), Some(&hash)),
            Err(AuthError::WrongToken)
        );
    }

    #[test]
    fn malformed_headers_and_unconfigured_write_access_are_told_apart() {
        let hash = sha256(b"t");
        for bad in [&b"Basic dTpw"[..], b"Bearer ", b"Bearer    ", b"t"] {
            assert_eq!(
                check_bearer(Some(bad), Some(&hash)),
                Err(AuthError::Malformed)
            );
        }
        let long = [b"Bearer ".as_slice(), &[b'a'; MAX_TOKEN_LEN + 1]].concat();
        assert_eq!(
            check_bearer(Some(&long), Some(&hash)),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            check_bearer(Some(b"Bearer t"), None),
            Err(AuthError::NoWriteAccessConfigured)
        );
    }

    #[test]
    fn the_hash_is_sha256_as_sha256sum_prints_it() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
