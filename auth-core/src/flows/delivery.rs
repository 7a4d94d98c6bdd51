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
    /// A message that failed and is older than this is given up (default 72 hours: the
    /// longest a mailed link lives, the undo of a change of address).
    pub give_up_after: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch: 20,
            lease: Duration::from_secs(300),
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(900),
            give_up_after: Duration::from_secs(72 * 3600),
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
    /// Deliveries given up: refused for good, or failed past [`WorkerConfig::give_up_after`].
    pub given_up: usize,
}

/// What became of one delivery in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The sink took it.
    Sent,
    /// It failed and is tried again later.
    Failed,
    /// It failed for good, or too long: never tried again.
    GivenUp,
}

impl Outcome {
    /// `sent`, `failed` or `given_up`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Failed => "failed",
            Outcome::GivenUp => "given_up",
        }
    }
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

/// [`deliver_round`], telling `report` what became of each delivery tried (metrics by message
/// kind, for example).
pub async fn deliver_round_reporting(
    store: &dyn OutboxStore,
    sink: &dyn Sink,
    clock: &dyn Clock,
    config: &WorkerConfig,
    report: &(dyn Fn(&Delivery, Outcome) + Sync),
) -> Result<Round> {
    let claimed = store
        .claim_deliveries(sink.name(), clock.now(), config.lease, config.batch)
        .await?;
    let mut round = Round::default();
    for delivery in claimed {
        let outcome = sink.deliver(&delivery).await;
        let age = clock
            .now()
            .duration_since(delivery.message.created_at)
            .unwrap_or_default();
        match outcome {
            Ok(()) => {
                store
                    .delivered(&delivery.message.id, sink.name(), clock.now())
                    .await?;
                round.delivered += 1;
                report(&delivery, Outcome::Sent);
            }
            Err(error) if error.permanent || age >= config.give_up_after => {
                tracing::error!(
                    message = %delivery.message.id,
                    kind = %delivery.message.kind,
                    sink = sink.name(),
                    attempts = delivery.attempts,
                    age_s = age.as_secs(),
                    permanent = error.permanent,
                    %error,
                    "a delivery is given up: refused for good, or failing for too long"
                );
                // Done with, as a delivered one: never claimed again.
                store
                    .delivered(&delivery.message.id, sink.name(), clock.now())
                    .await?;
                round.given_up += 1;
                report(&delivery, Outcome::GivenUp);
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
                        &error.message,
                    )
                    .await?;
                round.failed += 1;
                report(&delivery, Outcome::Failed);
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
                return Err(DeliveryError::transient("connection refused"));
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
                failed: 1,
                given_up: 0,
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
                failed: 1,
                given_up: 0,
            }
        );
        clock.advance(Duration::from_secs(4));
        assert_eq!(
            deliver_round(&store, &sink, &clock, &config).await.unwrap(),
            Round {
                delivered: 1,
                failed: 0,
                given_up: 0,
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
                failed: 0,
                given_up: 0,
            }
        );
        assert_eq!(*sink.taken.lock().unwrap(), vec![(sent.id, 2)]);
        let backlog = store.backlog("mail").await.unwrap();
        assert_eq!(backlog.pending, 0);
    }

    /// A sink that refuses everything, for good or for now.
    #[derive(Debug)]
    struct Refusing {
        permanent: bool,
    }

    #[async_trait]
    impl Sink for Refusing {
        fn name(&self) -> &str {
            "mail"
        }

        async fn deliver(&self, _: &Delivery) -> std::result::Result<(), DeliveryError> {
            Err(if self.permanent {
                DeliveryError::permanent("550 no such mailbox")
            } else {
                DeliveryError::transient("connection refused")
            })
        }
    }

    #[tokio::test]
    async fn a_refusal_for_good_is_given_up_at_once_and_a_failure_after_three_days() {
        let store = MemoryStore::new();
        let clock = ManualClock::at_unix(crate::testing::NOW);
        let config = WorkerConfig::default();
        let outcomes = Mutex::new(Vec::new());
        let report = |_: &Delivery, outcome: Outcome| outcomes.lock().unwrap().push(outcome);

        store.enqueue(message(&clock)).await.unwrap();
        let refusing = Refusing { permanent: true };
        let round = deliver_round_reporting(&store, &refusing, &clock, &config, &report)
            .await
            .unwrap();
        assert_eq!(round.given_up, 1);
        assert_eq!(
            store.backlog("mail").await.unwrap().pending,
            0,
            "never again"
        );

        store.enqueue(message(&clock)).await.unwrap();
        let failing = Refusing { permanent: false };
        let mut rounds = 0;
        while store.backlog("mail").await.unwrap().pending > 0 {
            deliver_round_reporting(&store, &failing, &clock, &config, &report)
                .await
                .unwrap();
            clock.advance(config.retry_max);
            rounds += 1;
            assert!(rounds < 400, "never given up");
        }
        let outcomes = outcomes.lock().unwrap();
        assert_eq!(outcomes.first(), Some(&Outcome::GivenUp));
        assert_eq!(outcomes.last(), Some(&Outcome::GivenUp));
        assert!(
            outcomes[1..outcomes.len() - 1]
                .iter()
                .all(|o| *o == Outcome::Failed),
            "{outcomes:?}"
        );
        // Tried for three days, every 15 minutes at most.
        assert!(outcomes.len() > 72 * 4 / 2, "{}", outcomes.len());
    }
}
