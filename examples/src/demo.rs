//! The demo identity provider the server examples share: an [`Authenticator`] on in-memory
//! stores with one registered user ([`DEMO_EMAIL`] / [`DEMO_PASSWORD`]), its health probes,
//! the application's own [`ScopeGrants`], and the process plumbing (port, shutdown signal).
//!
//! Not a program of its own; the servers built on it run with
//! `cargo run -p auth-examples --bin axum_app` (or `hyper_server`, `tonic_server`).

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use auth_core::Error;
use auth_core::flows::{Authenticator, AuthenticatorConfig, LoginOutcome, Principal, Stores};
use auth_core::id::UserId;
use auth_core::secrecy::SecretString;
use auth_core::token::{Algorithm, Key, KeySet};
use auth_tower::authn::AuthLayer;
use auth_tower::health::{HealthCheck, HealthService, StartupGate};
use auth_tower::scope::RequireScopeLayer;

/// The demo account registered at start.
pub const DEMO_EMAIL: &str = "ada@example.com";
/// Its password (a demo: never ship a password in code).
pub const DEMO_PASSWORD: &str = "correct horse battery staple";
/// The `iss` of the tokens the demo issues.
pub const ISSUER: &str = "http://localhost";
/// The `aud` of the tokens the demo issues.
pub const AUDIENCE: &str = "orders-api";
/// The realm named in `WWW-Authenticate` challenges.
pub const REALM: &str = "orders";
/// What `GET /orders` needs.
pub const ORDERS_READ: &str = "orders:read";

/// Everything a demo server needs, ready to serve.
#[derive(Debug, Clone)]
pub struct Demo {
    /// Register, log in, authenticate tokens.
    pub auth: Authenticator,
    /// Who may do what, beyond being signed in.
    pub grants: ScopeGrants,
    /// `/health/liveness`, `/health/readiness`, `/health/startup`.
    pub health: HealthService,
    /// The demo account.
    pub demo_user: UserId,
}

impl Demo {
    /// A fresh signing key, in-memory stores, the demo account (granted [`ORDERS_READ`]), and
    /// the startup probe turned ready.
    pub async fn start() -> Result<Self, Error> {
        let stores = Stores::memory();
        let keys = KeySet::new(Key::generate(Algorithm::EdDsa)?)?;
        let auth = Authenticator::builder(keys, AuthenticatorConfig::new(ISSUER, AUDIENCE))
            .stores(stores.clone())
            .build()?;
        let startup = StartupGate::new();
        let health = probes(&stores, startup.clone());

        let user = auth
            .register(DEMO_EMAIL, &SecretString::from(DEMO_PASSWORD))
            .await?;
        let grants = ScopeGrants::default();
        grants.grant(user.id, ORDERS_READ);
        startup.mark_started();
        Ok(Self {
            auth,
            grants,
            health,
            demo_user: user.id,
        })
    }

    /// The authentication layer every protected route sits behind.
    pub fn auth_layer(&self) -> AuthLayer<Authenticator> {
        AuthLayer::required(self.auth.clone()).realm(REALM)
    }

    /// Logs in with a password and returns the access token (for accounts without a second
    /// factor; the demo enrols none).
    pub async fn access_token(&self, email: &str, password: &str) -> Result<SecretString, Error> {
        match self
            .auth
            .login(email, &SecretString::from(password), None)
            .await?
        {
            LoginOutcome::Authenticated(tokens) => Ok(tokens.access_token),
            LoginOutcome::MfaRequired { .. } => Err(Error::MfaRequired),
        }
    }
}

/// Liveness (the process), readiness (the user store answers a lookup) and startup.
fn probes(stores: &Stores, startup: StartupGate) -> HealthService {
    let users = stores.users.clone();
    let user_store = HealthCheck::from_fn("user_store", move || {
        let users = users.clone();
        async move {
            users
                .user_by_email("readiness-probe@example.invalid")
                .await
                .map(|_| ())
                .map_err(|error| error.to_string())
        }
    });
    HealthService::new(startup)
        .with_check(user_store)
        .timeout(Duration::from_secs(1))
}

/// Which scopes each user holds, kept by the application.
///
/// Why not scopes in the token: the `Authenticator` issues access tokens without a `scope`
/// claim (identity only), and re-issues them that way on every refresh. Minting scoped tokens
/// beside it would take a second `TokenIssuer` on the same keys and be undone at the first
/// refresh. Who may read orders is the application's data, so the scope check is a
/// [`RequireScopeLayer::predicate`] that looks the grant up on each request (and so sees a
/// revoked grant at once). A `scope` that a token does carry (one minted by another issuer on
/// the same keys, say for a service account) counts too.
#[derive(Debug, Clone, Default)]
pub struct ScopeGrants(Arc<RwLock<HashMap<UserId, BTreeSet<String>>>>);

impl ScopeGrants {
    /// Grants `scope` to `user`.
    pub fn grant(&self, user: UserId, scope: impl Into<String>) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(user)
            .or_default()
            .insert(scope.into());
    }

    /// Takes `scope` away from `user`.
    pub fn revoke(&self, user: UserId, scope: &str) {
        if let Some(scopes) = self
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&user)
        {
            scopes.remove(scope);
        }
    }

    /// Whether `principal` holds `scope`, by its token or by a grant.
    pub fn allows(&self, principal: &Principal, scope: &str) -> bool {
        principal.claims.has_scope(scope)
            || self
                .0
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&principal.user_id)
                .is_some_and(|scopes| scopes.contains(scope))
    }

    /// A layer that answers `403 insufficient_scope` unless the principal holds `scope`.
    /// Goes inside the [`AuthLayer`], which puts the principal in the request extensions.
    pub fn require(&self, scope: &str) -> RequireScopeLayer<Principal> {
        let grants = self.clone();
        let needed = scope.to_owned();
        RequireScopeLayer::predicate(scope, move |principal: &Principal| {
            grants.allows(principal, &needed)
        })
        .realm(REALM)
    }
}

/// The port to listen on: `PORT`, else `default`.
pub fn port(default: u16) -> Result<u16, String> {
    match std::env::var("PORT") {
        Ok(value) => value
            .parse()
            .map_err(|_| format!("PORT is not a port number: {value:?}")),
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(std::env::VarError::NotUnicode(_)) => Err("PORT is not valid Unicode".to_owned()),
    }
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM (what orchestrators send).
///
/// The handlers are installed by this call, not when the future is first polled, so a signal
/// that arrives while the server is starting is not lost. Call it inside the runtime.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            println!("shutting down");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                eprintln!("cannot listen for Ctrl-C ({error}); stop the process another way");
                std::future::pending::<()>().await;
            }
            println!("shutting down");
        })
    }
}

/// How long in-flight requests may take to finish once shutdown begins.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);
