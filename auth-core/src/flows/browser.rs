//! Sessions held by a browser: the session's own secret in a cookie instead of tokens.
//!
//! A session's id is the digest of its secret ([`OpaqueSecret::session_id`]); the secret is
//! handed out once, when the session starts ([`Tokens::session_secret`](super::Tokens)), and a
//! browser keeps it in an `HttpOnly` cookie. Each request brings it back:
//! [`Authenticator::authenticate_session`] finds the live session it opens, so a session ended
//! anywhere (the session list, a password change, logout) stops its cookie at once. When the
//! session's assurance changes (a step-up), [`Authenticator::rotate_session`] moves it to a new
//! secret and ends the old one, so a cookie seen before the change opens nothing afterwards.

use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;

use super::{Authenticator, Principal};
use crate::clock::unix_seconds;
use crate::error::{Error, Result, TokenRejection};
use crate::id::{OpaqueSecret, SessionId};
use crate::store::{MAX_USER_AGENT_CHARS, Session};
use crate::token::{Claims, NoCustomClaims};

/// A session used again within this time of its last recorded use is not written again: its
/// idle expiry moves at most this late, and a page view costs one read, not a write.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

impl Authenticator {
    /// The principal of the session whose secret a browser presents (its session cookie).
    ///
    /// The session must be alive and not revoked; its idle expiry moves on as it is used. The
    /// principal's claims are the session's (`sid`, `amr`, `auth_time`, `exp` the session's
    /// idle expiry) with no `jti`: no token was issued. They carry no `scope`: a page that
    /// needs one looks it up ([`roles_of`](Self::roles_of)), so a route behind a scope check
    /// refuses a cookie session. [`Error::InvalidToken`] for a secret that is malformed or
    /// opens no live session.
    pub async fn authenticate_session(&self, secret: &str) -> Result<Principal> {
        let secret = OpaqueSecret::parse(secret)?;
        let id = secret.session_id();
        let session = self.live_session(&id).await?;
        if session.grant.is_some() {
            // A client's session has no cookie: its secret was never handed out.
            return Err(TokenRejection::NotActive.into());
        }
        let claims = self.session_claims(&session);
        Ok(Principal {
            user_id: session.user_id,
            session_id: Some(id),
            claims,
        })
    }

    /// Moves the caller's session to a new secret, returned, and ends the old one: the same
    /// user, methods, authentication time and expiry under a new id. Call it when the
    /// session's assurance changed (after a step-up) so that a secret seen before the change
    /// opens nothing after it (OWASP ASVS 3.2.1). The new session gets a refresh family of
    /// its own on the user's current credentials epoch.
    pub async fn rotate_session(
        &self,
        principal: &Principal,
        client: Option<IpAddr>,
    ) -> Result<SecretString> {
        let old_id = principal
            .session_id
            .as_ref()
            .ok_or_else(|| Error::InvalidRequest("the caller has no session".into()))?;
        let old = self.live_session(old_id).await?;
        if old.user_id != principal.user_id {
            return Err(TokenRejection::Revoked.into());
        }
        let user = self.user_for(principal).await?;
        if user.disabled {
            return Err(Error::InvalidCredentials);
        }
        let now = self.now();
        let secret = OpaqueSecret::generate();
        let id = secret.session_id();
        let idle_expires_at = (now + self.inner.config.sessions.idle).min(old.expires_at);
        self.inner
            .stores
            .sessions
            .create_session(Session {
                id: id.clone(),
                last_used_at: now,
                idle_expires_at,
                ..old.clone()
            })
            .await?;
        self.start_family(user.id, &id, idle_expires_at, old.expires_at, user.epoch)
            .await?;
        // The old session ends without an event of its own: it goes on under the new id.
        let ended = self
            .inner
            .stores
            .sessions
            .revoke_session(&user.id, old_id)
            .await?;
        self.retire_session(
            user.id,
            old_id,
            crate::event::SessionEnd::Revoked,
            false,
            client,
        )
        .await?;
        if !ended {
            // The old session ended meanwhile (revoked elsewhere): so does its successor.
            self.end_session(user.id, &id, crate::event::SessionEnd::Revoked, client)
                .await?;
            return Err(TokenRejection::Revoked.into());
        }
        self.end_if_credentials_moved(user.id, &id, user.epoch, client)
            .await?;
        Ok(secret.into_secret())
    }

    /// Records what started a session (the `User-Agent` of the request that opened it), for
    /// its owner's session list: cut to [`MAX_USER_AGENT_CHARS`] characters, control
    /// characters dropped.
    pub async fn describe_session(&self, id: &SessionId, user_agent: &str) -> Result<()> {
        let agent: String = user_agent
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_USER_AGENT_CHARS)
            .collect();
        if agent.trim().is_empty() {
            return Ok(());
        }
        self.inner
            .stores
            .sessions
            .describe_session(id, agent.trim())
            .await
    }

    /// The live, unrevoked session `id`, its use recorded when the last record is older than
    /// [`TOUCH_INTERVAL`].
    async fn live_session(&self, id: &SessionId) -> Result<Session> {
        let now = self.now();
        let sessions = &self.inner.stores.sessions;
        let revoked = || Error::InvalidToken(TokenRejection::Revoked);
        let session = sessions.session(id, now).await?.ok_or_else(revoked)?;
        if self.inner.sid_check.is_revoked(id).await? {
            return Err(revoked());
        }
        if now.duration_since(session.last_used_at).unwrap_or_default() < TOUCH_INTERVAL {
            return Ok(session);
        }
        let idle_expires_at = now + self.inner.config.sessions.idle;
        sessions
            .touch_session(id, now, idle_expires_at)
            .await?
            .ok_or_else(revoked)
    }

    /// The claims a session stands for when no token was issued.
    fn session_claims(&self, session: &Session) -> Claims<NoCustomClaims> {
        let tokens = &self.inner.config.tokens;
        Claims {
            iss: tokens.issuer.clone(),
            sub: session.user_id.to_string(),
            aud: tokens.audience.as_str().into(),
            exp: unix_seconds(session.idle_expires_at.min(session.expires_at)),
            iat: unix_seconds(self.now()),
            nbf: None,
            jti: String::new(),
            sid: Some(session.id.as_str().to_owned()),
            scope: String::new(),
            amr: session
                .amr
                .methods()
                .iter()
                .map(|method| (*method).to_owned())
                .collect(),
            auth_time: Some(unix_seconds(session.auth_time)),
            client_id: None,
            custom: NoCustomClaims {},
        }
    }
}
