//! Server-side sessions and the opaque secrets behind sessions and refresh tokens.
//!
//! Both are 256 random bits from the operating system, shown once as unpadded base64url and
//! stored only as their SHA-256 digest ([`SecretHash`]). A session's public id is that digest
//! ([`SessionId`]): access tokens carry it as `sid`, and users see it when listing sessions.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::clock::SharedClock;
use crate::error::{Result, TokenRejection};
use crate::store::{RevocationStore, SecretHash, SessionId};

/// A 256-bit opaque secret (a refresh token, a session secret).
pub struct OpaqueSecret(SecretString);

impl OpaqueSecret {
    /// A fresh secret from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
    }

    /// Reads a secret given by a client; anything but 43 base64url characters is malformed.
    pub fn parse(text: &str) -> Result<Self> {
        let well_formed = text.len() == 43
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD
                .decode(text)
                .is_ok_and(|bytes| bytes.len() == 32);
        if well_formed {
            Ok(Self(SecretString::from(text)))
        } else {
            Err(TokenRejection::Malformed.into())
        }
    }

    /// The digest stored in place of the secret.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(self.0.expose_secret().as_bytes())
    }

    /// The session id of a session whose secret this is.
    pub fn session_id(&self) -> SessionId {
        SessionId::from_secret(self.0.expose_secret().as_bytes())
    }

    /// The secret, to hand to its holder.
    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

impl fmt::Debug for OpaqueSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueSecret(REDACTED)")
    }
}

/// How long sessions and their refresh tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetimes {
    /// Unused for this long, a session (and its refresh token) expires. Default 7 days.
    pub idle: Duration,
    /// Absolute lifetime of a session and its refresh-token family (`REFRESH_TOKEN_TTL`).
    /// Default 30 days.
    pub absolute: Duration,
    /// A refresh token presented again within this time after its rotation is a client retry,
    /// not reuse. Default zero: every second use is reuse.
    pub refresh_reuse_grace: Duration,
}

impl Default for SessionLifetimes {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(7 * 24 * 3600),
            absolute: Duration::from_secs(30 * 24 * 3600),
            refresh_reuse_grace: Duration::ZERO,
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
        self.store.revoke_sid(sid, until).await?;
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
    use super::*;

    #[test]
    fn secrets_are_256_bits_of_base64url_and_distinct() {
        let a = OpaqueSecret::generate().into_secret();
        let b = OpaqueSecret::generate().into_secret();
        assert_eq!(a.expose_secret().len(), 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
        let decoded = URL_SAFE_NO_PAD.decode(a.expose_secret()).unwrap();
        assert_eq!(decoded.len(), 32);
    }

    #[test]
    fn a_parsed_secret_hashes_like_the_generated_one() {
        let secret = OpaqueSecret::generate();
        let hash = secret.hash();
        let id = secret.session_id();
        let text = secret.into_secret();
        let parsed = OpaqueSecret::parse(text.expose_secret()).unwrap();
        assert_eq!(parsed.hash(), hash);
        assert_eq!(parsed.session_id(), id);
        assert_eq!(id.as_str(), hash.to_base64url());
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for text in [
            "",
            "short",
            &"a".repeat(44),
            &"!".repeat(43),
            &"a".repeat(4096),
        ] {
            assert!(OpaqueSecret::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = OpaqueSecret::generate();
        assert_eq!(format!("{secret:?}"), "OpaqueSecret(REDACTED)");
    }

    #[cfg(feature = "memory")]
    mod sid_check {
        use std::sync::Arc;
        use std::time::Duration;

        use super::super::SidRevocationCheck;
        use crate::clock::{Clock, ManualClock};
        use crate::session::OpaqueSecret;
        use crate::store::RevocationStore;
        use crate::store::memory::MemoryStore;

        fn setup(ttl: u64) -> (SidRevocationCheck, Arc<MemoryStore>, Arc<ManualClock>) {
            let store = Arc::new(MemoryStore::new());
            let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
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
                .revoke_sid(&sid, clock.now() + Duration::from_secs(900))
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
                .revoke_sid(&sid, clock.now() + Duration::from_secs(900))
                .await
                .unwrap();
            assert!(check.is_revoked(&sid).await.unwrap());
        }
    }
}
