//! Hashing pool occupancy, read from the [`PasswordService`] at scrape time.

use std::sync::{Arc, OnceLock};

use auth_core::password::PasswordService;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reports nothing until [`Metrics::watch_password_pool`](super::Metrics::watch_password_pool)
/// names the service: a pool that does not exist has no occupancy.
#[derive(Debug, Clone, Default)]
pub(super) struct PasswordPoolCollector {
    pub(super) service: Arc<OnceLock<PasswordService>>,
}

fn gauge(value: usize) -> ConstGauge {
    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX))
}

impl Collector for PasswordPoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(service) = self.service.get() else {
            return Ok(());
        };
        for (name, help, value) in [
            (
                "auth_password_hash_in_flight",
                "Password hashes running or waiting for a slot",
                service.hashes_in_flight(),
            ),
            (
                "auth_password_hash_capacity",
                "Password hashes that may run or wait before requests are refused as busy",
                service.hash_capacity(),
            ),
            (
                "auth_password_hash_workers",
                "Password hashes that may run at once",
                service.max_concurrent_hashes(),
            ),
        ] {
            let gauge = gauge(value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        let refused = ConstCounter::new(service.hashes_refused());
        let metric = encoder.encode_descriptor(
            "auth_password_hash_refused",
            "Password hashes refused because the pool was full (answered 503 busy)",
            None,
            refused.metric_type(),
        )?;
        refused.encode(metric)?;
        let waits = service.hash_waits();
        let mut metric = encoder.encode_descriptor(
            "auth_password_hash_wait_seconds",
            "How long password hashes waited for a free slot before running (queueing, apart \
             from the hashing)",
            None,
            prometheus_client::metrics::MetricType::Histogram,
        )?;
        metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            waits.sum_seconds,
            waits.count,
            &per_bucket(&waits.buckets, waits.count),
            None,
        )?;
        Ok(())
    }
}

/// Cumulative `(bound, count)` pairs and the total as the encoder takes them: each bucket's
/// own count, then the `+Inf` bucket.
fn per_bucket(cumulative: &[(f64, u64)], total: u64) -> Vec<(f64, u64)> {
    let mut below = 0;
    let mut buckets: Vec<(f64, u64)> = cumulative
        .iter()
        .map(|(bound, count)| {
            let own = count.saturating_sub(below);
            below = *count;
            (*bound, own)
        })
        .collect();
    buckets.push((f64::INFINITY, total.saturating_sub(below)));
    buckets
}

/// Reports nothing until [`Metrics::watch_postgres_pool`](super::Metrics::watch_postgres_pool)
/// names the store.
#[cfg(feature = "postgres")]
#[derive(Debug, Clone, Default)]
pub(super) struct PostgresPoolCollector {
    pub(super) store: Arc<OnceLock<auth_core::store::postgres::PostgresStore>>,
}

#[cfg(feature = "postgres")]
impl Collector for PostgresPoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(store) = self.store.get() else {
            return Ok(());
        };
        let status = store.pool_status();
        for (name, help, value) in [
            (
                "auth_db_pool_max_connections",
                "The most PostgreSQL connections the pool opens",
                status.max_connections,
            ),
            (
                "auth_db_pool_open_connections",
                "PostgreSQL connections open now",
                status.open,
            ),
            (
                "auth_db_pool_busy_connections",
                "PostgreSQL connections in use by a call now",
                status.open.saturating_sub(status.idle),
            ),
            (
                "auth_db_pool_waiting",
                "Calls waiting for a PostgreSQL connection now",
                status.waiting,
            ),
        ] {
            let gauge = gauge(value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        let timeouts = ConstCounter::new(status.timeouts);
        let metric = encoder.encode_descriptor(
            "auth_db_pool_timeouts",
            "Calls that found no free PostgreSQL connection in time (answered 503 unavailable)",
            None,
            timeouts.metric_type(),
        )?;
        timeouts.encode(metric)?;
        Ok(())
    }
}
