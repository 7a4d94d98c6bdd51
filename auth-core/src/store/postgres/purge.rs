//! Deleting what can no longer be used, in short statements, one instance at a time.
//!
//! Every table is worked through in batches: each statement deletes at most a batch of rows,
//! commits on its own, and skips rows that a request holds locked (they go at the next run), so
//! the purge never waits on a user and no user waits long on it. The batch size adapts: a
//! statement slower than [`PurgeOptions::statement_target`] halves the next one, a quick one
//! doubles it (up to [`PurgeOptions::batch_size`]).

use std::time::{Duration, Instant, SystemTime};

use deadpool_postgres::Object;
use deadpool_postgres::tokio_postgres::{self, types::ToSql};

use super::migrate::LOCK_CLASS;
use super::{PostgresStore, db_error, get, pg_time, to_u64, window_cutoff};
use crate::error::Result;

/// How [`PostgresStore::purge_expired_with`] works through the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeOptions {
    /// The most rows one statement deletes (default 1,000; refresh families count with their
    /// tokens' cascade as one row each).
    pub batch_size: u32,
    /// How long one statement should take at most (default 50 ms): a slower one halves the
    /// batch for the next.
    pub statement_target: Duration,
    /// Audit events older than this are deleted; `None` (the default) keeps every event.
    pub audit_retention: Option<Duration>,
    /// The longest window of the throttle policies: counters whose window ended are deleted.
    /// `None` (the default) leaves the throttle table alone.
    pub throttle_window: Option<Duration>,
}

impl Default for PurgeOptions {
    fn default() -> Self {
        Self {
            batch_size: 1_000,
            statement_target: Duration::from_millis(50),
            audit_retention: None,
            throttle_window: None,
        }
    }
}

/// What one purge deleted, table by table (serialised with these names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Deleted {
    /// Sessions past their idle or absolute expiry.
    pub sessions: u64,
    /// Refresh families past their absolute expiry, or revoked.
    pub refresh_families: u64,
    /// Refresh tokens: those of the deleted families, and unspent ones past their idle expiry.
    pub refresh_tokens: u64,
    /// Revoked session ids past their `until`.
    pub revoked_sessions: u64,
    /// TOTP replay-guard entries whose step can no longer verify.
    pub totp_steps: u64,
    /// Single-use ids past the time they are remembered for.
    pub used_once: u64,
    /// One-time intents past their expiry, used or not.
    pub intents: u64,
    /// Passkey ceremonies begun and never finished, past their expiry.
    pub passkey_ceremonies: u64,
    /// OAuth authorization codes a day past their expiry (kept that long so that a replay
    /// still ends what the code opened).
    pub oauth_codes: u64,
    /// Pushed authorization requests past their expiry, never used.
    pub oauth_pushed_requests: u64,
    /// Audit events older than the retention period.
    pub audit_events: u64,
    /// Throttle counters whose window ended.
    pub throttle_records: u64,
}

/// What [`PostgresStore::purge_expired_with`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// The rows deleted.
    pub deleted: Deleted,
    /// The statements it took.
    pub statements: u32,
    /// The longest of them: what a request that met one of its row locks waited at most.
    pub longest_statement: Duration,
}

/// First key of the advisory lock a purge holds; the second is a hash of the schema, as for
/// migrations, so schemas purge independently.
const PURGE_LOCK_CLASS: i32 = LOCK_CLASS + 1;

/// The batch size, adapted to how long statements take.
struct Pace {
    batch: u32,
    options: PurgeOptions,
    report: PurgeReport,
}

impl Pace {
    fn new(options: PurgeOptions) -> Self {
        Self {
            batch: options.batch_size.max(1),
            options,
            report: PurgeReport::default(),
        }
    }

    fn record(&mut self, took: Duration) {
        self.report.statements += 1;
        self.report.longest_statement = self.report.longest_statement.max(took);
        let target = self.options.statement_target;
        if took > target {
            self.batch = (self.batch / 2).max(1);
        } else if took < target / 4 {
            self.batch = self
                .batch
                .saturating_mul(2)
                .min(self.options.batch_size.max(1));
        }
    }
}

impl PostgresStore {
    /// Deletes what can no longer be used at `now`, with the default [`PurgeOptions`]. See
    /// [`purge_expired_with`](Self::purge_expired_with).
    pub async fn purge_expired(&self, now: SystemTime) -> Result<PurgeReport> {
        self.purge_expired_with(now, &PurgeOptions::default()).await
    }

    /// Deletes what can no longer be used at `now`: ended sessions, refresh families past
    /// their absolute expiry or revoked (with their tokens), unspent refresh tokens past their
    /// idle expiry, revoked session ids past their `until`, forgotten TOTP steps and single-use
    /// ids, expired one-time intents and passkey ceremonies, and, as `options` say, audit events past their retention and ended throttle
    /// windows. Spent tokens of live families stay, as they are what reuse detection
    /// recognises. In batches: each statement deletes at most a batch of rows, commits on its
    /// own and skips rows a request holds (they go at the next run); a statement slower than
    /// [`PurgeOptions::statement_target`] halves the next batch, a quick one doubles it up to
    /// [`PurgeOptions::batch_size`]. Several instances may run it at once without harm;
    /// [`try_purge_expired`](Self::try_purge_expired) lets one at a time.
    pub async fn purge_expired_with(
        &self,
        now: SystemTime,
        options: &PurgeOptions,
    ) -> Result<PurgeReport> {
        let client = self.client().await?;
        purge(&client, now, *options).await
    }

    /// [`purge_expired_with`](Self::purge_expired_with) under an advisory lock, so that of
    /// several instances calling it on a schedule one purges and the others find the lock
    /// taken and return `None` at once.
    pub async fn try_purge_expired(
        &self,
        now: SystemTime,
        options: &PurgeOptions,
    ) -> Result<Option<PurgeReport>> {
        // A connection of its own, closed when done: the session's advisory lock can never
        // return to the pool, even if this future is dropped midway.
        let client = Object::take(self.client().await?);
        let locked = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext(coalesce(current_schema(), ''))) AS locked",
                &[&PURGE_LOCK_CLASS],
            )
            .await
            .map_err(db_error)?;
        if !get::<bool>(&locked, "locked")? {
            return Ok(None);
        }
        let report = purge(&client, now, *options).await;
        let _unlocked = client.execute("SELECT pg_advisory_unlock_all()", &[]).await;
        report.map(Some)
    }
}

/// One pass over every table.
async fn purge(
    client: &tokio_postgres::Client,
    now: SystemTime,
    options: PurgeOptions,
) -> Result<PurgeReport> {
    let at = pg_time(now);
    let mut pace = Pace::new(options);
    let mut deleted = Deleted {
        sessions: batches(
            client,
            &mut pace,
            "auth_sessions",
            "LEAST(idle_expires_at, expires_at) <= $1",
            &at,
        )
        .await?,
        ..Deleted::default()
    };
    // Families first, their tokens by cascade: the order rotation locks them in, and a family
    // being rotated is skipped. The count reads the tokens as they were before the statement.
    loop {
        let started = Instant::now();
        let row = client
            .query_one(
                "WITH dead AS (DELETE FROM auth_refresh_families WHERE ctid = ANY(ARRAY( \
                 SELECT ctid FROM auth_refresh_families WHERE expires_at <= $1 OR revoked \
                 LIMIT $2 FOR UPDATE SKIP LOCKED)) RETURNING id) \
             SELECT (SELECT count(*) FROM dead) AS families, \
                    (SELECT count(*) FROM auth_refresh_tokens \
                     WHERE family_id IN (SELECT id FROM dead)) AS tokens",
                &[&at, &i64::from(pace.batch)],
            )
            .await
            .map_err(db_error)?;
        let batch = pace.batch;
        pace.record(started.elapsed());
        let families = to_u64(get(&row, "families")?, "count")?;
        deleted.refresh_families += families;
        deleted.refresh_tokens += to_u64(get(&row, "tokens")?, "count")?;
        if families < u64::from(batch) {
            break;
        }
    }
    deleted.refresh_tokens += batches(
        client,
        &mut pace,
        "auth_refresh_tokens",
        "spent_at IS NULL AND idle_expires_at <= $1",
        &at,
    )
    .await?;
    deleted.revoked_sessions = batches(
        client,
        &mut pace,
        "auth_revoked_sessions",
        "revoked_until <= $1",
        &at,
    )
    .await?;
    deleted.totp_steps = batches(
        client,
        &mut pace,
        "auth_totp_replay",
        "forget_at <= $1",
        &at,
    )
    .await?;
    deleted.used_once =
        batches(client, &mut pace, "auth_used_once", "used_until <= $1", &at).await?;
    deleted.intents = batches(client, &mut pace, "auth_intents", "expires_at <= $1", &at).await?;
    deleted.passkey_ceremonies = batches(
        client,
        &mut pace,
        "auth_passkey_ceremonies",
        "expires_at <= $1",
        &at,
    )
    .await?;
    if let Some(cutoff) = now.checked_sub(Duration::from_secs(24 * 3600)) {
        let cutoff = pg_time(cutoff);
        deleted.oauth_codes = batches(
            client,
            &mut pace,
            "auth_oauth_codes",
            "expires_at <= $1",
            &cutoff,
        )
        .await?;
    }
    deleted.oauth_pushed_requests = batches(
        client,
        &mut pace,
        "auth_oauth_pushed_requests",
        "expires_at <= $1",
        &at,
    )
    .await?;
    if let Some(cutoff) = options
        .audit_retention
        .and_then(|retention| now.checked_sub(retention))
    {
        let cutoff = pg_time(cutoff);
        deleted.audit_events =
            batches(client, &mut pace, "auth_audit_events", "at < $1", &cutoff).await?;
    }
    if let Some(cutoff) = options
        .throttle_window
        .and_then(|window| window_cutoff(now, window))
    {
        deleted.throttle_records = batches(
            client,
            &mut pace,
            "auth_throttle",
            "window_started_at <= $1",
            &cutoff,
        )
        .await?;
    }
    Ok(PurgeReport {
        deleted,
        ..pace.report
    })
}

/// Deletes the rows of `table` matching `condition` (on `$1`, `cutoff`), a batch per
/// statement, until a statement finds fewer than a batch; how many it deleted.
async fn batches(
    client: &tokio_postgres::Client,
    pace: &mut Pace,
    table: &str,
    condition: &str,
    cutoff: &(dyn ToSql + Sync),
) -> Result<u64> {
    let sql = format!(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY( \
             SELECT ctid FROM {table} WHERE {condition} LIMIT $2 FOR UPDATE SKIP LOCKED))"
    );
    let mut total = 0;
    loop {
        let batch = pace.batch;
        let started = Instant::now();
        let deleted = client
            .execute(&sql, &[cutoff, &i64::from(batch)])
            .await
            .map_err(db_error)?;
        pace.record(started.elapsed());
        total += deleted;
        if deleted < u64::from(batch) {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_statement_halves_the_batch_and_a_quick_one_doubles_it_within_bounds() {
        let ms = Duration::from_millis;
        let mut pace = Pace::new(PurgeOptions {
            batch_size: 64,
            ..PurgeOptions::default()
        });
        let mut sizes = Vec::new();
        for took in [
            60, 60, 20, 5, 5, 5, 5, 400, 400, 400, 400, 400, 400, 400, 400,
        ] {
            pace.record(ms(took));
            sizes.push(pace.batch);
        }
        assert_eq!(
            sizes,
            [32, 16, 16, 32, 64, 64, 64, 32, 16, 8, 4, 2, 1, 1, 1],
            "over 50 ms halves, under 12.5 ms doubles, in between keeps"
        );
        assert_eq!(pace.report.statements, 15);
        assert_eq!(pace.report.longest_statement, ms(400));
        assert_eq!(
            Pace::new(PurgeOptions {
                batch_size: 0,
                ..PurgeOptions::default()
            })
            .batch,
            1,
            "a batch of nothing would never finish"
        );
    }
}
