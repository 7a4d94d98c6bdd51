//! Configuration from the environment, validated as a whole: every problem is reported at
//! once, each with the variable's name, before the server starts.

use std::time::Duration;

use auth_core::mfa::MfaKeyring;
use std::sync::Arc;

use auth_core::password::{
    Argon2Params, BreachCheckFailure, BreachChecks, BreachList, PasswordConfig, PwnedRangeCheck,
};
use auth_core::secrecy::{ExposeSecret, SecretString};
use auth_core::token::{Algorithm, Key, KeySet};
use auth_tower::breached::HibpRangeSource;

/// Whether the server may fall back to development conveniences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Json,
    Pretty,
}

/// Where signing keys came from, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `AUTH_SIGNING_KEYS`.
    Configured,
    /// `JWT_ACCESS_SECRET` (HS256, for compatibility).
    SharedSecret,
    /// Generated at start: development only.
    Generated,
}

#[derive(Debug, Clone)]
pub(crate) struct ServeConfig {
    pub(crate) port: u16,
    /// `BIND_ADDR`; `None`: every interface, IPv6 and IPv4 (`[::]`, or `0.0.0.0` where the
    /// host has no IPv6).
    pub(crate) bind_addr: Option<std::net::IpAddr>,
    /// `ADMIN_ADDR`: the listener for `/metrics` and the detailed probes; `None`: they answer
    /// on the public listener.
    pub(crate) admin_addr: Option<AdminAddr>,
    pub(crate) environment: Environment,
    pub(crate) log_level: String,
    pub(crate) log_format: LogFormat,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) request_timeout: Duration,
    /// How long a request head may take to arrive from its first byte (and the first request
    /// of a connection from the accept).
    pub(crate) header_read_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub(crate) idle_timeout: Duration,
    /// How many connections may be open at once.
    pub(crate) max_connections: usize,
    pub(crate) database_url: Option<SecretString>,
    /// The most PostgreSQL connections this instance opens.
    pub(crate) database_pool_size: usize,
    pub(crate) redis_url: Option<SecretString>,
    /// Prepended to every Redis key, so deployments can share a Redis database.
    pub(crate) redis_key_prefix: String,
    /// CA files for TLS to the stores, and the hosts reached in plaintext by leave.
    pub(crate) store_tls: StoreTls,
    pub(crate) keys: KeySet,
    pub(crate) key_source: KeySource,
    pub(crate) mfa_keys: Option<MfaKeyring>,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) access_ttl: Duration,
    pub(crate) refresh_ttl: Duration,
    /// How recent an authentication must be for the actions that need a fresh one.
    pub(crate) reauth_max_age: Duration,
    /// How long after its rotation a refresh token's retry is a lost answer, not reuse.
    pub(crate) refresh_reuse_grace: Duration,
    /// Registrations allowed per client address and hour.
    pub(crate) registrations_per_address: u32,
    /// Registrations allowed per minute over every address.
    pub(crate) registrations_per_minute: u32,
    pub(crate) argon2: Argon2Params,
    /// Hashes that may run at once; `None`: one per core.
    pub(crate) hash_concurrency: Option<usize>,
    /// Hashes that may wait for a slot before logins get 503; `None`: eight per slot.
    pub(crate) hash_queue: Option<usize>,
    /// Niceness of the hashing threads (0-19); `None`: the library's default.
    pub(crate) hash_niceness: Option<u8>,
    /// Verified access tokens remembered so repeats skip the signature check; 0: none.
    pub(crate) token_cache_size: usize,
    /// How long a "session not ended" answer is reused: the bound on how late a session ended
    /// through another server is refused by this one.
    pub(crate) revocation_cache_ttl: Duration,
    /// How long a client read from the database, and that the throttle let it through from an
    /// address, are reused: the bound on how late a client deleted elsewhere (the command
    /// line, another server) is refused by this one.
    pub(crate) client_cache_ttl: Duration,
    /// How often an instance purges expired rows from PostgreSQL (one instance at a time);
    /// `None`: never (an operator runs `auth-server purge`).
    pub(crate) purge_interval: Option<Duration>,
    /// How long audit events are kept in PostgreSQL; `None`: for ever.
    pub(crate) audit_retention: Option<Duration>,
    pub(crate) cors_origins: Vec<String>,
    /// Breached-password checks besides the shipped common list: the operator's file, the
    /// range API.
    pub(crate) breach_checks: BreachChecks,
    /// Fetches the keys of `private_key_jwt` clients at their `jwks_uri`.
    pub(crate) client_keys: Option<Arc<auth_tower::client_keys::JwksFetcher>>,
    /// What a new password meets when a breached-password check cannot be made.
    pub(crate) breach_check_failure: BreachCheckFailure,
    /// Words no new password may be built on, besides the email's local part.
    pub(crate) password_context_words: Vec<String>,
    /// Where the client's address comes from behind proxies.
    pub(crate) proxies: crate::proxies::ProxyPolicy,
    /// Mail: SMTP, the links' base, verification, templates.
    pub(crate) mail: mail::MailConfig,
    /// Passkeys: the relying party; `None`: off.
    pub(crate) passkeys: Option<auth_core::flows::PasskeyConfig>,
    /// The hosted pages.
    pub(crate) ui: crate::ui::UiSettings,
    /// The roles defined at every start (`ROLES`).
    pub(crate) roles: Vec<auth_core::authz::Role>,
}

/// The longest `ACCESS_TOKEN_TTL` accepted.
pub(crate) const MAX_ACCESS_TTL: Duration = Duration::from_secs(86_400);

/// Verified access tokens remembered by default (about half a KiB each).
const DEFAULT_TOKEN_CACHE_SIZE: usize = 10_000;
/// The most `TOKEN_CACHE_SIZE` accepts: about 500 MiB of the server's own tokens (larger
/// claims take more; only tokens signed by its keys are cached).
const MAX_TOKEN_CACHE_SIZE: usize = 1_000_000;

/// One entry of `AUTH_SIGNING_KEYS`: what `auth-server keys generate` prints.
#[derive(Debug, serde::Deserialize)]
struct KeyEntry {
    alg: String,
    key: String,
    #[serde(default)]
    kid: Option<String>,
}

/// A variable's value as the configuration reads it: trimmed, and unset when empty.
pub(crate) fn setting(raw: Option<String>) -> Option<String> {
    raw.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The variables that hold secrets. Each may instead name a file as `<NAME>_FILE` (a
/// Kubernetes secret volume, a Docker secret), whose contents are the value.
pub(crate) const SECRET_VARIABLES: [&str; 7] = [
    "DATABASE_URL",
    "REDIS_URL",
    "AUTH_SIGNING_KEYS",
    "JWT_ACCESS_SECRET",
    "MFA_ENCRYPTION_KEYS",
    "MFA_ENCRYPTION_KEY",
    "SMTP_URL",
];

/// The secret `name` from the file at `path` (`<NAME>_FILE`), trimmed; the problem names the
/// variable and the path, never the contents.
pub(crate) fn read_secret_file(name: &str, path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|contents| contents.trim().to_owned())
        .map_err(|e| format!("{name}_FILE: {}: {e}", path.display()))
}

/// The secrets given as files (`<NAME>_FILE`), read; a file that cannot be read, or a secret
/// given both ways, is a problem.
fn secret_files(
    var: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> std::collections::HashMap<&'static str, String> {
    let mut found = std::collections::HashMap::new();
    for name in SECRET_VARIABLES {
        let Some(path) = setting(var(&format!("{name}_FILE"))) else {
            continue;
        };
        if setting(var(name)).is_some() {
            problems.push(format!("{name}: set both {name} and {name}_FILE; keep one"));
            continue;
        }
        match read_secret_file(name, std::path::Path::new(&path)) {
            Ok(contents) => {
                found.insert(name, contents);
            }
            Err(problem) => problems.push(problem),
        }
    }
    found
}

/// Reads the configuration through `var` (the process environment in production, a map in
/// tests). Returns every problem found, not just the first.
pub(crate) fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<ServeConfig, Vec<String>> {
    let mut problems: Vec<String> = Vec::new();
    let files = secret_files(&var, &mut problems);
    let var = |name: &str| files.get(name).cloned().or_else(|| var(name));
    let get = |name: &str| setting(var(name));
    // A comma-separated list, entries trimmed, empty ones dropped.
    let list = |name: &str| -> Vec<String> {
        get(name)
            .map(|v| {
                v.split(',')
                    .map(|entry| entry.trim().to_owned())
                    .filter(|entry| !entry.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let parse =
        |name: &str, problems: &mut Vec<String>, check: &dyn Fn(&str) -> Result<(), String>| {
            let value = get(name)?;
            match check(&value) {
                Ok(()) => Some(value),
                Err(why) => {
                    problems.push(format!("{name}: {why}"));
                    None
                }
            }
        };
    let seconds = |min: u64, max: u64| {
        move |v: &str| match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(format!(
                "{v:?} is not a number of seconds from {min} to {max}"
            )),
        }
    };

    let port = parse("PORT", &mut problems, &|v| {
        v.parse::<u16>()
            .map(drop)
            .map_err(|_| format!("{v:?} is not a port number (0-65535)"))
    })
    .and_then(|v| v.parse().ok())
    .unwrap_or(8080);
    let bind_addr = parse("BIND_ADDR", &mut problems, &|v| {
        bind_address(v)
            .map(drop)
            .ok_or_else(|| format!("{v:?} is not an IP address (e.g. 0.0.0.0, ::, [::1])"))
    })
    .and_then(|v| bind_address(&v));
    let admin_addr = parse("ADMIN_ADDR", &mut problems, &|v| {
        let admin = AdminAddr::parse(v).ok_or_else(|| {
            format!(
                "{v:?} is not HOST:PORT or :PORT (e.g. [::]:9091, 127.0.0.1:9091, :9091 for \
                 BIND_ADDR's interfaces)"
            )
        })?;
        if admin.port != 0 && admin.port == port {
            return Err(format!(
                "port {port} is PORT's; the admin listener needs its own"
            ));
        }
        Ok(())
    })
    .and_then(|v| AdminAddr::parse(&v));

    let environment = match parse("AUTH_ENV", &mut problems, &|v| match v {
        "development" | "production" => Ok(()),
        _ => Err(format!("{v:?} is neither development nor production")),
    })
    .as_deref()
    {
        Some("production") => Environment::Production,
        _ => Environment::Development,
    };
    let production = environment == Environment::Production;

    let log_level = parse("LOG_LEVEL", &mut problems, &|v| {
        tracing_subscriber::EnvFilter::try_new(v)
            .map(drop)
            .map_err(|e| format!("{v:?} is not a log filter: {e}"))
    })
    .unwrap_or_else(|| "info".to_owned());

    let log_format = match parse("LOG_FORMAT", &mut problems, &|v| match v {
        "json" | "pretty" => Ok(()),
        _ => Err(format!("{v:?} is neither json nor pretty")),
    })
    .as_deref()
    {
        Some("pretty") => LogFormat::Pretty,
        Some(_) => LogFormat::Json,
        None if production => LogFormat::Json,
        None => LogFormat::Pretty,
    };

    let shutdown_timeout = parse("SHUTDOWN_TIMEOUT", &mut problems, &seconds(1, 3600))
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(25), Duration::from_secs);
    let request_timeout = parse("REQUEST_TIMEOUT", &mut problems, &seconds(1, 3600))
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(30), Duration::from_secs);
    let header_read_timeout = parse("HEADER_READ_TIMEOUT", &mut problems, &seconds(1, 300))
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs);
    let idle_timeout = parse("IDLE_TIMEOUT", &mut problems, &seconds(1, 3600))
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(75), Duration::from_secs);
    let max_connections = parse(
        "MAX_CONNECTIONS",
        &mut problems,
        &|v| match v.parse::<usize>() {
            Ok(n) if (1..=1_000_000).contains(&n) => Ok(()),
            _ => Err(format!("{v:?} is not a number from 1 to 1000000")),
        },
    )
    .and_then(|v| v.parse().ok())
    .unwrap_or(1024);
    let database_pool_size = parse("DATABASE_POOL_SIZE", &mut problems, &|v| match v
        .parse::<usize>()
    {
        Ok(1..=1000) => Ok(()),
        _ => Err(format!(
            "{v:?} is not a number of connections from 1 to 1000"
        )),
    })
    .and_then(|v| v.parse().ok())
    .unwrap_or(16);
    let access_ttl = parse(
        "ACCESS_TOKEN_TTL",
        &mut problems,
        &seconds(30, MAX_ACCESS_TTL.as_secs()),
    )
    .and_then(|v| v.parse().ok())
    .map_or(Duration::from_secs(900), Duration::from_secs);
    let refresh_ttl = parse(
        "REFRESH_TOKEN_TTL",
        &mut problems,
        &seconds(300, 366 * 86_400),
    )
    .and_then(|v| v.parse().ok())
    .map_or(Duration::from_secs(2_592_000), Duration::from_secs);
    let refresh_reuse_grace = parse("REFRESH_REUSE_GRACE", &mut problems, &seconds(0, 300))
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(30), Duration::from_secs);
    let revocation_cache_ttl = parse("REVOCATION_CACHE_TTL", &mut problems, &seconds(0, 60))
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(2), Duration::from_secs);
    let client_cache_ttl = parse("CLIENT_CACHE_TTL", &mut problems, &seconds(0, 60))
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(2), Duration::from_secs);
    // 0 turns the scheduled purge off; otherwise a minute to a day.
    let purge_interval = parse(
        "PURGE_INTERVAL",
        &mut problems,
        &|v| match v.parse::<u64>() {
            Ok(0) | Ok(60..=86_400) => Ok(()),
            _ => Err(format!(
                "{v:?} is not 0 (off) or a number of seconds from 60 to 86400"
            )),
        },
    )
    .and_then(|v| v.parse().ok())
    .map_or(Some(Duration::from_secs(900)), |s: u64| {
        (s > 0).then(|| Duration::from_secs(s))
    });
    let audit_retention = parse(
        "AUDIT_RETENTION_DAYS",
        &mut problems,
        &|v| match v.parse::<u64>() {
            Ok(0..=36_500) => Ok(()),
            _ => Err(format!(
                "{v:?} is not 0 (keep every event) or a number of days up to 36500"
            )),
        },
    )
    .and_then(|v| v.parse().ok())
    .map_or(Some(Duration::from_secs(365 * 86_400)), |days: u64| {
        (days > 0).then(|| Duration::from_secs(days * 86_400))
    });
    let reauth_max_age = parse("REAUTH_MAX_AGE", &mut problems, &seconds(30, 86_400))
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(300), Duration::from_secs);
    let rate = |name: &str, max: u32, default: u32, problems: &mut Vec<String>| {
        parse(name, problems, &|v| match v.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(()),
            _ => Err(format!("{v:?} is not a number from 1 to {max}")),
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
    };
    let registrations_per_address =
        rate("REGISTRATIONS_PER_ADDRESS_HOUR", 100_000, 20, &mut problems);
    let registrations_per_minute = rate("REGISTRATIONS_PER_MINUTE", 1_000_000, 600, &mut problems);

    let url = |name: &str, schemes: &[&str], problems: &mut Vec<String>| {
        let value = get(name)?;
        let scheme = value.split("://").next().unwrap_or_default();
        if value.contains("://") && schemes.contains(&scheme) {
            Some(SecretString::from(value))
        } else {
            problems.push(format!("{name}: not a {} URL", schemes.join(" or ")));
            None
        }
    };
    let database_url = url("DATABASE_URL", &["postgres", "postgresql"], &mut problems);
    let redis_url = url(
        "REDIS_URL",
        &[
            "redis",
            "redis-sentinel",
            "redis-cluster",
            "rediss",
            "rediss-sentinel",
            "rediss-cluster",
        ],
        &mut problems,
    );
    let store_tls = stores::read(
        &get,
        production,
        database_url.as_ref(),
        redis_url.as_ref(),
        &mut problems,
    );
    let redis_key_prefix = parse("REDIS_KEY_PREFIX", &mut problems, &|v| {
        if v.is_empty()
            || v.len() > 64
            || v.contains(['{', '}'])
            || v.chars().any(char::is_whitespace)
        {
            Err("1 to 64 characters, no braces or spaces".to_owned())
        } else {
            Ok(())
        }
    })
    .unwrap_or_else(|| "auth:".to_owned());
    if redis_url.is_some() && database_url.is_none() && get("DATABASE_URL").is_none() {
        problems.push("REDIS_URL: Redis holds counters only; set DATABASE_URL too".to_owned());
    }
    if production && get("DATABASE_URL").is_none() {
        problems
            .push("DATABASE_URL: not set; production refuses the in-memory backends".to_owned());
    }

    let issuer = get("AUTH_ISSUER").unwrap_or_else(|| format!("http://localhost:{port}"));
    let audience = get("AUTH_AUDIENCE").unwrap_or_else(|| "auth".to_owned());
    if production && get("AUTH_ISSUER").is_none() {
        problems.push("AUTH_ISSUER: not set; production needs the public issuer URL".to_owned());
    }

    let (keys, key_source) = signing_keys(&get, production, &mut problems);

    let mfa_keys = mfa_keys(&get, production, &mut problems);

    let number = |name: &str, default: u32, problems: &mut Vec<String>| match get(name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            problems.push(format!("{name}: {v:?} is not a whole number"));
            default
        }),
    };
    let memory = number(
        "ARGON2_MEMORY_KIB",
        Argon2Params::DEFAULT_MEMORY_KIB,
        &mut problems,
    );
    let iterations = number(
        "ARGON2_ITERATIONS",
        Argon2Params::DEFAULT_ITERATIONS,
        &mut problems,
    );
    let parallelism = number(
        "ARGON2_PARALLELISM",
        Argon2Params::DEFAULT_PARALLELISM,
        &mut problems,
    );
    let argon2 = Argon2Params::new(memory, iterations, parallelism).unwrap_or_else(|e| {
        problems.push(format!("ARGON2_*: {e}"));
        Argon2Params::default()
    });

    let count = |name: &str, max: usize, problems: &mut Vec<String>| {
        let value = get(name)?;
        match value.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Some(n),
            _ => {
                problems.push(format!("{name}: {value:?} is not a number from 1 to {max}"));
                None
            }
        }
    };
    let hash_concurrency = count("PASSWORD_HASH_CONCURRENCY", 256, &mut problems);
    let hash_queue = count("PASSWORD_HASH_QUEUE", 100_000, &mut problems);
    let hash_niceness = parse(
        "PASSWORD_HASH_NICENESS",
        &mut problems,
        &|v| match v.parse::<u8>() {
            Ok(n) if n <= PasswordConfig::MAX_HASH_THREAD_NICENESS => Ok(()),
            _ => Err(format!(
                "{v:?} is not a niceness from 0 to {}",
                PasswordConfig::MAX_HASH_THREAD_NICENESS
            )),
        },
    )
    .and_then(|v| v.parse().ok());
    let token_cache_size = parse(
        "TOKEN_CACHE_SIZE",
        &mut problems,
        &|v| match v.parse::<usize>() {
            Ok(n) if n <= MAX_TOKEN_CACHE_SIZE => Ok(()),
            _ => Err(format!(
                "{v:?} is not a number from 0 (no cache) to {MAX_TOKEN_CACHE_SIZE}"
            )),
        },
    )
    .and_then(|v| v.parse().ok())
    .unwrap_or(DEFAULT_TOKEN_CACHE_SIZE);

    let cors_origins = list("CORS_ORIGINS");
    for origin in &cors_origins {
        if origin == "*" {
            if production {
                problems.push("CORS_ORIGINS: a wildcard is refused in production".to_owned());
            }
        } else if !(origin.starts_with("https://") || origin.starts_with("http://")) {
            problems.push(format!("CORS_ORIGINS: {origin:?} is not an http(s) origin"));
        } else if production && !origin.starts_with("https://") {
            problems.push(format!(
                "CORS_ORIGINS: {origin:?} is not HTTPS; production allows only https:// origins"
            ));
        }
    }

    let mut breach_checks = BreachChecks::new();
    if let Some(path) = get("BREACHED_PASSWORDS_FILE") {
        match BreachList::from_file(&path) {
            Ok(list) if list.is_empty() => {
                problems.push(format!("BREACHED_PASSWORDS_FILE: {path} has no entries"));
            }
            Ok(list) => breach_checks = breach_checks.with(Arc::new(list)),
            Err(e) => problems.push(format!("BREACHED_PASSWORDS_FILE: {e}")),
        }
    }
    let hibp = parse("BREACHED_PASSWORDS_HIBP", &mut problems, &|v| match v {
        "true" | "false" => Ok(()),
        _ => Err(format!("{v:?} is neither true nor false")),
    });
    let hibp_url = get("BREACHED_PASSWORDS_HIBP_URL");
    if hibp.as_deref() == Some("true") {
        let url = hibp_url
            .as_deref()
            .unwrap_or(HibpRangeSource::DEFAULT_BASE_URL);
        if production && !url.starts_with("https://") {
            problems.push(
                "BREACHED_PASSWORDS_HIBP_URL: not HTTPS; production sends password hash prefixes only over https://"
                    .to_owned(),
            );
        }
        match HibpRangeSource::new(url) {
            Ok(source) => {
                breach_checks = breach_checks.with(Arc::new(PwnedRangeCheck::new(source)));
            }
            Err(e) => problems.push(format!("BREACHED_PASSWORDS_HIBP_URL: {e}")),
        }
    } else if hibp_url.is_some() {
        problems.push(
            "BREACHED_PASSWORDS_HIBP_URL: set, but BREACHED_PASSWORDS_HIBP is not true".to_owned(),
        );
    }
    let client_keys = client_key_fetcher(
        get("CLIENT_JWKS_ALLOW_PRIVATE").as_deref(),
        production,
        &mut problems,
    );
    let breach_check_failure =
        match parse(
            "BREACHED_PASSWORDS_ON_FAILURE",
            &mut problems,
            &|v| match v {
                "allow" | "refuse" => Ok(()),
                _ => Err(format!("{v:?} is neither allow nor refuse")),
            },
        )
        .as_deref()
        {
            Some("refuse") => BreachCheckFailure::Refuse,
            _ => BreachCheckFailure::Allow,
        };
    let password_context_words = list("PASSWORD_CONTEXT_WORDS");

    let trusted_proxy_header = get("TRUSTED_PROXY_HEADER").and_then(|name| {
        axum::http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| {
                problems.push(format!(
                    "TRUSTED_PROXY_HEADER: {name:?} is not a header name"
                ))
            })
            .ok()
    });
    let mut trusted_proxies = Vec::new();
    for entry in list("TRUSTED_PROXIES") {
        match crate::proxies::Cidr::parse(&entry) {
            Ok(cidr) => trusted_proxies.push(cidr),
            Err(why) => problems.push(format!("TRUSTED_PROXIES: {why}")),
        }
    }
    if get("TRUSTED_PROXY_HEADER").is_some() && get("TRUSTED_PROXIES").is_none() {
        problems.push(
            "TRUSTED_PROXY_HEADER: set without TRUSTED_PROXIES; name the proxies (CIDR blocks) \
             whose header is believed, or any client could claim any address"
                .to_owned(),
        );
    }
    let proxies = crate::proxies::ProxyPolicy {
        header: trusted_proxy_header,
        trusted: trusted_proxies,
    };
    let mail = mail::read(&get, production, port, &mut problems);
    let passkeys = passkeys::read(
        &get,
        production,
        &mail.email.app_url,
        &mail.email.product_name,
        &mut problems,
    );

    let ui = ui::read(&get, production, &mut problems);
    let roles = roles::read(&get, &mut problems);

    if problems.is_empty() {
        Ok(ServeConfig {
            port,
            bind_addr,
            admin_addr,
            environment,
            log_level,
            log_format,
            shutdown_timeout,
            request_timeout,
            header_read_timeout,
            idle_timeout,
            max_connections,
            database_url,
            database_pool_size,
            redis_url,
            redis_key_prefix,
            store_tls,
            keys,
            key_source,
            mfa_keys,
            issuer,
            audience,
            access_ttl,
            refresh_ttl,
            reauth_max_age,
            refresh_reuse_grace,
            registrations_per_address,
            registrations_per_minute,
            argon2,
            hash_concurrency,
            hash_queue,
            hash_niceness,
            token_cache_size,
            revocation_cache_ttl,
            client_cache_ttl,
            purge_interval,
            audit_retention,
            cors_origins,
            breach_checks,
            client_keys,
            breach_check_failure,
            password_context_words,
            proxies,
            mail,
            passkeys,
            ui,
            roles,
        })
    } else {
        Err(problems)
    }
}

/// The signing keys: `AUTH_SIGNING_KEYS` (a JSON array of `{"alg","key","kid"?}`, the first
/// active), else `JWT_ACCESS_SECRET` (HS256), else, in development only, a generated key of
/// `AUTH_TOKEN_FORMAT`.
fn signing_keys(
    get: &dyn Fn(&str) -> Option<String>,
    production: bool,
    problems: &mut Vec<String>,
) -> (KeySet, KeySource) {
    let fallback = || KeySet::verification_only();
    if let Some(json) = get("AUTH_SIGNING_KEYS") {
        let json = SecretString::from(json);
        let entries: Vec<KeyEntry> = match serde_json::from_str(json.expose_secret()) {
            Ok(entries) => entries,
            Err(_) => {
                problems.push(
                    "AUTH_SIGNING_KEYS: not a JSON array of {\"alg\",\"key\",\"kid\"} objects (see `auth-server keys generate`)"
                        .to_owned(),
                );
                return (fallback(), KeySource::Configured);
            }
        };
        let mut keys: Option<KeySet> = None;
        for (index, entry) in entries.iter().enumerate() {
            let loaded = entry
                .alg
                .parse::<Algorithm>()
                .and_then(|alg| Key::import(alg, &entry.key))
                .and_then(|key| match &entry.kid {
                    Some(kid) if key.algorithm().is_jwt() => key.with_id(kid.clone()),
                    _ => Ok(key),
                });
            let symmetric = matches!(
                entry.alg.parse::<Algorithm>(),
                Ok(Algorithm::Hs256 | Algorithm::PasetoV4Local)
            );
            if let Some(why) = (production && symmetric)
                .then(|| secrets::weakness(entry.key.as_bytes()))
                .flatten()
            {
                problems.push(format!(
                    "AUTH_SIGNING_KEYS: key {index}: too weak for production: {why}"
                ));
            }
            let added = loaded.and_then(|key| match &mut keys {
                None => KeySet::new(key).map(|set| keys = Some(set)),
                Some(set) => set.add_verification_key(key),
            });
            if let Err(e) = added {
                problems.push(format!("AUTH_SIGNING_KEYS: key {index}: {e}"));
            }
        }
        return match keys {
            Some(keys) => (keys, KeySource::Configured),
            None => {
                if entries.is_empty() {
                    problems.push("AUTH_SIGNING_KEYS: the array is empty".to_owned());
                }
                (fallback(), KeySource::Configured)
            }
        };
    }
    if let Some(secret) = get("JWT_ACCESS_SECRET") {
        let secret = SecretString::from(secret);
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < 32 {
            problems.push("JWT_ACCESS_SECRET: shorter than 32 bytes".to_owned());
            return (fallback(), KeySource::SharedSecret);
        }
        if let Some(why) = production.then(|| secrets::weakness(bytes)).flatten() {
            problems.push(format!("JWT_ACCESS_SECRET: too weak for production: {why}"));
        }
        return match Key::from_hmac_secret(bytes).and_then(KeySet::new) {
            Ok(keys) => (keys, KeySource::SharedSecret),
            Err(e) => {
                problems.push(format!("JWT_ACCESS_SECRET: {e}"));
                (fallback(), KeySource::SharedSecret)
            }
        };
    }
    if production {
        problems.push(
            "AUTH_SIGNING_KEYS: not set; production refuses generated keys (see `auth-server keys generate`)"
                .to_owned(),
        );
        return (fallback(), KeySource::Generated);
    }
    let format = get("AUTH_TOKEN_FORMAT").unwrap_or_else(|| "jwt-eddsa".to_owned());
    let algorithm = match format.as_str() {
        "jwt-eddsa" => Algorithm::EdDsa,
        "jwt-es256" => Algorithm::Es256,
        "jwt-rs256" => Algorithm::Rs256,
        "jwt-hs256" => Algorithm::Hs256,
        "paseto-v4-public" => Algorithm::PasetoV4Public,
        "paseto-v4-local" => Algorithm::PasetoV4Local,
        other => {
            problems.push(format!(
                "AUTH_TOKEN_FORMAT: {other:?} is not one of jwt-eddsa, jwt-es256, jwt-rs256, jwt-hs256, paseto-v4-public, paseto-v4-local"
            ));
            return (fallback(), KeySource::Generated);
        }
    };
    // ID tokens are RS256 (what relying parties assume): a second generated key signs them
    // unless the access tokens' key is one already.
    let keys = Key::generate(algorithm)
        .and_then(KeySet::new)
        .and_then(|keys| {
            if algorithm == Algorithm::Rs256 {
                return Ok(keys);
            }
            keys.with_verification_key(Key::generate(Algorithm::Rs256)?)
        });
    match keys {
        Ok(keys) => (keys, KeySource::Generated),
        Err(e) => {
            problems.push(format!("AUTH_TOKEN_FORMAT: {e}"));
            (fallback(), KeySource::Generated)
        }
    }
}

/// The MFA encryption keys: `MFA_ENCRYPTION_KEYS` (`id:hex` pairs separated by commas, the
/// first encrypts, the others only decrypt), else `MFA_ENCRYPTION_KEY` (one key, id `k1`).
/// Production needs one and refuses keys that are weak by content.
pub(crate) fn mfa_keys(
    get: &dyn Fn(&str) -> Option<String>,
    production: bool,
    problems: &mut Vec<String>,
) -> Option<MfaKeyring> {
    let (variable, entries): (&str, Vec<(String, String)>) = match (
        get("MFA_ENCRYPTION_KEYS"),
        get("MFA_ENCRYPTION_KEY"),
    ) {
        (Some(_), Some(_)) => {
            problems.push("MFA_ENCRYPTION_KEYS: set it or MFA_ENCRYPTION_KEY, not both".to_owned());
            return None;
        }
        (Some(list), None) => {
            let known = problems.len();
            let mut entries = Vec::new();
            for (index, item) in list.split(',').map(str::trim).enumerate() {
                match item.split_once(':') {
                        Some((id, hex)) if valid_key_id(id.trim()) => {
                            entries.push((id.trim().to_owned(), hex.trim().to_owned()));
                        }
                        _ => problems.push(format!(
                            "MFA_ENCRYPTION_KEYS: entry {index} is not ID:HEX (an id of up to 32 letters, digits, - or _, then 64 hex characters)"
                        )),
                    }
            }
            if problems.len() > known {
                return None;
            }
            ("MFA_ENCRYPTION_KEYS", entries)
        }
        (None, Some(hex)) => ("MFA_ENCRYPTION_KEY", vec![("k1".to_owned(), hex)]),
        (None, None) => {
            if production {
                problems.push(
                        "MFA_ENCRYPTION_KEY: not set; production needs a fixed key (64 hex characters) or MFA_ENCRYPTION_KEYS"
                            .to_owned(),
                    );
            }
            return None;
        }
    };
    let mut keyring: Option<MfaKeyring> = None;
    let mut failed = false;
    for (id, hex) in entries {
        let hex = SecretString::from(hex);
        let Ok(key) = MfaKeyring::decode_hex_key(hex.expose_secret()) else {
            problems.push(format!(
                "{variable}: key {id:?} must be 64 hex characters (32 bytes)"
            ));
            failed = true;
            continue;
        };
        if let Some(why) = production
            .then(|| secrets::weakness(key.as_ref()))
            .flatten()
        {
            problems.push(format!(
                "{variable}: key {id:?} is too weak for production: {why}"
            ));
            failed = true;
        }
        let added = match keyring.take() {
            None => Ok(MfaKeyring::new(id, *key)),
            Some(ring) => ring.with_decryption_key(id, *key),
        };
        match added {
            Ok(ring) => keyring = Some(ring),
            Err(e) => {
                problems.push(format!("{variable}: {e}"));
                failed = true;
            }
        }
    }
    if keyring.is_none() && !failed {
        problems.push(format!("{variable}: no key given"));
    }
    keyring.filter(|_| !failed)
}

/// An MFA key id: 1 to 32 letters, digits, `-` or `_`. Short enough that a key written the
/// wrong way round (`HEX:id`) is never taken for an id and printed in a message.
fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where the admin listener binds: `HOST:PORT`, or `:PORT` for the public listener's
/// interfaces (`BIND_ADDR`, or every interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AdminAddr {
    /// `None`: as the public listener.
    pub(crate) ip: Option<std::net::IpAddr>,
    pub(crate) port: u16,
}

impl AdminAddr {
    fn parse(value: &str) -> Option<Self> {
        if let Some(port) = value.strip_prefix(':') {
            return Some(Self {
                ip: None,
                port: port.parse().ok()?,
            });
        }
        let address: std::net::SocketAddr = value.parse().ok()?;
        Some(Self {
            ip: Some(address.ip()),
            port: address.port(),
        })
    }
}

/// An address to listen on: IPv4, IPv6, or IPv6 in brackets.
fn bind_address(value: &str) -> Option<std::net::IpAddr> {
    value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value)
        .parse()
        .ok()
}

mod mail;
mod passkeys;
mod roles;
mod secrets;
mod stores;
mod ui;

pub(crate) use stores::StoreTls;

#[cfg(test)]
mod tests;

/// The fetcher of `private_key_jwt` clients' keys: https to public addresses only, unless
/// `CLIENT_JWKS_ALLOW_PRIVATE=true` (development and tests: http and any address; refused in
/// production).
pub(crate) fn client_key_fetcher(
    setting: Option<&str>,
    production: bool,
    problems: &mut Vec<String>,
) -> Option<Arc<auth_tower::client_keys::JwksFetcher>> {
    let allow_private = match setting {
        None | Some("" | "false") => false,
        Some("true") if production => {
            problems.push(
                "CLIENT_JWKS_ALLOW_PRIVATE: true in production would let a client have the \
                 server call private addresses"
                    .to_owned(),
            );
            false
        }
        Some("true") => true,
        Some(other) => {
            problems.push(format!(
                "CLIENT_JWKS_ALLOW_PRIVATE: {other:?} is neither true nor false"
            ));
            false
        }
    };
    match auth_tower::client_keys::JwksFetcher::new(allow_private) {
        Ok(fetcher) => Some(Arc::new(fetcher)),
        // No root certificates (an image without them): nothing else needs them, so the
        // server runs, and only clients with a jwks_uri cannot be registered or sign in.
        Err(e) => {
            tracing::warn!(%e, "no client key fetcher: private_key_jwt clients need inline keys");
            None
        }
    }
}
