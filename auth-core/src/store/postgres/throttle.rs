//! [`ThrottleStore`]: table `auth_throttle`, one row per key; an attempt is counted by one
//! upsert.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use deadpool_postgres::tokio_postgres::Row;

use super::{PostgresStore, execute, get, pg_time, query_one, query_opt, window_cutoff};
use crate::error::Result;
use crate::store::{ThrottleRecord, ThrottleStore};

/// The condition of an open window: it started after the cutoff (now - window; NULL when that
/// reaches back before any stored time). Parameter `$3` is the cutoff.
macro_rules! open {
    () => {
        "($3::timestamptz IS NULL OR t.window_started_at > $3)"
    };
}

/// An upsert counting an attempt: `$1` the key, `$2` now, `$3` the cutoff; a closed or missing
/// window starts afresh at `now` with one attempt. The arguments say what happens to the
/// count and the last failure in an open window.
macro_rules! count_attempt {
    ($failures:literal, $last_failure:literal) => {
        concat!(
            "INSERT INTO auth_throttle AS t (key, failures, window_started_at, last_failure_at) \
             VALUES ($1, 1, $2, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN ",
            open!(),
            " THEN ",
            $failures,
            " ELSE 1 END, \
               window_started_at = CASE WHEN ",
            open!(),
            " THEN t.window_started_at ELSE $2 END, \
               last_failure_at = CASE WHEN ",
            open!(),
            " THEN ",
            $last_failure,
            " ELSE $2 END \
             RETURNING failures, window_started_at, last_failure_at"
        )
    };
}

/// One more attempt; the row lock orders concurrent ones, each returning its own count.
const RESERVE: &str = count_attempt!("LEAST(t.failures + 1, 4294967295)", "t.last_failure_at");

/// A reserved attempt failed: the count stays (at least one), the last failure moves to now.
const CONFIRM_FAILURE: &str =
    count_attempt!("GREATEST(t.failures, 1)", "GREATEST(t.last_failure_at, $2)");

impl PostgresStore {
    async fn count_attempt(
        &self,
        sql: &str,
        key: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<ThrottleRecord> {
        let client = self.client().await?;
        let row = query_one(
            &client,
            sql,
            &[&key, &pg_time(now), &window_cutoff(now, window)],
        )
        .await?;
        throttle_record(&row)
    }
}

#[async_trait]
impl ThrottleStore for PostgresStore {
    async fn reserve_attempt(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<ThrottleRecord> {
        self.count_attempt(RESERVE, key, now, window).await
    }

    async fn release_attempt(&self, key: &str) -> Result<()> {
        let client = self.client().await?;
        execute(
            &client,
            "UPDATE auth_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0",
            &[&key],
        )
        .await?;
        Ok(())
    }

    async fn confirm_failure(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<ThrottleRecord> {
        self.count_attempt(CONFIRM_FAILURE, key, now, window).await
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
