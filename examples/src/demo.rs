//! The demo identity provider the server examples share: an [`Authenticator`] on in-memory
//! stores with one registered user ([`DEMO_EMAIL`] / [`DEMO_PASSWORD`]) who holds the role
//! [`ORDERS_READER`] (the scope [`ORDERS_READ`] in their tokens), its health probes, and the
//! process plumbing (port, shutdown signal).
//!
//! Not a program of its own; the servers built on it run with
//! `cargo run -p auth-examples --bin axum_app` (or `hyper_server`, `tonic_server`).

use std::future::Future;
use std::time::Duration;

use auth_core::Error;
use auth_core::authz::{Role, RoleName, ScopeSet};
use auth_core::event::Actor;
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
/// The role that grants [`ORDERS_READ`], held by the demo account.
pub const ORDERS_READER: &str = "orders-reader";

/// Everything a demo server needs, ready to serve.
#[derive(Debug, Clone)]
pub struct Demo {
    /// Register, log in, authenticate tokens; roles and who holds them.
    pub auth: Authenticator,
    /// `/health/liveness`, `/health/readiness`, `/health/startup`.
    pub health: HealthService,
    /// The demo account.
    pub demo_user: UserId,
}

impl Demo {
    /// A fresh signing key, in-memory stores, the role [`ORDERS_READER`], the demo account
    /// holding it, and the startup probe turned ready.
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
        let setup = Actor::operator("demo setup");
        let reader = Role::new(
            orders_reader(),
            ScopeSet::parse(ORDERS_READ)?,
            "Reads orders",
        )?;
        auth.define_role(&reader, &setup).await?;
        auth.grant_role(&user.id, &reader.name, &setup).await?;
        startup.mark_started();
        Ok(Self {
            auth,
            health,
            demo_user: user.id,
        })
    }

    /// A layer that answers `403 insufficient_scope` unless the access token carries `scope`:
    /// the token says it, so there is no lookup. Goes inside the [`AuthLayer`], which puts the
    /// principal in the request extensions.
    pub fn require(&self, scope: &str) -> RequireScopeLayer<Principal> {
        RequireScopeLayer::all([scope]).realm(REALM)
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

/// The name of [`ORDERS_READER`].
pub fn orders_reader() -> RoleName {
    RoleName::parse(ORDERS_READER).unwrap_or_else(|_| unreachable!("a valid role name"))
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
