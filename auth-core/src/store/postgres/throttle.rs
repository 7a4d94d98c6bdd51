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

/// One more attempt, its row locked first so the last failure from before it can be
/// returned: `$1` the key, `$2` now, `$3` the cutoff, `$4` the free attempts. The locking
/// read is materialised and joined into the insert's source, so it runs before the row
/// changes (read later, in `RETURNING`, it would find the row changed by this very statement
/// and skip it). A closed or
/// missing window starts afresh at `now` with one attempt; an attempt with more than `$4`
/// counted before it moves the last failure to now.
const RESERVE: &str = concat!(
    "WITH previous AS MATERIALIZED \
       (SELECT last_failure_at FROM auth_throttle WHERE key = $1 FOR UPDATE) \
     INSERT INTO auth_throttle AS t (key, failures, window_started_at, last_failure_at) \
     SELECT $1, 1, $2, $2 FROM (VALUES (1)) AS one LEFT JOIN previous ON true \
     ON CONFLICT (key) DO UPDATE SET \
       failures = CASE WHEN ",
    open!(),
    " THEN LEAST(t.failures + 1, 4294967295) ELSE 1 END, \
       window_started_at = CASE WHEN ",
    open!(),
    " THEN t.window_started_at ELSE $2 END, \
       last_failure_at = CASE WHEN ",
    open!(),
    " THEN CASE WHEN t.failures > $4 THEN GREATEST(t.last_failure_at, $2) \
                ELSE t.last_failure_at END \
           ELSE $2 END \
     RETURNING failures, window_started_at, \
       CASE WHEN failures = 1 THEN last_failure_at \
            ELSE COALESCE((SELECT last_failure_at FROM previous), window_started_at) \
       END AS last_failure_at"
);

/// A reserved attempt failed: `$1` the key, `$2` now, `$3` the cutoff. The count stays (at
/// least one), the last failure moves to now; a closed or missing window starts afresh.
const CONFIRM_FAILURE: &str = concat!(
    "INSERT INTO auth_throttle AS t (key, failures, window_started_at, last_failure_at) \
     VALUES ($1, 1, $2, $2) \
     ON CONFLICT (key) DO UPDATE SET \
       failures = CASE WHEN ",
    open!(),
    " THEN GREATEST(t.failures, 1) ELSE 1 END, \
       window_started_at = CASE WHEN ",
    open!(),
    " THEN t.window_started_at ELSE $2 END, \
       last_failure_at = CASE WHEN ",
    open!(),
    " THEN GREATEST(t.last_failure_at, $2) ELSE $2 END \
     RETURNING failures, window_started_at, last_failure_at"
);

impl PostgresStore {
    async fn count_attempt(
        &self,
        sql: &str,
        key: &str,
        now: SystemTime,
        window: Duration,
        free: Option<u32>,
    ) -> Result<ThrottleRecord> {
        let client = self.client().await?;
        let (now, cutoff) = (pg_time(now), window_cutoff(now, window));
        let free = free.map(i64::from);
        let row = match &free {
            Some(free) => query_one(&client, sql, &[&key, &now, &cutoff, free]).await?,
            None => query_one(&client, sql, &[&key, &now, &cutoff]).await?,
        };
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
        free: u32,
    ) -> Result<ThrottleRecord> {
        self.count_attempt(RESERVE, key, now, window, Some(free))
            .await
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
        self.count_attempt(CONFIRM_FAILURE, key, now, window, None)
            .await
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
