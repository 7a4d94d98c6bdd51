//! `auth-server migrate` against the real PostgreSQL named by `AUTH_TEST_DATABASE_URL`, in a
//! schema of the test's own.
#![allow(clippy::unwrap_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_auth-server");

fn database_url() -> Option<String> {
    auth_core::testing::needs::postgres_url()
}

fn migrate(url: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BIN)
        .arg("migrate")
        .args(args)
        .env_clear()
        .env("DATABASE_URL", url)
        .env("MIGRATE_LOCK_TIMEOUT", "1")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn migrate_applies_once_and_reports_status() {
    let Some(url) = database_url() else {
        return;
    };
    let schema = format!("auth_cli_{:x}", std::process::id() as u64 * 7919 + 17);
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema}");

    let (ok, out, err) = migrate(&scoped, &["--status"]);
    assert!(ok, "{err}");
    assert!(out.lines().all(|line| line.ends_with("pending")), "{out}");
    let (ok, out, err) = migrate(&scoped, &[]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("applied 17 migration(s); schema at version 17"),
        "{out}"
    );
    let (ok, out, _) = migrate(&scoped, &[]);
    assert!(ok);
    assert!(
        out.starts_with("applied 0 migration(s)"),
        "running twice is a no-op: {out}"
    );
    let (ok, out, _) = migrate(&scoped, &["--status"]);
    assert!(ok);
    assert!(
        out.contains("0001 initial") && out.lines().all(|line| line.ends_with("applied")),
        "{out}"
    );

    // Another migration holds the lock: past MIGRATE_LOCK_TIMEOUT (1 s here), it gives up
    // and names the holder.
    admin
        .execute(
            "SELECT pg_advisory_lock($1, hashtext($2))",
            &[&0x6175_7468_i32, &schema],
        )
        .await
        .unwrap();
    let pid: i32 = admin
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let (ok, _, err) = migrate(&scoped, &[]);
    assert!(!ok);
    assert!(
        err.contains("another migration has held the lock") && err.contains(&format!("pid {pid} ")),
        "{err}"
    );
    admin
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .await
        .unwrap();

    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

#[test]
fn migrate_without_a_reachable_database_fails_with_a_message() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (ok, _, err) = migrate(&format!("postgres://postgres@127.0.0.1:{port}/test"), &[]);
    assert!(!ok);
    assert!(err.starts_with("migrate: "), "{err}");
}
