//! [`ServeError`]: why the server could not be built, could not start, or stopped.

/// Why the server could not be built, could not start, or stopped with a failure. `serve`
/// logs its message as `server failed` and exits non-zero.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration has problems; each names its variable and says what is wrong.
    #[error("{}", .0.join("; "))]
    Config(Vec<String>),
    /// The key set has no key to sign with.
    #[error("no active signing key")]
    NoActiveKey,
    /// The Authenticator could not be built from the configuration.
    #[error("authenticator: {0}")]
    Authenticator(#[source] auth_core::Error),
    /// The roles of `ROLES` could not be defined in the store.
    #[error("ROLES: cannot define the roles: {0}")]
    Roles(#[source] auth_core::Error),
    /// `DATABASE_URL` could not be connected to.
    #[error("DATABASE_URL: {0}")]
    Database(#[source] auth_core::Error),
    /// The development schema could not be migrated.
    #[error("migrations: {0}")]
    Migrations(#[source] auth_core::Error),
    /// The migration status could not be read.
    #[error("migration status: {0}")]
    MigrationStatus(#[source] auth_core::Error),
    /// Production found migrations not yet applied (by version).
    #[error("migrations {0:?} are pending: run `auth-server migrate` first")]
    PendingMigrations(Vec<u32>),
    /// `REDIS_URL` could not be connected to.
    #[error("REDIS_URL: {0}")]
    Redis(#[source] auth_core::Error),
    /// A signal handler could not be installed.
    #[error("{signal} handler: {source}")]
    Signal {
        /// `SIGTERM` or `SIGINT`.
        signal: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The port could not be listened on.
    #[error("cannot listen on port {port}: {source}")]
    Listen {
        /// The port (`PORT`, or `ADMIN_ADDR`'s).
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// The listener's own address could not be read.
    #[error("listener address: {0}")]
    ListenerAddress(#[source] std::io::Error),
    /// The server's task panicked or was cancelled.
    #[error("server task: {0}")]
    ServerTask(#[source] tokio::task::JoinError),
}

#[cfg(test)]
mod tests {
    use super::ServeError;

    #[test]
    fn each_message_names_what_failed_as_the_log_has_always_said() {
        let problems = vec![
            "PORT: not a number".to_owned(),
            "AUTH_ENV: unknown".to_owned(),
        ];
        assert_eq!(
            ServeError::Config(problems).to_string(),
            "PORT: not a number; AUTH_ENV: unknown"
        );
        assert_eq!(
            ServeError::PendingMigrations(vec![3, 4]).to_string(),
            "migrations [3, 4] are pending: run `auth-server migrate` first"
        );
        let refused = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        assert_eq!(
            ServeError::Listen {
                port: 8080,
                source: refused
            }
            .to_string(),
            "cannot listen on port 8080: address in use"
        );
        assert_eq!(ServeError::NoActiveKey.to_string(), "no active signing key");
    }
}
