//! The outbox worker's round: what is due for a sink, delivered and reported.

use std::time::Duration;

use crate::clock::Clock;
use crate::error::Result;
use crate::outbox::{Delivery, Sink, retry_delay};
use crate::store::OutboxStore;

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
    deliver_round_reporting(store, sink, clock, config, &|_, _| {}).await
}

/// [`deliver_round`], telling `report` each delivery tried and whether the sink took it
/// (metrics by message kind, for example).
pub async fn deliver_round_reporting(
    store: &dyn OutboxStore,
    sink: &dyn Sink,
    clock: &dyn Clock,
    config: &WorkerConfig,
    report: &(dyn Fn(&Delivery, bool) + Sync),
) -> Result<Round> {
    let claimed = store
        .claim_deliveries(sink.name(), clock.now(), config.lease, config.batch)
        .await?;
    let mut round = Round::default();
    for delivery in claimed {
        let outcome = sink.deliver(&delivery).await;
        report(&delivery, outcome.is_ok());
        match outcome {
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

#[cfg(all(test, feature = "memory"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use super::*;
    use async_trait::async_trait;

    use crate::clock::ManualClock;
    use crate::outbox::{Backlog, Delivery, DeliveryError, MessageId, OutboxMessage, Sink};
    use crate::store::OutboxStore;
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
