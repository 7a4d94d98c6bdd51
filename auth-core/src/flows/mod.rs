//! The [`Authenticator`]: every flow an embedder calls, composed from the modules below it.
//!
//! Register, log in (password, then a second factor when one is enrolled), verify the second
//! factor, refresh, log out, change the password, enrol/confirm/disable TOTP, list and revoke
//! sessions, and authenticate access tokens (with the `sid` revocation check). Every flow takes
//! its time from the injected clock, keeps secrets in `secrecy` types and records an
//! [`AuthEvent`] for what happened.

mod mfa;
mod observe;
mod sessions;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;

use crate::clock::{SharedClock, SystemClock};
use crate::error::{Error, Result, TokenRejection};
use crate::event::{AuthEvent, AuthEventKind, LoginFailure, SessionEnd};
use crate::mfa::{MfaKeyring, TotpParams};
use crate::password::{PasswordConfig, PasswordService, Verification};
use crate::session::{OpaqueSecret, SessionLifetimes, SidRevocationCheck};
use crate::store::{
    EventSink, FamilyId, MfaStore, RefreshFamily, RefreshStore, RefreshTokenRecord,
    RevocationStore, Rotation, Session, SessionId, SessionStore, ThrottleStore, TotpReplayGuard,
    User, UserId, UserStore,
};
use crate::throttle::Throttle;
use crate::token::{
    Claims, KeySet, NewToken, NoCustomClaims, TokenConfig, TokenIssuer, TokenKind, TokenVerifier,
};

pub use mfa::{DisableTotp, TotpEnrollment};
pub use observe::{AuthObserver, NoObserver, RefreshOutcome};
pub use sessions::SessionInfo;

/// Where the [`Authenticator`] keeps its state: one implementation per trait.
#[derive(Debug, Clone)]
pub struct Stores {
    /// Accounts.
    pub users: Arc<dyn UserStore>,
    /// TOTP credentials and recovery codes.
    pub mfa: Arc<dyn MfaStore>,
    /// Refresh-token families.
    pub refresh: Arc<dyn RefreshStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Failure counters.
    pub throttle: Arc<dyn ThrottleStore>,
    /// Revoked session ids.
    pub revocations: Arc<dyn RevocationStore>,
    /// The fast TOTP replay guard, checked before the durable last-step record of `mfa`.
    pub totp_replay: Arc<dyn TotpReplayGuard>,
    /// Audit events.
    pub events: Arc<dyn EventSink>,
}

impl Stores {
    /// Every store from one backend that implements them all, audit events to `events`.
    pub fn all_in<S>(store: Arc<S>, events: Arc<dyn EventSink>) -> Self
    where
        S: UserStore
            + MfaStore
            + RefreshStore
            + SessionStore
            + ThrottleStore
            + RevocationStore
            + TotpReplayGuard
            + 'static,
    {
        Self {
            users: store.clone(),
            mfa: store.clone(),
            refresh: store.clone(),
            sessions: store.clone(),
            throttle: store.clone(),
            revocations: store.clone(),
            totp_replay: store,
            events,
        }
    }
}

#[cfg(feature = "memory")]
impl Stores {
    /// Every store in memory, audit events to `tracing`.
    pub fn memory() -> Self {
        Self::memory_with_events(Arc::new(crate::event::TracingEventSink))
    }

    /// Every store in memory, audit events to `events`.
    pub fn memory_with_events(events: Arc<dyn EventSink>) -> Self {
        Self::all_in(Arc::new(crate::store::memory::MemoryStore::new()), events)
    }
}

#[cfg(feature = "postgres")]
impl Stores {
    /// Everything in PostgreSQL, audit events included: a deployment without Redis.
    pub fn postgres(store: crate::store::postgres::PostgresStore) -> Self {
        let store = Arc::new(store);
        Self::all_in(store.clone(), store)
    }
}

#[cfg(all(feature = "postgres", feature = "redis"))]
impl Stores {
    /// Durable data (users, MFA, refresh families, audit events) in PostgreSQL; the hot,
    /// expiring state (sessions, throttle counters, revoked sessions, TOTP replay guard) in
    /// Redis.
    pub fn postgres_with_redis(
        postgres: crate::store::postgres::PostgresStore,
        redis: crate::store::redis::RedisStore,
    ) -> Self {
        let postgres = Arc::new(postgres);
        let redis = Arc::new(redis);
        Self {
            users: postgres.clone(),
            mfa: postgres.clone(),
            refresh: postgres.clone(),
            sessions: redis.clone(),
            throttle: redis.clone(),
            revocations: redis.clone(),
            totp_replay: redis,
            events: postgres,
        }
    }
}

/// What the [`Authenticator`] is configured with besides its stores and keys.
#[derive(Debug, Clone)]
pub struct AuthenticatorConfig {
    /// Issuer, audience, token lifetimes and leeway.
    pub tokens: TokenConfig,
    /// Session and refresh-token lifetimes.
    pub sessions: SessionLifetimes,
    /// Password hashing and policy.
    pub passwords: PasswordConfig,
    /// The issuer name authenticator apps show beside the account (`otpauth` URI).
    pub totp_issuer: String,
    /// Algorithm, digits and period of new TOTP enrolments (SHA-1, 6 digits, 30 s by default:
    /// what every authenticator app reads).
    pub totp: TotpParams,
    /// How long a "not revoked" answer for a `sid` may be reused by this process. Revocations
    /// made through this process take effect at once regardless.
    pub sid_cache_ttl: Duration,
    /// How many verified access tokens [`Authenticator::authenticate`] remembers, so a repeat
    /// skips the signature check (see [`TokenVerifier::with_cache`]); 0 turns the cache off.
    /// Each entry takes about half a KiB. Revocation is still checked on every request.
    pub verified_token_cache: usize,
}

impl AuthenticatorConfig {
    /// Defaults for tokens issued by `issuer` to `audience`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        let issuer = issuer.into();
        Self {
            totp_issuer: issuer.clone(),
            totp: TotpParams::default(),
            tokens: TokenConfig::new(issuer, audience),
            sessions: SessionLifetimes::default(),
            passwords: PasswordConfig::default(),
            sid_cache_ttl: Duration::from_secs(2),
            verified_token_cache: 10_000,
        }
    }
}

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
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("session_id", &self.session_id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// What a correct password leads to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// No second factor enrolled: here are the tokens.
    Authenticated(Tokens),
    /// A second factor is enrolled: send it with this challenge to
    /// [`Authenticator::verify_mfa`].
    MfaRequired {
        /// The challenge: a short-lived signed token of its own type, useless as an access token.
        mfa_token: SecretString,
        /// Seconds until the challenge expires.
        expires_in: u64,
    },
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
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.inner.config)
            .field("stores", &self.inner.stores)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Authenticator`].
pub struct AuthenticatorBuilder {
    config: AuthenticatorConfig,
    keys: Arc<KeySet>,
    stores: Option<Stores>,
    mfa_keys: Option<MfaKeyring>,
    clock: SharedClock,
    throttle: Option<Throttle>,
    passwords: Option<PasswordService>,
    observer: Arc<dyn AuthObserver>,
}

impl AuthenticatorBuilder {
    /// Uses these stores (default with the `memory` feature: [`Stores::memory`]).
    pub fn stores(mut self, stores: Stores) -> Self {
        self.stores = Some(stores);
        self
    }

    /// Encrypts TOTP secrets with this keyring (required once TOTP is used in production;
    /// default: a random development key, so secrets do not survive a restart).
    pub fn mfa_keyring(mut self, keyring: MfaKeyring) -> Self {
        self.mfa_keys = Some(keyring);
        self
    }

    /// Reads time from `clock` (default: the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Uses this throttle (default: the per-account and per-address policies over the stores'
    /// throttle store).
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Uses this password service, for example one with a breached-password check (default:
    /// one built from the configuration).
    pub fn passwords(mut self, passwords: PasswordService) -> Self {
        self.passwords = Some(passwords);
        self
    }

    /// Reports durations and outcomes to `observer` (metrics, for example).
    pub fn observer(mut self, observer: Arc<dyn AuthObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// Checks the configuration and builds the authenticator.
    pub fn build(self) -> Result<Authenticator> {
        let stores = match self.stores {
            Some(stores) => stores,
            #[cfg(feature = "memory")]
            None => Stores::memory(),
            #[cfg(not(feature = "memory"))]
            None => return Err(Error::Config("no stores configured".into())),
        };
        self.config.totp.validate()?;
        let lifetimes = self.config.sessions;
        if lifetimes.idle.is_zero() || lifetimes.absolute.is_zero() {
            return Err(Error::Config(
                "session idle and absolute lifetimes must be positive".into(),
            ));
        }
        let passwords = match self.passwords {
            Some(passwords) => passwords,
            None => PasswordService::new(self.config.passwords.clone())?,
        };
        let issuer = TokenIssuer::new(
            self.keys.clone(),
            self.config.tokens.clone(),
            self.clock.clone(),
        )?;
        let verifier =
            TokenVerifier::new(self.keys, self.config.tokens.clone(), self.clock.clone())?
                .with_cache(self.config.verified_token_cache);
        let throttle = self
            .throttle
            .unwrap_or_else(|| Throttle::new(stores.throttle.clone(), self.clock.clone()));
        Ok(Authenticator {
            inner: Arc::new(Inner {
                sid_check: SidRevocationCheck::new(
                    stores.revocations.clone(),
                    self.clock.clone(),
                    self.config.sid_cache_ttl,
                ),
                config: self.config,
                stores,
                passwords,
                issuer,
                verifier,
                mfa_keys: self.mfa_keys.unwrap_or_else(MfaKeyring::generate),
                throttle,
                clock: self.clock,
                observer: self.observer,
            }),
        })
    }
}

/// Normalises an email address for storage and lookup: trimmed and lower-cased; refuses what
/// cannot be an address.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(Error::InvalidRequest("not an email address".into()))
    }
}

impl Authenticator {
    /// Starts building an authenticator that signs with `keys`' active key.
    pub fn builder(keys: KeySet, config: AuthenticatorConfig) -> AuthenticatorBuilder {
        AuthenticatorBuilder {
            config,
            keys: Arc::new(keys),
            stores: None,
            mfa_keys: None,
            clock: Arc::new(SystemClock),
            throttle: None,
            passwords: None,
            observer: Arc::new(NoObserver),
        }
    }

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

    /// Signs a token and reports how long it took.
    fn issue(&self, kind: TokenKind, token: NewToken) -> Result<crate::token::IssuedToken> {
        let started = std::time::Instant::now();
        let issued = self.inner.issuer.issue(kind, token);
        self.inner.observer.token_issued(kind, started.elapsed());
        issued
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

    /// Creates an account. [`Error::WeakPassword`] when the policy refuses the password,
    /// [`Error::Conflict`] when the email is taken.
    pub async fn register(&self, email: &str, password: &SecretString) -> Result<User> {
        let email = normalize_email(email)?;
        let password_hash = self
            .timed_hash(self.inner.passwords.hash_new_password(password))
            .await?;
        let user = User {
            id: UserId::new(),
            email,
            password_hash,
            disabled: false,
            created_at: self.now(),
        };
        self.inner.stores.users.create_user(user.clone()).await?;
        self.emit(AuthEventKind::Registered, Some(user.id), None, None)
            .await;
        Ok(user)
    }

    /// Checks a password login. Unknown account, wrong password and disabled account all
    /// answer [`Error::InvalidCredentials`] at the same cost; too many failures answer
    /// [`Error::Throttled`], even for the right password. With every hashing slot and queue
    /// place taken it answers [`Error::Busy`] at once, before any lookup.
    pub async fn login(
        &self,
        email: &str,
        password: &SecretString,
        client: Option<IpAddr>,
    ) -> Result<LoginOutcome> {
        // With every hashing slot taken, the answer is 503 busy whatever the account: give it
        // before the throttle and account lookups, so a login storm does not also become a
        // storm of Redis and database queries (one each per refused login).
        self.inner.passwords.refuse_if_saturated()?;
        let throttle = &self.inner.throttle;
        if let Err(error) = throttle.check(email, client).await {
            self.emit(
                AuthEventKind::LoginFailed {
                    reason: LoginFailure::Throttled,
                },
                None,
                None,
                client,
            )
            .await;
            return Err(error);
        }
        let user = match normalize_email(email) {
            Ok(normalized) => self.inner.stores.users.user_by_email(&normalized).await?,
            Err(_) => None,
        };
        let Some(user) = user else {
            let _ = self
                .timed_hash(self.inner.passwords.verify_unknown_account(password))
                .await?;
            return self
                .refuse_login(email, client, None, LoginFailure::UnknownAccount)
                .await;
        };
        let verification = self
            .timed_hash(self.inner.passwords.verify(password, &user.password_hash))
            .await?;
        let Verification::Valid { needs_rehash } = verification else {
            return self
                .refuse_login(email, client, Some(user.id), LoginFailure::WrongPassword)
                .await;
        };
        if user.disabled {
            return self
                .refuse_login(email, client, Some(user.id), LoginFailure::DisabledAccount)
                .await;
        }
        throttle.record_success(email).await?;
        if needs_rehash {
            let upgraded = self
                .timed_hash(self.inner.passwords.rehash(password))
                .await?;
            self.inner
                .stores
                .users
                .set_password_hash(&user.id, &upgraded)
                .await?;
            self.emit(AuthEventKind::PasswordRehashed, Some(user.id), None, client)
                .await;
        }
        if self.totp_enabled(&user.id).await? {
            let challenge = self.issue(
                TokenKind::MfaChallenge,
                NewToken::new(user.id.to_string()).amr(["pwd"]),
            )?;
            self.emit(AuthEventKind::MfaChallenged, Some(user.id), None, client)
                .await;
            return Ok(LoginOutcome::MfaRequired {
                mfa_token: challenge.token,
                expires_in: self.inner.config.tokens.mfa_challenge_ttl.as_secs(),
            });
        }
        let tokens = self
            .start_session(&user, vec!["pwd".into()], client)
            .await?;
        Ok(LoginOutcome::Authenticated(tokens))
    }

    async fn refuse_login(
        &self,
        email: &str,
        client: Option<IpAddr>,
        user: Option<UserId>,
        reason: LoginFailure,
    ) -> Result<LoginOutcome> {
        self.inner.throttle.record_failure(email, client).await?;
        self.emit(AuthEventKind::LoginFailed { reason }, user, None, client)
            .await;
        Err(Error::InvalidCredentials)
    }

    /// Opens a new session (a fresh id at every login) with its refresh family, and issues the
    /// first tokens.
    async fn start_session(
        &self,
        user: &User,
        amr: Vec<String>,
        client: Option<IpAddr>,
    ) -> Result<Tokens> {
        let now = self.now();
        let lifetimes = self.inner.config.sessions;
        let session_secret = OpaqueSecret::generate();
        let session_id = session_secret.session_id();
        let expires_at = now + lifetimes.absolute;
        let idle_expires_at = (now + lifetimes.idle).min(expires_at);
        self.inner
            .stores
            .sessions
            .create_session(Session {
                id: session_id.clone(),
                user_id: user.id,
                amr: amr.clone(),
                created_at: now,
                last_used_at: now,
                idle_expires_at,
                expires_at,
            })
            .await?;
        let refresh_token = OpaqueSecret::generate();
        self.inner
            .stores
            .refresh
            .create_family(
                RefreshFamily {
                    id: FamilyId::new(),
                    user_id: user.id,
                    session_id: session_id.clone(),
                    created_at: now,
                    expires_at,
                },
                RefreshTokenRecord {
                    hash: refresh_token.hash(),
                    issued_at: now,
                    idle_expires_at,
                },
            )
            .await?;
        let tokens = self.tokens_for(user.id, &session_id, &amr, refresh_token)?;
        self.emit(
            AuthEventKind::LoginSucceeded { amr },
            Some(user.id),
            Some(session_id),
            client,
        )
        .await;
        Ok(tokens)
    }

    fn tokens_for(
        &self,
        user_id: UserId,
        session_id: &SessionId,
        amr: &[String],
        refresh_token: OpaqueSecret,
    ) -> Result<Tokens> {
        let access = self.issue(
            TokenKind::Access,
            NewToken::new(user_id.to_string())
                .session_id(session_id.as_str())
                .amr(amr.iter().cloned()),
        )?;
        Ok(Tokens {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: self.inner.config.tokens.access_ttl.as_secs(),
            refresh_token: refresh_token.into_secret(),
            session_id: session_id.clone(),
            user_id,
        })
    }

    /// Exchanges a refresh token for new tokens, rotating it. A token presented after it was
    /// rotated is reuse: the session and its whole family are revoked and the answer is
    /// [`Error::TokenReused`].
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        let result = self.rotate_refresh(refresh_token).await;
        let outcome = match &result {
            Ok(_) => RefreshOutcome::Rotated,
            Err(Error::TokenReused) => RefreshOutcome::Reused,
            Err(Error::InvalidToken(_)) => RefreshOutcome::Invalid,
            Err(_) => RefreshOutcome::Error,
        };
        self.inner.observer.refreshed(outcome);
        result
    }

    async fn rotate_refresh(&self, refresh_token: &str) -> Result<Tokens> {
        let presented = OpaqueSecret::parse(refresh_token)?;
        let now = self.now();
        let lifetimes = self.inner.config.sessions;
        let successor = OpaqueSecret::generate();
        let rotation = self
            .inner
            .stores
            .refresh
            .rotate(
                &presented.hash(),
                RefreshTokenRecord {
                    hash: successor.hash(),
                    issued_at: now,
                    idle_expires_at: now + lifetimes.idle,
                },
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
                    None,
                )
                .await;
                self.end_session(family.user_id, &family.session_id, SessionEnd::RefreshReuse)
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
                    (Some(session), Some(user)) if !user.disabled => {
                        self.tokens_for(user.id, &session.id, &session.amr, successor)
                    }
                    _ => {
                        self.end_session(family.user_id, &family.session_id, SessionEnd::Revoked)
                            .await?;
                        Err(TokenRejection::NotActive.into())
                    }
                }
            }
        }
    }

    /// Ends a session, its refresh family and (through the revocation list) its access tokens.
    async fn end_session(
        &self,
        user: UserId,
        session: &SessionId,
        reason: SessionEnd,
    ) -> Result<()> {
        let stores = &self.inner.stores;
        let ended = stores.sessions.revoke_session(&user, session).await?;
        stores.refresh.revoke_session_family(session).await?;
        self.revoke_sid(session).await?;
        if ended {
            self.emit(
                AuthEventKind::SessionEnded { reason },
                Some(user),
                Some(session.clone()),
                None,
            )
            .await;
        }
        Ok(())
    }

    async fn revoke_sid(&self, session: &SessionId) -> Result<()> {
        let tokens = &self.inner.config.tokens;
        let until = self.now() + tokens.access_ttl + tokens.leeway;
        self.inner.sid_check.revoke(session, until).await
    }

    /// Verifies an access token and checks that its session was not revoked.
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal> {
        let claims = self.inner.verifier.verify_access_cached(access_token)?;
        let user_id = claims
            .sub
            .parse::<UserId>()
            .map_err(|_| Error::InvalidToken(TokenRejection::Malformed))?;
        let session_id = match claims.sid.as_deref() {
            Some(sid) => {
                let sid = SessionId::parse(sid)
                    .map_err(|_| Error::InvalidToken(TokenRejection::Malformed))?;
                if self.inner.sid_check.is_revoked(&sid).await? {
                    return Err(TokenRejection::Revoked.into());
                }
                Some(sid)
            }
            None => None,
        };
        Ok(Principal {
            user_id,
            session_id,
            claims,
        })
    }

    /// Ends the caller's session: its refresh tokens and access tokens stop working at once.
    pub async fn logout(&self, principal: &Principal) -> Result<()> {
        let session = principal
            .session_id
            .as_ref()
            .ok_or_else(|| Error::InvalidRequest("the token has no session".into()))?;
        self.end_session(principal.user_id, session, SessionEnd::Logout)
            .await
    }

    /// The caller's account.
    pub async fn me(&self, principal: &Principal) -> Result<Profile> {
        let user = self
            .inner
            .stores
            .users
            .user_by_id(&principal.user_id)
            .await?
            .ok_or(Error::InvalidToken(TokenRejection::Revoked))?;
        Ok(Profile {
            user_id: user.id,
            email: user.email,
            mfa_enabled: self.totp_enabled(&user.id).await?,
            session_id: principal.session_id.clone(),
        })
    }

    /// Changes the password: the current one is required, the new one must meet the policy,
    /// and every other session of the user ends.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<()> {
        let user = self.user_for(principal).await?;
        self.check_current_password(&user, current).await?;
        let hash = self
            .timed_hash(self.inner.passwords.hash_new_password(new))
            .await?;
        self.inner
            .stores
            .users
            .set_password_hash(&user.id, &hash)
            .await?;
        self.emit(
            AuthEventKind::PasswordChanged,
            Some(user.id),
            principal.session_id.clone(),
            None,
        )
        .await;
        self.end_other_sessions(principal, SessionEnd::PasswordChanged)
            .await?;
        Ok(())
    }

    async fn user_for(&self, principal: &Principal) -> Result<User> {
        self.inner
            .stores
            .users
            .user_by_id(&principal.user_id)
            .await?
            .ok_or(Error::InvalidToken(TokenRejection::Revoked))
    }

    /// A sensitive change needs the current password; wrong guesses count against the throttle.
    async fn check_current_password(&self, user: &User, password: &SecretString) -> Result<()> {
        self.inner.throttle.check(&user.email, None).await?;
        match self
            .timed_hash(self.inner.passwords.verify(password, &user.password_hash))
            .await?
        {
            Verification::Valid { .. } => Ok(()),
            Verification::Invalid => {
                self.inner
                    .throttle
                    .record_failure(&user.email, None)
                    .await?;
                Err(Error::InvalidCredentials)
            }
        }
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
mod tests;
