//! Server-side sessions: their lifetimes, and the `sid` revocation check of token verifiers.
//!
//! A session's public id is the digest of its secret ([`SessionId`]); access tokens carry it as
//! `sid`, so a revoked session's tokens are refused before they expire.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::clock::SharedClock;
use crate::error::{Error, Result, TokenRejection};
use crate::id::SessionId;
use crate::store::RevocationStore;

/// How long sessions and their refresh tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetimes {
    /// Unused for this long, a session (and its refresh token) expires. Default 7 days.
    pub idle: Duration,
    /// Absolute lifetime of a session and its refresh-token family (`REFRESH_TOKEN_TTL`).
    /// Default 30 days.
    pub absolute: Duration,
    /// A refresh token presented again within this time after its first rotation is a client retry
    /// (its answer was lost), not reuse: the successor issued last time is replaced, and
    /// presenting that replaced successor is reuse. At most
    /// [`MAX_GRACE_RETRIES`](crate::refresh::MAX_GRACE_RETRIES) retries per token. Default 30
    /// seconds; zero makes every second use reuse.
    pub refresh_reuse_grace: Duration,
}

impl Default for SessionLifetimes {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(7 * 24 * 3600),
            absolute: Duration::from_secs(30 * 24 * 3600),
            refresh_reuse_grace: Duration::from_secs(30),
        }
    }
}

/// The `sid` check of token verifiers: is the session an access token names revoked?
///
/// Answers of the [`RevocationStore`] are remembered for `cache_ttl`, so verifying a token does
/// not always cost a round trip; a revocation made elsewhere is seen within that time.
/// Revocations made through this check ([`SidRevocationCheck::revoke`]) take effect at once.
/// Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct SidRevocationCheck {
    store: Arc<dyn RevocationStore>,
    clock: SharedClock,
    cache_ttl: Duration,
    cache: Arc<Mutex<HashMap<SessionId, CacheEntry>>>,
}

#[derive(Clone, Copy)]
enum CacheEntry {
    /// Revoked: sessions never come back, so this needs no expiry.
    Revoked,
    /// Not revoked when checked at this time.
    Live(SystemTime),
}

/// Beyond this many entries the cache starts afresh, bounding its memory.
const MAX_CACHED_SIDS: usize = 100_000;

impl SidRevocationCheck {
    /// A check over `store`, remembering "not revoked" answers for `cache_ttl` (zero: ask the
    /// store every time).
    pub fn new(store: Arc<dyn RevocationStore>, clock: SharedClock, cache_ttl: Duration) -> Self {
        Self {
            store,
            clock,
            cache_ttl,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The session an access token names in its `sid` claim, if any, refused when revoked:
    /// the one check every token verifier runs. A `sid` that cannot be a session id is a
    /// malformed token.
    pub async fn check_sid(&self, sid: Option<&str>) -> Result<Option<SessionId>> {
        let Some(sid) = sid else {
            return Ok(None);
        };
        let sid =
            SessionId::parse(sid).map_err(|_| Error::InvalidToken(TokenRejection::Malformed))?;
        if self.is_revoked(&sid).await? {
            return Err(TokenRejection::Revoked.into());
        }
        Ok(Some(sid))
    }

    /// Whether the session is revoked.
    pub async fn is_revoked(&self, sid: &SessionId) -> Result<bool> {
        let now = self.clock.now();
        match self.cached(sid) {
            Some(CacheEntry::Revoked) => return Ok(true),
            Some(CacheEntry::Live(checked_at))
                if now
                    .duration_since(checked_at)
                    .is_ok_and(|age| age < self.cache_ttl) =>
            {
                return Ok(false);
            }
            _ => {}
        }
        let revoked = self.store.is_sid_revoked(sid, now).await?;
        if revoked {
            self.remember(sid, CacheEntry::Revoked);
        } else if !self.cache_ttl.is_zero() {
            self.remember(sid, CacheEntry::Live(now));
        }
        Ok(revoked)
    }

    /// Revokes the session until `until` (when its last access token has expired).
    pub async fn revoke(&self, sid: &SessionId, until: SystemTime) -> Result<()> {
        self.store.revoke_sid(sid, self.clock.now(), until).await?;
        self.remember(sid, CacheEntry::Revoked);
        Ok(())
    }

    fn cached(&self, sid: &SessionId) -> Option<CacheEntry> {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sid)
            .copied()
    }

    fn remember(&self, sid: &SessionId, entry: CacheEntry) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_SIDS {
            cache.clear();
        }
        cache.insert(sid.clone(), entry);
    }
}

impl fmt::Debug for SidRevocationCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SidRevocationCheck")
            .field("store", &self.store)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {

    #[cfg(feature = "memory")]
    mod sid_check {
        use std::sync::Arc;
        use std::time::Duration;

        use super::super::SidRevocationCheck;
        use crate::clock::{Clock, ManualClock};
        use crate::id::OpaqueSecret;
        use crate::store::RevocationStore;
        use crate::store::memory::MemoryStore;

        fn setup(ttl: u64) -> (SidRevocationCheck, Arc<MemoryStore>, Arc<ManualClock>) {
            let store = Arc::new(MemoryStore::new());
            let clock = crate::testing::clock();
            let check =
                SidRevocationCheck::new(store.clone(), clock.clone(), Duration::from_secs(ttl));
            (check, store, clock)
        }

        #[tokio::test]
        async fn a_revocation_through_the_check_is_seen_at_once() {
            let (check, _, clock) = setup(60);
            let sid = OpaqueSecret::generate().session_id();
            assert!(!check.is_revoked(&sid).await.unwrap());
            check
                .revoke(&sid, clock.now() + Duration::from_secs(900))
                .await
                .unwrap();
            assert!(check.is_revoked(&sid).await.unwrap());
        }

        #[tokio::test]
        async fn a_revocation_elsewhere_is_seen_when_the_cached_answer_is_stale() {
            let (check, store, clock) = setup(2);
            let sid = OpaqueSecret::generate().session_id();
            assert!(!check.is_revoked(&sid).await.unwrap());
            store
                .revoke_sid(&sid, clock.now(), clock.now() + Duration::from_secs(900))
                .await
                .unwrap();
            assert!(!check.is_revoked(&sid).await.unwrap(), "cached");
            clock.advance(Duration::from_secs(2));
            assert!(check.is_revoked(&sid).await.unwrap());
        }

        #[tokio::test]
        async fn without_a_cache_every_check_asks_the_store() {
            let (check, store, clock) = setup(0);
            let sid = OpaqueSecret::generate().session_id();
            assert!(!check.is_revoked(&sid).await.unwrap());
            store
                .revoke_sid(&sid, clock.now(), clock.now() + Duration::from_secs(900))
                .await
                .unwrap();
            assert!(check.is_revoked(&sid).await.unwrap());
        }
    }
}
