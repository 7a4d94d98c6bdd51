//! Session listing and revocation.

use std::time::SystemTime;

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
