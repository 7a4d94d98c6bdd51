//! Sessions: listing, revocation, logout, and the one way a session ends.

use std::net::IpAddr;
use std::time::SystemTime;

use super::{Authenticator, Principal, SensitiveAction};
use crate::error::{Error, Result};
use crate::event::{AuthEventKind, SessionEnd};
use crate::id::{SessionId, UserId};
use crate::store::User;

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
    /// Opened by a passkey whose signature counter did not increase, accepted by the
    /// configuration ([`CounterPolicy::AcceptAndFlag`](super::CounterPolicy)): perhaps a
    /// cloned authenticator.
    pub flagged: bool,
    /// The client's address when it started.
    pub client: Option<std::net::IpAddr>,
    /// What started it (its `User-Agent`), when described
    /// ([`Authenticator::describe_session`]).
    pub user_agent: Option<String>,
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
                flagged: session.flagged,
                client: session.client,
                user_agent: session.user_agent,
            })
            .collect())
    }

    /// Ends one of the caller's sessions; [`Error::NotFound`] if the caller has no such session.
    /// Ending another session than the caller's own needs a fresh authentication
    /// ([`Error::ReauthRequired`] otherwise).
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        id: &SessionId,
        client: Option<IpAddr>,
    ) -> Result<()> {
        if principal.session_id.as_ref() != Some(id) {
            self.require_fresh(principal, SensitiveAction::EndOtherSessions)?;
        }
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
        self.end_session(principal.user_id, id, SessionEnd::Revoked, client)
            .await
    }

    /// Ends every session of the caller but the current one ("log out everywhere else"): the
    /// credentials epoch moves on, so logins finishing concurrently and second-factor
    /// challenges already issued end too. Needs a fresh authentication
    /// ([`Error::ReauthRequired`] otherwise).
    pub async fn revoke_other_sessions(
        &self,
        principal: &Principal,
        client: Option<IpAddr>,
    ) -> Result<()> {
        self.require_fresh(principal, SensitiveAction::EndOtherSessions)?;
        let user = self.user_for(principal).await?;
        let epoch = self.advance_epoch(&user).await?;
        self.credentials_changed(principal, epoch, SessionEnd::Revoked, client)
            .await
    }

    /// Disables an account: it can no longer log in, its credentials epoch moves on and every
    /// session of it ends at once. [`Error::NotFound`] if there is no such account.
    pub async fn disable_user(&self, user: &UserId) -> Result<()> {
        if !self.inner.stores.users.set_disabled(user, true).await? {
            return Err(Error::NotFound("no such account".into()));
        }
        let ended = self
            .inner
            .stores
            .sessions
            .revoke_sessions_of(user, None)
            .await?;
        for session in ended {
            self.retire_session(*user, &session, SessionEnd::CredentialsChanged, true, None)
                .await?;
        }
        Ok(())
    }

    /// Moves the user's credentials epoch on from the one `user` was read with; the new
    /// epoch. [`Error::Conflict`] if it moved meanwhile: another credential change won, and
    /// this one, authorised under the credentials before it, must not apply.
    pub(super) async fn advance_epoch(&self, user: &User) -> Result<u64> {
        self.inner
            .stores
            .users
            .advance_epoch(&user.id, user.epoch)
            .await?
            .ok_or_else(|| Error::Conflict("the credentials changed meanwhile; try again".into()))
    }

    /// Ends the session just opened (or renewed) for `user` if their credentials epoch is no
    /// longer `epoch`, and refuses. A credential change moves the epoch on, then ends the
    /// sessions it finds; read after the session exists, the epoch has either not moved (and
    /// the change's sweep will find the session) or it has (and the session ends here), so no
    /// session of old credentials survives either way.
    pub(super) async fn end_if_credentials_moved(
        &self,
        user: UserId,
        session: &SessionId,
        epoch: u64,
        client: Option<IpAddr>,
    ) -> Result<()> {
        let current = self.inner.stores.users.user_by_id(&user).await?;
        if current.is_some_and(|current| current.epoch == epoch && !current.disabled) {
            return Ok(());
        }
        self.end_session(user, session, SessionEnd::CredentialsChanged, client)
            .await?;
        Err(Error::InvalidCredentials)
    }

    /// After a credential change that moved the user's epoch to `epoch`: the caller's own
    /// session moves to it and keeps working, every other session ends. Logins that read the
    /// old credentials and finish later end themselves (see `start_session`).
    pub(super) async fn credentials_changed(
        &self,
        principal: &Principal,
        epoch: u64,
        reason: SessionEnd,
        client: Option<IpAddr>,
    ) -> Result<()> {
        if let Some(current) = &principal.session_id {
            self.inner
                .stores
                .refresh
                .advance_family_epoch(current, epoch)
                .await?;
        }
        self.end_sessions_of(
            principal.user_id,
            principal.session_id.as_ref(),
            reason,
            client,
        )
        .await
    }

    /// After a second factor was added or removed (`event`), the epoch moved (`epoch`; an
    /// error if it could not be): the event recorded whatever the epoch did, then the caller's
    /// session moved to the epoch and every other one ended, then the owner's `notice` mailed.
    pub(super) async fn factor_changed(
        &self,
        principal: &Principal,
        user: &crate::store::User,
        epoch: Result<u64>,
        event: crate::event::AuthEventKind,
        notice: crate::mail::MailKind,
        client: Option<IpAddr>,
    ) -> Result<()> {
        self.emit(event, Some(user.id), principal.session_id.clone(), client)
            .await;
        self.credentials_changed(principal, epoch?, SessionEnd::CredentialsChanged, client)
            .await?;
        self.notify(user, notice, &super::Origin::from_client(client))
            .await;
        Ok(())
    }

    /// Ends every session of `user` but `except`.
    pub(super) async fn end_sessions_of(
        &self,
        user: UserId,
        except: Option<&SessionId>,
        reason: SessionEnd,
        client: Option<IpAddr>,
    ) -> Result<()> {
        let ended = self
            .inner
            .stores
            .sessions
            .revoke_sessions_of(&user, except)
            .await?;
        for session in ended {
            self.retire_session(user, &session, reason, true, client)
                .await?;
        }
        Ok(())
    }

    /// Ends the caller's session: its refresh tokens and access tokens stop working at once.
    pub async fn logout(&self, principal: &Principal, client: Option<IpAddr>) -> Result<()> {
        let session = principal
            .session_id
            .as_ref()
            .ok_or_else(|| Error::InvalidRequest("the token has no session".into()))?;
        self.end_session(principal.user_id, session, SessionEnd::Logout, client)
            .await
    }

    /// Ends a session, its refresh family and (through the revocation list) its access tokens.
    pub(super) async fn end_session(
        &self,
        user: UserId,
        session: &SessionId,
        reason: SessionEnd,
        client: Option<IpAddr>,
    ) -> Result<()> {
        let ended = self
            .inner
            .stores
            .sessions
            .revoke_session(&user, session)
            .await?;
        self.retire_session(user, session, reason, ended, client)
            .await
    }

    /// What ending a session does besides removing its record: its refresh family is revoked,
    /// its access tokens are refused from now on, and (when the record was still there, so
    /// the end is news) the end is recorded.
    pub(super) async fn retire_session(
        &self,
        user: UserId,
        session: &SessionId,
        reason: SessionEnd,
        record_end: bool,
        client: Option<IpAddr>,
    ) -> Result<()> {
        self.inner
            .stores
            .refresh
            .revoke_session_family(session)
            .await?;
        let tokens = &self.inner.config.tokens;
        let until = self.now() + tokens.access_ttl + tokens.leeway;
        self.inner.sid_check.revoke(session, until).await?;
        if record_end {
            self.emit(
                AuthEventKind::SessionEnded { reason },
                Some(user),
                Some(session.clone()),
                client,
            )
            .await;
        }
        Ok(())
    }
}
