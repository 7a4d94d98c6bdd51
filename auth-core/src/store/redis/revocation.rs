//! [`RevocationStore`] on Redis: one string per revoked session id, holding the deadline, and
//! one per used single-use id.

use std::time::SystemTime;

use async_trait::async_trait;
use fred::prelude::KeysInterface;

use super::{
    CLOCK_SKEW_SLACK, RedisStore, decode_time, encode_time, malformed, millis_of, ttl_millis,
};
use crate::error::Result;
use crate::id::SessionId;
use crate::store::RevocationStore;

#[async_trait]
impl RevocationStore for RedisStore {
    async fn revoke_sid(&self, id: &SessionId, now: SystemTime, until: SystemTime) -> Result<()> {
        // The key's lifetime (not the answer) gets slack for clocks of other processes running
        // behind this one's.
        let ttl = ttl_millis(now, until).saturating_add(millis_of(CLOCK_SKEW_SLACK));
        let _: i64 = self
            .run(
                "revoke sid",
                self.inner.scripts.revoke_sid.evalsha_with_reload(
                    self.client(),
                    self.revoked_key(id),
                    vec![encode_time(until), ttl.to_string()],
                ),
            )
            .await?;
        Ok(())
    }

    async fn is_sid_revoked(&self, id: &SessionId, now: SystemTime) -> Result<bool> {
        let until: Option<String> = self
            .run("revocation", self.client().get(self.revoked_key(id)))
            .await?;
        match until {
            None => Ok(false),
            Some(until) => {
                let until = decode_time(&until).ok_or_else(|| malformed("revocation"))?;
                Ok(now < until)
            }
        }
    }

    async fn use_once(&self, id: &str, now: SystemTime, until: SystemTime) -> Result<bool> {
        // Remembered for as long as the id is good, plus slack for clocks running behind.
        let ttl = ttl_millis(now, until).saturating_add(millis_of(CLOCK_SKEW_SLACK));
        let first: i64 = self
            .run(
                "use once",
                self.inner.scripts.use_once.evalsha_with_reload(
                    self.client(),
                    self.used_once_key(id),
                    vec![encode_time(now), encode_time(until), ttl.to_string()],
                ),
            )
            .await?;
        Ok(first == 1)
    }
}
