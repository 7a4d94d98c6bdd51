//! [`TotpReplayGuard`]: table `auth_totp_replay`, one row per user with the last accepted step.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::{PostgresStore, pg_time, query_opt, to_i64};
use crate::error::Result;
use crate::id::UserId;
use crate::store::TotpReplayGuard;

#[async_trait]
impl TotpReplayGuard for PostgresStore {
    async fn accept_step(
        &self,
        user: &UserId,
        step: u64,
        now: SystemTime,
        forget_after: Duration,
    ) -> Result<bool> {
        let client = self.client().await?;
        let forget_at = now.checked_add(forget_after).unwrap_or(now);
        // One statement: a new row, or an update only when the remembered step is older or
        // forgotten. Concurrent callers serialise on the row; exactly one sees RETURNING.
        let accepted = query_opt(
            &client,
            "INSERT INTO auth_totp_replay AS r (user_id, step, forget_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET step = EXCLUDED.step, forget_at = EXCLUDED.forget_at \
             WHERE r.step < EXCLUDED.step OR r.forget_at <= $4 \
             RETURNING user_id",
            &[
                &user.as_uuid(),
                &to_i64(step, "TOTP step")?,
                &pg_time(forget_at),
                &pg_time(now),
            ],
        )
        .await?;
        Ok(accepted.is_some())
    }
}
