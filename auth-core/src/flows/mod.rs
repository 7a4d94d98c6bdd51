//! The [`Authenticator`]: every flow an embedder calls, composed from the modules below it.
//!
//! Register, log in (password, then a second factor when one is enrolled), verify the second
//! factor, refresh, log out, change the password, enrol/confirm/disable TOTP, list and revoke
//! sessions, reauthenticate for the actions that need a fresh authentication (see
//! [`SensitiveAction`]), and authenticate access tokens (with the `sid` revocation check). Every flow takes
//! its time from the injected clock, keeps secrets in `secrecy` types and records an
//! [`AuthEvent`] for what happened.

mod browser;
mod builder;
mod client_cache;
mod client_keys;
mod client_tokens;
mod clients;
mod delivery;
mod email;
mod login;
mod logout;
mod mfa;
mod oauth;
mod observe;
#[cfg(feature = "passkeys")]
mod passkey;
mod password;
mod pushed;
mod refresh;
mod roles;
mod sessions;
mod step_up;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use secrecy::SecretString;

use crate::authz::ScopeSet;
use crate::clock::SharedClock;
use crate::error::{Error, Result, TokenRejection};
use crate::event::{AuthEvent, AuthEventKind};
use crate::id::{SessionId, UserId};
use crate::mfa::MfaKeyring;
use crate::password::{PasswordService, Verification};
use crate::session::SidRevocationCheck;
use crate::store::User;
use crate::throttle::Throttle;
use crate::token::{
    Claims, IssuedToken, NewToken, NoCustomClaims, TokenIssuer, TokenKind, TokenVerifier,
};

pub use crate::email::normalize_email;
pub use builder::{AuthenticatorBuilder, AuthenticatorConfig, Stores};
pub use client_keys::ClientKeySource;
pub use client_tokens::{ActiveToken, Introspection};
pub use delivery::{Outcome, Round, WorkerConfig, deliver_round, deliver_round_reporting};
pub use email::{
    EmailConfig, EmailVerification, FactorProof, IntentLifetimes, LinkPaths, Origin, SignUp,
};
pub use logout::LogoutHint;
pub use mfa::{DisableTotp, TotpEnrollment};
pub use oauth::{
    Authorization, ClientTokens, ConsentAnswer, IDENTITY_SCOPES, RESUME_TTL, UserClaims, UserInfo,
};
pub use observe::{AuthObserver, NoObserver};
#[cfg(feature = "passkeys")]
pub use passkey::{CounterPolicy, PasskeyConfig, PasskeyInfo, PasskeyOptions, PasskeyResponse};
pub use pushed::PushedAuthorization;
pub use sessions::SessionInfo;
pub use step_up::{Reauthentication, SensitiveAction};

/// Tokens handed to a client after a login, an MFA verification or a refresh.
pub struct Tokens {
    /// The access token (JWT or PASETO, per the active key).
    pub access_token: SecretString,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The refresh token: opaque, single use.
    pub refresh_token: SecretString,
    /// The session the tokens belong to.
    pub session_id: SessionId,
    /// Whose tokens they are.
    pub user_id: UserId,
    /// The session's own secret, given when the session starts (never by a refresh or a
    /// step-up): what a browser keeps in its session cookie, which
    /// [`Authenticator::authenticate_session`] reads. Never hand it to a token client: it
    /// opens the session for as long as the session lives.
    pub session_secret: Option<SecretString>,
    /// The scopes the access token carries (see [`crate::authz`]).
    pub scope: ScopeSet,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("session_id", &self.session_id)
            .field("user_id", &self.user_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// What a correct password leads to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// No second factor enrolled: here are the tokens.
    Authenticated(Tokens),
    /// A second factor is enrolled: send it with this challenge to
    /// [`Authenticator::verify_mfa`] (a TOTP or recovery code) or, with the `passkeys`
    /// feature, `verify_mfa_passkey`.
    MfaRequired {
        /// The challenge: a short-lived signed token of its own type, useless as an access token.
        mfa_token: SecretString,
        /// Seconds until the challenge expires.
        expires_in: u64,
        /// The second factors the account has, in the order a client should offer them.
        factors: Vec<MfaFactor>,
    },
}

/// A kind of second factor an account may answer a challenge with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MfaFactor {
    /// A passkey.
    Passkey,
    /// A TOTP code.
    Totp,
    /// A recovery code (offered with TOTP).
    RecoveryCode,
}

impl MfaFactor {
    /// The name clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            MfaFactor::Passkey => "passkey",
            MfaFactor::Totp => "totp",
            MfaFactor::RecoveryCode => "recovery_code",
        }
    }
}

/// Who an access token speaks for, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user_id: UserId,
    /// The session the token belongs to.
    pub session_id: Option<SessionId>,
    /// The token's verified claims.
    pub claims: Claims<NoCustomClaims>,
}

/// What `me` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The user's id.
    pub user_id: UserId,
    /// The normalised email.
    pub email: String,
    /// Whether TOTP is enrolled and confirmed.
    pub mfa_enabled: bool,
    /// The current session.
    pub session_id: Option<SessionId>,
}

/// The entry point of the library: every authentication flow.
///
/// Cheap to clone; clones share stores, keys and caches.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthenticatorConfig,
    stores: Stores,
    passwords: PasswordService,
    issuer: TokenIssuer,
    verifier: TokenVerifier,
    mfa_keys: MfaKeyring,
    throttle: Throttle,
    clock: SharedClock,
    sid_check: SidRevocationCheck,
    observer: Arc<dyn AuthObserver>,
    busy_events: observe::BusyEvents,
    templates: crate::mail::Templates,
    client_keys: client_keys::KeyCache,
    clients: client_cache::ClientCache,
    #[cfg(feature = "passkeys")]
    webauthn: Option<webauthn_rs::Webauthn>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.inner.config)
            .field("stores", &self.inner.stores)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// The configuration in force.
    pub fn config(&self) -> &AuthenticatorConfig {
        &self.inner.config
    }

    /// The token verifier, for services that only check access tokens.
    pub fn verifier(&self) -> &TokenVerifier {
        &self.inner.verifier
    }

    /// The password service (policy, hashing pool).
    pub fn passwords(&self) -> &PasswordService {
        &self.inner.passwords
    }

    /// A 32-byte key for `purpose` (a CSRF layer's, say), derived from the MFA keyring's
    /// active key: the same on every instance sharing the keyring, and new when it rotates.
    pub fn derive_key(&self, purpose: &str) -> zeroize::Zeroizing<[u8; 32]> {
        self.inner.mfa_keys.derive_key(purpose)
    }

    fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// Runs a password hashing call and reports how long it took.
    async fn timed_hash<T>(&self, call: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let started = std::time::Instant::now();
        let result = call.await;
        self.inner.observer.password_hashed(started.elapsed());
        result
    }

    /// Checks `password` against the user's stored hash. A stored hash that cannot be used
    /// (malformed, or over its scheme's cost bound) is logged and answers as a wrong password:
    /// the attempt counts, and nothing about the stored hash reaches the client.
    async fn verify_stored(&self, user: &User, password: &SecretString) -> Result<Verification> {
        let verified = self
            .timed_hash(self.inner.passwords.verify(password, &user.password_hash))
            .await;
        match verified {
            Err(Error::InvalidHash(detail)) => {
                tracing::error!(user = %user.id, %detail, "the stored password hash is unusable");
                Ok(Verification::Invalid)
            }
            other => other,
        }
    }

    /// Signs a token and reports how long it took.
    fn issue<C: serde::Serialize>(
        &self,
        kind: TokenKind,
        token: NewToken<C>,
    ) -> Result<IssuedToken> {
        let started = std::time::Instant::now();
        let issued = self.inner.issuer.issue(kind, token);
        self.inner.observer.token_issued(kind, started.elapsed());
        issued
    }

    /// The words a new password of the account `email` must not be built on: the email's
    /// local part and the name authenticator apps show for the service.
    fn context_of<'a>(&'a self, email: &'a str) -> [&'a str; 2] {
        let local_part = email.rsplit_once('@').map_or(email, |(local, _)| local);
        [local_part, self.inner.config.totp_issuer.as_str()]
    }

    /// Records an audit event. A failing sink is logged, never allowed to fail the flow.
    async fn emit(
        &self,
        kind: AuthEventKind,
        user_id: Option<UserId>,
        session_id: Option<SessionId>,
        client: Option<IpAddr>,
    ) {
        let event = AuthEvent {
            at: self.now(),
            kind,
            user_id,
            session_id,
            client,
        };
        let name = event.name();
        if let Err(error) = self.inner.stores.events.record(event).await {
            tracing::error!(%error, event = name, "audit event could not be recorded");
        }
    }

    /// Verifies an access token of this server's own (a login's, never an OAuth client's)
    /// and checks that its session was not revoked. A client's token (one with `client_id`)
    /// is [`TokenRejection::WrongAudience`]: it is for the client's resource servers (which
    /// verify it with a [`TokenVerifier`]) and userinfo, never
    /// for acting on the account itself.
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal> {
        let claims = self.inner.verifier.verify_access_cached(access_token)?;
        if claims.client_id.is_some() {
            return Err(Error::InvalidToken(TokenRejection::WrongAudience));
        }
        let user_id = claims.user_id()?;
        let session_id = self
            .inner
            .sid_check
            .check_sid(claims.sid.as_deref())
            .await?;
        Ok(Principal {
            user_id,
            session_id,
            claims,
        })
    }

    /// The caller's account.
    pub async fn me(&self, principal: &Principal) -> Result<Profile> {
        let user = self.user_for(principal).await?;
        Ok(Profile {
            user_id: user.id,
            email: user.email,
            mfa_enabled: self.totp_enabled(&user.id).await?,
            session_id: principal.session_id.clone(),
        })
    }

    async fn user_for(&self, principal: &Principal) -> Result<User> {
        self.inner
            .stores
            .users
            .user_by_id(&principal.user_id)
            .await?
            .ok_or(Error::InvalidToken(TokenRejection::Revoked))
    }

    /// The second factors a password login (or a reset) of the account needs one of: none
    /// until TOTP is on; then its passkeys, TOTP and the recovery codes. A passkey answers the
    /// challenge but does not start requiring one: an account whose only second factor is a
    /// passkey would have no recovery codes, and losing the passkey would lock it for good.
    async fn second_factors(&self, user: &UserId) -> Result<Vec<MfaFactor>> {
        let mut factors = Vec::new();
        if !self.totp_enabled(user).await? {
            return Ok(factors);
        }
        #[cfg(feature = "passkeys")]
        if self.has_passkey(user).await? {
            factors.push(MfaFactor::Passkey);
        }
        factors.extend([MfaFactor::Totp, MfaFactor::RecoveryCode]);
        Ok(factors)
    }

    async fn totp_enabled(&self, user: &UserId) -> Result<bool> {
        Ok(self
            .inner
            .stores
            .mfa
            .totp(user)
            .await?
            .is_some_and(|record| record.confirmed))
    }
}

#[cfg(test)]
mod email_tests;
#[cfg(all(test, feature = "test-util"))]
mod epoch_tests;
#[cfg(all(test, feature = "test-util"))]
mod limit_tests;
#[cfg(test)]
mod oauth_tests;
#[cfg(all(test, feature = "passkeys", feature = "jwt"))]
mod passkey_tests;
#[cfg(all(test, feature = "test-util"))]
mod role_tests;
#[cfg(test)]
mod tests;
