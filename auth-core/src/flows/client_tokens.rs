//! What a client does with tokens besides obtaining them for a user: tokens for itself
//! (`client_credentials`, RFC 6749 section 4.4), asking whether a token is alive
//! (introspection, RFC 7662), and giving one back (revocation, RFC 7009).
//!
//! Who may learn what is on [`Introspection`] and [`Authenticator::revoke_token`].

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::Authenticator;
use crate::authz::{Scope, ScopeSet};
use crate::error::{Error, Result};
use crate::event::SessionEnd;
use crate::id::OpaqueSecret;
use crate::oauth::client::IDENTITY_SCOPES;
use crate::oauth::{Client, ClientId, ErrorCode, GrantType, OAuthError};
use crate::token::{Audience, Claims, NewToken, NoCustomClaims, TokenKind};

use super::oauth::{ClientTokens, server_error};

/// What introspection answers (RFC 7662 section 2.2): `active`, and for an active token what
/// it is.
///
/// Who may learn what:
/// - An access token is described to the client it was issued to, and to a client that
///   registered an audience the token names (a resource server's). The server's own
///   account-API tokens (no `client_id`) are never described.
/// - A refresh token is described to the client it was issued to, and only while it is the
///   current token of a live grant.
/// - Anything else, and anything expired, revoked or unknown, is `{"active": false}`, with
///   nothing to tell the cases apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Introspection {
    /// Whether the token is alive and the asking client may know about it.
    pub active: bool,
    /// What the token is, when active.
    #[serde(flatten)]
    pub token: Option<ActiveToken>,
}

impl Introspection {
    /// `{"active": false}`.
    pub fn inactive() -> Self {
        Self {
            active: false,
            token: None,
        }
    }

    fn active(token: ActiveToken) -> Self {
        Self {
            active: true,
            token: Some(token),
        }
    }
}

/// An active token's description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveToken {
    /// `access_token` or `refresh_token`.
    pub token_use: &'static str,
    /// `Bearer` for an access token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// The client it was issued to.
    pub client_id: String,
    /// Its scopes, space-separated.
    pub scope: String,
    /// The user, or for a `client_credentials` token the client.
    pub sub: String,
    /// Expiry, Unix seconds (for a refresh token: its idle expiry, capped by the grant's).
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// This server.
    pub iss: String,
    /// An access token's recipients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// An access token's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

fn unix(time: SystemTime) -> i64 {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

impl Authenticator {
    /// An access token for `client` itself (`client_credentials`): `sub` and `client_id` name
    /// the client, `aud` its audience, `scope` the `requested` scopes (all of its own when
    /// none are named). No refresh token (RFC 6749 section 4.4.3), no ID token: the client
    /// asks again when it expires. `unauthorized_client` for a client not registered for the
    /// grant, `invalid_scope` for a scope it does not hold or an identity scope.
    pub fn client_credentials(
        &self,
        client: &Client,
        requested: Option<&ScopeSet>,
    ) -> std::result::Result<ClientTokens, OAuthError> {
        if !client.allows(GrantType::ClientCredentials) || client.is_public() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the client may not use client_credentials",
            ));
        }
        let own: ScopeSet = client
            .scopes
            .iter()
            .filter(|scope| !IDENTITY_SCOPES.contains(&scope.as_str()))
            .cloned()
            .collect();
        let scope = match requested {
            None => own,
            Some(requested) if requested.is_subset(&own) => requested.clone(),
            Some(_) => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    "a scope the client does not hold, or one about a user (client_credentials \
                     has none)",
                ));
            }
        };
        let tokens = &self.inner.config.tokens;
        let audience = client
            .audience
            .clone()
            .unwrap_or_else(|| tokens.audience.clone());
        let access = self
            .issue(
                TokenKind::Access,
                NewToken::new(client.id.to_string())
                    .scope(scope.iter().map(Scope::as_str))
                    .audience(Audience::from(vec![audience]))
                    .client_id(client.id.as_str()),
            )
            .map_err(|error| server_error(&error))?;
        Ok(ClientTokens {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: tokens.access_ttl.as_secs(),
            refresh_token: None,
            id_token: None,
            scope,
        })
    }

    /// What `token` (an access token or a refresh token; the kind is told from its form, so
    /// no hint is needed) is, as far as `caller` may know (see [`Introspection`]).
    pub async fn introspect(&self, caller: &Client, token: &str) -> Result<Introspection> {
        match OpaqueSecret::parse(token) {
            Ok(refresh) => self.introspect_refresh(caller, &refresh).await,
            Err(_) => self.introspect_access(caller, token).await,
        }
    }

    /// `token`'s claims if it is a live access token issued to a client, and either issued to
    /// `caller` or naming the audience `caller` registered; `None` for any other token.
    async fn client_access_claims(
        &self,
        caller: &Client,
        token: &str,
    ) -> Result<Option<Claims<NoCustomClaims>>> {
        let config = &self.inner.config.tokens;
        // An audience of the caller's own; not the server's or the issuer, which registration
        // refuses but a configuration changed since could have made so.
        let own = caller
            .audience
            .as_ref()
            .filter(|audience| **audience != config.audience && **audience != config.issuer);
        // Without an audience of its own, the caller shares the server's with every such
        // client: only its own tokens are its business. A resource server introspects the
        // same token on each request it serves: the verified-token cache spares the signature.
        let audience = own.unwrap_or(&config.audience);
        let claims = match self
            .inner
            .verifier
            .verify_access_cached_for(token, audience)
        {
            Ok(claims) => claims,
            Err(Error::InvalidToken(_)) => return Ok(None),
            Err(other) => return Err(other),
        };
        let Some(client_id) = claims.client_id.as_deref() else {
            return Ok(None);
        };
        if own.is_none() && client_id != caller.id.as_str() {
            return Ok(None);
        }
        match self.inner.sid_check.check_sid(claims.sid.as_deref()).await {
            Ok(_) => {}
            Err(Error::InvalidToken(_)) => return Ok(None),
            Err(other) => return Err(other),
        }
        // A deleted client's tokens are dead with it.
        let Ok(client_id) = ClientId::parse(client_id) else {
            return Ok(None);
        };
        if self.client(&client_id).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(claims))
    }

    async fn introspect_access(&self, caller: &Client, token: &str) -> Result<Introspection> {
        let Some(claims) = self.client_access_claims(caller, token).await? else {
            return Ok(Introspection::inactive());
        };
        Ok(Introspection::active(ActiveToken {
            token_use: "access_token",
            token_type: Some("Bearer"),
            client_id: claims.client_id.unwrap_or_default(),
            scope: claims.scope,
            sub: claims.sub,
            exp: claims.exp,
            iat: claims.iat,
            iss: claims.iss,
            aud: Some(claims.aud),
            jti: Some(claims.jti),
        }))
    }

    async fn introspect_refresh(
        &self,
        caller: &Client,
        token: &OpaqueSecret,
    ) -> Result<Introspection> {
        let now = self.now();
        let stores = &self.inner.stores;
        let Some((family, record)) = stores.refresh.current_token(&token.hash(), now).await? else {
            return Ok(Introspection::inactive());
        };
        let Some(grant) = stores
            .sessions
            .session(&family.session_id, now)
            .await?
            .and_then(|session| session.grant)
            .filter(|grant| grant.client_id == caller.id)
        else {
            return Ok(Introspection::inactive());
        };
        let alive = stores
            .users
            .user_by_id(&family.user_id)
            .await?
            .is_some_and(|user| !user.disabled && user.epoch <= family.epoch);
        if !alive {
            return Ok(Introspection::inactive());
        }
        Ok(Introspection::active(ActiveToken {
            token_use: "refresh_token",
            token_type: None,
            client_id: grant.client_id.to_string(),
            scope: grant.scope.to_string(),
            sub: family.user_id.to_string(),
            exp: unix(record.idle_expires_at.min(family.expires_at)),
            iat: unix(record.issued_at),
            iss: self.inner.config.tokens.issuer.clone(),
            aud: None,
            jti: None,
        }))
    }

    /// Revokes `token` for `caller`. Revoking a refresh token (current or spent) or a user's
    /// access token ends the grant it belongs to: the session, its refresh tokens at once, its
    /// access tokens through the revocation list (recorded as a session end,
    /// `client_revoked`). Only the client a token was issued to revokes it: another client's
    /// token, the server's own, and an unknown, expired or malformed one are answered alike,
    /// with nothing done, so that revocation tells no one whether a token is alive. (RFC 7009
    /// section 2.1 has another client's request refused with an error; this departs from it
    /// on purpose: revocation takes public clients, which anyone can act as.) A `client_credentials` token has no grant behind it to end and expires
    /// on its own (`unsupported_token_type`, to its own client only).
    pub async fn revoke_token(
        &self,
        caller: &Client,
        token: &str,
        from: Option<std::net::IpAddr>,
    ) -> std::result::Result<(), OAuthError> {
        let now = self.now();
        let stores = &self.inner.stores;
        let (user, session) = match OpaqueSecret::parse(token) {
            Ok(refresh) => {
                let Some(family) = stores
                    .refresh
                    .live_family_of(&refresh.hash(), now)
                    .await
                    .map_err(|error| server_error(&error))?
                else {
                    return Ok(());
                };
                let session = stores
                    .sessions
                    .session(&family.session_id, now)
                    .await
                    .map_err(|error| server_error(&error))?;
                // Another client's grant, the server's own session, or one over already.
                match session.and_then(|session| session.grant) {
                    Some(grant) if grant.client_id == caller.id => {}
                    _ => return Ok(()),
                }
                (family.user_id, family.session_id)
            }
            Err(_) => {
                let Some(claims) = self
                    .client_access_claims(caller, token)
                    .await
                    .map_err(|error| server_error(&error))?
                else {
                    return Ok(());
                };
                if claims.client_id.as_deref() != Some(caller.id.as_str()) {
                    return Ok(());
                }
                let (Some(sid), Ok(user)) = (claims.sid.as_deref(), claims.user_id()) else {
                    return Err(OAuthError::new(
                        ErrorCode::UnsupportedTokenType,
                        "a client_credentials token has no grant to end; it expires on its own",
                    ));
                };
                let Ok(session) = crate::id::SessionId::parse(sid) else {
                    return Ok(());
                };
                (user, session)
            }
        };
        self.end_session(user, &session, SessionEnd::ClientRevoked, from)
            .await
            .map_err(|error| server_error(&error))
    }
}
