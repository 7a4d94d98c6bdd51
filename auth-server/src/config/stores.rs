//! How the server reaches its stores over the network: the CA files for TLS, and the production
//! rule that a store on another host is reached over TLS unless the operator names the host in
//! `ALLOW_PLAINTEXT_STORE_HOSTS` (a private container network, say).

use std::path::PathBuf;

use auth_core::secrecy::{ExposeSecret, SecretString};
use auth_core::store::postgres::PostgresConfig;
use auth_core::store::redis::RedisConfig;

/// TLS settings of the store connections.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoreTls {
    /// `DATABASE_CA_FILE`: CA certificates to trust for PostgreSQL instead of the system's.
    pub(crate) database_ca_file: Option<PathBuf>,
    /// `REDIS_CA_FILE`: the same for Redis.
    pub(crate) redis_ca_file: Option<PathBuf>,
    /// Hosts reached without TLS by the operator's leave (`ALLOW_PLAINTEXT_STORE_HOSTS`), for
    /// the warning at start-up: `(variable, host)`.
    pub(crate) plaintext_allowed: Vec<(&'static str, String)>,
}

/// Reads the CA files and checks, in production, that no store off this host is reached in
/// plaintext without leave; each problem is pushed.
pub(super) fn read(
    get: &dyn Fn(&str) -> Option<String>,
    production: bool,
    database_url: Option<&SecretString>,
    redis_url: Option<&SecretString>,
    problems: &mut Vec<String>,
) -> StoreTls {
    let ca_file = |name: &str, problems: &mut Vec<String>| {
        let path = PathBuf::from(get(name)?);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Some(path),
            Ok(_) => {
                problems.push(format!("{name}: {} is not a file", path.display()));
                None
            }
            Err(e) => {
                problems.push(format!("{name}: {}: {e}", path.display()));
                None
            }
        }
    };
    let database_ca_file = ca_file("DATABASE_CA_FILE", problems);
    let redis_ca_file = ca_file("REDIS_CA_FILE", problems);
    let allowed: Vec<String> = get("ALLOW_PLAINTEXT_STORE_HOSTS")
        .map(|v| {
            v.split(',')
                .map(|host| host.trim().to_ascii_lowercase())
                .filter(|host| !host.is_empty())
                .collect()
        })
        .unwrap_or_default();

    let mut plaintext_allowed = Vec::new();
    let mut check =
        |variable: &'static str, hosts: auth_core::Result<Vec<String>>, ca_file: (&str, bool)| {
            let hosts = match hosts {
                Ok(hosts) => hosts,
                Err(e) => {
                    problems.push(format!("{variable}: {e}"));
                    return;
                }
            };
            // A CA file for a connection without TLS says the URL is not what was meant.
            if ca_file.1 && !hosts.is_empty() {
                problems.push(format!(
                    "{}: set, but {variable} asks for no TLS to {}",
                    ca_file.0,
                    hosts.join(", ")
                ));
            }
            for host in hosts {
                if is_loopback(&host) {
                    continue;
                }
                if allowed.contains(&host.to_ascii_lowercase()) {
                    plaintext_allowed.push((variable, host));
                } else if production {
                    let how = if variable == "DATABASE_URL" {
                        "add sslmode=verify-full (or require, verify-ca)"
                    } else {
                        "use rediss://"
                    };
                    problems.push(format!(
                        "{variable}: {host} would be reached in plaintext; production needs TLS to \
                     a store on another host: {how}, or list the host in \
                     ALLOW_PLAINTEXT_STORE_HOSTS if it is on a private network"
                    ));
                }
            }
        };
    if let Some(url) = database_url {
        check(
            "DATABASE_URL",
            PostgresConfig::from_url(url.expose_secret()).plaintext_hosts(),
            ("DATABASE_CA_FILE", database_ca_file.is_some()),
        );
    }
    if let Some(url) = redis_url {
        check(
            "REDIS_URL",
            RedisConfig::from_url(url.expose_secret()).plaintext_hosts(),
            ("REDIS_CA_FILE", redis_ca_file.is_some()),
        );
    }
    StoreTls {
        database_ca_file,
        redis_ca_file,
        plaintext_allowed,
    }
}

/// Whether `host` is this machine: `localhost`, 127.0.0.0/8 or `::1`.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_with(vars: &[(&str, &str)], production: bool) -> (StoreTls, Vec<String>) {
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let database = get("DATABASE_URL").map(SecretString::from);
        let redis = get("REDIS_URL").map(SecretString::from);
        let mut problems = Vec::new();
        let tls = read(
            &get,
            production,
            database.as_ref(),
            redis.as_ref(),
            &mut problems,
        );
        (tls, problems)
    }

    #[test]
    fn production_refuses_plaintext_to_another_host_naming_the_way_out() {
        let (_, problems) = read_with(
            &[
                ("DATABASE_URL", "postgres://auth@db.internal/auth"),
                ("REDIS_URL", "redis://cache.internal:6379"),
            ],
            true,
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("DATABASE_URL: db.internal would be reached in plaintext"));
        assert!(problems[0].contains("sslmode=verify-full"));
        assert!(problems[1].starts_with("REDIS_URL: cache.internal"));
        assert!(problems[1].contains("rediss://"));
        // Development says nothing.
        let (_, problems) = read_with(
            &[("DATABASE_URL", "postgres://auth@db.internal/auth")],
            false,
        );
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn tls_loopback_and_listed_hosts_pass_and_the_listed_are_remembered() {
        let (tls, problems) = read_with(
            &[
                ("DATABASE_URL", "postgres://auth@postgres/auth"),
                ("REDIS_URL", "redis://Redis:6379"),
                ("ALLOW_PLAINTEXT_STORE_HOSTS", " postgres , redis "),
            ],
            true,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            tls.plaintext_allowed,
            [
                ("DATABASE_URL", "postgres".to_owned()),
                ("REDIS_URL", "Redis".to_owned())
            ]
        );
        for (database, redis) in [
            (
                "postgres://auth@db.internal/auth?sslmode=verify-full",
                "rediss://cache.internal:6380",
            ),
            ("postgres://auth@127.0.0.1/auth", "redis://[::1]:6379"),
            (
                "host=/var/run/postgresql user=auth",
                "redis://localhost:6379",
            ),
        ] {
            let (tls, problems) =
                read_with(&[("DATABASE_URL", database), ("REDIS_URL", redis)], true);
            assert!(problems.is_empty(), "{database} {redis}: {problems:?}");
            assert!(tls.plaintext_allowed.is_empty());
        }
    }

    #[test]
    fn a_ca_file_beside_a_url_without_tls_is_reported() {
        let ca = std::env::current_exe().unwrap();
        let ca = ca.to_str().unwrap();
        let (_, problems) = read_with(
            &[
                ("DATABASE_CA_FILE", ca),
                ("DATABASE_URL", "postgres://auth@127.0.0.1/auth"),
                ("REDIS_CA_FILE", ca),
                ("REDIS_URL", "redis://127.0.0.1:6379"),
            ],
            false,
        );
        assert_eq!(
            problems,
            [
                "DATABASE_CA_FILE: set, but DATABASE_URL asks for no TLS to 127.0.0.1",
                "REDIS_CA_FILE: set, but REDIS_URL asks for no TLS to 127.0.0.1"
            ]
        );
    }

    #[test]
    fn a_ca_file_must_exist_and_a_bad_sslmode_is_reported() {
        let (tls, problems) = read_with(
            &[
                ("DATABASE_CA_FILE", "/nonexistent/ca.pem"),
                ("REDIS_CA_FILE", "/"),
                ("DATABASE_URL", "postgres://db/auth?sslmode=sometimes"),
            ],
            false,
        );
        assert!(tls.database_ca_file.is_none() && tls.redis_ca_file.is_none());
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("DATABASE_CA_FILE: /nonexistent/ca.pem"));
        assert_eq!(problems[1], "REDIS_CA_FILE: / is not a file");
        assert!(problems[2].starts_with("DATABASE_URL: "), "{problems:?}");
    }
}
