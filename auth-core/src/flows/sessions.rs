//! Session listing and revocation, and the cache behind the `sid` revocation check.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::{Authenticator, Principal};
use crate::error::{Error, Result};
use crate::event::SessionEnd;
use crate::store::SessionId;

/// A session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Public id, usable with [`Authenticator::revoke_session`].
    pub id: SessionId,
    /// When the login happened.
    pub created_at: SystemTime,
    /// When it was last used.
    pub last_used_at: SystemTime,
    /// Whether it is the session of the token that asked.
    pub current: bool,
}

impl Authenticator {
    /// The caller's live sessions, oldest first.
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<SessionInfo>> {
        let sessions = self
            .inner
            .stores
            .sessions
            .sessions_of(&principal.user_id, self.now())
            .await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionInfo {
                current: principal.session_id.as_ref() == Some(&session.id),
                id: session.id,
                created_at: session.created_at,
                last_used_at: session.last_used_at,
            })
            .collect())
    }

    /// Ends one of the caller's sessions; [`Error::NotFound`] if the caller has no such session.
    pub async fn revoke_session(&self, principal: &Principal, id: &SessionId) -> Result<()> {
        let live = self
            .inner
            .stores
            .sessions
            .session(id, self.now())
            .await?
            .is_some_and(|session| session.user_id == principal.user_id);
        if !live {
            return Err(Error::NotFound("no such session".into()));
        }
        self.end_session(principal.user_id, id, SessionEnd::Revoked)
            .await
    }

    /// Ends every session of the caller but the current one.
    pub async fn revoke_other_sessions(&self, principal: &Principal) -> Result<()> {
        self.end_other_sessions(principal, SessionEnd::Revoked)
            .await
    }

    pub(super) async fn end_other_sessions(
        &self,
        principal: &Principal,
        reason: SessionEnd,
    ) -> Result<()> {
        let ended = self
            .inner
            .stores
            .sessions
            .revoke_sessions_of(&principal.user_id, principal.session_id.as_ref())
            .await?;
        for session in ended {
            self.inner
                .stores
                .refresh
                .revoke_session_family(&session)
                .await?;
            self.revoke_sid(&session).await?;
            self.emit(
                crate::event::AuthEventKind::SessionEnded { reason },
                Some(principal.user_id),
                Some(session),
                None,
            )
            .await;
        }
        Ok(())
    }
}

/// Remembers recent answers of the revocation store for a short time, so verifying a token
/// does not always cost a round trip. Revocations made by this process are remembered at once
/// and for longer than any token lives, so they never wait for the cache.
pub(super) struct SidCache {
    ttl: Duration,
    entries: Mutex<HashMap<SessionId, (bool, SystemTime)>>,
}

/// Beyond this many entries the cache starts afresh, bounding its memory.
const MAX_ENTRIES: usize = 100_000;

impl SidCache {
    pub(super) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn get(&self, sid: &SessionId, now: SystemTime) -> Option<bool> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (revoked, checked_at) = *entries.get(sid)?;
        if revoked {
            return Some(true);
        }
        let fresh = now
            .duration_since(checked_at)
            .is_ok_and(|age| age < self.ttl);
        fresh.then_some(false)
    }

    pub(super) fn put(&self, sid: &SessionId, revoked: bool, now: SystemTime) {
        if self.ttl.is_zero() && !revoked {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(sid.clone(), (revoked, now));
    }

    pub(super) fn mark_revoked(&self, sid: &SessionId) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(sid.clone(), (true, SystemTime::UNIX_EPOCH));
    }
}
