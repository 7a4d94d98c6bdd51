//! Command-line interface.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The reference authentication server.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub(crate) struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, Default, Subcommand)]
pub(crate) enum Command {
    /// Run the HTTP server (the default).
    ///
    /// Environment: PORT (8080); BIND_ADDR (the address to listen on; every interface, IPv6
    /// and IPv4, by default); ADMIN_ADDR (HOST:PORT, or :PORT on BIND_ADDR's interfaces: a
    /// second listener for /metrics and the probes with their details; set, the public one
    /// answers the probes with their status only and has no /metrics); AUTH_ENV (development|production); LOG_LEVEL (a tracing
    /// filter, info); LOG_FORMAT (json|pretty; json in production); SHUTDOWN_TIMEOUT (seconds
    /// to drain in-flight requests, 25); REQUEST_TIMEOUT (seconds before a request is answered
    /// 503 timeout, 30); HEADER_READ_TIMEOUT (seconds a request head has from its first
    /// byte, and a new connection for its first request, 10); IDLE_TIMEOUT (seconds a kept-alive
    /// connection may wait for its next request, 75); MAX_CONNECTIONS (open at once; more wait
    /// to be accepted, 1024); DATABASE_URL (PostgreSQL; none: in memory; TLS with
    /// sslmode=require, verify-ca or verify-full, the certificate always verified);
    /// DATABASE_POOL_SIZE (PostgreSQL connections this instance opens at most, 16; replicas x
    /// this must fit the server's max_connections); REDIS_URL
    /// (throttle counters and the TOTP replay guard; needs DATABASE_URL; rediss:// for TLS);
    /// DATABASE_CA_FILE and REDIS_CA_FILE (PEM CA certificates to trust instead of the
    /// system's); ALLOW_PLAINTEXT_STORE_HOSTS (comma-separated hosts production may reach
    /// without TLS, on a private network); PURGE_INTERVAL (seconds between purges of expired
    /// rows from PostgreSQL, one instance at a time, 900; 0: never, see `purge`);
    /// AUDIT_RETENTION_DAYS (days audit events are kept in PostgreSQL, 365; 0: for ever);
    /// REDIS_KEY_PREFIX (auth:); AUTH_SIGNING_KEYS (JSON array
    /// from `keys generate`, the first signs); JWT_ACCESS_SECRET (HS256, at least 32 bytes);
    /// AUTH_TOKEN_FORMAT (format of a generated development key); MFA_ENCRYPTION_KEYS
    /// (id:hex pairs, comma-separated, the first encrypts; see `mfa reencrypt`) or
    /// MFA_ENCRYPTION_KEY (one key of 64 hex characters, id k1); ACCESS_TOKEN_TTL (900); REFRESH_TOKEN_TTL (2592000); REAUTH_MAX_AGE (how
    /// recent a login must be for sensitive changes, 300); REFRESH_REUSE_GRACE (seconds after a
    /// refresh in which retrying the same refresh token is a lost answer, not reuse, 0-300, 30); REGISTRATIONS_PER_ADDRESS_HOUR (20)
    /// and REGISTRATIONS_PER_MINUTE (over every address, 600); AUTH_ISSUER;
    /// AUTH_AUDIENCE; ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM (19456, 2, 1);
    /// PASSWORD_HASH_CONCURRENCY (hashes at once, one per core), PASSWORD_HASH_QUEUE (waiting
    /// hashes before logins get 503, eight per slot); PASSWORD_HASH_NICENESS (0-19, 0; above 0
    /// hashing threads yield the CPU to request handling); TOKEN_CACHE_SIZE (verified access tokens
    /// remembered so repeats skip the signature check, revocation still checked; 10000, 0: off);
    /// REVOCATION_CACHE_TTL (seconds a "session not ended" answer is reused: a session ended
    /// through another server is refused here within this time, at once through this one; 0-60, 2);
    /// CLIENT_CACHE_TTL (seconds an OAuth client read from the database, and that its
    /// authentication from an address was not throttled, are reused: a client deleted from the
    /// command line or another server is refused here within this time; 0-60, 2);
    /// CORS_ORIGINS (comma-separated; https only in production); BREACHED_PASSWORDS_FILE (an
    /// operator's list, one password or SHA-1 per line; the 30,000 most common passwords are
    /// always refused); BREACHED_PASSWORDS_HIBP (true: also ask the Pwned Passwords range API,
    /// at BREACHED_PASSWORDS_HIBP_URL) and BREACHED_PASSWORDS_ON_FAILURE (allow|refuse when it
    /// cannot be asked, allow); PASSWORD_CONTEXT_WORDS (comma-separated words no password may be
    /// built on, besides the email's name and the issuer's); TRUSTED_PROXY_HEADER (e.g. x-forwarded-for: take the
    /// client address from it) with TRUSTED_PROXIES (comma-separated CIDR blocks: the header is
    /// believed only from those peers, read from the right, skipping trusted addresses);
    /// SMTP_URL (the mail relay in lettre's form: smtps://user:pass@host:465 or
    /// smtp://user:pass@host:587?tls=required; none: mail goes to the log, development only),
    /// SMTP_CA_FILE (a PEM CA certificate trusted for the relay besides the system's),
    /// MAIL_FROM (the sender, Name <address>), APP_URL (the public base URL mailed links open,
    /// https in production), PRODUCT_NAME (what mails call the service, Auth),
    /// MAIL_TEMPLATES_DIR (a folder per locale of <kind>.txt and .html templates besides the
    /// built-in English), EMAIL_VERIFICATION (off|optional|required; required when SMTP_URL
    /// is set, off otherwise), ROLES (JSON: {"name": {"scopes": [...], "description": "..."}};
    /// each role named is set to exactly this at every start, its holders who lose a scope
    /// signed out; others are left alone) or ROLES_FILE (the same in a file). Each secret (DATABASE_URL, REDIS_URL, AUTH_SIGNING_KEYS,
    /// JWT_ACCESS_SECRET, MFA_ENCRYPTION_KEYS, MFA_ENCRYPTION_KEY, SMTP_URL) may instead be a file, named by the same
    /// variable with _FILE appended (DATABASE_URL_FILE). Production refuses in-memory state, generated keys,
    /// missing, short or patterned secrets, plain-http origins and a missing mail relay,
    /// listing every problem.
    #[default]
    Serve,
    /// Apply the embedded PostgreSQL migrations (DATABASE_URL) and exit; with --status, list
    /// them without applying anything. Safe to run from several instances at once.
    Migrate(MigrateArgs),
    /// Delete expired sessions, refresh tokens, revocations and replay guards, audit events
    /// past AUDIT_RETENTION_DAYS and ended throttle counters from PostgreSQL, once, in short
    /// batches, and print what went as JSON. Reads the server's environment (DATABASE_URL,
    /// AUDIT_RETENTION_DAYS, ...). The server does the same every PURGE_INTERVAL; with an
    /// instance purging at that moment this one prints {"skipped": ...} and exits 0.
    Purge,
    /// Probe the local server and exit 0 when it answers 200, 1 otherwise (for images without
    /// a shell).
    Healthcheck(HealthcheckArgs),
    /// Signing key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Account management: create, and the roles an account holds.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Roles and the scopes each grants, in the server's database (ROLES defines some at
    /// every start; these commands manage any).
    Role {
        #[command(subcommand)]
        command: RoleCommand,
    },
    /// OAuth clients registered with this server, in its database.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Second-factor management.
    Mfa {
        #[command(subcommand)]
        command: MfaCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum MfaCommand {
    /// Re-encrypt every stored TOTP secret under the first key of MFA_ENCRYPTION_KEYS (or
    /// MFA_ENCRYPTION_KEY), so older keys can be removed afterwards. Reads the keys from the
    /// environment, as the server does. Prints {"key_id","moved","changed_meanwhile",
    /// "unreadable"}; exits 1 if a secret could not be decrypted with any key given (keep
    /// its key until it is dealt with). Safe to run again and while the server runs, once
    /// every instance holds the new key (deploy/RUNBOOK.md, "MFA encryption keys").
    Reencrypt(MfaReencryptArgs),
}

#[derive(Debug, Args)]
pub(crate) struct MfaReencryptArgs {
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
    /// Secrets read and rewritten per round trip.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(usize))]
    pub(crate) batch: usize,
}

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// List applied and pending migrations instead of applying them.
    #[arg(long)]
    pub(crate) status: bool,
    /// Seconds to wait for another instance's migration to finish before giving up, naming
    /// the process that holds the lock.
    #[arg(long, env = "MIGRATE_LOCK_TIMEOUT", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) lock_timeout: u64,
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

/// The database the server uses, as it reaches it.
#[derive(Debug, Args)]
pub(crate) struct DatabaseArgs {
    /// The database (with `sslmode=require` or stronger for TLS).
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        required_unless_present = "database_url_file",
        conflicts_with = "database_url_file"
    )]
    pub(crate) database_url: Option<String>,
    /// A file holding the database URL (a secret volume), instead of DATABASE_URL.
    #[arg(long, env = "DATABASE_URL_FILE")]
    pub(crate) database_url_file: Option<std::path::PathBuf>,
    /// CA certificates (PEM) to trust for TLS to the database, instead of the system's roots.
    #[arg(long, env = "DATABASE_CA_FILE")]
    pub(crate) database_ca_file: Option<std::path::PathBuf>,
}

impl DatabaseArgs {
    /// The store configuration for these arguments; a URL file that cannot be read is a
    /// configuration error.
    pub(crate) fn config(&self) -> auth_core::Result<auth_core::store::postgres::PostgresConfig> {
        let url = match (&self.database_url, &self.database_url_file) {
            (Some(url), _) => url.clone(),
            (None, Some(path)) => crate::config::read_secret_file("DATABASE_URL", path)
                .map_err(auth_core::Error::Config)?,
            (None, None) => {
                return Err(auth_core::Error::Config(
                    "DATABASE_URL or DATABASE_URL_FILE is needed".into(),
                ));
            }
        };
        let mut config = auth_core::store::postgres::PostgresConfig::from_url(url);
        config.ca_file.clone_from(&self.database_ca_file);
        Ok(config)
    }
}

#[derive(Debug, Args)]
pub(crate) struct HealthcheckArgs {
    /// Port of the local server.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub(crate) port: u16,
    /// Path to probe.
    #[arg(long, default_value = "/health/liveness")]
    pub(crate) path: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub(crate) timeout: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create an account (to bootstrap an administrator, say). The password is read from
    /// AUTH_BOOTSTRAP_PASSWORD or, when that is unset, from the first line of standard input;
    /// it must meet the password policy. Prints {"user_id","email"}.
    Create(UserCreateArgs),
    /// Grant a role: its scopes are in the account's tokens from its next login or refresh.
    /// Prints {"user_id","role","granted"} (granted false: held already).
    Grant(UserRoleArgs),
    /// Take a role away. When the account loses a scope by it (one no other role of its
    /// grants), every session of the account ends at once. Prints
    /// {"user_id","role","lost","signed_out"}.
    Revoke(UserRoleArgs),
    /// Print the account's roles and scopes: {"user_id","email","roles","scopes"}.
    Roles(UserLookupArgs),
    /// End every session of the account at once (its credentials epoch moves on): for a
    /// removal whose sessions could not all be ended, or a device reported lost. Prints
    /// {"user_id","signed_out"}.
    SignOut(UserLookupArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UserRoleArgs {
    /// The account's email address.
    #[arg(long)]
    pub(crate) email: String,
    /// The role's name.
    #[arg(long)]
    pub(crate) role: String,
    #[command(flatten)]
    pub(crate) actor: ActorArgs,
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub(crate) struct UserLookupArgs {
    /// The account's email address.
    #[arg(long)]
    pub(crate) email: String,
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

/// Who makes a change, for the audit events.
#[derive(Debug, Args)]
pub(crate) struct ActorArgs {
    /// The name the audit events give the operator; by default the login name (USER).
    #[arg(long, env = "AUTH_ACTOR")]
    pub(crate) actor: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    /// Register a client. Prints {"client_id","client_secret","name","auth_method",
    /// "redirect_uris","grant_types","scopes","first_party","audience",
    /// "id_token_signed_response_alg","post_logout_redirect_uris",
    /// "require_pushed_authorization_requests","jwks","jwks_uri"}; the secret (confidential
    /// clients only) is shown this once and kept only as its digest.
    Create(Box<ClientCreateArgs>),
    /// Print every client (without secrets), oldest first.
    List(RoleListArgs),
    /// Delete a client: it can no longer authenticate or be sent an answer. Prints
    /// {"client_id","deleted"}.
    Delete(ClientDeleteArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ClientCreateArgs {
    /// What users are shown on the consent page.
    #[arg(long)]
    pub(crate) name: String,
    /// Where answers may be sent: https, http on loopback, or a private-use scheme
    /// (com.example.app:/callback); repeat for each. Matched exactly, except that a loopback
    /// IP literal (127.0.0.1, [::1]) matches any port.
    /// (None for a client of client_credentials alone.)
    #[arg(long = "redirect-uri")]
    pub(crate) redirect_uris: Vec<String>,
    /// How it authenticates: client_secret_basic (the default), client_secret_post,
    /// private_key_jwt (a JWT signed with its own key: give --jwks or --jwks-uri), or none (a
    /// public client: a native or browser app, bound by PKCE alone).
    #[arg(long, default_value = "client_secret_basic")]
    pub(crate) auth_method: String,
    /// A scope it may ask for; repeat for each. None: openid, profile, email and
    /// offline_access (signing users in, and staying signed in).
    #[arg(long = "scope")]
    pub(crate) scopes: Vec<String>,
    /// Run by whoever runs this server: no consent page; administrative scopes possible.
    #[arg(long)]
    pub(crate) first_party: bool,
    /// The audience (`aud`) of its access tokens, its resource servers (default: the
    /// server's AUTH_AUDIENCE; never that or AUTH_ISSUER given here). Required for
    /// client_credentials.
    #[arg(long)]
    pub(crate) audience: Option<String>,
    /// The algorithm of its ID tokens: RS256 (the default), ES256 or EdDSA; the server needs
    /// a signing key of it in AUTH_SIGNING_KEYS.
    #[arg(long = "id-token-alg")]
    pub(crate) id_token_alg: Option<String>,
    /// No refresh tokens: the authorization_code grant only.
    #[arg(long)]
    pub(crate) no_refresh: bool,
    /// A grant it may use, repeat for each: authorization_code, refresh_token,
    /// client_credentials (a service acting for itself: no redirect URIs, scopes of its own).
    /// None: authorization_code and refresh_token.
    #[arg(long = "grant", conflicts_with = "no_refresh")]
    pub(crate) grants: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards (under the rules of
    /// --redirect-uri, matched exactly); repeat for each.
    #[arg(long = "post-logout-redirect-uri")]
    pub(crate) post_logout_redirect_uris: Vec<String>,
    /// Its authorization requests must be pushed first (RFC 9126, at /oauth2/par): one
    /// written whole in the browser's address is refused.
    #[arg(long = "require-par")]
    pub(crate) require_par: bool,
    /// For private_key_jwt: its public keys, a JWK Set as JSON, or @FILE to read it from.
    #[arg(long, conflicts_with = "jwks_uri")]
    pub(crate) jwks: Option<String>,
    /// For private_key_jwt: where its public keys are (https; fetched when needed, cached five
    /// minutes, never from a private address unless CLIENT_JWKS_ALLOW_PRIVATE=true).
    #[arg(long = "jwks-uri")]
    pub(crate) jwks_uri: Option<String>,
    #[command(flatten)]
    pub(crate) actor: ActorArgs,
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ClientDeleteArgs {
    /// The client's id.
    pub(crate) client_id: String,
    #[command(flatten)]
    pub(crate) actor: ActorArgs,
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RoleCommand {
    /// Print every role: [{"name","scopes","description"}].
    List(RoleListArgs),
    /// Create a role, or set its scopes and description to these. Holders that lose a scope
    /// by it (held through no other role) are signed out everywhere at once; holders that
    /// gain one carry it from their next login or refresh. Prints
    /// {"role","created","added","removed","holders","signed_out"}.
    Set(RoleSetArgs),
    /// Delete a role and every holding of it; its holders that lose a scope by it are signed
    /// out everywhere. Prints {"role","removed","holders","signed_out"}.
    Delete(RoleDeleteArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RoleListArgs {
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RoleSetArgs {
    /// The role's name: lower-case letters, digits, '.', '_', ':' and '-'.
    pub(crate) name: String,
    /// A scope the role grants; repeat for each. These replace what it granted.
    #[arg(long = "scope", required_unless_present = "no_scopes")]
    pub(crate) scopes: Vec<String>,
    /// The role grants no scope (its holders lose every scope it granted).
    #[arg(long, conflicts_with = "scopes")]
    pub(crate) no_scopes: bool,
    /// What the role is for; unchanged (empty for a new role) when left out.
    #[arg(long)]
    pub(crate) description: Option<String>,
    #[command(flatten)]
    pub(crate) actor: ActorArgs,
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RoleDeleteArgs {
    /// The role's name.
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) actor: ActorArgs,
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub(crate) struct UserCreateArgs {
    /// The account's email address.
    #[arg(long)]
    pub(crate) email: String,
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate a new signing key and print it as JSON: {"kid", "alg", "key"}, where "key"
    /// is PKCS#8 PEM (JWT asymmetric), base64url (HS256) or PASERK (PASETO).
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Token format and algorithm of the key.
    #[arg(long, value_enum, default_value_t = KeyFormat::JwtEddsa)]
    pub(crate) format: KeyFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyFormat {
    /// JWT signed with Ed25519.
    JwtEddsa,
    /// JWT signed with ECDSA P-256.
    JwtEs256,
    /// JWT signed with RSA 2048 (PKCS#1 v1.5).
    JwtRs256,
    /// JWT with an HMAC-SHA-256 shared secret.
    JwtHs256,
    /// PASETO v4.public (Ed25519).
    PasetoV4Public,
    /// PASETO v4.local (shared-key encryption).
    PasetoV4Local,
}

/// Runs a one-shot subcommand's `work` to its end on a runtime of its own; `None`, having said
/// why under the subcommand's name `what`, when the runtime cannot start.
pub(crate) fn block_on<F: std::future::Future>(what: &str, work: F) -> Option<F::Output> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime.block_on(work)),
        Err(error) => {
            eprintln!("{what}: cannot start the async runtime: {error}");
            None
        }
    }
}

/// Runs a one-shot subcommand's `work` and prints what it returns (JSON), or says why it
/// failed under the subcommand's name `what` (its error code and message) and fails.
pub(crate) fn run_printing(
    what: &str,
    work: impl std::future::Future<Output = auth_core::Result<serde_json::Value>>,
) -> std::process::ExitCode {
    match block_on(what, work) {
        None => std::process::ExitCode::FAILURE,
        Some(Ok(printed)) => {
            println!("{printed}");
            std::process::ExitCode::SUCCESS
        }
        Some(Err(error)) => {
            eprintln!("{what}: {} ({error})", error.code());
            std::process::ExitCode::FAILURE
        }
    }
}

/// Lists configuration problems under the subcommand's name `what`; the exit code to fail with.
pub(crate) fn invalid_configuration(what: &str, problems: &[String]) -> std::process::ExitCode {
    eprintln!("{what}: invalid configuration:");
    for problem in problems {
        eprintln!("  - {problem}");
    }
    std::process::ExitCode::FAILURE
}
