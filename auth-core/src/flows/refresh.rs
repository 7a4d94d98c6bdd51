//! Refreshing: a refresh token is exchanged for new tokens by rotating its family (see
//! [`crate::refresh`] for what a family is and how reuse is detected).

use std::net::IpAddr;

use super::{Authenticator, Tokens};
use crate::error::{Error, Result, TokenRejection};
use crate::event::{AuthEventKind, SessionEnd};
use crate::id::OpaqueSecret;
use crate::refresh::{NewRefreshToken, RefreshOutcome, Rotation};

impl Authenticator {
    /// Exchanges a refresh token for new tokens, rotating it. A token presented after it was
    /// rotated is reuse: the session and its whole family are revoked and the answer is
    /// [`Error::TokenReused`].
    pub async fn refresh(&self, refresh_token: &str, client: Option<IpAddr>) -> Result<Tokens> {
        let result = self.rotate_refresh(refresh_token, client).await;
        let outcome = match &result {
            Ok(_) => RefreshOutcome::Rotated,
            Err(Error::TokenReused) => RefreshOutcome::Reused,
            Err(Error::InvalidToken(_)) => RefreshOutcome::Invalid,
            Err(_) => RefreshOutcome::Error,
        };
        self.inner.observer.refreshed(outcome);
        result
    }

    async fn rotate_refresh(&self, refresh_token: &str, client: Option<IpAddr>) -> Result<Tokens> {
        let presented = OpaqueSecret::parse(refresh_token)?;
        let now = self.now();
        let lifetimes = self.inner.config.sessions;
        let successor = NewRefreshToken::issue(now, now + lifetimes.idle);
        let rotation = self
            .inner
            .stores
            .refresh
            .rotate(
                &presented.hash(),
                successor.record,
                now,
                lifetimes.refresh_reuse_grace,
            )
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
            Rotation::Rotated(family) => {
                let session = self
                    .inner
                    .stores
                    .sessions
                    .touch_session(&family.session_id, now, now + lifetimes.idle)
                    .await?;
                let user = self.inner.stores.users.user_by_id(&family.user_id).await?;
                match (session, user) {
                    // A session of older credentials is over, whatever its expiry says.
                    (Some(_), Some(user)) if user.epoch > family.epoch => {
                        self.end_session(
                            family.user_id,
                            &family.session_id,
                            SessionEnd::CredentialsChanged,
                            client,
                        )
                        .await?;
                        Err(TokenRejection::NotActive.into())
                    }
                    // `auth_time` is copied, never renewed: a refresh is no authentication.
                    (Some(session), Some(user)) if !user.disabled => self.tokens_for(
                        user.id,
                        &session.id,
                        session.amr,
                        session.auth_time,
                        successor.secret,
                    ),
                    _ => {
                        self.end_session(
                            family.user_id,
                            &family.session_id,
                            SessionEnd::Revoked,
                            client,
                        )
                        .await?;
                        Err(TokenRejection::NotActive.into())
                    }
                }
            }
        }
    }
}
