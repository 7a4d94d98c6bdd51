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
        Ok(())
    }
}
