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
        Some(report) => {
            let deleted = report.deleted;
            serde_json::json!({
                "deleted": {
                    "sessions": deleted.sessions,
                    "refresh_families": deleted.refresh_families,
                    "refresh_tokens": deleted.refresh_tokens,
                    "revoked_sessions": deleted.revoked_sessions,
                    "totp_steps": deleted.totp_steps,
                    "used_once": deleted.used_once,
                    "audit_events": deleted.audit_events,
                    "throttle_records": deleted.throttle_records,
                },
                "statements": report.statements,
                "longest_statement_ms": report.longest_statement.as_millis(),
            })
        }
    })
}
