//! `auth-server serve`: configuration, keys, listener, graceful shutdown.

use std::process::ExitCode;
use std::sync::Arc;

use std::time::Duration;

use auth_core::clock::SystemClock;
use auth_core::event::EventSink;
use auth_core::event::TracingEventSink;
use auth_core::flows::{
    Authenticator, AuthenticatorConfig, EmailVerification, Stores, WorkerConfig,
};
use auth_core::mail::LogSink;
use auth_core::outbox::Sink;
use auth_core::password::PasswordConfig;
use auth_core::store::ThrottleStore;
use auth_core::throttle::{Throttle, ThrottlePolicy};

use auth_core::secrecy::{ExposeSecret, SecretString};
use auth_core::store::postgres::{MigrationState, PostgresConfig, PostgresStore};
use auth_core::store::redis::{RedisConfig, RedisStore};
use auth_tower::health::{DrainGate, HealthCheck, HealthService, StartupGate};
use auth_tower::metrics::Metrics;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::app::{AppState, Routers, Stack, router};
use crate::config::{self, Environment, KeySource, LogFormat, ServeConfig};
use crate::error::ServeError;

pub(crate) fn main() -> ExitCode {
    let config = match config::from_env(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(problems) => return crate::cli::invalid_configuration("auth-server", &problems),
    };
    init_tracing(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(config: &ServeConfig) {
    let filter = tracing_subscriber::EnvFilter::new(&config.log_level);
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn run(config: ServeConfig) -> Result<(), ServeError> {
    tracing::info!(environment = ?config.environment, version = env!("CARGO_PKG_VERSION"), "starting auth-server");
    let startup = StartupGate::new();
    let metrics = Metrics::new();
    let drain = DrainGate::new();
    let mut health = HealthService::new(startup.clone())
        .drain_gate(drain.clone())
        .timeout(Duration::from_secs(2))
        .reporter(metrics.health_reporter());
    let audit: Arc<dyn EventSink> = Arc::new(TracingEventSink);
    // The pools to close once the last request has drained.
    let mut pools = Pools::default();
    let stores = match &config.database_url {
        None => {
            tracing::warn!(
                "DEVELOPMENT MODE: no DATABASE_URL, state lives in memory and is lost on restart. \
                 Never run this in production."
            );
            Stores::memory_with_events(audit)
        }
        Some(url) => {
            for (variable, host) in &config.store_tls.plaintext_allowed {
                tracing::warn!(
                    variable,
                    host,
                    "a store reached without TLS, as ALLOW_PLAINTEXT_STORE_HOSTS allows"
                );
            }
            let postgres = connect_postgres(url, &config).await?;
            metrics.watch_postgres_pool(&postgres);
            pools.postgres = Some(postgres.clone());
            health = health.with_check(HealthCheck::postgres(
                postgres.clone(),
                Duration::from_secs(1),
            ));
            match &config.redis_url {
                None => Stores::postgres(postgres),
                Some(url) => {
                    let mut redis_config = RedisConfig::from_url(url.expose_secret());
                    redis_config.key_prefix = config.redis_key_prefix.clone();
                    redis_config
                        .ca_file
                        .clone_from(&config.store_tls.redis_ca_file);
                    let redis = RedisStore::connect(redis_config)
                        .await
                        .map_err(ServeError::Redis)?;
                    pools.redis = Some(redis.clone());
                    health = health
                        .with_check(HealthCheck::redis(redis.clone(), Duration::from_secs(1)));
                    Stores::postgres_with_redis(postgres, redis)
                }
            }
        }
    };
    let active = config.keys.active().ok_or(ServeError::NoActiveKey)?;
    match config.key_source {
        KeySource::Generated => tracing::warn!(
            kid = active.id().as_str(),
            alg = %active.algorithm(),
            "DEVELOPMENT MODE: generated a signing key; tokens stop verifying when the process restarts"
        ),
        KeySource::SharedSecret => {
            tracing::info!(alg = %active.algorithm(), "signing with JWT_ACCESS_SECRET")
        }
        KeySource::Configured => tracing::info!(
            kid = active.id().as_str(),
            alg = %active.algorithm(),
            keys = config.keys.len(),
            "signing keys loaded"
        ),
    }
    if config.ui.enabled
        && config
            .keys
            .signing_key(auth_core::token::Algorithm::Rs256)
            .is_none()
    {
        tracing::warn!(
            "no RS256 signing key: the OpenID provider cannot sign ID tokens, so a request \
             with the openid scope fails; add one to AUTH_SIGNING_KEYS (auth-server keys \
             generate --format jwt-rs256)"
        );
    }
    let throttle = throttle(&config, stores.throttle.clone()).map_err(ServeError::Authenticator)?;
    let mailing = start_mail(&config, &stores, &metrics).await?;
    // Expired rows go on a schedule, one instance at a time.
    let purging = match (&pools.postgres, config.purge_interval) {
        (Some(postgres), Some(interval)) => Some(crate::purge::spawn(
            postgres.clone(),
            interval,
            crate::purge::options(&config, throttle.longest_window()),
        )),
        (Some(_), None) => {
            tracing::warn!("PURGE_INTERVAL=0: expired rows stay until `auth-server purge` runs");
            None
        }
        (None, _) => None,
    };
    let (app, auth) = app(&config, stores, throttle, health, &metrics)?;
    crate::roles::seed(&auth, &config.roles)
        .await
        .map_err(ServeError::Roles)?;

    let shutdown = shutdown_signal()?;
    let limits = crate::listen::ConnectionLimits {
        header_read_timeout: config.header_read_timeout,
        idle_timeout: config.idle_timeout,
        max_connections: config.max_connections,
    };
    // The admin listener first, so a scraper or a probe pointed at it never meets a server
    // that is up on its public port only.
    let (admin_stop, admin_stop_rx) = oneshot::channel::<()>();
    let admin = match (config.admin_addr, app.admin) {
        (Some(address), Some(routes)) => {
            let listener = listen(address.ip.or(config.bind_addr), address.port).await?;
            let addr = listener.local_addr().map_err(ServeError::ListenerAddress)?;
            tracing::info!(%addr, "admin listening: /metrics and the probes with their details");
            Some(tokio::spawn(crate::listen::serve(
                listener,
                routes,
                limits,
                async move {
                    let _ = admin_stop_rx.await;
                },
            )))
        }
        _ => {
            if config.environment == Environment::Production {
                tracing::warn!(
                    "no ADMIN_ADDR: /metrics and the probes' details answer on the public port; \
                     keep it from the internet or set ADMIN_ADDR"
                );
            }
            None
        }
    };
    let listener = listen(config.bind_addr, config.port).await?;
    let addr = listener.local_addr().map_err(ServeError::ListenerAddress)?;
    startup.mark_started();
    tracing::info!(%addr, "listening");

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let mut server = tokio::spawn(crate::listen::serve(
        listener,
        app.public,
        limits,
        async move {
            let _ = stop_rx.await;
        },
    ));

    tokio::select! {
        finished = &mut server => {
            return finished.map_err(ServeError::ServerTask);
        }
        signal = shutdown => {
            tracing::info!(signal, deadline = ?config.shutdown_timeout, "shutting down: no new connections, draining in-flight requests");
        }
    }
    drain.start_draining();
    let _ = stop_tx.send(());
    // The admin listener keeps answering while the public one drains: its readiness says 503
    // (draining) to the orchestrator, and the last scrape sees the drain.
    let drained = tokio::time::timeout(config.shutdown_timeout, server).await;
    let _ = admin_stop.send(());
    if let Some(admin) = admin {
        let _ = tokio::time::timeout(Duration::from_secs(1), admin).await;
    }
    match drained {
        Ok(_) => tracing::info!("drained"),
        Err(_) => tracing::warn!("drain deadline passed; closing the remaining connections"),
    }
    if let Some(purging) = purging {
        purging.abort();
    }
    mailing.abort();
    pools.close().await;
    tracing::info!("connections closed; bye");
    Ok(())
}

/// Starts the outbox worker: mail over SMTP, or to the log in development. With verification
/// required, the accounts made before it was switched on count as verified, once per store.
async fn start_mail(
    config: &ServeConfig,
    stores: &Stores,
    metrics: &Metrics,
) -> Result<tokio::task::JoinHandle<()>, ServeError> {
    if config.mail.email.verification == EmailVerification::Required {
        let adopted = stores
            .users
            .adopt_email_verification(std::time::SystemTime::now())
            .await
            .map_err(ServeError::Authenticator)?;
        if let Some(accounts) = adopted {
            tracing::info!(
                accounts,
                "email verification is now required: the accounts made before count as verified"
            );
        }
    }
    let sink: Arc<dyn Sink> = match config.mail.smtp_sink() {
        Some(sink) => Arc::new(sink.map_err(ServeError::Authenticator)?),
        None => {
            tracing::warn!(
                "DEVELOPMENT MODE: no SMTP_URL, mails (their links and codes too) go to the log \
                 at WARN instead of being sent"
            );
            Arc::new(LogSink)
        }
    };
    tracing::info!(
        verification = %config.mail.email.verification,
        app_url = %config.mail.email.app_url,
        "mail worker started"
    );
    Ok(crate::mailer::spawn(
        stores.outbox.clone(),
        sink,
        metrics.clone(),
        WorkerConfig::default(),
    ))
}

/// Binds `address` (or every interface: `[::]`, which takes IPv4 too as mapped addresses,
/// or `0.0.0.0` on a host without IPv6) on `port`.
async fn listen(address: Option<std::net::IpAddr>, port: u16) -> Result<TcpListener, ServeError> {
    let failed = |source| ServeError::Listen { port, source };
    if let Some(address) = address {
        return TcpListener::bind((address, port)).await.map_err(failed);
    }
    match TcpListener::bind((std::net::Ipv6Addr::UNSPECIFIED, port)).await {
        Ok(listener) => Ok(listener),
        Err(error)
            if error.kind() == std::io::ErrorKind::AddrNotAvailable
                || error.raw_os_error() == Some(97) =>
        {
            // EAFNOSUPPORT (97): the kernel or the container has no IPv6.
            tracing::info!(%error, "no IPv6 here; listening on IPv4 only");
            TcpListener::bind((std::net::Ipv4Addr::UNSPECIFIED, port))
                .await
                .map_err(failed)
        }
        Err(error) => Err(failed(error)),
    }
}

/// One hour, the window of the registrations counted per address.
const HOUR: Duration = Duration::from_secs(3600);

/// The routes and their middleware over `stores`, as `serve` runs them.
fn app(
    config: &ServeConfig,
    stores: Stores,
    throttle: Throttle,
    health: HealthService,
    metrics: &Metrics,
) -> Result<(Routers, Authenticator), ServeError> {
    // Audit events also feed the metrics.
    let stores = Stores {
        events: Arc::new(metrics.event_sink(stores.events.clone())),
        ..stores
    };
    let state = AppState {
        jwks: Arc::new(config.keys.jwks()),
    };
    let auth = authenticator(config, stores, throttle, metrics)?;
    let routers = router(
        state,
        auth.clone(),
        health,
        &Stack {
            metrics: metrics.clone(),
            cors_origins: config.cors_origins.clone(),
            request_timeout: config.request_timeout,
        },
        config.proxies.clone(),
        config.admin_addr.is_some(),
        config.ui.enabled.then_some(&config.ui),
    );
    Ok((routers, auth))
}

/// What `serve` runs without `DATABASE_URL`, already started: in-memory stores with the
/// tracing audit sink. See [`crate::development_router`].
pub(crate) fn development_router(config: &ServeConfig) -> Result<Router, ServeError> {
    let startup = StartupGate::new();
    startup.mark_started();
    let metrics = Metrics::new();
    let health = HealthService::new(startup).reporter(metrics.health_reporter());
    let stores = Stores::memory_with_events(Arc::new(TracingEventSink));
    let throttle = throttle(config, stores.throttle.clone()).map_err(ServeError::Authenticator)?;
    Ok(app(config, stores, throttle, health, &metrics)?.0.public)
}

/// The backend connection pools, closed after the drain so no request loses its database.
#[derive(Default)]
struct Pools {
    postgres: Option<PostgresStore>,
    redis: Option<RedisStore>,
}

impl Pools {
    async fn close(self) {
        if let Some(postgres) = self.postgres {
            postgres.close();
        }
        if let Some(redis) = self.redis {
            redis.close().await;
        }
    }
}

/// Installs the SIGTERM (what orchestrators send) and SIGINT (Ctrl-C) handlers at once, so a
/// signal that arrives right after start-up is not missed, and returns a future that resolves
/// with the first signal's name.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl Future<Output = &'static str>, ServeError> {
    use tokio::signal::unix::{SignalKind, signal};
    let handler = |kind: SignalKind, name: &'static str| {
        signal(kind).map_err(|source| ServeError::Signal {
            signal: name,
            source,
        })
    };
    let mut terminate = handler(SignalKind::terminate(), "SIGTERM")?;
    let mut interrupt = handler(SignalKind::interrupt(), "SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl Future<Output = &'static str>, ServeError> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    })
}

/// Connects the pool. Development applies pending migrations; production refuses to start
/// with pending ones (the `migrate` job runs first), so code never meets an older schema.
async fn connect_postgres(
    url: &SecretString,
    config: &ServeConfig,
) -> Result<PostgresStore, ServeError> {
    let mut postgres = PostgresConfig::from_url(url.expose_secret());
    postgres
        .ca_file
        .clone_from(&config.store_tls.database_ca_file);
    postgres.max_connections = config.database_pool_size;
    let store = PostgresStore::connect(&postgres).map_err(ServeError::Database)?;
    if config.environment == Environment::Development {
        let report = store.migrate().await.map_err(ServeError::Migrations)?;
        tracing::info!(applied = ?report.applied, version = report.current, "database schema up to date");
        return Ok(store);
    }
    let pending: Vec<u32> = store
        .migration_status()
        .await
        .map_err(ServeError::MigrationStatus)?
        .into_iter()
        .filter(|m| m.state == MigrationState::Pending)
        .map(|m| m.version)
        .collect();
    if !pending.is_empty() {
        return Err(ServeError::PendingMigrations(pending));
    }
    Ok(store)
}

/// The throttle's policies from the configuration, counting in `store`.
fn throttle(config: &ServeConfig, store: Arc<dyn ThrottleStore>) -> auth_core::Result<Throttle> {
    Ok(Throttle::new(store, Arc::new(SystemClock))
        .with_registration_policy(ThrottlePolicy::rate(
            HOUR,
            config.registrations_per_address,
        )?)
        .with_registrations_overall(ThrottlePolicy::rate(
            Duration::from_secs(60),
            config.registrations_per_minute,
        )?))
}

/// The longest window the configured throttle counts failures in: older counters can go.
pub(crate) fn throttle_window(config: &ServeConfig) -> auth_core::Result<Duration> {
    // The policies alone decide it; the store they would count in does not matter.
    let store = Arc::new(auth_core::store::memory::MemoryStore::new());
    Ok(throttle(config, store)?.longest_window())
}

/// The Authenticator from the configuration, the stores and the throttle over them.
fn authenticator(
    config: &ServeConfig,
    stores: Stores,
    throttle: Throttle,
    metrics: &Metrics,
) -> Result<Authenticator, ServeError> {
    let mut settings = AuthenticatorConfig::new(config.issuer.clone(), config.audience.clone());
    settings.tokens.access_ttl = config.access_ttl;
    settings.sessions.absolute = config.refresh_ttl;
    settings.sessions.idle = settings.sessions.idle.min(config.refresh_ttl);
    settings.verified_token_cache = config.token_cache_size;
    settings.sid_cache_ttl = config.revocation_cache_ttl;
    settings.client_cache_ttl = config.client_cache_ttl;
    settings.reauthentication_max_age = config.reauth_max_age;
    settings.sessions.refresh_reuse_grace = config.refresh_reuse_grace;
    settings.email = config.mail.email.clone();
    if config.ui.enabled {
        // Mailed links open the hosted pages.
        settings.email.paths = crate::ui::link_paths();
    }
    settings.passkeys = config.passkeys.clone();
    let defaults = PasswordConfig::default();
    let concurrency = config
        .hash_concurrency
        .unwrap_or(defaults.max_concurrent_hashes);
    settings.passwords = PasswordConfig {
        argon2: config.argon2,
        max_concurrent_hashes: concurrency,
        max_queued_hashes: config.hash_queue.unwrap_or(concurrency * 8),
        hash_thread_niceness: config
            .hash_niceness
            .unwrap_or(defaults.hash_thread_niceness),
        on_breach_check_failure: config.breach_check_failure,
        context_words: config.password_context_words.clone(),
        ..defaults
    };
    let mut builder = Authenticator::builder(config.keys.clone(), settings)
        .stores(stores)
        .throttle(throttle)
        .mail_templates(config.mail.templates.clone())
        .observer(Arc::new(metrics.clone()));
    if !config.breach_checks.is_empty() {
        builder = builder.breached_password_check(Arc::new(config.breach_checks.clone()));
    }
    if let Some(fetcher) = &config.client_keys {
        builder = builder.client_key_source(fetcher.clone());
    }
    match &config.mfa_keys {
        Some(keyring) => builder = builder.mfa_keyring(keyring.clone()),
        None => tracing::warn!(
            "DEVELOPMENT MODE: no MFA_ENCRYPTION_KEY, TOTP secrets are encrypted with a key that dies with the process"
        ),
    }
    let auth = builder.build().map_err(ServeError::Authenticator)?;
    metrics.watch_password_pool(auth.passwords());
    Ok(auth)
}
