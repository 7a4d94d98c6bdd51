//! Refreshing: a refresh token is exchanged for new tokens by rotating its family (see
//! [`crate::refresh`] for what a family is and how reuse is detected).

use std::net::IpAddr;

use super::{Authenticator, Tokens};
use crate::authz::ScopeSet;
use crate::error::{Error, Result, TokenRejection};
use crate::event::{AuthEventKind, SessionEnd};
use crate::id::OpaqueSecret;
use crate::refresh::{NewRefreshToken, RefreshOutcome, Rotation};

impl Authenticator {
    /// Exchanges a refresh token for new tokens, rotating it. A token presented after it was
    /// rotated is reuse: the session and its whole family are revoked and the answer is
    /// [`Error::TokenReused`].
    pub async fn refresh(&self, refresh_token: &str, client: Option<IpAddr>) -> Result<Tokens> {
        self.refresh_scoped(refresh_token, None, client).await
    }

    /// [`refresh`](Self::refresh), the new access token carrying only `requested` of what the
    /// session may carry (RFC 6749 section 6): every scope the user holds now, for the
    /// server's own sessions. The new refresh token keeps the whole grant, so a later refresh
    /// may ask for more again. [`Error::InvalidScope`] if `requested` names a scope the
    /// session may not carry; the refresh token is then left unspent.
    pub async fn refresh_scoped(
        &self,
        refresh_token: &str,
        requested: Option<&ScopeSet>,
        client: Option<IpAddr>,
    ) -> Result<Tokens> {
        let result = self.rotate_refresh(refresh_token, requested, client).await;
        let outcome = match &result {
            Ok(_) => RefreshOutcome::Rotated,
            Err(Error::TokenReused) => RefreshOutcome::Reused,
            Err(Error::InvalidToken(_) | Error::InvalidScope(_)) => RefreshOutcome::Invalid,
            Err(_) => RefreshOutcome::Error,
        };
        self.inner.observer.refreshed(outcome);
        result
    }

    /// Every fallible read and check comes first, the rotation last: a refresh that fails
    /// before it (a store down) leaves the presented token unspent, so the client's retry
    /// works; one whose answer is lost after it is covered by the reuse grace period.
    async fn rotate_refresh(
        &self,
        refresh_token: &str,
        requested: Option<&ScopeSet>,
        client: Option<IpAddr>,
    ) -> Result<Tokens> {
        let presented = OpaqueSecret::parse(refresh_token)?;
        let hash = presented.hash();
        let now = self.now();
        let lifetimes = self.inner.config.sessions;
        let stores = &self.inner.stores;
        let Some(family) = stores.refresh.live_family_of(&hash, now).await? else {
            return Err(TokenRejection::NotActive.into());
        };
        let session = stores
            .sessions
            .touch_session(&family.session_id, now, now + lifetimes.idle)
            .await?;
        let user = stores.users.user_by_id(&family.user_id).await?;
        let (session, user) = match (session, user) {
            (Some(session), Some(user)) if user.epoch <= family.epoch && !user.disabled => {
                (session, user)
            }
            (session, user) => {
                // A session of older credentials is over, whatever its expiry says.
                let older = session.is_some() && user.is_some_and(|u| u.epoch > family.epoch);
                let end = if older {
                    SessionEnd::CredentialsChanged
                } else {
                    SessionEnd::Revoked
                };
                self.end_session(family.user_id, &family.session_id, end, client)
                    .await?;
                return Err(TokenRejection::NotActive.into());
            }
        };
        // Additions since the last refresh show here; removals ended the session already.
        let scope = self.session_scopes(&user.id, requested).await?;
        let successor = NewRefreshToken::issue(now, now + lifetimes.idle);
        let rotation = stores
            .refresh
            .rotate(&hash, successor.record, now, lifetimes.refresh_reuse_grace)
            .await?;
        match rotation {
            Rotation::Invalid => Err(TokenRejection::NotActive.into()),
            Rotation::Reused(family) => {
                self.emit(
                    AuthEventKind::RefreshReuseDetected { family: family.id },
                    Some(family.user_id),
                    Some(family.session_id.clone()),
                    client,
                )
                .await;
                self.end_session(
                    family.user_id,
                    &family.session_id,
                    SessionEnd::RefreshReuse,
                    client,
                )
                .await?;
                Err(Error::TokenReused)
            }
            // `auth_time` is copied, never renewed: a refresh is no authentication.
            Rotation::Rotated(_) => self.tokens_for(
                user.id,
                &session.id,
                session.amr,
                session.auth_time,
                successor.secret,
                scope,
            ),
        }
    }
}
