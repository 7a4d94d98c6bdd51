//! Refresh tokens: what a family is, and how it rotates.
//!
//! A refresh token is an opaque 256-bit secret ([`OpaqueSecret`]) stored only as its digest.
//! Every login session starts one [`RefreshFamily`]; each use of the family's current token
//! spends it and makes a successor current, atomically, in one
//! [`RefreshStore::rotate`](crate::store::RefreshStore::rotate) call. Presenting a spent token
//! again is reuse: the whole family (and its session) is revoked, unless the token was spent
//! within the reuse grace period ([`within_grace`]), which covers a client retrying a refresh
//! whose answer it lost. A family ends at its absolute expiry; each token at its idle expiry,
//! never later than the family's.

use std::time::{Duration, SystemTime};

use crate::id::{FamilyId, OpaqueSecret, SecretHash, SessionId, UserId};

/// A family of refresh tokens: all the tokens one login session rotated through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    /// The family's id.
    pub id: FamilyId,
    /// Whose session it is.
    pub user_id: UserId,
    /// The session it belongs to.
    pub session_id: SessionId,
    /// When the family started (the login).
    pub created_at: SystemTime,
    /// Absolute expiry: no token of the family is valid after it.
    pub expires_at: SystemTime,
    /// The credentials epoch of the login (see [`User::epoch`](crate::store::User::epoch)): a
    /// refresh is refused once the user's epoch has moved past it.
    pub epoch: u64,
}

/// One refresh token, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// The digest of the token.
    pub hash: SecretHash,
    /// When it was issued.
    pub issued_at: SystemTime,
    /// Idle expiry: it must be used before this time.
    pub idle_expires_at: SystemTime,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now spent and the successor is current.
    Rotated(RefreshFamily),
    /// The token had been rotated already: the whole family is now revoked.
    Reused(RefreshFamily),
    /// Unknown, expired, or of a revoked family.
    Invalid,
}

/// How many times one spent token may be retried within the reuse grace period; the next
/// retry is reuse. A client that lost an answer retries once or twice, not more.
pub const MAX_GRACE_RETRIES: u32 = 3;

/// Whether a refresh token spent at `spent_at` and presented again at `now` is a retry that the
/// reuse grace period covers. A zero grace period covers nothing, not even a retry in the same
/// instant. Every backend decides with this one rule.
pub fn within_grace(spent_at: SystemTime, now: SystemTime, grace: Duration) -> bool {
    !grace.is_zero() && now.duration_since(spent_at).unwrap_or_default() <= grace
}

/// A freshly generated refresh token: the secret for its holder, and the record stored in its
/// place.
#[derive(Debug)]
pub struct NewRefreshToken {
    /// The token, shown once to the client.
    pub secret: OpaqueSecret,
    /// What the store keeps.
    pub record: RefreshTokenRecord,
}

impl NewRefreshToken {
    /// A new token issued at `now`, to be used before `idle_expires_at`.
    pub fn issue(now: SystemTime, idle_expires_at: SystemTime) -> Self {
        let secret = OpaqueSecret::generate();
        let record = RefreshTokenRecord {
            hash: secret.hash(),
            issued_at: now,
            idle_expires_at,
        };
        Self { secret, record }
    }
}

/// What a refresh call came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// The token was rotated and new tokens issued.
    Rotated,
    /// A spent token was presented again: the family was revoked.
    Reused,
    /// Unknown, malformed, expired or revoked.
    Invalid,
    /// A dependency failed; nothing was decided.
    Error,
}

impl RefreshOutcome {
    /// A stable label: `rotated`, `reused`, `invalid` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rotated => "rotated",
            Self::Reused => "reused",
            Self::Invalid => "invalid",
            Self::Error => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_grace_period_covers_no_retry_even_in_the_same_instant() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(!within_grace(now, now, Duration::ZERO));
    }

    #[test]
    fn a_retry_is_covered_up_to_the_end_of_the_grace_period_and_not_after() {
        let spent = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let grace = Duration::from_secs(30);
        assert!(within_grace(spent, spent + grace, grace));
        assert!(!within_grace(
            spent,
            spent + grace + Duration::from_millis(1),
            grace
        ));
    }

    #[test]
    fn a_new_token_is_stored_only_as_the_digest_of_its_secret() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let token = NewRefreshToken::issue(now, now + Duration::from_secs(60));
        assert_eq!(token.record.hash, token.secret.hash());
        assert_eq!(token.record.issued_at, now);
    }
}
