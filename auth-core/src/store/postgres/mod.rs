//! PostgreSQL backend: every store trait over one connection pool, so a deployment can run on
//! PostgreSQL alone, with embedded, versioned migrations.
//!
//! [`PostgresStore`] implements [`UserStore`](super::UserStore), [`MfaStore`](super::MfaStore),
//! [`RefreshStore`](super::RefreshStore), [`SessionStore`](super::SessionStore),
//! [`ThrottleStore`](super::ThrottleStore), [`RevocationStore`](super::RevocationStore) and
//! [`EventSink`](crate::event::EventSink) (table `auth_audit_events`). Every protocol step the traits
//! call atomic is one statement or one transaction: refresh rotation locks the token's family
//! row (`SELECT ... FOR UPDATE`), so concurrent rotations of one token serialise and exactly one
//! succeeds. Times are `timestamptz` (microsecond precision) and always the `now` the caller
//! passes, never the database's clock. Database and pool failures are [`Error::Unavailable`].
//! Sessions, refresh families and TOTP credentials refer to `auth_users` (deleting an account
//! deletes them), so use this store's [`UserStore`](super::UserStore) with them.
//!
//! Tables are named `auth_*`; to keep them in a schema of their own, add
//! `?options=-c%20search_path%3Dauth` to the URL. [`PostgresStore::migrate`] brings the schema
//! up to date; see `migrations/README.md` for the expand, deploy, contract rule every migration
//! follows.
//!
//! # Example
//!
//! ```no_run
//! use std::time::SystemTime;
//!
//! use auth_core::flows::{Authenticator, AuthenticatorConfig, Stores};
//! use auth_core::store::postgres::{PostgresConfig, PostgresStore};
//! use auth_core::token::{Algorithm, Key, KeySet};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> auth_core::Result<()> {
//! let config = PostgresConfig::from_url("postgres://auth@db.internal:5432/auth");
//! let store = PostgresStore::connect(&config)?;
//! store.migrate().await?; // every instance may call it: one applies, the others wait
//!
//! let stores = Stores::postgres(store.clone()); // or Stores::postgres_with_redis(store, redis)
//! let keys = KeySet::new(Key::generate(Algorithm::EdDsa)?)?;
//! let config = AuthenticatorConfig::new("https://auth.example.com", "api");
//! let auth = Authenticator::builder(keys, config).stores(stores).build()?;
//!
//! // Readiness probe, and a periodic clean-up job.
//! store.ping(std::time::Duration::from_secs(1)).await?;
//! store.purge_expired(SystemTime::now()).await?;
//! # drop(auth);
//! # Ok(())
//! # }
//! ```

mod clients;
mod events;
mod grants;
mod intents;
mod mfa;
mod migrate;
mod outbox;
mod passkeys;
mod purge;
mod refresh;
mod roles;
mod sessions;
#[cfg(all(test, feature = "test-util"))]
pub(crate) mod tests;
mod throttle;
mod tls;
#[cfg(all(test, feature = "test-util"))]
mod tls_tests;
mod totp;
mod unit;
mod users;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::tokio_postgres::config::Host;
use deadpool_postgres::tokio_postgres::error::SqlState;
use deadpool_postgres::tokio_postgres::types::{FromSql, ToSql};
use deadpool_postgres::tokio_postgres::{self, NoTls, Row};
use deadpool_postgres::{
    Client, GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use secrecy::{ExposeSecret, SecretString};

pub use migrate::{
    EmailCollision, MIGRATION_LOCK_TIMEOUT, MigrationReport, MigrationState, MigrationStatus,
};
pub use purge::{Deleted, PurgeOptions, PurgeReport};

use crate::error::{Error, Result};
use crate::id::SessionId;

/// How to reach PostgreSQL, and the pool's limits.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// A `postgres://` URL or a key-value connection string; secret, as it may hold a password.
    pub url: SecretString,
    /// The most connections the pool opens (default 16).
    pub max_connections: usize,
    /// How long opening one connection may take (default 5 s).
    pub connect_timeout: Duration,
    /// How long a query may wait for a free connection of the pool (default 5 s).
    pub wait_timeout: Duration,
    /// The server-side `statement_timeout` of every connection (default 5 s); `None` leaves the
    /// server's setting. Migrations run without it.
    pub statement_timeout: Option<Duration>,
    /// The CA certificates (PEM) to trust, instead of the system's roots, when the URL asks for
    /// TLS (`sslmode=require`, `verify-ca` or `verify-full`); the URL's `sslrootcert` takes
    /// precedence.
    pub ca_file: Option<PathBuf>,
}

impl PostgresConfig {
    /// The defaults, with this connection URL.
    pub fn from_url(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(5)),
            ca_file: None,
        }
    }

    /// The hosts this configuration reaches without TLS: every TCP host when the URL's
    /// `sslmode` is unset, `disable`, `allow` or `prefer`, none otherwise (Unix sockets are
    /// local, never listed). [`Error::Config`] if the URL is unusable.
    pub fn plaintext_hosts(&self) -> Result<Vec<String>> {
        let (tls, pg) = self.parsed()?;
        if tls.mode != tls::SslMode::Plain || local_only(&pg) {
            return Ok(Vec::new());
        }
        // With `hostaddr`, the connections go to those addresses, whatever the names say.
        if !pg.get_hostaddrs().is_empty() {
            return Ok(pg.get_hostaddrs().iter().map(ToString::to_string).collect());
        }
        Ok(pg
            .get_hosts()
            .iter()
            .filter_map(|host| match host {
                Host::Tcp(name) => Some(name.clone()),
                Host::Unix(_) => None,
            })
            .collect())
    }

    /// The URL's TLS parameters, and tokio-postgres's configuration of the rest.
    fn parsed(&self) -> Result<(tls::TlsParams, tokio_postgres::Config)> {
        let tls = tls::take_tls_params(self.url.expose_secret())?;
        let pg = self.pg_config(&tls.rest)?;
        // An `sslmode` tokio-postgres read (and so ours did not) would be overridden below,
        // perhaps into plaintext: refuse it.
        if pg.get_ssl_mode() != tokio_postgres::config::SslMode::Prefer {
            return Err(Error::Config(
                "PostgreSQL connection string: an sslmode that could not be read (write it as \
                 sslmode=<mode> in the query or as a key-value pair)"
                    .into(),
            ));
        }
        Ok((tls, pg))
    }

    /// tokio-postgres's configuration of `connection` (the URL without its TLS parameters).
    fn pg_config(&self, connection: &str) -> Result<tokio_postgres::Config> {
        let mut pg: tokio_postgres::Config = connection.parse().map_err(|e| {
            Error::Config(format!("PostgreSQL connection string: {}", with_causes(&e)))
        })?;
        pg.connect_timeout(self.connect_timeout);
        if let Some(timeout) = self.statement_timeout {
            let setting = format!("-c statement_timeout={}", timeout.as_millis().max(1));
            let options = match pg.get_options() {
                Some(options) if !options.trim().is_empty() => format!("{options} {setting}"),
                _ => setting,
            };
            pg.options(options);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("auth-core");
        }
        Ok(pg)
    }
}

/// Every store, in PostgreSQL. Clones share one connection pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// Calls that found no free connection within the pool's wait timeout.
    pool_timeouts: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A reading of the connection pool, for capacity metrics and alerts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most connections the pool opens ([`PostgresConfig::max_connections`]).
    pub max_connections: usize,
    /// Connections open now.
    pub open: usize,
    /// Of those, how many are idle.
    pub idle: usize,
    /// Calls waiting for a connection right now.
    pub waiting: usize,
    /// Calls that gave up waiting ([`PostgresConfig::wait_timeout`]) since the pool was made:
    /// each answered [`Error::Unavailable`].
    pub timeouts: u64,
}

impl PostgresStore {
    /// Builds the connection pool, with TLS as the URL's `sslmode` asks (see the table in
    /// the `tls` module: `require` verifies the certificate in full here, stricter than
    /// libpq). Connections open on first use, so a service can start while the database is
    /// down and say so through [`ping`](Self::ping); [`Error::Config`] if the URL, the CA
    /// file or the limits are unusable.
    pub fn connect(config: &PostgresConfig) -> Result<Self> {
        if config.max_connections == 0 {
            return Err(Error::Config(
                "PostgreSQL max_connections must be at least 1".into(),
            ));
        }
        let (tls, mut pg) = config.parsed()?;
        let manager_config = || ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        // As libpq does, a Unix socket is never encrypted: the connection is local.
        let manager = if tls.mode == tls::SslMode::Plain || local_only(&pg) {
            pg.ssl_mode(tokio_postgres::config::SslMode::Disable);
            Manager::from_config(pg, NoTls, manager_config())
        } else {
            let ca_file = match tls.root_cert {
                Some(tls::RootCert::File(path)) => Some(path),
                Some(tls::RootCert::System) => None,
                None => config.ca_file.clone(),
            };
            let verify = if tls.mode == tls::SslMode::VerifyCa {
                super::tls::Verify::ChainOnly
            } else {
                super::tls::Verify::Full
            };
            let client = super::tls::client_config(
                "PostgreSQL",
                ca_file.as_deref(),
                verify,
                Some(b"postgresql"),
            )?;
            pg.ssl_mode(tokio_postgres::config::SslMode::Require);
            Manager::from_config(
                pg,
                tokio_postgres_rustls::MakeRustlsConnect::new(client),
                manager_config(),
            )
        };
        let pool = Pool::builder(manager)
            .max_size(config.max_connections)
            .wait_timeout(Some(config.wait_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Config(format!("PostgreSQL pool: {e}")))?;
        Ok(Self {
            pool,
            pool_timeouts: std::sync::Arc::default(),
        })
    }

    /// How full the connection pool is, and how often it made calls give up.
    pub fn pool_status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max_connections: status.max_size,
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
            timeouts: self
                .pool_timeouts
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Closes the pool (for a graceful shutdown): idle connections close at once, busy ones
    /// when their call returns, and later calls fail as [`Error::Unavailable`].
    pub fn close(&self) {
        self.pool.close();
    }

    /// Runs `SELECT 1`, for a readiness probe: [`Error::Unavailable`] if no answer comes
    /// within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<()> {
        let check = async {
            let client = self.client().await?;
            client.simple_query("SELECT 1").await.map_err(db_error)?;
            Ok(())
        };
        tokio::time::timeout(timeout, check)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Unavailable(format!(
                    "PostgreSQL did not answer within {timeout:?}"
                )))
            })
    }

    async fn client(&self) -> Result<Client> {
        self.pool.get().await.map_err(|error| {
            // Waiting for a free connection only: a connection that cannot be opened (the
            // database down) is an outage, not a full pool.
            if matches!(
                error,
                PoolError::Timeout(deadpool_postgres::TimeoutType::Wait)
            ) {
                self.pool_timeouts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            pool_error(error)
        })
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pool", &self.pool.status())
            .finish()
    }
}

/// A database failure as this crate's error: unique violations are conflicts, references to
/// missing accounts are not found, everything else is the database being unavailable.
fn db_error(error: tokio_postgres::Error) -> Error {
    let Some(db) = error.as_db_error() else {
        return Error::Unavailable(format!("PostgreSQL: {}", with_causes(&error)));
    };
    if *db.code() == SqlState::UNIQUE_VIOLATION {
        let what = match db.constraint() {
            Some("auth_users_email_key") => "an account with this email exists",
            _ => "the record exists",
        };
        Error::Conflict(what.into())
    } else if *db.code() == SqlState::FOREIGN_KEY_VIOLATION {
        Error::NotFound("the account or credential it refers to does not exist".into())
    } else {
        Error::Unavailable(format!("PostgreSQL: {}", db.message()))
    }
}

/// `error` and its causes, which name what failed below it (a certificate refused, a
/// connection reset); tokio-postgres's own text leaves them out.
fn with_causes(error: &tokio_postgres::Error) -> String {
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.ends_with(&text) {
            message = format!("{message}: {text}");
        }
        cause = inner.source();
    }
    message
}

/// Whether every connection goes to a Unix socket: hosts given, all of them sockets, and no
/// `hostaddr` (which tokio-postgres reaches over TCP).
fn local_only(pg: &tokio_postgres::Config) -> bool {
    !pg.get_hosts().is_empty()
        && pg.get_hostaddrs().is_empty()
        && pg
            .get_hosts()
            .iter()
            .all(|host| matches!(host, Host::Unix(_)))
}

fn pool_error(error: PoolError) -> Error {
    match error {
        PoolError::Backend(error) => db_error(error),
        other => Error::Unavailable(format!("PostgreSQL pool: {other}")),
    }
}

/// Stored data that does not decode into its Rust type: a bug or a foreign write.
fn corrupt(what: &str) -> Error {
    Error::Internal(format!("PostgreSQL holds an invalid {what}"))
}

/// The earliest and latest instants stored: about 1200 BC and 190,000 AD, well within what
/// `timestamptz` and its encoder handle.
const PG_EARLIEST: Duration = Duration::from_secs(100_000_000_000);
const PG_LATEST: Duration = Duration::from_secs(6_000_000_000_000);

/// `t`, clamped into the stored range: instants beyond it keep every comparison's outcome.
fn pg_time(t: SystemTime) -> SystemTime {
    t.clamp(UNIX_EPOCH - PG_EARLIEST, UNIX_EPOCH + PG_LATEST)
}

/// The instant a window of length `window` ending at `now` started; `None` if that is before
/// any stored time, so the window covers everything.
fn window_cutoff(now: SystemTime, window: Duration) -> Option<SystemTime> {
    now.checked_sub(window)
        .filter(|cutoff| *cutoff > UNIX_EPOCH - PG_EARLIEST)
        .map(pg_time)
}

fn to_i64(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::InvalidRequest(format!("{what} is out of range")))
}

fn to_u64(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| corrupt(what))
}

/// Column `name` of `row`.
fn get<'a, T: FromSql<'a>>(row: &'a Row, name: &str) -> Result<T> {
    row.try_get(name).map_err(db_error)
}

/// Column `name` of `row`, a session id.
fn get_session_id(row: &Row, name: &str) -> Result<SessionId> {
    SessionId::parse(get(row, name)?).map_err(|_| corrupt("session id"))
}

async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    client.execute(&statement, params).await.map_err(db_error)
}

async fn query(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    client.query(&statement, params).await.map_err(db_error)
}

async fn query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    client.query_opt(&statement, params).await.map_err(db_error)
}

async fn query_one(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row> {
    let statement = client.prepare_cached(sql).await.map_err(db_error)?;
    client.query_one(&statement, params).await.map_err(db_error)
}
