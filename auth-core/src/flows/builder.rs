//! Building an [`Authenticator`]: its stores, its configuration and the builder.

use std::sync::Arc;
use std::time::Duration;

use super::{AuthObserver, Authenticator, Inner, NoObserver};
use crate::clock::{SharedClock, SystemClock};
use crate::error::{Error, Result};
use crate::event::EventSink;
use crate::mail::Templates;
use crate::mfa::{MfaKeyring, TotpParams};
use crate::password::{BreachedPasswordCheck, PasswordConfig, PasswordService};
use crate::session::{SessionLifetimes, SidRevocationCheck};
use crate::store::{
    ClientStore, GrantStore, IntentStore, MfaStore, OutboxStore, PasskeyStore, RefreshStore,
    RevocationStore, RoleStore, SessionStore, ThrottleStore, TotpReplayGuard, UnitOfWork,
    UserStore,
};
use crate::throttle::Throttle;
use crate::token::{KeySet, TokenConfig, TokenIssuer, TokenVerifier};

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
    /// One-time intents (emailed links and codes).
    pub intents: Arc<dyn IntentStore>,
    /// Messages waiting to go out (mail).
    pub outbox: Arc<dyn OutboxStore>,
    /// Writes that take effect together: an account, its intents and its mail. Must be the
    /// backend that holds `users`, `intents` and `outbox`, or its writes land elsewhere.
    pub unit: Arc<dyn UnitOfWork>,
    /// Passkeys, user handles and ceremony state.
    pub passkeys: Arc<dyn PasskeyStore>,
    /// Roles and who holds them. Must be the backend that holds `users`: a change that takes
    /// a scope away moves the holder's credentials epoch in the same step.
    pub roles: Arc<dyn RoleStore>,
    /// Registered OAuth clients.
    pub clients: Arc<dyn ClientStore>,
    /// Authorization codes and consent. Must be the backend that holds `clients` and
    /// `users`: a client or an account that goes takes its codes and consent with it.
    pub grants: Arc<dyn GrantStore>,
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
            + IntentStore
            + OutboxStore
            + UnitOfWork
            + PasskeyStore
            + RoleStore
            + ClientStore
            + GrantStore
            + 'static,
    {
        Self {
            users: store.clone(),
            mfa: store.clone(),
            refresh: store.clone(),
            sessions: store.clone(),
            throttle: store.clone(),
            revocations: store.clone(),
            totp_replay: store.clone(),
            intents: store.clone(),
            outbox: store.clone(),
            unit: store.clone(),
            passkeys: store.clone(),
            roles: store.clone(),
            clients: store.clone(),
            grants: store,
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
    /// PostgreSQL is the record (users, MFA, refresh families, sessions, revoked sessions,
    /// audit events, intents and the outbox: a Redis flush voids no emailed link); Redis holds the counters (throttling, the fast TOTP replay guard before
    /// the durable last-step record). Redis may be emptied at any moment: throttle counters
    /// start again, and nothing else is lost; no one is signed out and no revoked session
    /// comes back. A session check reads PostgreSQL once per session per
    /// [`AuthenticatorConfig::sid_cache_ttl`] at most.
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
            sessions: postgres.clone(),
            throttle: redis.clone(),
            revocations: postgres.clone(),
            totp_replay: redis,
            intents: postgres.clone(),
            outbox: postgres.clone(),
            unit: postgres.clone(),
            passkeys: postgres.clone(),
            roles: postgres.clone(),
            clients: postgres.clone(),
            grants: postgres.clone(),
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
    /// How long this process reuses what it read about a client (token requests,
    /// introspection and revocation name their client each time): the client itself, and
    /// that the throttle let its authentication from an address through (so a successful
    /// authentication within this time reads no throttle counter). A client deleted through
    /// this process is refused at once, one deleted elsewhere (another instance, the command
    /// line) within this time; a client's failure counted here makes the clients from its
    /// address ask the throttle again at once, failures counted elsewhere are seen within
    /// this time. Zero reads the stores every time.
    pub client_cache_ttl: Duration,
    /// How many verified access tokens [`Authenticator::authenticate`], introspection and
    /// userinfo remember, so a repeat skips the signature check (see
    /// [`TokenVerifier::with_cache`]); 0 turns the cache off.
    /// Each entry takes about half a KiB. Revocation is still checked on every request.
    pub verified_token_cache: usize,
    /// How recent an authentication must be for the actions that need a fresh one
    /// ([`SensitiveAction`](super::SensitiveAction)). Default 5 minutes; must not be zero.
    pub reauthentication_max_age: Duration,
    /// Verification, recovery and sign-in by email.
    pub email: super::email::EmailConfig,
    /// Passkeys (feature `passkeys`): the relying party; `None` (the default) turns them off.
    #[cfg(feature = "passkeys")]
    pub passkeys: Option<super::PasskeyConfig>,
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
            client_cache_ttl: Duration::from_secs(2),
            verified_token_cache: 10_000,
            reauthentication_max_age: super::step_up::DEFAULT_REAUTHENTICATION_MAX_AGE,
            email: super::email::EmailConfig::default(),
            #[cfg(feature = "passkeys")]
            passkeys: None,
        }
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
    breach_check: Option<Arc<dyn BreachedPasswordCheck>>,
    observer: Arc<dyn AuthObserver>,
    templates: Templates,
    client_keys: Option<Arc<dyn super::ClientKeySource>>,
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

    /// Refuses new passwords that `check` reports as breached. Hashing and policy come from
    /// [`AuthenticatorConfig::passwords`], the one place they are configured.
    pub fn breached_password_check(mut self, check: Arc<dyn BreachedPasswordCheck>) -> Self {
        self.breach_check = Some(check);
        self
    }

    /// Writes mail from these templates (default: [`Templates::builtin`], English).
    pub fn mail_templates(mut self, templates: Templates) -> Self {
        self.templates = templates;
        self
    }

    /// Fetches the keys of `private_key_jwt` clients registered with a `jwks_uri` through
    /// `source` (default: none, and such clients cannot be registered).
    pub fn client_key_source(mut self, source: Arc<dyn super::ClientKeySource>) -> Self {
        self.client_keys = Some(source);
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
        self.config.email.validate()?;
        if self.config.reauthentication_max_age.is_zero() {
            return Err(Error::Config(
                "the maximum age of a fresh authentication must be positive".into(),
            ));
        }
        #[cfg(feature = "passkeys")]
        let webauthn = self
            .config
            .passkeys
            .as_ref()
            .map(super::PasskeyConfig::build)
            .transpose()?;
        let passwords = match self.breach_check {
            Some(check) => {
                PasswordService::with_breach_check(self.config.passwords.clone(), check)?
            }
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
        let client_keys = super::client_keys::KeyCache::new(self.client_keys, self.clock.clone());
        let clients = super::client_cache::ClientCache::new(
            stores.clients.clone(),
            self.clock.clone(),
            self.config.client_cache_ttl,
        );
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
                busy_events: super::observe::BusyEvents::default(),
                templates: self.templates,
                client_keys,
                clients,
                #[cfg(feature = "passkeys")]
                webauthn,
            }),
        })
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
            breach_check: None,
            observer: Arc::new(NoObserver),
            templates: Templates::builtin(),
            client_keys: None,
        }
    }
}
