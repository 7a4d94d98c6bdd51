//! The auth business metrics, fed by auth-core's audit events and observer hooks.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use auth_core::event::EventSink;
use auth_core::event::{AuthEvent, AuthEventKind, LoginFailure};
use auth_core::flows::AuthObserver;
use auth_core::refresh::RefreshOutcome;
use auth_core::token::TokenKind;

use super::{LoginLabels, Metrics, OutcomeLabels};

/// An [`EventSink`] that counts logins, second factors and throttling in [`Metrics`], then
/// passes each event on to the sink the audit trail goes to.
#[derive(Debug, Clone)]
pub struct MetricsEventSink {
    metrics: Metrics,
    inner: Arc<dyn EventSink>,
}

impl Metrics {
    /// Counts audit events, then hands them to `inner`.
    pub fn event_sink(&self, inner: Arc<dyn EventSink>) -> MetricsEventSink {
        MetricsEventSink {
            metrics: self.clone(),
            inner,
        }
    }

    fn login(&self, outcome: &'static str, method: &'static str) {
        self.inner
            .logins
            .get_or_create(&LoginLabels { outcome, method })
            .inc();
    }

    fn mfa(&self, outcome: &'static str) {
        self.inner
            .mfa_verifications
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    fn count(&self, event: &AuthEvent) {
        match &event.kind {
            AuthEventKind::LoginSucceeded { amr } => {
                let method = if amr.is_multi_factor() {
                    "mfa"
                } else if amr.by_passkey() {
                    "passkey"
                } else if amr.by_email() {
                    "magic_link"
                } else {
                    "password"
                };
                self.login("success", method);
                if amr.used_totp() || (amr.is_multi_factor() && amr.used_passkey()) {
                    self.mfa("success");
                }
            }
            AuthEventKind::LoginFailed {
                reason: LoginFailure::Throttled,
            } => {
                self.login("throttled", "password");
                self.inner.throttled.inc();
            }
            // Counted where the pool refuses (every one; these events are coalesced).
            AuthEventKind::LoginFailed {
                reason: LoginFailure::Busy,
            } => {}
            AuthEventKind::LoginFailed { .. } => self.login("failure", "password"),
            AuthEventKind::MfaChallenged => self.login("mfa_required", "password"),
            AuthEventKind::MfaFailed => self.mfa("failure"),
            AuthEventKind::RecoveryCodeUsed { .. } => self.mfa("recovery_code"),
            _ => {}
        }
    }
}

#[async_trait]
impl EventSink for MetricsEventSink {
    async fn record(&self, event: AuthEvent) -> auth_core::Result<()> {
        self.metrics.count(&event);
        self.inner.record(event).await
    }
}

impl AuthObserver for Metrics {
    fn token_issued(&self, _kind: TokenKind, elapsed: Duration) {
        self.inner.token_issue.observe(elapsed.as_secs_f64());
    }

    fn password_hashed(&self, elapsed: Duration) {
        self.inner.password_hash.observe(elapsed.as_secs_f64());
    }

    fn second_factor_checked(&self) {
        self.inner.second_factor_checks.inc();
    }

    fn refreshed(&self, outcome: RefreshOutcome) {
        self.inner
            .refreshes
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
    }
}
