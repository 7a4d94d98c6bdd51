//! A durable outbox: messages a state change must produce (a mail, later an event), stored with
//! it and delivered afterwards, at least once, to each of their sinks.
//!
//! A message is enqueued once, with the sinks it goes to (`mail`, later `nats`, ...); each sink
//! has its own delivery: its attempts, when it may be tried next, and whether it is done. A
//! worker claims the deliveries that are due for its sink for a lease; one that crashes before
//! it reports lets the lease run out, and the delivery is claimed again. So a message may go
//! out twice, never not at all: receivers tell repeats apart by [`MessageId`] (a mail's
//! `Message-ID`). A failure is tried again after [`retry_delay`]: exponential, capped, with
//! jitter so that a recovering server is not met by every retry at once. The worker's round
//! over the store is [`crate::flows::deliver_round`].

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use rand::Rng;

pub use crate::id::MessageId;

/// A message to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Its stable id.
    pub id: MessageId,
    /// What it is, for the sinks and the metrics (`mail.verify_email`, ...).
    pub kind: String,
    /// What the sinks need to send it (JSON).
    pub payload: serde_json::Value,
    /// Where it goes; one delivery each.
    pub sinks: Vec<String>,
    /// When it was enqueued: its deliveries are due from then.
    pub created_at: SystemTime,
}

/// One message on its way to one sink, as a worker claimed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The message.
    pub message: OutboxMessage,
    /// The sink it is claimed for.
    pub sink: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// How much is waiting for a sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Deliveries not done yet.
    pub pending: u64,
    /// When the oldest of them was enqueued.
    pub oldest: Option<SystemTime>,
}

/// How long to wait before attempt `attempts + 1` after `attempts` failed ones: `base` doubled
/// per failure up to `max`, then a random point in the upper half of that ("equal jitter"), so
/// retries spread out but never come much sooner than the backoff says.
pub fn retry_delay(attempts: u32, base: Duration, max: Duration) -> Duration {
    let doublings = attempts.saturating_sub(1).min(31);
    let backoff = base.saturating_mul(1 << doublings).min(max);
    let half = backoff / 2;
    let span = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    half + Duration::from_millis(rand::rngs::OsRng.gen_range(0..=span))
}

/// Why a delivery did not go out: a transient failure is tried again after [`retry_delay`]; a
/// permanent one (the receiver refuses it for good, or it cannot be built) is given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    /// What went wrong, for the log (never the payload).
    pub message: String,
    /// Whether trying again cannot help.
    pub permanent: bool,
}

impl DeliveryError {
    /// A failure that may pass (a receiver down, a timeout).
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    /// A failure that trying again cannot fix (a mailbox that does not exist, a payload that
    /// is not a message).
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where deliveries go: a mail server, later a broker.
#[async_trait]
pub trait Sink: Send + Sync + fmt::Debug {
    /// The sink's name, as messages list it (`mail`).
    fn name(&self) -> &str;

    /// Sends one delivery. It may have been sent before (a worker that died before it could
    /// report): the message id lets the receiver drop the repeat.
    async fn deliver(&self, delivery: &Delivery) -> std::result::Result<(), DeliveryError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_within_their_jitter_and_cap() {
        let (base, max) = (Duration::from_secs(2), Duration::from_secs(300));
        for (attempts, backoff) in [(1, 2), (2, 4), (3, 8), (6, 64), (9, 300), (40, 300)] {
            let backoff = Duration::from_secs(backoff);
            for _ in 0..50 {
                let delay = retry_delay(attempts, base, max);
                assert!(
                    delay >= backoff / 2 && delay <= backoff,
                    "attempt {attempts}: {delay:?} outside {:?}..={backoff:?}",
                    backoff / 2
                );
            }
        }
        let spread: std::collections::HashSet<Duration> =
            (0..50).map(|_| retry_delay(6, base, max)).collect();
        assert!(spread.len() > 1, "jitter spreads the retries");
    }
}
