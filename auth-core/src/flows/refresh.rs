//! Refreshing: a refresh token is exchanged for new tokens by rotating its family (see
//! [`crate::refresh`] for what a family is and how reuse is detected).

use std::net::IpAddr;

use super::{Authenticator, ClientTokens, Tokens};
use crate::authz::ScopeSet;
use crate::error::{Error, Result, TokenRejection};
use crate::event::{AuthEventKind, SessionEnd};
use crate::id::OpaqueSecret;
use crate::oauth::{Client, ErrorCode, OAuthError};
use crate::refresh::{NewRefreshToken, RefreshOutcome, Rotation};
use crate::store::{Session, User};

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
        let result = self
            .rotate_refresh(refresh_token, requested, None, client)
            .await
            .and_then(|rotated| {
                // `auth_time` is copied, never renewed: a refresh is no authentication.
                self.tokens_for(
                    rotated.user.id,
                    &rotated.session.id,
                    rotated.session.amr,
                    rotated.session.auth_time,
                    rotated.refresh,
                    rotated.scope,
                )
            });
        self.observe_refresh(&result);
        result
    }

    /// The token endpoint's `refresh_token` grant for `client` (authenticated already): a
    /// refresh token of a session granted to this client, rotated as
    /// [`refresh`](Self::refresh) does, the new access token carrying `requested` of the
    /// grant (all of it by default; `invalid_scope` beyond it). Another client's token, or
    /// the server's own, is `invalid_grant` and left unspent.
    pub async fn refresh_client(
        &self,
        client: &Client,
        refresh_token: &str,
        requested: Option<&ScopeSet>,
        from: Option<IpAddr>,
    ) -> std::result::Result<ClientTokens, OAuthError> {
        let result = self
            .rotate_refresh(refresh_token, requested, Some(client), from)
            .await
            .and_then(|rotated| {
                self.client_tokens(
                    client,
                    &rotated.user,
                    &rotated.session.id,
                    rotated.session.amr,
                    rotated.session.auth_time,
                    rotated.scope,
                    Some(rotated.refresh),
                    None,
                )
            });
        self.observe_refresh(&result);
        result.map_err(|error| match error {
            Error::InvalidScope(why) => OAuthError::new(ErrorCode::InvalidScope, why),
            Error::InvalidToken(_) | Error::InvalidCredentials => {
                OAuthError::new(ErrorCode::InvalidGrant, "the refresh token is not valid")
            }
            Error::TokenReused => OAuthError::new(
                ErrorCode::InvalidGrant,
                "the refresh token was used already; the grant is revoked",
            ),
            Error::Unavailable(_) => {
                OAuthError::new(ErrorCode::TemporarilyUnavailable, "try again shortly")
            }
            _ => OAuthError::new(ErrorCode::ServerError, "the server failed; try again"),
        })
    }

    fn observe_refresh<T>(&self, result: &Result<T>) {
        let outcome = match result {
            Ok(_) => RefreshOutcome::Rotated,
            Err(Error::TokenReused) => RefreshOutcome::Reused,
            Err(Error::InvalidToken(_) | Error::InvalidScope(_)) => RefreshOutcome::Invalid,
            Err(_) => RefreshOutcome::Error,
        };
        self.inner.observer.refreshed(outcome);
    }

    /// Every fallible read and check comes first, the rotation last: a refresh that fails
    /// before it (a store down) leaves the presented token unspent, so the client's retry
    /// works; one whose answer is lost after it is covered by the reuse grace period.
    async fn rotate_refresh(
        &self,
        refresh_token: &str,
        requested: Option<&ScopeSet>,
        bound_to: Option<&Client>,
        client: Option<IpAddr>,
    ) -> Result<Rotated> {
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
        // A client's token is for that client alone; the server's own for the server alone.
        if session.grant.as_ref().map(|grant| &grant.client_id) != bound_to.map(|c| &c.id) {
            return Err(TokenRejection::NotActive.into());
        }
        // Additions since the last refresh show here; removals ended the session already.
        let scope = match &session.grant {
            None => self.session_scopes(&user.id, requested).await?,
            Some(grant) => {
                let ceiling = grant.scope.intersection(&self.grantable(&user.id).await?);
                match requested {
                    None => ceiling,
                    Some(requested) if requested.is_subset(&grant.scope) => {
                        requested.intersection(&ceiling)
                    }
                    Some(requested) => {
                        return Err(Error::InvalidScope(format!(
                            "not granted to this client: {}",
                            requested.difference(&grant.scope)
                        )));
                    }
                }
            }
        };
        // Every check before the rotation: an ID token that cannot be signed must not cost
        // the client its refresh token.
        if let Some(client) = bound_to
            && scope.contains("openid")
            && !self.can_sign_id_tokens(client)
        {
            return Err(Error::Config(format!(
                "no signing key for client {}'s ID tokens ({})",
                client.id, client.id_token_alg
            )));
        }
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
            Rotation::Rotated(_) => Ok(Rotated {
                user,
                session,
                scope,
                refresh: successor.secret,
            }),
        }
    }
}

/// A refresh token rotated: whose, which session, the scopes of the new access token, and
/// the successor.
struct Rotated {
    user: User,
    session: Session,
    scope: ScopeSet,
    refresh: OpaqueSecret,
}
