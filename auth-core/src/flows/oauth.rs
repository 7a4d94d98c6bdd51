//! The OpenID provider's flows: deciding an authorization request, exchanging a code, and
//! refreshing a client's tokens (see [`crate::oauth`] for the rules they apply).
//!
//! A code exchange opens an ordinary session marked with its [`ClientGrant`]: its access
//! tokens carry its `sid`, so everything that ends sessions ends them, and its refresh tokens
//! rotate in the session's family with the same reuse detection. The grant is what keeps the
//! two worlds apart: a client's refresh token is refused by [`Authenticator::refresh`] and by
//! every other client, and the server's own by [`Authenticator::refresh_client`].

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Authenticator, Principal};
use crate::authz::{ClientScopes, Scope, ScopeSet, granted_scopes};
use crate::clock::unix_seconds;
use crate::error::{Error, Result};
use crate::event::{AuthEventKind, SessionEnd};
use crate::id::{Amr, OpaqueSecret, SessionId, UserId};
use crate::oauth::authorize::{error_location, redirect_location};
use crate::oauth::grant::CODE_TTL;
use crate::oauth::{
    AuthorizationCode, AuthorizationRequest, Client, ClientGrant, CodeChallenge, Consent,
    ErrorCode, GrantType, OAuthError, Redemption,
};
use crate::store::{Session, User};
use crate::token::{Algorithm, Audience, NewToken, TokenKind};

pub use crate::oauth::client::IDENTITY_SCOPES;

/// How long a sign-in started by an authorization request may take and still resume it.
pub const RESUME_TTL: Duration = Duration::from_secs(30 * 60);

/// What to do with an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// Send the browser here (`303`): the code, or an error for the client.
    Redirect(String),
    /// The user must sign in (again) first, then come back with `resume` (pass it back to
    /// [`authorize`](Authenticator::authorize)): it says, under this server's key and for
    /// this very request only, that an authentication since now satisfies it.
    SignIn {
        /// The account the client expects, for the sign-in page.
        login_hint: Option<String>,
        /// The signed marker of this sign-in.
        resume: String,
    },
    /// Ask the user whether `client` may have `scope`.
    Consent {
        /// The client asking.
        client: Box<Client>,
        /// What it would get.
        scope: ScopeSet,
    },
}

/// What the user answered on the consent page, if they were asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentAnswer {
    /// Not asked (yet).
    NotAsked,
    /// Agreed to what the page showed.
    Given(ScopeSet),
    /// Refused.
    Denied,
}

/// The tokens a client gets from the token endpoint.
pub struct ClientTokens {
    /// The access token (`at+jwt`, RFC 9068, with `client_id`).
    pub access_token: SecretString,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// A refresh token, when `offline_access` was granted and the client may refresh.
    pub refresh_token: Option<SecretString>,
    /// An ID token, when `openid` was granted.
    pub id_token: Option<SecretString>,
    /// The scopes the access token carries.
    pub scope: ScopeSet,
}

impl std::fmt::Debug for ClientTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTokens")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.is_some())
            .field("id_token", &self.id_token.is_some())
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// What an ID token carries besides the registered claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IdClaims {
    /// The client the token is for.
    azp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    /// `1`: one factor; `2`: more than one.
    acr: &'static str,
    at_hash: String,
    #[serde(flatten)]
    profile: UserClaims,
}

/// The claims about the user that the granted scopes release, in ID tokens and at userinfo.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    /// The address (`email` scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether it was verified (`email` scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// The user's language (`profile` scope), when they chose one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

impl UserClaims {
    fn of(user: &User, scope: &ScopeSet) -> Self {
        let email = scope.contains("email");
        Self {
            email: email.then(|| user.email.clone()),
            email_verified: email.then_some(user.email_verified_at.is_some()),
            locale: user.locale.clone().filter(|_| scope.contains("profile")),
        }
    }
}

/// What `/userinfo` answers: the subject and the claims its scopes release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The user.
    pub sub: String,
    /// The rest.
    #[serde(flatten)]
    pub claims: UserClaims,
}

/// The `acr` of a sign-in: `2` when it took more than one factor.
fn acr(amr: Amr) -> &'static str {
    if amr.methods().len() > 1 { "2" } else { "1" }
}

fn invalid_grant(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidGrant, description)
}

/// The store or the keys failed: the client may try again.
pub(super) fn server_error(error: &Error) -> OAuthError {
    match error {
        Error::Unavailable(_) => {
            OAuthError::new(ErrorCode::TemporarilyUnavailable, "try again shortly")
        }
        _ => OAuthError::new(ErrorCode::ServerError, "the server failed; try again"),
    }
}

impl Authenticator {
    /// The client with this id, if one is registered (read through the client cache: see
    /// [`AuthenticatorConfig::client_cache_ttl`](super::AuthenticatorConfig::client_cache_ttl)).
    pub async fn client(&self, id: &crate::oauth::ClientId) -> Result<Option<Client>> {
        self.inner.clients.find(id).await
    }

    /// The clients `user` consented to, oldest consent first, each with its client (`None`
    /// for one deleted since).
    pub async fn consents(&self, user: &UserId) -> Result<Vec<(Consent, Option<Client>)>> {
        let consents = self.inner.stores.grants.consents_of(user).await?;
        let mut listed = Vec::with_capacity(consents.len());
        for consent in consents {
            let client = self.client(&consent.client_id).await?;
            listed.push((consent, client));
        }
        Ok(listed)
    }

    /// Withdraws `user`'s consent to `client` and ends every session granted to it: its
    /// refresh tokens stop at once, its access tokens within the revocation bound. False if
    /// there was neither consent nor session. Recorded as `consent_withdrawn`.
    pub async fn withdraw_consent(
        &self,
        user: &UserId,
        client: &crate::oauth::ClientId,
        from: Option<IpAddr>,
    ) -> Result<bool> {
        let withdrawn = self
            .inner
            .stores
            .grants
            .revoke_consent(user, client)
            .await?;
        let sessions = self
            .inner
            .stores
            .sessions
            .sessions_of(user, self.now())
            .await?;
        let mut ended = false;
        for session in sessions {
            if session
                .grant
                .as_ref()
                .is_some_and(|grant| grant.client_id == *client)
            {
                self.end_session(*user, &session.id, SessionEnd::ConsentWithdrawn, from)
                    .await?;
                ended = true;
            }
        }
        if withdrawn || ended {
            self.emit(
                AuthEventKind::ConsentWithdrawn {
                    client: client.to_string(),
                },
                Some(*user),
                None,
                from,
            )
            .await;
        }
        Ok(withdrawn || ended)
    }

    /// `{seconds}.{mac}`: `now` and the request under this server's key.
    fn resume_marker(&self, now: SystemTime, request: &AuthorizationRequest) -> String {
        let seconds = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        format!("{seconds}.{}", self.resume_mac(seconds, request))
    }

    /// The MAC of a marker: its time and every parameter of the request that decides what
    /// the sign-in is for, each length-prefixed, so a marker satisfies that request alone.
    fn resume_mac(&self, seconds: u64, request: &AuthorizationRequest) -> String {
        use hmac::Mac as _;
        let key = self.derive_key("oauth: sign-in resume marker");
        let mut mac = <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(key.as_ref())
            .expect("HMAC takes any key length");
        let scope = request.scope.to_string();
        let max_age = request.max_age.map(|age| age.to_string());
        let prompt = format!(
            "{}{}{}",
            u8::from(request.prompt.none),
            u8::from(request.prompt.login),
            u8::from(request.prompt.consent)
        );
        let seconds = seconds.to_string();
        for part in [
            Some(seconds.as_str()),
            Some(request.client_id.as_str()),
            Some(request.redirect_uri.as_str()),
            Some(scope.as_str()),
            request.state.as_deref(),
            request.nonce.as_deref(),
            request.code_challenge.as_ref().map(CodeChallenge::as_str),
            Some(prompt.as_str()),
            max_age.as_deref(),
        ] {
            match part {
                Some(part) => {
                    mac.update(&(part.len() as u64).to_be_bytes());
                    mac.update(part.as_bytes());
                }
                None => mac.update(&u64::MAX.to_be_bytes()),
            }
        }
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The time a genuine, recent marker for `request` names.
    fn resumed(
        &self,
        marker: &str,
        request: &AuthorizationRequest,
        now: SystemTime,
    ) -> Option<SystemTime> {
        let (seconds, mac) = marker.split_once('.')?;
        let seconds: u64 = seconds.parse().ok()?;
        let expected = self.resume_mac(seconds, request);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            mac.as_bytes(),
        )) {
            return None;
        }
        let at = UNIX_EPOCH.checked_add(Duration::from_secs(seconds))?;
        (now.duration_since(at).ok()? <= RESUME_TTL).then_some(at)
    }

    /// Whether the key set has a signing key for `client`'s ID tokens.
    pub(super) fn can_sign_id_tokens(&self, client: &Client) -> bool {
        client
            .id_token_alg
            .parse::<Algorithm>()
            .is_ok_and(|algorithm| self.inner.issuer.keys().signing_key(algorithm).is_some())
    }

    /// What `user` holds plus the identity scopes: what they may grant a client.
    pub(super) async fn grantable(&self, user: &UserId) -> Result<ScopeSet> {
        let mut holds = self.inner.stores.roles.scopes_of(user).await?;
        for scope in IDENTITY_SCOPES {
            holds.insert(Scope::parse(scope)?);
        }
        Ok(holds)
    }

    /// The issuer, as `iss` in answers.
    fn issuer(&self) -> &str {
        &self.inner.config.tokens.issuer
    }

    /// Decides an authorization request that [`RawRequest::validate`] accepted, for the user
    /// signed in to the browser (`principal`, `None` if nobody is). `resume` is the marker of
    /// an earlier [`Authorization::SignIn`] the browser comes back from (one that is forged,
    /// another request's or older than [`RESUME_TTL`] counts for nothing); `answer` what the
    /// consent page answered. Consent is asked of third-party clients for
    /// scopes the user has not agreed to before (always with `prompt=consent`); with
    /// `prompt=none` nothing is asked, the client gets `login_required` or
    /// `consent_required` instead.
    ///
    /// [`RawRequest::validate`]: crate::oauth::RawRequest::validate
    pub async fn authorize(
        &self,
        request: &AuthorizationRequest,
        client: &Client,
        principal: Option<&Principal>,
        resume: Option<&str>,
        answer: &ConsentAnswer,
    ) -> Result<Authorization> {
        let now = self.now();
        let signed_in_after = resume.and_then(|marker| self.resumed(marker, request, now));
        let refuse = |code: ErrorCode, description: &str| {
            Ok(Authorization::Redirect(error_location(
                &request.redirect_uri,
                request.state.as_deref(),
                &OAuthError::new(code, description),
                self.issuer(),
            )))
        };
        if *answer == ConsentAnswer::Denied {
            return refuse(ErrorCode::AccessDenied, "the user refused");
        }
        let sign_in = || {
            if request.prompt.none {
                refuse(ErrorCode::LoginRequired, "the user is not signed in")
            } else {
                Ok(Authorization::SignIn {
                    login_hint: request.login_hint.clone(),
                    resume: self.resume_marker(now, request),
                })
            }
        };
        let Some(principal) = principal else {
            return sign_in();
        };
        let auth_time = principal.claims.auth_time.map_or(UNIX_EPOCH, |seconds| {
            UNIX_EPOCH + Duration::from_secs(seconds.max(0).unsigned_abs())
        });
        // Signed in during this request: whatever it asked for is satisfied.
        let fresh = signed_in_after.is_some_and(|after| auth_time >= after);
        let too_old = request.max_age.is_some_and(|max_age| {
            now.duration_since(auth_time).unwrap_or_default() > Duration::from_secs(max_age)
        });
        if !fresh && (request.prompt.login || too_old) {
            return sign_in();
        }
        let Some(amr) = Amr::from_methods(&principal.claims.amr) else {
            return sign_in();
        };
        let user = self
            .inner
            .stores
            .users
            .user_by_id(&principal.user_id)
            .await?
            .filter(|user| !user.disabled)
            .ok_or(Error::InvalidCredentials)?;
        let holds = self.grantable(&user.id).await?;
        let scope = granted_scopes(
            &request.scope,
            ClientScopes {
                allowed: Some(&client.scopes),
                first_party: client.first_party,
            },
            &holds,
            fresh,
        );
        if scope.is_empty() {
            return refuse(
                ErrorCode::InvalidScope,
                "none of the requested scopes can be granted to this client and user",
            );
        }
        if scope.contains("openid") && !self.can_sign_id_tokens(client) {
            tracing::error!(
                client = %client.id,
                alg = client.id_token_alg,
                "no signing key for the client's ID token algorithm; add one to the key set"
            );
            return refuse(
                ErrorCode::ServerError,
                "the provider cannot sign this client's ID tokens",
            );
        }
        if !client.first_party {
            let agreed = match answer {
                // The page showed what was to be granted; anything else is asked anew.
                ConsentAnswer::Given(shown) if *shown == scope => true,
                _ => {
                    !request.prompt.consent
                        && self
                            .inner
                            .stores
                            .grants
                            .consent(&user.id, &client.id)
                            .await?
                            .is_some_and(|consent| scope.is_subset(&consent.scope))
                }
            };
            if !agreed {
                if request.prompt.none {
                    return refuse(ErrorCode::ConsentRequired, "the user must consent");
                }
                return Ok(Authorization::Consent {
                    client: Box::new(client.clone()),
                    scope,
                });
            }
            if matches!(answer, ConsentAnswer::Given(_)) {
                self.inner
                    .stores
                    .grants
                    .put_consent(Consent {
                        user_id: user.id,
                        client_id: client.id.clone(),
                        scope: scope.clone(),
                        granted_at: now,
                    })
                    .await?;
                self.emit(
                    AuthEventKind::ConsentGranted {
                        client: client.id.to_string(),
                        scope: scope.to_strings(),
                    },
                    Some(user.id),
                    principal.session_id.clone(),
                    None,
                )
                .await;
            }
        }
        // A pushed request is used up by its code (RFC 9126 section 7.3).
        if let Some(pushed) = &request.pushed
            && !self
                .inner
                .stores
                .grants
                .take_pushed_request(pushed, now)
                .await?
        {
            return refuse(
                ErrorCode::InvalidRequestUri,
                "the pushed request was used or expired; push it again",
            );
        }
        let code = OpaqueSecret::generate();
        self.inner
            .stores
            .grants
            .save_code(AuthorizationCode {
                hash: code.hash(),
                client_id: client.id.clone(),
                user_id: user.id,
                redirect_uri: request.redirect_uri.clone(),
                scope,
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                amr,
                auth_time,
                epoch: user.epoch,
                created_at: now,
                expires_at: now + CODE_TTL,
            })
            .await?;
        let code = code.into_secret();
        let mut params = vec![("code", code.expose_secret())];
        if let Some(state) = &request.state {
            params.push(("state", state.as_str()));
        }
        Ok(Authorization::Redirect(redirect_location(
            &request.redirect_uri,
            &params,
            self.issuer(),
        )))
    }

    /// The token endpoint's `authorization_code` grant for `client` (authenticated already):
    /// the code redeemed once, for the client it was issued to, with the `redirect_uri` of
    /// its request and the PKCE verifier of its challenge (and none without one). A replayed
    /// code ends the session its first redemption opened.
    pub async fn exchange_code(
        &self,
        client: &Client,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        from: Option<IpAddr>,
    ) -> std::result::Result<ClientTokens, OAuthError> {
        let Ok(presented) = OpaqueSecret::parse(code) else {
            return Err(invalid_grant("the code is not valid"));
        };
        let now = self.now();
        let session_id = OpaqueSecret::generate().session_id();
        let redemption = self
            .inner
            .stores
            .grants
            .redeem_code(&presented.hash(), &session_id, now)
            .await
            .map_err(|error| server_error(&error))?;
        let code = match redemption {
            Redemption::Unknown => return Err(invalid_grant("the code is not valid")),
            Redemption::Replayed { code, session } => {
                self.emit(
                    AuthEventKind::CodeReplayed {
                        client: code.client_id.to_string(),
                    },
                    Some(code.user_id),
                    Some(session.clone()),
                    from,
                )
                .await;
                // The id is refused first, then the session ended: an exchange still opening
                // that session either finds it refused or is ended after it opened.
                let tokens = &self.inner.config.tokens;
                let until = now + tokens.access_ttl + tokens.leeway;
                let ended = match self.inner.sid_check.revoke(&session, until).await {
                    Ok(()) => {
                        self.end_session(code.user_id, &session, SessionEnd::CodeReplayed, from)
                            .await
                    }
                    Err(error) => Err(error),
                };
                if let Err(error) = ended {
                    tracing::error!(%error, "the tokens of a replayed code could not be revoked");
                }
                return Err(invalid_grant("the code was used already"));
            }
            Redemption::Redeemed(code) => code,
        };
        if code.client_id != client.id {
            return Err(invalid_grant("the code was issued to another client"));
        }
        if redirect_uri != Some(code.redirect_uri.as_str()) {
            return Err(invalid_grant(
                "redirect_uri differs from the authorization request's",
            ));
        }
        match (&code.code_challenge, code_verifier) {
            (Some(challenge), Some(verifier)) if challenge.verifies(verifier) => {}
            (Some(_), _) => return Err(invalid_grant("the code_verifier does not match")),
            (None, Some(_)) => {
                return Err(invalid_grant(
                    "a code_verifier for a code requested without a code_challenge",
                ));
            }
            (None, None) => {}
        }
        self.open_grant(client, code, session_id, from)
            .await
            .map_err(|error| match error {
                Error::InvalidCredentials => invalid_grant("the grant is no longer valid"),
                other => server_error(&other),
            })
    }

    /// The session of a redeemed code, and its first tokens.
    async fn open_grant(
        &self,
        client: &Client,
        code: AuthorizationCode,
        session_id: SessionId,
        from: Option<IpAddr>,
    ) -> Result<ClientTokens> {
        let user = self
            .inner
            .stores
            .users
            .user_by_id(&code.user_id)
            .await?
            .filter(|user| !user.disabled && user.epoch == code.epoch)
            .ok_or(Error::InvalidCredentials)?;
        // What the user holds now bounds the grant: a role lost since the code is not in it.
        let scope = code.scope.intersection(&self.grantable(&user.id).await?);
        // Signed before anything is kept: a token that cannot be signed leaves no session.
        let mut tokens = self.client_tokens(
            client,
            &user,
            &session_id,
            code.amr,
            code.auth_time,
            scope.clone(),
            None,
            code.nonce.as_deref(),
        )?;
        let now = self.now();
        let lifetimes = self.inner.config.sessions;
        let expires_at = now + lifetimes.absolute;
        let idle_expires_at = (now + lifetimes.idle).min(expires_at);
        self.inner
            .stores
            .sessions
            .create_session(Session {
                id: session_id.clone(),
                user_id: user.id,
                amr: code.amr,
                created_at: now,
                auth_time: code.auth_time,
                last_used_at: now,
                idle_expires_at,
                expires_at,
                flagged: false,
                client: from,
                user_agent: None,
                grant: Some(ClientGrant {
                    client_id: client.id.clone(),
                    scope: scope.clone(),
                }),
            })
            .await?;
        if scope.contains("offline_access") && client.allows(GrantType::RefreshToken) {
            let refresh = self
                .start_family(
                    user.id,
                    &session_id,
                    idle_expires_at,
                    expires_at,
                    user.epoch,
                )
                .await?;
            tokens.refresh_token = Some(refresh.into_secret());
        }
        self.end_if_credentials_moved(user.id, &session_id, user.epoch, from)
            .await?;
        // The code replayed while this session opened: the replay revoked its id first.
        if self
            .inner
            .stores
            .revocations
            .is_sid_revoked(&session_id, self.now())
            .await?
        {
            self.end_session(user.id, &session_id, SessionEnd::CodeReplayed, from)
                .await?;
            return Err(Error::InvalidCredentials);
        }
        // Consent withdrawn while this session opened: withdrawing deletes the consent, then
        // ends the sessions it finds, so a session opened before this check is found.
        if !client.first_party {
            let consented = self
                .inner
                .stores
                .grants
                .consent(&user.id, &client.id)
                .await?
                .is_some_and(|consent| scope.is_subset(&consent.scope));
            if !consented {
                self.end_session(user.id, &session_id, SessionEnd::ConsentWithdrawn, from)
                    .await?;
                return Err(Error::InvalidCredentials);
            }
        }
        self.emit(
            AuthEventKind::ClientAuthorized {
                client: client.id.to_string(),
                scope: scope.to_strings(),
            },
            Some(user.id),
            Some(session_id.clone()),
            from,
        )
        .await;
        Ok(tokens)
    }

    /// A client's access token, its ID token when `openid` is in `scope`, and `refresh`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn client_tokens(
        &self,
        client: &Client,
        user: &User,
        session_id: &SessionId,
        amr: Amr,
        auth_time: SystemTime,
        scope: ScopeSet,
        refresh: Option<OpaqueSecret>,
        nonce: Option<&str>,
    ) -> Result<ClientTokens> {
        let access = self.issue(
            TokenKind::Access,
            NewToken::new(user.id.to_string())
                .session_id(session_id.as_str())
                .amr(amr.methods().iter().copied())
                .auth_time(unix_seconds(auth_time))
                .scope(scope.iter().map(Scope::as_str))
                .audience(self.client_audience(client))
                .client_id(client.id.as_str()),
        )?;
        let id_token = if scope.contains("openid") {
            let digest = Sha256::digest(access.token.expose_secret().as_bytes());
            let algorithm: Algorithm = client.id_token_alg.parse()?;
            let token = self.inner.issuer.issue_as(
                algorithm,
                TokenKind::IdToken,
                NewToken::new(user.id.to_string())
                    .audience(client.id.as_str())
                    .amr(amr.methods().iter().copied())
                    .auth_time(unix_seconds(auth_time))
                    .session_id(session_id.as_str())
                    .custom(IdClaims {
                        azp: client.id.to_string(),
                        nonce: nonce.map(str::to_owned),
                        acr: acr(amr),
                        at_hash: URL_SAFE_NO_PAD.encode(&digest[..16]),
                        profile: UserClaims::of(user, &scope),
                    }),
            )?;
            Some(token.token)
        } else {
            None
        };
        Ok(ClientTokens {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: self.inner.config.tokens.access_ttl.as_secs(),
            refresh_token: refresh.map(OpaqueSecret::into_secret),
            id_token,
            scope,
        })
    }

    /// The `aud` of `client`'s access tokens: its resource servers (the server's audience
    /// unless it registered its own), and the issuer, whose userinfo takes them (and answers
    /// `insufficient_scope` to one without `openid`).
    fn client_audience(&self, client: &Client) -> Audience {
        let tokens = &self.inner.config.tokens;
        let mut audience = vec![
            client
                .audience
                .clone()
                .unwrap_or_else(|| tokens.audience.clone()),
        ];
        if !audience.contains(&tokens.issuer) {
            audience.push(tokens.issuer.clone());
        }
        Audience::from(audience)
    }

    /// What `/userinfo` answers for a client's access token: the user and the claims its
    /// scopes release. [`Error::InvalidToken`] for a token that is not a live client token
    /// (an ID token, a challenge, the server's own access token), [`Error::InvalidScope`] for
    /// one without `openid`.
    pub async fn userinfo(&self, access_token: &str) -> Result<UserInfo> {
        // Userinfo is the issuer's own resource: the token must name it.
        let claims = self
            .inner
            .verifier
            .verify_access_cached_for(access_token, &self.inner.config.tokens.issuer)?;
        if claims.client_id.is_none() {
            return Err(Error::InvalidToken(
                crate::error::TokenRejection::WrongAudience,
            ));
        }
        if !claims.has_scope("openid") {
            return Err(Error::InvalidScope(
                "userinfo needs a token with the openid scope".into(),
            ));
        }
        self.inner
            .sid_check
            .check_sid(claims.sid.as_deref())
            .await?;
        let user = self
            .inner
            .stores
            .users
            .user_by_id(&claims.user_id()?)
            .await?
            .filter(|user| !user.disabled)
            .ok_or(Error::InvalidToken(crate::error::TokenRejection::Revoked))?;
        let scope = ScopeSet::parse(&claims.scope)?;
        Ok(UserInfo {
            sub: user.id.to_string(),
            claims: UserClaims::of(&user, &scope),
        })
    }
}
