//! Deleting expired rows from PostgreSQL: on a schedule inside `serve` (one instance at a time,
//! under an advisory lock), and once as `auth-server purge`.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use auth_core::secrecy::ExposeSecret;
use auth_core::store::postgres::{PostgresConfig, PostgresStore, PurgeOptions, PurgeReport};
use tokio::task::JoinHandle;

use crate::config::{self, ServeConfig};

/// What a purge deletes besides what has expired, from the configuration: audit events past
/// `AUDIT_RETENTION_DAYS`, and throttle counters past the longest window of the throttle's
/// policies (`throttle_window`).
pub(crate) fn options(config: &ServeConfig, throttle_window: Duration) -> PurgeOptions {
    PurgeOptions {
        audit_retention: config.audit_retention,
        throttle_window: Some(throttle_window),
        ..PurgeOptions::default()
    }
}

/// Purges at once, then every `interval`, for as long as the task lives (abort it to stop: a
/// purge cut short releases its lock with its connection). Each instance tries; the one that
/// takes the lock purges and the others skip that round.
pub(crate) fn spawn(
    store: PostgresStore,
    interval: Duration,
    options: PurgeOptions,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match store.try_purge_expired(SystemTime::now(), &options).await {
                Ok(Some(report)) => log(&report),
                Ok(None) => tracing::debug!("another instance is purging; skipped this round"),
                Err(error) => tracing::warn!(
                    %error,
                    next_in_s = interval.as_secs(),
                    "purging expired rows failed; trying again at the next round"
                ),
            }
        }
    })
}

fn log(report: &PurgeReport) {
    let deleted = &report.deleted;
    tracing::info!(
        sessions = deleted.sessions,
        refresh_families = deleted.refresh_families,
        refresh_tokens = deleted.refresh_tokens,
        revoked_sessions = deleted.revoked_sessions,
        totp_steps = deleted.totp_steps,
        used_once = deleted.used_once,
        intents = deleted.intents,
        audit_events = deleted.audit_events,
        throttle_records = deleted.throttle_records,
        statements = report.statements,
        longest_statement_ms = report.longest_statement.as_secs_f64() * 1000.0,
        "purged expired rows"
    );
}

/// `auth-server purge`: one purge with the server's configuration (the same environment:
/// `DATABASE_URL`, `AUDIT_RETENTION_DAYS`, ...), under the lock the scheduled purges take.
/// Prints the report as JSON, or `{"skipped": ...}` when an instance is purging right then.
pub(crate) fn main() -> ExitCode {
    let config = match config::from_env(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(problems) => return crate::cli::invalid_configuration("purge", &problems),
    };
    match crate::cli::block_on("purge", run(&config)) {
        None => ExitCode::FAILURE,
        Some(Ok(answer)) => {
            println!("{answer}");
            ExitCode::SUCCESS
        }
        Some(Err(error)) => {
            eprintln!("purge: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: &ServeConfig) -> Result<serde_json::Value, auth_core::Error> {
    let Some(url) = &config.database_url else {
        return Err(auth_core::Error::Config(
            "DATABASE_URL (or DATABASE_URL_FILE) is needed: without it nothing is stored".into(),
        ));
    };
    let mut postgres = PostgresConfig::from_url(url.expose_secret());
    postgres
        .ca_file
        .clone_from(&config.store_tls.database_ca_file);
    let store = PostgresStore::connect(&postgres)?;
    let window = crate::serve::throttle_window(config)?;
    let outcome = store
        .try_purge_expired(SystemTime::now(), &options(config, window))
        .await?;
    store.close();
    Ok(match outcome {
        None => serde_json::json!({
            "skipped": "another instance holds the purge lock and is purging now"
        }),
        Some(report) => serde_json::json!({
            "deleted": report.deleted,
            "statements": report.statements,
            "longest_statement_ms": report.longest_statement.as_millis(),
        }),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// How many rows `table` of `schema` holds.
    async fn rows(admin: &tokio_postgres::Client, schema: &str, table: &str) -> i64 {
        admin
            .query_one(&format!("SELECT count(*) FROM {schema}.{table}"), &[])
            .await
            .unwrap()
            .get(0)
    }

    /// Waits (at most 10 s) until the scheduled purge has emptied `auth_used_once`.
    async fn purged(admin: &tokio_postgres::Client, schema: &str) {
        for _ in 0..200 {
            if rows(admin, schema, "auth_used_once").await == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the scheduled purge did not run within 10 s");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_schedule_purges_at_start_and_again_every_interval() {
        let Some(url) = auth_core::testing::needs::postgres_url() else {
            return;
        };
        let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let schema = format!("auth_schedule_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        let separator = if url.contains('?') { '&' } else { '?' };
        let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema}");
        let store = PostgresStore::connect(&PostgresConfig::from_url(scoped)).unwrap();
        store.migrate().await.unwrap();
        let plant = format!(
            "INSERT INTO {schema}.auth_used_once (id, used_until) \
             SELECT 'once-' || n || '-' || random(), now() - interval '1 minute' \
             FROM generate_series(1, 3) n"
        );

        admin.batch_execute(&plant).await.unwrap();
        let schedule = spawn(
            store.clone(),
            Duration::from_millis(200),
            PurgeOptions::default(),
        );
        purged(&admin, &schema).await;
        // Rows that expire later go at a later round.
        admin.batch_execute(&plant).await.unwrap();
        purged(&admin, &schema).await;

        schedule.abort();
        store.close();
        admin
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    }
}
