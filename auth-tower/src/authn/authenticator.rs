//! What turns a bearer credential into a verified principal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use auth_core::Error;
use auth_core::TokenRejection;
use auth_core::clock::{SharedClock, SystemClock};
use auth_core::session::SidRevocationCheck;
use auth_core::store::{SecretHash, SessionId};
use auth_core::token::{Claims, TokenVerifier};

use crate::BoxFuture;

/// Verifies a bearer credential. Implemented by [`TokenAuthentication`] and by
/// `auth_core::flows::Authenticator`; implement it for anything else that can vouch for a token.
pub trait BearerAuthenticator: Clone + Send + Sync + 'static {
    /// What a verified credential yields; inserted into the request extensions.
    type Principal: Clone + Send + Sync + 'static;

    /// Verifies `token`. `Error::InvalidToken` (and `InvalidCredentials`) answer 401,
    /// `Error::Unavailable` 503, `Error::Throttled` 429; anything else 500.
    fn authenticate(&self, token: String) -> BoxFuture<Result<Self::Principal, Error>>;
}

impl BearerAuthenticator for auth_core::flows::Authenticator {
    type Principal = auth_core::flows::Principal;

    fn authenticate(&self, token: String) -> BoxFuture<Result<Self::Principal, Error>> {
        let authenticator = self.clone();
        Box::pin(async move { authenticator.authenticate(&token).await })
    }
}

/// Access-token verification for services that only check tokens: the signature and claims
/// (through a [`TokenVerifier`]), optionally a [`VerifiedTokenCache`] in front of it, and
/// optionally the `sid` revocation check. Yields the token's [`Claims`].
#[derive(Debug, Clone)]
pub struct TokenAuthentication {
    verifier: TokenVerifier,
    cache: Option<VerifiedTokenCache>,
    sid_check: Option<SidRevocationCheck>,
}

impl TokenAuthentication {
    /// Verification by `verifier` alone.
    pub fn new(verifier: TokenVerifier) -> Self {
        Self {
            verifier,
            cache: None,
            sid_check: None,
        }
    }

    /// Remembers verified tokens in `cache`, so repeated requests skip the signature check.
    pub fn with_cache(mut self, cache: VerifiedTokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Refuses tokens whose session (`sid`) was revoked. Checked on every request, cache hit
    /// or not.
    pub fn with_sid_check(mut self, check: SidRevocationCheck) -> Self {
        self.sid_check = Some(check);
        self
    }

    /// Verifies `token` and its session.
    pub async fn verify(&self, token: &str) -> Result<Claims, Error> {
        let claims = match &self.cache {
            Some(cache) => match cache.get(token) {
                Some(claims) => claims,
                None => {
                    let claims: Claims = self.verifier.verify_access(token)?;
                    cache.put(token, &claims);
                    claims
                }
            },
            None => self.verifier.verify_access(token)?,
        };
        if let (Some(check), Some(sid)) = (&self.sid_check, claims.sid.as_deref()) {
            let sid = SessionId::parse(sid)
                .map_err(|_| Error::InvalidToken(TokenRejection::Malformed))?;
            if check.is_revoked(&sid).await? {
                return Err(TokenRejection::Revoked.into());
            }
        }
        Ok(claims)
    }
}

impl BearerAuthenticator for TokenAuthentication {
    type Principal = Claims;

    fn authenticate(&self, token: String) -> BoxFuture<Result<Claims, Error>> {
        let this = self.clone();
        Box::pin(async move { this.verify(&token).await })
    }
}

/// A bounded cache of verified access tokens, keyed by the SHA-256 of the token (never the
/// token itself) and never used past the token's expiry. When full, it starts afresh.
#[derive(Clone)]
pub struct VerifiedTokenCache {
    entries: Arc<Mutex<HashMap<SecretHash, Claims>>>,
    capacity: usize,
    clock: SharedClock,
}

impl std::fmt::Debug for VerifiedTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokenCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl VerifiedTokenCache {
    /// A cache of at most `capacity` tokens, reading time from the system clock.
    pub fn new(capacity: usize) -> Self {
        Self::with_clock(capacity, Arc::new(SystemClock))
    }

    /// A cache of at most `capacity` tokens, reading time from `clock`.
    pub fn with_clock(capacity: usize, clock: SharedClock) -> Self {
        Self {
            entries: Arc::new(Mutex::new(HashMap::new())),
            capacity: capacity.max(1),
            clock,
        }
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, token: &str) -> Option<Claims> {
        let key = SecretHash::of(token.as_bytes());
        let now = self.clock.unix_seconds();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(&key) {
            Some(claims) if now < claims.exp => Some(claims.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    fn put(&self, token: &str, claims: &Claims) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(SecretHash::of(token.as_bytes()), claims.clone());
    }
}
