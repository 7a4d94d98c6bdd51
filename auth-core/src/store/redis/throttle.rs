//! [`ThrottleStore`] on Redis: one hash per counter, each change one script.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use fred::prelude::{HashesInterface, KeysInterface};

use super::{CLOCK_SKEW_SLACK, RedisStore, decode_time, encode_time, malformed, millis_of};
use crate::error::Result;
use crate::store::{ThrottleRecord, ThrottleStore};

/// The record from its stored fields (failures, window start, last failure); `None` if absent.
fn parse_record(fields: Vec<Option<String>>) -> Result<Option<ThrottleRecord>> {
    if fields.iter().all(Option::is_none) {
        return Ok(None);
    }
    let [Some(failures), Some(started), Some(last)]: [Option<String>; 3] =
        fields.try_into().map_err(|_| malformed("throttle"))?
    else {
        return Err(malformed("throttle"));
    };
    Ok(Some(ThrottleRecord {
        failures: failures.parse().map_err(|_| malformed("throttle"))?,
        window_started_at: decode_time(&started).ok_or_else(|| malformed("throttle"))?,
        last_failure_at: decode_time(&last).ok_or_else(|| malformed("throttle"))?,
    }))
}

/// What the counting script does to an attempt.
#[derive(Clone, Copy)]
enum Count {
    /// Counts one more, before its check, beyond this many free ones.
    Reserve { free: u32 },
    /// Marks a reserved one failed.
    Fail,
}

impl RedisStore {
    /// Runs the counting script on `key`.
    async fn count_attempt(
        &self,
        count: Count,
        key: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<ThrottleRecord> {
        // The script compares `now - window < window_started`, exactly; before the epoch,
        // every window is open.
        let threshold = now
            .checked_sub(window)
            .filter(|t| *t >= UNIX_EPOCH)
            .map(encode_time)
            .unwrap_or_default();
        let fields: Vec<Option<String>> = self
            .run(
                match count {
                    Count::Reserve { .. } => "reserve attempt",
                    Count::Fail => "confirm failure",
                },
                self.inner.scripts.count_attempt.evalsha_with_reload(
                    self.client(),
                    self.throttle_key(key),
                    vec![
                        encode_time(now),
                        threshold,
                        millis_of(window).to_string(),
                        millis_of(CLOCK_SKEW_SLACK).to_string(),
                        match count {
                            Count::Reserve { .. } => "reserve",
                            Count::Fail => "fail",
                        }
                        .to_owned(),
                        match count {
                            Count::Reserve { free } => free.to_string(),
                            Count::Fail => "0".to_owned(),
                        },
                    ],
                ),
            )
            .await?;
        parse_record(fields)?.ok_or_else(|| malformed("throttle"))
    }
}

#[async_trait]
impl ThrottleStore for RedisStore {
    async fn reserve_attempt(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
        free: u32,
    ) -> Result<ThrottleRecord> {
        self.count_attempt(Count::Reserve { free }, key, now, window)
            .await
    }

    async fn release_attempt(&self, key: &str) -> Result<()> {
        let _: i64 = self
            .run(
                "release attempt",
                self.inner.scripts.release_attempt.evalsha_with_reload(
                    self.client(),
                    self.throttle_key(key),
                    Vec::<String>::new(),
                ),
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
        self.count_attempt(Count::Fail, key, now, window).await
    }

    async fn throttle_record(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<Option<ThrottleRecord>> {
        let fields: Vec<Option<String>> = self
            .run(
                "throttle record",
                self.client().hmget(
                    self.throttle_key(key),
                    vec!["failures", "window_started", "last_failure"],
                ),
            )
            .await?;
        Ok(parse_record(fields)?.filter(|r| r.window_open(now, window)))
    }

    async fn clear_failures(&self, key: &str) -> Result<()> {
        self.run(
            "clear failures",
            self.client().del::<i64, _>(self.throttle_key(key)),
        )
        .await?;
        Ok(())
    }
}
