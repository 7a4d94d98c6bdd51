//! TLS to PostgreSQL, against clusters of the tests' own (`ssl=on`, a certificate from a CA the
//! test makes): what `sslmode` and the CA file ask is what the connection does. They need
//! PostgreSQL's programs and openssl (`crate::testing::needs`).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use super::{PostgresConfig, PostgresStore};
use crate::error::Error;
use crate::testing::needs::{Need, require_all};
use crate::testing::private::{PrivatePostgres, TestCa};

/// A started cluster with TLS, the CA that issued its certificate, and another CA.
struct Fixture {
    postgres: PrivatePostgres,
    ca: TestCa,
    other_ca: TestCa,
}

async fn fixture() -> Option<Fixture> {
    if !require_all(&[Need::PostgresServer, Need::Openssl]) {
        return None;
    }
    Some(
        tokio::task::spawn_blocking(|| {
            let ca = TestCa::new();
            Fixture {
                postgres: PrivatePostgres::start_tls(&ca),
                ca,
                other_ca: TestCa::new(),
            }
        })
        .await
        .unwrap(),
    )
}

fn store(url: String, ca_file: Option<PathBuf>) -> PostgresStore {
    let mut config = PostgresConfig::from_url(url);
    config.ca_file = ca_file;
    config.connect_timeout = Duration::from_secs(2);
    config.wait_timeout = Duration::from_secs(2);
    PostgresStore::connect(&config).unwrap()
}

/// Whether this store's connection is encrypted, as the server sees it (`pg_stat_ssl`).
async fn encrypted(store: &PostgresStore) -> bool {
    let client = store.client().await.unwrap();
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// The store cannot be reached, and the error says why (`reason`).
async fn refused(store: &PostgresStore, why: &str, reason: &str) {
    let answer = store.ping(Duration::from_secs(3)).await;
    eprintln!("{why}: {answer:?}");
    assert!(
        matches!(&answer, Err(Error::Unavailable(message)) if message.contains(reason)),
        "{why}: {answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tls_is_what_the_server_sees_and_any_other_certificate_is_refused() {
    let Some(f) = fixture().await else {
        return;
    };
    let port = f.postgres.port;
    let ca = Some(f.ca.cert.clone());
    for mode in ["require", "verify-full", "verify-ca"] {
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode={mode}");
        let tls = store(url, ca.clone());
        tls.ping(Duration::from_secs(3)).await.unwrap();
        assert!(encrypted(&tls).await, "{mode}");
    }
    // The CA file named in the URL, percent-encoded, and in the key-value form.
    let encoded = f.ca.cert.display().to_string().replace('/', "%2F");
    let url = format!(
        "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={encoded}"
    );
    assert!(encrypted(&store(url, None)).await);
    let key_value = format!(
        "host=localhost port={port} user=postgres dbname=postgres sslmode=verify-full \
         sslrootcert='{}'",
        f.ca.cert.display()
    );
    assert!(encrypted(&store(key_value, None)).await);
    // Without sslmode (or with prefer), no TLS: the server sees plaintext.
    let plain = store(
        format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        None,
    );
    assert!(!encrypted(&plain).await);

    // A certificate from another CA, or checked against the system's roots: refused.
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=require");
    refused(
        &store(url.clone(), Some(f.other_ca.cert.clone())),
        "another CA",
        "UnknownIssuer",
    )
    .await;
    refused(&store(url, None), "the system's roots", "UnknownIssuer").await;
    let url = format!(
        "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert=system"
    );
    refused(
        &store(url, ca.clone()),
        "sslrootcert=system over the CA file",
        "UnknownIssuer",
    )
    .await;

    // A name the certificate does not carry: verify-full refuses, verify-ca accepts.
    let elsewhere = |mode: &str| {
        format!(
            "host=db.example hostaddr=127.0.0.1 port={port} user=postgres dbname=postgres \
             sslmode={mode}"
        )
    };
    refused(
        &store(elsewhere("verify-ca"), Some(f.other_ca.cert.clone())),
        "verify-ca with another CA",
        "UnknownIssuer",
    )
    .await;
    refused(
        &store(elsewhere("verify-full"), ca.clone()),
        "the wrong name",
        "certificate not valid for name \"db.example\"",
    )
    .await;
    assert!(encrypted(&store(elsewhere("verify-ca"), ca.clone())).await);
    // A Unix socket is local: no TLS asked of it, as in libpq.
    let socket = format!(
        "host={} port={port} user=postgres dbname=postgres sslmode=verify-full",
        f.postgres.socket_dir().display()
    );
    assert!(!encrypted(&store(socket, ca.clone())).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_against_a_server_without_tls_fails() {
    if !require_all(&[Need::PostgresServer, Need::Openssl]) {
        return;
    }
    let (plain, ca) = tokio::task::spawn_blocking(|| (PrivatePostgres::start(), TestCa::new()))
        .await
        .unwrap();
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=require",
        plain.port
    );
    let store = store(url, Some(ca.cert.clone()));
    let answer = store.ping(Duration::from_secs(3)).await;
    assert!(
        matches!(&answer, Err(Error::Unavailable(why)) if why.contains("server does not support TLS")),
        "{answer:?}"
    );
}

#[test]
fn plaintext_hosts_are_the_tcp_hosts_of_a_connection_without_tls() {
    let hosts = |url: &str| PostgresConfig::from_url(url).plaintext_hosts().unwrap();
    assert_eq!(
        hosts("postgres://auth@db.internal:5432/auth"),
        ["db.internal"]
    );
    assert_eq!(
        hosts("postgres://auth@db.internal/auth?sslmode=prefer"),
        ["db.internal"]
    );
    assert!(hosts("postgres://auth@db.internal/auth?sslmode=require").is_empty());
    assert_eq!(hosts("host=a,b user=auth"), ["a", "b"]);
    assert!(hosts("host=/var/run/postgresql user=auth").is_empty());
    // With hostaddr, the connection goes there, over TCP, whatever the host says.
    assert_eq!(hosts("hostaddr=10.0.0.5 user=auth"), ["10.0.0.5"]);
    assert_eq!(
        hosts("host=/var/run/postgresql hostaddr=10.0.0.5 user=auth"),
        ["10.0.0.5"]
    );
    assert_eq!(
        hosts("host=localhost hostaddr=10.0.0.5 user=auth"),
        ["10.0.0.5"]
    );
    // An sslmode ours could not read, but tokio-postgres would: refused, never downgraded.
    assert!(matches!(
        PostgresConfig::from_url(r"host=db sslmode=require password=abc\").plaintext_hosts(),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        PostgresConfig::from_url("postgres://db/auth?sslmode=maybe").plaintext_hosts(),
        Err(Error::Config(_))
    ));
}
