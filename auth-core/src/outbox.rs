//! A durable outbox: messages a state change must produce (a mail, later an event), stored with
//! it and delivered afterwards, at least once, to each of their sinks.
//!
//! A message is enqueued once, with the sinks it goes to (`mail`, later `nats`, ...); each sink
//! has its own delivery: its attempts, when it may be tried next, and whether it is done. A
//! worker claims the deliveries that are due for its sink for a lease; one that crashes before
//! it reports lets the lease run out, and the delivery is claimed again. So a message may go
//! out twice, never not at all: receivers tell repeats apart by [`MessageId`] (a mail's
//! `Message-ID`). A failure is tried again after [`retry_delay`]: exponential, capped, with
//! jitter so that a recovering server is not met by every retry at once.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use rand::Rng;

use crate::clock::Clock;
use crate::error::Result;
use crate::store::OutboxStore;

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

/// Why a delivery did not go out this time: it is tried again after [`retry_delay`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError(pub String);

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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

/// How a worker works through a sink's deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Deliveries claimed per round (default 20).
    pub batch: usize,
    /// How long a claim holds a delivery (default 5 minutes): a worker that dies leaves it to
    /// be claimed again after this.
    pub lease: Duration,
    /// The first retry's delay (default 2 s), doubled per failure...
    pub retry_base: Duration,
    /// ...up to this (default 15 minutes).
    pub retry_max: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch: 20,
            lease: Duration::from_secs(300),
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(900),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Deliveries the sink took.
    pub delivered: usize,
    /// Deliveries that failed and wait for their retry.
    pub failed: usize,
}

/// One round for `sink`: claims what is due at the clock's time, delivers each, and reports
/// each as delivered or failed (due again after [`retry_delay`] for its attempt count).
/// Store failures end the round early with the error; what was claimed and not reported is
/// claimed again once its lease runs out.
pub async fn deliver_round(
    store: &dyn OutboxStore,
    sink: &dyn Sink,
    clock: &dyn Clock,
    config: &WorkerConfig,
) -> Result<Round> {
    let claimed = store
        .claim_deliveries(sink.name(), clock.now(), config.lease, config.batch)
        .await?;
    let mut round = Round::default();
    for delivery in claimed {
        match sink.deliver(&delivery).await {
            Ok(()) => {
                store
                    .delivered(&delivery.message.id, sink.name(), clock.now())
                    .await?;
                round.delivered += 1;
            }
            Err(error) => {
                let delay = retry_delay(delivery.attempts, config.retry_base, config.retry_max);
                tracing::warn!(
                    message = %delivery.message.id,
                    kind = %delivery.message.kind,
                    sink = sink.name(),
                    attempts = delivery.attempts,
                    retry_in_s = delay.as_secs(),
                    %error,
                    "a delivery failed; it is tried again later"
                );
                store
                    .failed(
                        &delivery.message.id,
                        sink.name(),
                        clock.now() + delay,
                        &error.0,
                    )
                    .await?;
                round.failed += 1;
            }
        }
    }
    Ok(round)
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

#[cfg(all(test, feature = "memory"))]
mod worker_tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use super::*;
    use crate::clock::ManualClock;
    use crate::store::memory::MemoryStore;

    /// A sink of the test's own: fails its first `failures` deliveries, then records what it
    /// took.
    #[derive(Debug, Default)]
    struct Recording {
        failures: Mutex<usize>,
        taken: Mutex<Vec<(MessageId, u32)>>,
    }

    #[async_trait]
    impl Sink for Recording {
        fn name(&self) -> &str {
            "mail"
        }

        async fn deliver(&self, delivery: &Delivery) -> std::result::Result<(), DeliveryError> {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(DeliveryError("connection refused".into()));
            }
            self.taken
                .lock()
                .unwrap()
                .push((delivery.message.id, delivery.attempts));
            Ok(())
        }
    }

    fn message(clock: &ManualClock) -> OutboxMessage {
        OutboxMessage {
            id: MessageId::new(),
            kind: "mail.test".into(),
            payload: serde_json::json!({"to": "ada@example.com"}),
            sinks: vec!["mail".into()],
            created_at: clock.now(),
        }
    }

    #[tokio::test]
    async fn a_failed_delivery_is_retried_after_its_backoff_and_then_taken_once() {
        let store = MemoryStore::new();
        let clock = ManualClock::at_unix(crate::testing::NOW);
        let sink = Recording {
            failures: Mutex::new(2),
            ..Recording::default()
        };
        let config = WorkerConfig::default();
        let sent = message(&clock);
        store.enqueue(sent.clone()).await.unwrap();

        let round = deliver_round(&store, &sink, &clock, &config).await.unwrap();
        assert_eq!(
            round,
            Round {
                delivered: 0,
                failed: 1
            }
        );
        // Not before the first retry's earliest time (half of 2 s), due by its latest (2 s).
        clock.advance(Duration::from_millis(999));
        assert_eq!(
            deliver_round(&store, &sink, &clock, &config).await.unwrap(),
            Round::default()
        );
        clock.advance(Duration::from_millis(1001));
        assert_eq!(
            deliver_round(&store, &sink, &clock, &config).await.unwrap(),
            Round {
                delivered: 0,
                failed: 1
            }
        );
        clock.advance(Duration::from_secs(4));
        assert_eq!(
            deliver_round(&store, &sink, &clock, &config).await.unwrap(),
            Round {
                delivered: 1,
                failed: 0
            }
        );
        assert_eq!(*sink.taken.lock().unwrap(), vec![(sent.id, 3)]);
        clock.advance(Duration::from_secs(3600));
        assert_eq!(
            deliver_round(&store, &sink, &clock, &config).await.unwrap(),
            Round::default()
        );
        assert_eq!(store.backlog("mail").await.unwrap(), Backlog::default());
    }

    #[tokio::test]
    async fn a_worker_that_died_mid_send_leaves_the_delivery_to_the_next_after_the_lease() {
        let store = MemoryStore::new();
        let clock = ManualClock::at_unix(crate::testing::NOW);
        let sink = Recording::default();
        let config = WorkerConfig::default();
        let sent = message(&clock);
        store.enqueue(sent.clone()).await.unwrap();
        // A worker claims it and is gone before it reports.
        let lost = store
            .claim_deliveries("mail", clock.now(), config.lease, 10)
            .await
            .unwrap();
        assert_eq!(lost.len(), 1);
        assert_eq!(
            deliver_round(&store, &sink, &clock, &config).await.unwrap(),
            Round::default()
        );
        clock.advance(config.lease);
        assert_eq!(
            deliver_round(&store, &sink, &clock, &config).await.unwrap(),
            Round {
                delivered: 1,
                failed: 0
            }
        );
        assert_eq!(*sink.taken.lock().unwrap(), vec![(sent.id, 2)]);
        let backlog = store.backlog("mail").await.unwrap();
        assert_eq!(backlog.pending, 0);
    }
}
