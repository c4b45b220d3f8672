//! The credential store shared by the S3, STS and Bedrock endpoints: one root key pair (from the
//! command line or environment) and the temporary sessions `AssumeRole` issued.
//!
//! The clock is an argument everywhere, so expiry is testable without sleeping.

use crate::policy::Policy;
use rand::Rng;
use rand::distr::Alphanumeric;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

#[derive(Clone, Debug)]
pub struct Session {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: SystemTime,
    /// The inline session policy; `None` means the role's own (unrestricted, locally) permissions.
    pub policy: Option<Arc<Policy>>,
    pub assumed_role_arn: String,
}

/// Who signed a request, once its access key, token and expiry have been checked.
#[derive(Clone, Debug)]
pub enum Principal {
    Root,
    Session(Session),
}

impl Principal {
    /// The session policy that bounds this principal, if any (root is unrestricted).
    pub fn policy(&self) -> Option<&Policy> {
        match self {
            Principal::Root => None,
            Principal::Session(s) => s.policy.as_deref(),
        }
    }
}

/// Why a request's credentials were refused, named as AWS names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// The access key is not root and not a live session's.
    InvalidAccessKeyId,
    /// A session key was used without its `x-amz-security-token`, or with another one.
    InvalidToken,
    /// The session has expired.
    ExpiredToken,
}

pub struct CredentialStore {
    root_access_key: String,
    root_secret_key: String,
    sessions: RwLock<HashMap<String, Session>>,
}

impl CredentialStore {
    pub fn new(root_access_key: impl Into<String>, root_secret_key: impl Into<String>) -> Self {
        CredentialStore {
            root_access_key: root_access_key.into(),
            root_secret_key: root_secret_key.into(),
            sessions: RwLock::new(HashMap::new()),
        }
    }

    pub fn root_access_key(&self) -> &str {
        &self.root_access_key
    }

    /// The secret that signs requests for `access_key` (expired sessions included, so that an
    /// expired but correctly signed request is answered `ExpiredToken`, not a signature error).
    pub fn secret_for(&self, access_key: &str) -> Option<String> {
        if access_key == self.root_access_key {
            return Some(self.root_secret_key.clone());
        }
        self.read()
            .get(access_key)
            .map(|s| s.secret_access_key.clone())
    }

    /// Issues temporary credentials valid for `duration` from `now`.
    pub fn issue(
        &self,
        policy: Option<Policy>,
        duration: Duration,
        now: SystemTime,
        role_arn: &str,
    ) -> Session {
        let mut rng = rand::rng();
        let mut token = |n: usize| -> String {
            (&mut rng)
                .sample_iter(&Alphanumeric)
                .take(n)
                .map(char::from)
                .collect()
        };
        let session = Session {
            access_key_id: format!("ASIA{}", token(16).to_ascii_uppercase()),
            secret_access_key: token(40),
            session_token: format!("IQoJb3JpZ2luX2Vj{}", token(300)),
            expiration: now + duration,
            policy: policy.map(Arc::new),
            assumed_role_arn: role_arn.to_string(),
        };
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        // Drop sessions that expired over an hour ago so a long-running stack does not grow.
        sessions.retain(|_, s| s.expiration + Duration::from_secs(3600) > now);
        sessions.insert(session.access_key_id.clone(), session.clone());
        session
    }

    /// Checks the access key, the session token and expiry of a request whose signature has
    /// already been verified with [`Self::secret_for`].
    pub fn authenticate(
        &self,
        access_key: &str,
        token: Option<&str>,
        now: SystemTime,
    ) -> Result<Principal, AuthError> {
        if access_key == self.root_access_key {
            return Ok(Principal::Root);
        }
        let sessions = self.read();
        let session = sessions
            .get(access_key)
            .ok_or(AuthError::InvalidAccessKeyId)?;
        if token != Some(session.session_token.as_str()) {
            return Err(AuthError::InvalidToken);
        }
        if now >= session.expiration {
            return Err(AuthError::ExpiredToken);
        }
        Ok(Principal::Session(session.clone()))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Session>> {
        self.sessions.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_need_their_token_and_expire() {
        let store = CredentialStore::new("AKIALOCALROOT", "root-secret");
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let s = store.issue(
            None,
            Duration::from_secs(900),
            t0,
            "arn:aws:iam::000000000000:role/browser",
        );
        assert!(s.access_key_id.starts_with("ASIA") && s.access_key_id.len() == 20);
        assert_eq!(
            store.secret_for(&s.access_key_id).as_deref(),
            Some(s.secret_access_key.as_str())
        );
        assert!(matches!(
            store.authenticate(&s.access_key_id, Some(&s.session_token), t0),
            Ok(Principal::Session(_))
        ));
        assert_eq!(
            store.authenticate(&s.access_key_id, None, t0).unwrap_err(),
            AuthError::InvalidToken
        );
        assert_eq!(
            store
                .authenticate(&s.access_key_id, Some("forged"), t0)
                .unwrap_err(),
            AuthError::InvalidToken
        );
        let later = t0 + Duration::from_secs(900);
        assert_eq!(
            store
                .authenticate(&s.access_key_id, Some(&s.session_token), later)
                .unwrap_err(),
            AuthError::ExpiredToken
        );
        assert_eq!(
            store.authenticate("ASIANOPE", None, t0).unwrap_err(),
            AuthError::InvalidAccessKeyId
        );
        assert!(matches!(
            store.authenticate("AKIALOCALROOT", None, t0),
            Ok(Principal::Root)
        ));
    }
}
