//! Redis backend (feature `redis`, client: [fred]) for the short-lived, hot state: sessions
//! ([`SessionStore`](super::SessionStore)), failure counters
//! ([`ThrottleStore`](super::ThrottleStore)), revoked session ids
//! ([`RevocationStore`](super::RevocationStore)) and the TOTP replay guard
//! ([`TotpReplayGuard`](super::TotpReplayGuard)). Durable data (users, MFA, refresh families,
//! audit events) belongs in PostgreSQL or another store.
//!
//! Standalone (`redis://`), sentinel (`redis-sentinel://`) and cluster (`redis-cluster://`)
//! deployments are chosen by the URL; `rediss://` (and `rediss-cluster://`,
//! `rediss-sentinel://`, `valkeys://`) connect with TLS through rustls, the certificate verified
//! in full (chain and host name) against [`RedisConfig::ca_file`] or the system's roots. Cluster
//! nodes announced by IP address need that address in their certificate.
//!
//! # Key layout
//!
//! Every key starts with the configured prefix (`auth:` by default); `{...}` is a Redis Cluster
//! hash tag. Times are stored as 29 digits (20 of seconds, 9 of nanoseconds since the Unix epoch,
//! zero-padded), so they round-trip exactly and compare exactly inside Lua.
//!
//! | key | type | contents | expires |
//! |---|---|---|---|
//! | `<prefix>sess:{<session id>}` | hash | `user`, `amr` (JSON array), `created`, `last_used`, `idle_expires`, `expires`, `auth_time` (absent in sessions of earlier releases: read as `created`) | when the session does: `min(idle_expires, expires) - now` |
//! | `<prefix>user:{<user id>}:sessions` | sorted set | the user's session ids, scored by `created` (ms) | with the longest-lived session indexed |
//! | `<prefix>throttle:{<SHA-256 hex of the counter key>}` | hash | `failures` (attempts counted), `window_started`, `last_failure` | when the window closes, plus 60 s |
//! | `<prefix>revoked:{<session id>}` | string | the deadline | at the deadline, plus 60 s |
//! | `<prefix>once:{<SHA-256 hex of the single-use id>}` | string | the deadline | at the deadline, plus 60 s |
//! | `<prefix>totp:{<user id>}` | string | the last accepted TOTP step | once the step's code can no longer verify |
//!
//! Throttle counter keys (which contain email addresses) are hashed, so key names carry no
//! personal data and have a bounded length; an operator finds a counter with
//! `printf '%s' "$key" | sha256sum`. Braces in the prefix would make it the hash tag and put
//! every key in one cluster slot: avoid them.
//!
//! # Atomicity
//!
//! Every script and command touches exactly one key, so nothing depends on which cluster slot a
//! key lands in. Operations that need more than one key are split so that each step is atomic
//! and an interruption between steps is harmless:
//!
//! - creating a session stores the record (a script: refused if it exists), then adds it to the
//!   user's index; if the second step fails the record is deleted again;
//! - listing reads the index, then the records; ids whose record has expired or been deleted
//!   are pruned from the index then;
//! - touching a session is a script that updates `last_used`, `idle_expires` and the key's TTL
//!   only if the record still exists and is alive, so it never resurrects a revoked session;
//! - revoking a session is a script that deletes the record only if it belongs to the user;
//!   the index entry is removed afterwards (or pruned by the next listing);
//! - reserving an attempt, and marking it failed, are each one script (count, window start,
//!   last failure, TTL); giving it back is one script that never goes below zero;
//! - revoking a session id is one script that never moves a later deadline earlier;
//! - using a single-use id is one script that refuses while an earlier use is remembered.
//!
//! # Time
//!
//! Answers depend only on the `now` callers pass and the times stored, never on the Redis or
//! system clock, so the store behaves with an injected clock exactly as the memory store does.
//! Key lifetimes (TTLs) are computed from the passed `now` too (for a new session, from its
//! `last_used_at`). [`RevocationStore::revoke_sid`](super::RevocationStore::revoke_sid) is
//! given no `now`, so its key lifetime, and only that, is measured from the system clock.
//! Lifetimes of throttle counters and revocations carry 60 s of slack so that an application
//! node whose clock runs behind still sees them; sessions get none, since an early expiry
//! errs on the safe side.
//!
//! # Failures
//!
//! Every Redis failure or timeout is [`Error::Unavailable`]: each call is bounded by
//! [`RedisConfig::command_timeout`], and [`RedisStore::connect`] by
//! [`RedisConfig::connect_timeout`]. After a successful connect, lost connections are
//! re-established in the background (exponential backoff, 100 ms to 2 s); calls made meanwhile
//! wait at most the command timeout. A command cut off with its connection is not resent (it
//! may have run), so it fails as unavailable rather than answering twice.
//!
//! # Example
//!
//! Redis for sessions, throttling, revocations and the TOTP replay guard; PostgreSQL for the
//! durable data:
//!
//! ```no_run
//! use auth_core::flows::Stores;
//! use auth_core::store::postgres::{PostgresConfig, PostgresStore};
//! use auth_core::store::redis::{RedisConfig, RedisStore};
//!
//! # async fn example() -> auth_core::Result<()> {
//! let mut config = RedisConfig::from_url("redis://127.0.0.1:6379");
//! config.key_prefix = "myapp:auth:".into();
//! let redis = RedisStore::connect(config).await?;
//! redis.ping(std::time::Duration::from_secs(1)).await?; // what a readiness probe calls
//!
//! let postgres = PostgresStore::connect(&PostgresConfig::from_url("postgres://auth@db/auth"))?;
//! postgres.migrate().await?;
//! let stores = Stores::postgres_with_redis(postgres, redis);
//! // Authenticator::builder(keys, config).stores(stores).build()?
//! # let _ = stores;
//! # Ok(())
//! # }
//! ```

mod revocation;
mod sessions;
mod throttle;
mod totp;

#[cfg(all(test, feature = "redis", feature = "test-util"))]
pub(crate) mod tests;
#[cfg(all(test, feature = "redis", feature = "test-util"))]
mod topology_tests;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fred::prelude::{
    Builder, ClientLike, Config, Error as FredError, Options, Pool, ReconnectPolicy, TcpConfig,
};
use fred::types::config::{TlsConfig, TlsConnector, TlsHostMapping, UnresponsiveConfig};
use fred::types::scripts::Script;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::id::{SessionId, UserId};

/// Longest key lifetime the store sets (100 years); keeps TTL arithmetic in range.
const MAX_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// Extra lifetime of throttle and revocation keys, for application clocks running behind.
const CLOCK_SKEW_SLACK: Duration = Duration::from_secs(60);

/// How to reach Redis and how to name keys there.
#[derive(Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://[user:password@]host[:port][/db]`, `redis-sentinel://...` or
    /// `redis-cluster://...` (see fred's `Config::from_url`); `rediss` in place of `redis` for
    /// TLS.
    pub url: String,
    /// Prepended to every key (default `auth:`), so several deployments can share a database.
    pub key_prefix: String,
    /// Number of connections (default 4).
    pub pool_size: usize,
    /// Longest a single call may take before it fails as unavailable (default 500 ms).
    pub command_timeout: Duration,
    /// Longest [`RedisStore::connect`] may take (default 2 s).
    pub connect_timeout: Duration,
    /// The CA certificates (PEM) to trust, instead of the system's roots, for a `rediss://`
    /// URL (default none).
    pub ca_file: Option<std::path::PathBuf>,
}

impl RedisConfig {
    /// Defaults for the server at `url`.
    pub fn from_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: "auth:".into(),
            pool_size: 4,
            command_timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(2),
            ca_file: None,
        }
    }

    /// The hosts this configuration reaches without TLS: the URL's host for a `redis://`
    /// URL (sentinel and cluster seed nodes included), none for `rediss://`.
    /// [`Error::Config`] if the URL is unusable.
    pub fn plaintext_hosts(&self) -> Result<Vec<String>> {
        if tls_url_as_plain(&self.url).is_some() {
            return Ok(Vec::new());
        }
        let config = Config::from_url(&self.url)
            .map_err(|e| Error::Config(format!("redis url: {}", e.details())))?;
        Ok(config
            .server
            .hosts()
            .into_iter()
            .map(|server| server.host.to_string())
            .collect())
    }

    fn validate(&self) -> Result<()> {
        if self.pool_size == 0 {
            return Err(Error::Config("redis pool_size must be at least 1".into()));
        }
        if self.command_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config("redis timeouts must not be zero".into()));
        }
        Ok(())
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("pool_size", &self.pool_size)
            .field("command_timeout", &self.command_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// The URL with its credentials (user info, `...password=` query values) replaced by `***`.
fn redact_url(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (url, None),
    };
    let mut redacted = match url.find("://").map(|i| i + 3) {
        Some(scheme_end) => {
            let rest = &url[scheme_end..];
            let authority_end = rest.find(['/', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{}***{}", &url[..scheme_end], &rest[at..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                    format!("{key}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&pairs.join("&"));
    }
    redacted
}

/// For a TLS URL (`rediss...://`, `valkeys...://`), the same URL with the plain scheme;
/// `None` for any other.
fn tls_url_as_plain(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let lower = scheme.to_ascii_lowercase();
    let plain = if let Some(suffix) = lower.strip_prefix("rediss") {
        format!("redis{suffix}")
    } else {
        format!("valkey{}", lower.strip_prefix("valkeys")?)
    };
    Some(format!("{plain}://{rest}"))
}

/// Sessions, throttle counters and revoked session ids in Redis. Clones share the connections;
/// they close when the last clone is dropped (or on [`RedisStore::close`]).
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    prefix: String,
    command_timeout: Duration,
    scripts: Scripts,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Stop the connection tasks, which would otherwise keep reconnecting to a down server.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let pool = self.pool.clone();
            let timeout = self.command_timeout;
            runtime.spawn(async move {
                let _ = tokio::time::timeout(timeout, pool.quit()).await;
            });
        }
    }
}

/// The Lua scripts, each loaded (by SHA-1) on first use and reloaded after a `SCRIPT FLUSH` or
/// a failover.
struct Scripts {
    create_session: Script,
    describe_session: Script,
    index_session: Script,
    touch_session: Script,
    revoke_session: Script,
    count_attempt: Script,
    release_attempt: Script,
    use_once: Script,
    revoke_sid: Script,
    totp_step: Script,
}

impl Scripts {
    fn new() -> Self {
        const PRELUDE: &str = include_str!("lua/prelude.lua");
        let with_prelude = |body: &str| Script::from_lua(format!("{PRELUDE}\n{body}"));
        Self {
            create_session: Script::from_lua(include_str!("lua/create_session.lua")),
            describe_session: Script::from_lua(include_str!("lua/describe_session.lua")),
            index_session: Script::from_lua(include_str!("lua/index_session.lua")),
            touch_session: with_prelude(include_str!("lua/touch_session.lua")),
            revoke_session: Script::from_lua(include_str!("lua/revoke_session.lua")),
            count_attempt: with_prelude(include_str!("lua/count_attempt.lua")),
            release_attempt: Script::from_lua(include_str!("lua/release_attempt.lua")),
            use_once: with_prelude(include_str!("lua/use_once.lua")),
            revoke_sid: with_prelude(include_str!("lua/revoke_sid.lua")),
            totp_step: Script::from_lua(include_str!("lua/totp_step.lua")),
        }
    }
}

impl RedisStore {
    /// Connects a pool of [`RedisConfig::pool_size`] connections. Fails with
    /// [`Error::Unavailable`] if the server does not answer within
    /// [`RedisConfig::connect_timeout`], with [`Error::Config`] if the URL or a setting is
    /// invalid.
    pub async fn connect(config: RedisConfig) -> Result<Self> {
        config.validate()?;
        // fred would build its own TLS connector for a TLS scheme; ours is given instead.
        let as_plain = tls_url_as_plain(&config.url);
        let mut fred_config = Config::from_url(as_plain.as_deref().unwrap_or(&config.url))
            .map_err(|e| Error::Config(format!("redis url: {}", e.details())))?;
        if as_plain.is_some() {
            let client = super::tls::client_config(
                "Redis",
                config.ca_file.as_deref(),
                super::tls::Verify::Full,
                None,
            )?;
            fred_config.tls = Some(TlsConfig {
                connector: TlsConnector::from(client),
                hostnames: TlsHostMapping::None,
            });
        }
        let command_timeout = config.command_timeout;
        let connect_timeout = config.connect_timeout;
        let mut builder = Builder::from_config(fred_config);
        builder
            .with_config(|c| {
                // The first connection's failure is reported, not retried forever.
                c.fail_fast = true;
            })
            .with_performance_config(|p| p.default_command_timeout = command_timeout)
            .with_connection_config(|c| {
                c.connection_timeout = connect_timeout;
                c.internal_command_timeout = connect_timeout;
                // A command cut off with its connection is not resent: it may have run, and a
                // resent script could answer differently (a created session as "exists").
                c.max_command_attempts = 1;
                let unresponsive = (command_timeout * 4).max(Duration::from_secs(1));
                c.unresponsive = UnresponsiveConfig {
                    max_timeout: Some(unresponsive),
                    interval: unresponsive / 4,
                };
                c.tcp = TcpConfig {
                    nodelay: Some(true),
                    ..TcpConfig::default()
                };
            })
            // After the first connection, reconnect forever with backoff (100 ms to 2 s).
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        let pool = builder
            .build_pool(config.pool_size)
            .map_err(|e| Error::Config(format!("redis: {}", e.details())))?;
        match tokio::time::timeout(connect_timeout, pool.init()).await {
            // The connection tasks run on their own; `quit` ends them.
            Ok(Ok(_connection_tasks)) => {}
            Ok(Err(e)) => return Err(unavailable("connect", &e)),
            Err(_) => {
                let _ = tokio::time::timeout(command_timeout, pool.quit()).await;
                return Err(Error::Unavailable("redis connect: timed out".into()));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                prefix: config.key_prefix,
                command_timeout,
                scripts: Scripts::new(),
            }),
        })
    }

    /// Sends `PING`: `Ok` if Redis answered within `timeout` (which replaces the command
    /// timeout for this call), for readiness probes.
    pub async fn ping(&self, timeout: Duration) -> Result<()> {
        let options = Options {
            timeout: Some(timeout),
            ..Options::default()
        };
        let client = self.client().with_options(&options);
        match tokio::time::timeout(timeout, client.ping::<String>(None)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(unavailable("ping", &e)),
            Err(_) => Err(Error::Unavailable("redis ping: timed out".into())),
        }
    }

    /// Closes the connections (for a graceful shutdown); later calls fail as unavailable.
    pub async fn close(&self) {
        let _ = tokio::time::timeout(self.inner.command_timeout, self.inner.pool.quit()).await;
    }

    /// The connection for the next call: a connected one if there is one.
    fn client(&self) -> &fred::prelude::Client {
        self.inner.pool.next_connected()
    }

    /// Runs one Redis call under the command timeout, mapping every failure to
    /// [`Error::Unavailable`].
    async fn run<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = Result<T, FredError>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.inner.command_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(unavailable(what, &e)),
            Err(_) => Err(Error::Unavailable(format!("redis {what}: timed out"))),
        }
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}sess:{{{id}}}", self.inner.prefix)
    }

    fn user_sessions_key(&self, user: &UserId) -> String {
        format!("{}user:{{{user}}}:sessions", self.inner.prefix)
    }

    fn throttle_key(&self, key: &str) -> String {
        format!("{}throttle:{{{}}}", self.inner.prefix, hex_digest(key))
    }

    fn totp_step_key(&self, user: &UserId) -> String {
        format!("{}totp:{{{user}}}", self.inner.prefix)
    }

    fn revoked_key(&self, id: &SessionId) -> String {
        format!("{}revoked:{{{id}}}", self.inner.prefix)
    }

    /// Every key under this store's prefix (a `SCAN`, so it never blocks the server), on
    /// every primary of a cluster.
    #[cfg(any(test, feature = "test-util"))]
    async fn keys_under_prefix(&self) -> Result<Vec<String>> {
        let mut keys: Vec<String> = self
            .keys_by_node()
            .await?
            .into_iter()
            .flat_map(|(_, keys)| keys)
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// The keys under this store's prefix on each server that holds keys: each primary of a
    /// cluster, or the one server otherwise (named `""`) (feature `test-util`, for tests that
    /// check how keys spread).
    #[cfg(any(test, feature = "test-util"))]
    pub async fn keys_by_node(&self) -> Result<Vec<(String, Vec<String>)>> {
        use fred::prelude::{ClusterInterface, KeysInterface};
        let client = self.client();
        let nodes = match client.cached_cluster_state() {
            Some(routing) => routing
                .unique_primary_nodes()
                .into_iter()
                .map(Some)
                .collect(),
            None => vec![None],
        };
        let pattern = format!("{}*", self.inner.prefix);
        let mut found = Vec::new();
        for node in nodes {
            let mut cursor = "0".to_owned();
            let mut keys = Vec::new();
            loop {
                let page = match &node {
                    Some(server) => {
                        client
                            .with_cluster_node(server.clone())
                            .scan_page(cursor, pattern.clone(), Some(500), None)
                            .await
                    }
                    None => {
                        client
                            .scan_page(cursor, pattern.clone(), Some(500), None)
                            .await
                    }
                };
                let (next, page): (String, Vec<String>) =
                    self.run("scan", std::future::ready(page)).await?;
                keys.extend(page);
                if next == "0" {
                    break;
                }
                cursor = next;
            }
            let name = node.map(|server| server.to_string()).unwrap_or_default();
            found.push((name, keys));
        }
        Ok(found)
    }

    /// Deletes every key under this store's prefix and returns how many there were: for
    /// tests that share a Redis and clean up after themselves (feature `test-util`). Never
    /// call it on a prefix a deployment uses. One key per call, as a cluster keeps them in
    /// different slots.
    #[cfg(feature = "test-util")]
    pub async fn delete_every_key(&self) -> Result<usize> {
        use fred::prelude::KeysInterface;
        let keys = self.keys_under_prefix().await?;
        for key in &keys {
            let _: i64 = self
                .run("delete keys", self.client().del(key.as_str()))
                .await?;
        }
        Ok(keys.len())
    }

    fn used_once_key(&self, id: &str) -> String {
        format!("{}once:{{{}}}", self.inner.prefix, hex_digest(id))
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.inner.prefix)
            .field("pool_size", &self.inner.pool.size())
            .field("command_timeout", &self.inner.command_timeout)
            .finish_non_exhaustive()
    }
}

fn unavailable(what: &str, error: &FredError) -> Error {
    Error::Unavailable(format!("redis {what}: {error}"))
}

/// A stored record that does not parse: data corrupted or written by something else.
fn malformed(what: &str) -> Error {
    Error::Internal(format!("malformed {what} record in redis"))
}

/// The stored form of a time: 20 digits of seconds and 9 of nanoseconds since the Unix epoch.
/// Times before the epoch are stored as the epoch.
fn encode_time(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{:020}{:09}", since.as_secs(), since.subsec_nanos())
}

fn decode_time(text: &str) -> Option<SystemTime> {
    if text.len() != 29 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = text[..20].parse().ok()?;
    let nanos: u32 = text[20..].parse().ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// A key lifetime in whole milliseconds from `from` to `to` (rounded up), at least 1.
fn ttl_millis(from: SystemTime, to: SystemTime) -> u64 {
    let nanos = to.duration_since(from).map_or(0, |d| d.as_nanos());
    duration_millis_ceil(nanos).max(1)
}

/// The SHA-256 of `key`, in lower-case hex: key names of a bounded length, carrying no
/// personal data.
fn hex_digest(key: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(key.as_bytes()))
}

/// Milliseconds of `duration`, rounded up, capped at [`MAX_TTL_MS`].
fn millis_of(duration: Duration) -> u64 {
    duration_millis_ceil(duration.as_nanos())
}

fn duration_millis_ceil(nanos: u128) -> u64 {
    u64::try_from(nanos.div_ceil(1_000_000))
        .unwrap_or(u64::MAX)
        .min(MAX_TTL_MS)
}
