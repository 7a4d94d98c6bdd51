//! The outbox worker inside `serve`: sends what the flows queued to the mail sink (SMTP, or
//! the log in development), with the retries and leases of `auth_core::flows::deliver_round`,
//! and reports every mail and the backlog to the metrics. Every instance runs one; the
//! leases keep them from sending one delivery twice at once.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use auth_core::clock::SystemClock;
use auth_core::flows::{WorkerConfig, deliver_round_reporting};
use auth_core::outbox::Sink;
use auth_core::store::OutboxStore;
use auth_tower::metrics::Metrics;
use tokio::task::JoinHandle;

/// How long an idle worker waits before it looks again.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Starts the worker for `sink` over `outbox`; abort the task to stop it (a delivery cut
/// short is claimed again once its lease runs out).
pub(crate) fn spawn(
    outbox: Arc<dyn OutboxStore>,
    sink: Arc<dyn Sink>,
    metrics: Metrics,
    config: WorkerConfig,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let report = |delivery: &auth_core::outbox::Delivery, outcome| {
            metrics.email_delivered(&delivery.message.kind, outcome);
        };
        loop {
            let round = deliver_round_reporting(
                outbox.as_ref(),
                sink.as_ref(),
                &SystemClock,
                &config,
                &report,
            )
            .await;
            match outbox.backlog(sink.name()).await {
                Ok(backlog) => {
                    let age = backlog
                        .oldest
                        .and_then(|oldest| SystemTime::now().duration_since(oldest).ok());
                    metrics.outbox_backlog(sink.name(), backlog.pending, age);
                }
                Err(error) => tracing::debug!(%error, "the outbox backlog could not be read"),
            }
            match round {
                // A full batch: more may be due at once.
                Ok(round) if round.delivered + round.failed + round.given_up >= config.batch => {}
                Ok(_) => tokio::time::sleep(IDLE_POLL).await,
                Err(error) => {
                    tracing::warn!(%error, "the outbox could not be read; trying again shortly");
                    tokio::time::sleep(IDLE_POLL * 5).await;
                }
            }
        }
    })
}
