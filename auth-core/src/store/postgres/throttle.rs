//! [`ThrottleStore`]: table `auth_throttle`, one row per key, counted by one upsert.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;

use super::{PostgresStore, execute, get, pg_time, query_one, query_opt, window_cutoff};
use crate::error::Result;
use crate::store::{ThrottleRecord, ThrottleStore};

#[async_trait]
impl ThrottleStore for PostgresStore {
    async fn record_failure(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<ThrottleRecord> {
        let client = self.client().await?;
        // The window is open while it started after the cutoff (now - window; NULL when that
        // reaches back before any stored time). A closed window starts afresh at `now`.
        let row = query_one(
            &client,
            "INSERT INTO auth_throttle AS t (key, failures, window_started_at, last_failure_at) \
             VALUES ($1, 1, $2, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN $3::timestamptz IS NULL OR t.window_started_at > $3 \
                               THEN LEAST(t.failures + 1, 4294967295) ELSE 1 END, \
               window_started_at = CASE WHEN $3::timestamptz IS NULL OR t.window_started_at > $3 \
                                        THEN t.window_started_at ELSE $2 END, \
               last_failure_at = CASE WHEN $3::timestamptz IS NULL OR t.window_started_at > $3 \
                                      THEN GREATEST(t.last_failure_at, $2) ELSE $2 END \
             RETURNING failures, window_started_at, last_failure_at",
            &[&key, &pg_time(now), &window_cutoff(now, window)],
        )
        .await?;
        throttle_record(&row)
    }

    async fn throttle_record(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<Option<ThrottleRecord>> {
        let client = self.client().await?;
        query_opt(
            &client,
            "SELECT failures, window_started_at, last_failure_at FROM auth_throttle \
             WHERE key = $1 AND ($2::timestamptz IS NULL OR window_started_at > $2)",
            &[&key, &window_cutoff(now, window)],
        )
        .await?
        .map(|row| throttle_record(&row))
        .transpose()
    }

    async fn clear_failures(&self, key: &str) -> Result<()> {
        let client = self.client().await?;
        execute(&client, "DELETE FROM auth_throttle WHERE key = $1", &[&key]).await?;
        Ok(())
    }
}

fn throttle_record(row: &Row) -> Result<ThrottleRecord> {
    let failures: i64 = get(row, "failures")?;
    Ok(ThrottleRecord {
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        window_started_at: get(row, "window_started_at")?,
        last_failure_at: get(row, "last_failure_at")?,
    })
}
