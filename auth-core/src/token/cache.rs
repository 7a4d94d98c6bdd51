//! The verified-token cache behind [`TokenVerifier::with_cache`](super::TokenVerifier::with_cache).
//!
//! A signature check costs tens of microseconds (EdDSA, ES256, PASETO v4.public), and the same
//! access token usually comes back many times before it expires. The cache remembers the claims
//! of tokens that verified, keyed by the SHA-256 of the token (the token itself is never kept),
//! so a repeat costs a digest and a map lookup. It belongs to one verifier, so one set of keys
//! vouched for every entry; the claims (issuer, audience: the configured one or the one a
//! caller asks for) are checked again on every hit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::id::SecretHash;

use super::claims::Claims;

/// A bounded map from token digests to verified claims. When full, it starts afresh: simple,
/// bounded, and a cleared entry only costs one more signature check.
#[derive(Debug)]
pub(crate) struct VerifiedTokenCache {
    entries: Mutex<HashMap<SecretHash, Arc<Claims>>>,
    capacity: usize,
}

impl VerifiedTokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::with_capacity(capacity.min(1024))),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The claims cached for `key`, if any. Entries past `now - leeway >= exp` are dropped on
    /// the way: they could never be answered again.
    pub(crate) fn get(&self, key: &SecretHash, now: i64, leeway: i64) -> Option<Arc<Claims>> {
        let mut entries = self.lock();
        let claims = entries.get(key)?;
        if now.saturating_sub(leeway) >= claims.exp {
            entries.remove(key);
            return None;
        }
        Some(Arc::clone(claims))
    }

    pub(crate) fn put(&self, key: SecretHash, claims: Arc<Claims>) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, claims);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SecretHash, Arc<Claims>>> {
        // The map is consistent after any panic (every change is one call), so a poisoned lock
        // is still usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
