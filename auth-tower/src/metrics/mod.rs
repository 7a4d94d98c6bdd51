//! Prometheus metrics: [`HttpMetricsLayer`] measures HTTP requests, [`MetricsService`] serves the
//! registry as OpenMetrics text at `/metrics`, and [`Metrics`] also turns auth-core's audit
//! events and observer hooks into the auth business metrics.
//!
//! | metric | labels |
//! |---|---|
//! | `http_requests_total`, `http_request_duration_seconds` | `method`, `route`, `status` (class: `2xx` ...) |
//! | `auth_login_total` | `outcome` (`success`, `failure`, `throttled`, `mfa_required`), `method` (`password`, `mfa`, `magic_link`: an emailed link or code) |
//! | `auth_refresh_total` | `outcome` (`rotated`, `reused`, `invalid`, `error`) |
//! | `auth_mfa_verify_total` | `outcome` (`success`, `failure`, `recovery_code`) |
//! | `auth_throttled_total`, `auth_second_factor_checks_total`, `auth_token_issue_duration_seconds`, `auth_password_hash_duration_seconds` | |
//! | `auth_service_health` | `component` (1 up, 0 down) |
//! | `auth_email_sent_total` | `kind` (`verify_email`, `reset_password`, `login`, ...), `outcome` (`sent`, `failed`, `given_up`) |
//! | `auth_outbox_pending`, `auth_outbox_oldest_age_seconds` | `sink` (`mail`) |
//! | `process_resident_memory_bytes`, `process_open_fds`, `process_cpu_seconds_total` | (Linux) |
//!
//! The `route` label comes from a bounded set: the route templates given to
//! [`HttpMetricsLayer::routes`] (`/v1/auth/sessions/{id}` matches any one segment there), else
//! `unmatched`. Raw paths never become labels.
//!
//! ```
//! use auth_tower::metrics::Metrics;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let metrics = Metrics::new();
//! let app = metrics.layer().routes(["/v1/orders/{id}"]).layer(service_fn(|_: Request<Full<bytes::Bytes>>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(Full::<bytes::Bytes>::default()))
//! }));
//! app.oneshot(Request::get("/v1/orders/42").body(Full::default())?).await?;
//!
//! let scrape = metrics.service().oneshot(Request::get("/metrics").body(Full::<bytes::Bytes>::default())?).await?;
//! assert_eq!(scrape.status(), StatusCode::OK);
//! assert!(metrics.encode()?.contains(r#"http_requests_total{method="GET",route="/v1/orders/{id}",status="2xx"} 1"#));
//! # Ok(())
//! # }
//! ```

mod auth;
mod future;
mod layer;
mod pool;
mod process;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tower_service::Service;

pub use auth::MetricsEventSink;
pub use future::ResponseFuture;
pub use layer::{HttpMetrics, HttpMetricsLayer, UNMATCHED_ROUTE};

use crate::BoxFuture;

/// The OpenMetrics content type.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct HttpLabels {
    method: &'static str,
    route: Arc<str>,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    outcome: &'static str,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ComponentLabels {
    component: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MailLabels {
    kind: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabels {
    sink: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        10.0,
    ])
}

/// The metrics of an auth service and the registry they live in. Cheap to clone: clones share
/// one set (every request's handlers and layers hold a clone).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Families>,
}

struct Families {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<HttpLabels>,
    logins: Family<LoginLabels, Counter>,
    refreshes: Family<OutcomeLabels, Counter>,
    mfa_verifications: Family<OutcomeLabels, Counter>,
    throttled: Counter,
    second_factor_checks: Counter,
    token_issue: Histogram,
    password_hash: Histogram,
    health: Family<ComponentLabels, Gauge>,
    email_sent: Family<MailLabels, Counter>,
    outbox_pending: Family<SinkLabels, Gauge>,
    outbox_oldest_age: Family<SinkLabels, Gauge>,
    oauth_tokens: Family<GrantLabels, Counter>,
    oauth_authorizations: Family<OutcomeLabels, Counter>,
    password_pool: pool::PasswordPoolCollector,
    #[cfg(feature = "postgres")]
    postgres_pool: pool::PostgresPoolCollector,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric of this crate registered.
    pub fn new() -> Self {
        Self::with_registry(Registry::default())
    }

    /// Registers this crate's metrics in `registry`, which may already hold the application's.
    pub fn with_registry(mut registry: Registry) -> Self {
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_duration: HistogramFamily<HttpLabels> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let logins = Family::<LoginLabels, Counter>::default();
        let refreshes = Family::<OutcomeLabels, Counter>::default();
        let mfa_verifications = Family::<OutcomeLabels, Counter>::default();
        let throttled = Counter::default();
        let second_factor_checks = Counter::default();
        let token_issue = latency_histogram();
        let password_hash = latency_histogram();
        let health = Family::<ComponentLabels, Gauge>::default();
        let email_sent = Family::<MailLabels, Counter>::default();
        let outbox_pending = Family::<SinkLabels, Gauge>::default();
        let outbox_oldest_age = Family::<SinkLabels, Gauge>::default();
        let oauth_tokens = Family::<GrantLabels, Counter>::default();
        let oauth_authorizations = Family::<OutcomeLabels, Counter>::default();

        registry.register(
            "http_requests",
            "HTTP requests answered",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response head",
            http_duration.clone(),
        );
        registry.register(
            "auth_login",
            "Login attempts by outcome and method",
            logins.clone(),
        );
        registry.register(
            "auth_refresh",
            "Refresh calls by outcome",
            refreshes.clone(),
        );
        registry.register(
            "auth_mfa_verify",
            "Second-factor verifications by outcome",
            mfa_verifications.clone(),
        );
        registry.register(
            "auth_throttled",
            "Attempts refused by brute-force throttling",
            throttled.clone(),
        );
        registry.register(
            "auth_second_factor_checks",
            "Codes checked against a TOTP secret (throttled attempts never are)",
            second_factor_checks.clone(),
        );
        registry.register(
            "auth_token_issue_duration_seconds",
            "Time to sign a token",
            token_issue.clone(),
        );
        registry.register(
            "auth_password_hash_duration_seconds",
            "Time to hash or verify a password, including the wait for a hashing slot",
            password_hash.clone(),
        );
        registry.register(
            "auth_service_health",
            "Dependency health from the readiness checks: 1 up, 0 down",
            health.clone(),
        );
        registry.register(
            "auth_email_sent",
            "Mails by kind and what became of them: sent, failed (tried again later), given_up (not sendable, or failing for 72 hours)",
            email_sent.clone(),
        );
        registry.register(
            "auth_outbox_pending",
            "Outbox deliveries waiting for their sink, as the last worker round found them",
            outbox_pending.clone(),
        );
        registry.register(
            "auth_outbox_oldest_age_seconds",
            "Age of the oldest delivery waiting for its sink (0 when none waits)",
            outbox_oldest_age.clone(),
        );
        registry.register(
            "auth_oauth_token",
            "Token endpoint requests by grant and outcome: success, or the OAuth error answered",
            oauth_tokens.clone(),
        );
        registry.register(
            "auth_oauth_authorize",
            "Authorization requests by outcome: code, sign_in, consent, page (refused without a redirect), or the OAuth error sent back",
            oauth_authorizations.clone(),
        );
        registry.register_collector(Box::new(process::ProcessCollector));
        let password_pool = pool::PasswordPoolCollector::default();
        registry.register_collector(Box::new(password_pool.clone()));
        #[cfg(feature = "postgres")]
        let postgres_pool = pool::PostgresPoolCollector::default();
        #[cfg(feature = "postgres")]
        registry.register_collector(Box::new(postgres_pool.clone()));

        // Every known outcome starts at zero, so rates and alerts see the series before the
        // first event (Prometheus cannot tell a missing series from a quiet one).
        for (outcome, method) in [
            ("success", "password"),
            ("success", "mfa"),
            ("success", "magic_link"),
            ("failure", "password"),
            ("throttled", "password"),
            ("mfa_required", "password"),
        ] {
            let _ = logins.get_or_create(&LoginLabels { outcome, method });
        }
        for outcome in ["rotated", "reused", "invalid", "error"] {
            let _ = refreshes.get_or_create(&OutcomeLabels { outcome });
        }
        for outcome in ["success", "failure", "recovery_code"] {
            let _ = mfa_verifications.get_or_create(&OutcomeLabels { outcome });
        }
        for grant in ["authorization_code", "refresh_token", "client_credentials"] {
            for outcome in ["success", "invalid_grant", "invalid_client"] {
                let _ = oauth_tokens.get_or_create(&GrantLabels { grant, outcome });
            }
        }
        for outcome in ["code", "sign_in", "consent", "page", "access_denied"] {
            let _ = oauth_authorizations.get_or_create(&OutcomeLabels { outcome });
        }
        for kind in auth_core::mail::MailKind::ALL {
            for outcome in ["sent", "failed", "given_up"] {
                let _ = email_sent.get_or_create(&MailLabels {
                    kind: kind.as_str().to_owned(),
                    outcome,
                });
            }
        }

        let inner = Families {
            registry,
            http_requests,
            http_duration,
            logins,
            refreshes,
            mfa_verifications,
            throttled,
            second_factor_checks,
            token_issue,
            password_hash,
            health,
            email_sent,
            outbox_pending,
            outbox_oldest_age,
            oauth_tokens,
            oauth_authorizations,
            password_pool,
            #[cfg(feature = "postgres")]
            postgres_pool,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Counts a token endpoint request: its `grant` (`grant_type`, or `unknown`) and its
    /// `outcome` (`success`, or the OAuth error code answered). Both are from fixed sets, so
    /// the series stay few.
    pub fn oauth_token(&self, grant: &'static str, outcome: &'static str) {
        self.inner
            .oauth_tokens
            .get_or_create(&GrantLabels { grant, outcome })
            .inc();
    }

    /// Counts an authorization request by `outcome`: `code`, `sign_in` (sent to sign in),
    /// `consent` (the page shown), `page` (refused on a page: nothing may go back to the
    /// client), or the OAuth error code sent back to the client.
    pub fn oauth_authorize(&self, outcome: &'static str) {
        self.inner
            .oauth_authorizations
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// A layer measuring every request it sees.
    pub fn layer(&self) -> HttpMetricsLayer {
        HttpMetricsLayer::new(self.clone())
    }

    /// The `/metrics` endpoint.
    pub fn service(&self) -> MetricsService {
        MetricsService {
            metrics: self.clone(),
        }
    }

    /// A readiness reporter for [`HealthService::reporter`](crate::health::HealthService::reporter)
    /// that sets `auth_service_health{component}`.
    pub fn health_reporter(&self) -> crate::health::HealthReporter {
        let health = self.inner.health.clone();
        Arc::new(move |component: &str, up: bool| {
            health
                .get_or_create(&ComponentLabels {
                    component: component.to_owned(),
                })
                .set(i64::from(up));
        })
    }

    /// Reports the occupancy of `passwords`' hashing pool as `auth_password_hash_in_flight`,
    /// `auth_password_hash_capacity` and `auth_password_hash_workers`, its refusals as
    /// `auth_password_hash_refused_total` and the waits for a slot as the histogram
    /// `auth_password_hash_wait_seconds`, read at each scrape.
    /// The first service named is the one reported; later calls change nothing.
    pub fn watch_password_pool(&self, passwords: &auth_core::password::PasswordService) {
        let _ = self.inner.password_pool.service.set(passwords.clone());
    }

    /// Reports the PostgreSQL connection pool of `store`, read at each scrape:
    /// `auth_db_pool_max_connections`, `_open_connections`, `_busy_connections`, `_waiting`,
    /// and `auth_db_pool_timeouts_total`, the calls that found no free connection in time.
    /// The first store named is the one reported; later calls change nothing.
    #[cfg(feature = "postgres")]
    pub fn watch_postgres_pool(&self, store: &auth_core::store::postgres::PostgresStore) {
        let _ = self.inner.postgres_pool.store.set(store.clone());
    }

    /// Counts a mail of outbox message kind `kind` (`mail.verify_email`: the kind is what
    /// follows `mail.`) by what became of it (`sent`, `failed`: tried again later,
    /// `given_up`), as `auth_email_sent_total{kind,outcome}`.
    pub fn email_delivered(&self, kind: &str, outcome: auth_core::flows::Outcome) {
        let kind = kind.strip_prefix("mail.").unwrap_or(kind).to_owned();
        let outcome = outcome.as_str();
        self.inner
            .email_sent
            .get_or_create(&MailLabels { kind, outcome })
            .inc();
    }

    /// Sets what waits for `sink`: `auth_outbox_pending{sink}` and
    /// `auth_outbox_oldest_age_seconds{sink}` (0 when nothing waits).
    pub fn outbox_backlog(
        &self,
        sink: &str,
        pending: u64,
        oldest_age: Option<std::time::Duration>,
    ) {
        let labels = SinkLabels {
            sink: sink.to_owned(),
        };
        self.inner
            .outbox_pending
            .get_or_create(&labels)
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        let age = oldest_age.map_or(0, |age| i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
        self.inner.outbox_oldest_age.get_or_create(&labels).set(age);
    }

    /// The registry as OpenMetrics text.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.inner.registry)?;
        Ok(text)
    }

    pub(crate) fn record_http(&self, labels: &HttpLabels, seconds: f64) {
        self.inner.http_requests.get_or_create(labels).inc();
        self.inner
            .http_duration
            .get_or_create(labels)
            .observe(seconds);
    }
}

/// Serves the registry as OpenMetrics text (any path; mount it at `/metrics`).
#[derive(Debug, Clone)]
pub struct MetricsService {
    metrics: Metrics,
}

impl<B> Service<Request<B>> for MetricsService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        let encoded = self.metrics.encode();
        Box::pin(async move {
            let response = match encoded {
                Ok(text) => {
                    let mut response = Response::new(Full::new(Bytes::from(text)));
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(OPENMETRICS_CONTENT_TYPE),
                    );
                    response
                }
                Err(_) => {
                    let mut response = Response::new(Full::new(Bytes::from_static(
                        b"{\"error\":\"internal\",\"message\":\"metrics could not be encoded\"}",
                    )));
                    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    response
                }
            };
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests;
