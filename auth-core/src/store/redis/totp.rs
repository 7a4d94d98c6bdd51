//! [`TotpReplayGuard`] on Redis: one string per user holding the last accepted step.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::{RedisStore, millis_of};
use crate::error::Result;
use crate::id::UserId;
use crate::store::TotpReplayGuard;

#[async_trait]
impl TotpReplayGuard for RedisStore {
    async fn accept_step(
        &self,
        user: &UserId,
        step: u64,
        _now: SystemTime,
        forget_after: Duration,
    ) -> Result<bool> {
        // Steps are compared as Lua numbers: exact up to 2^53, far beyond any real step.
        let ttl = millis_of(forget_after).max(1);
        let accepted: i64 = self
            .run(
                "totp step",
                self.inner.scripts.totp_step.evalsha_with_reload(
                    self.client(),
                    self.totp_step_key(user),
                    vec![step.to_string(), ttl.to_string()],
                ),
            )
            .await?;
        Ok(accepted == 1)
    }
}
