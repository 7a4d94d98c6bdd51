//! Health probes: [`HealthService`] answers `/health/liveness`, `/health/readiness` and
//! `/health/startup` for orchestrators.
//!
//! - Liveness is the process alone: it never touches a dependency and is always fast, so a slow
//!   database never gets a healthy process restarted.
//! - Readiness runs every registered [`HealthCheck`] concurrently, each under a timeout, and
//!   answers 503 when one is down, so traffic moves to other instances.
//! - Startup turns ready once [`StartupGate::mark_started`] is called (after migrations, key
//!   loading).
//!
//! Bodies are JSON: `{"status":"ok"|"error","info":{..},"error":{..},"details":{..}}`, each
//! component `{"status":"up"|"down","error":"..."}`. The reasons name hosts and errors of the
//! dependencies: on a listener that anyone can reach, answer with
//! [`HealthService::status_only`] (`{"status":"ok"|"error"}`, the same status codes) and keep
//! the full bodies for an internal one.
//!
//! ```
//! use std::time::Duration;
//!
//! use auth_tower::health::{HealthCheck, HealthService, StartupGate};
//! use http::{Request, StatusCode};
//! use http_body_util::Full;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let startup = StartupGate::new();
//! let health = HealthService::new(startup.clone())
//!     .with_check(HealthCheck::from_fn("cache", || async { Ok(()) }))
//!     .timeout(Duration::from_secs(2));
//!
//! let probe = |path: &str| Request::get(path).body(Full::<bytes::Bytes>::default()).unwrap();
//! let live = health.clone().oneshot(probe("/health/liveness")).await?;
//! assert_eq!(live.status(), StatusCode::OK);
//! let starting = health.clone().oneshot(probe("/health/startup")).await?;
//! assert_eq!(starting.status(), StatusCode::SERVICE_UNAVAILABLE);
//! startup.mark_started();
//! let ready = health.oneshot(probe("/health/readiness")).await?;
//! assert_eq!(ready.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::{Value, json};
use tower_service::Service;

use crate::BoxFuture;

type CheckFn = Arc<dyn Fn() -> BoxFuture<Result<(), String>> + Send + Sync>;

/// A dependency that can say whether it is up. Implement it for your own dependencies and
/// register them with [`HealthCheck::new`]; closures work too ([`HealthCheck::from_fn`]).
pub trait HealthProbe: Send + Sync + 'static {
    /// The component name, as it appears in the body and the `component` label.
    fn name(&self) -> &str;

    /// Checks the dependency once; `Err` carries the reason it is down. The probe applies the
    /// timeout.
    fn check(&self) -> BoxFuture<Result<(), String>>;
}

/// One dependency the readiness probe checks.
#[derive(Clone)]
pub struct HealthCheck {
    name: Arc<str>,
    check: CheckFn,
}

impl fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthCheck")
            .field("name", &self.name)
            .finish()
    }
}

impl HealthCheck {
    /// A check running `probe`.
    pub fn new(probe: impl HealthProbe) -> Self {
        let probe = Arc::new(probe);
        Self {
            name: probe.name().into(),
            check: Arc::new(move || probe.check()),
        }
    }

    /// A check named `name` (the component label) that runs `check`; `Err` carries the reason.
    pub fn from_fn<F, Fut>(name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self {
            name: name.into().into(),
            check: Arc::new(move || Box::pin(check())),
        }
    }

    /// The component name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// PostgreSQL: `SELECT 1` within `timeout`.
    #[cfg(feature = "postgres")]
    pub fn postgres(store: auth_core::store::postgres::PostgresStore, timeout: Duration) -> Self {
        Self::from_fn("postgres", move || {
            let store = store.clone();
            async move { store.ping(timeout).await.map_err(|e| e.to_string()) }
        })
    }

    /// Redis: `PING` within `timeout`.
    #[cfg(feature = "redis")]
    pub fn redis(store: auth_core::store::redis::RedisStore, timeout: Duration) -> Self {
        Self::from_fn("redis", move || {
            let store = store.clone();
            async move { store.ping(timeout).await.map_err(|e| e.to_string()) }
        })
    }
}

/// Flips once startup work is done; shared between the code doing it and the probe.
#[derive(Debug, Clone, Default)]
pub struct StartupGate(Arc<AtomicBool>);

impl StartupGate {
    /// A gate that is still closed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Startup is done: the startup probe answers 200 from now on.
    pub fn mark_started(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether startup is done.
    pub fn is_started(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Flips when the process starts shutting down: readiness answers 503 from then on, so load
/// balancers stop sending new work while in-flight requests drain.
#[derive(Debug, Clone, Default)]
pub struct DrainGate(Arc<AtomicBool>);

impl DrainGate {
    /// A gate that is not draining.
    pub fn new() -> Self {
        Self::default()
    }

    /// Shutdown has begun.
    pub fn start_draining(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Called with each component's state after every readiness run (for example to set the
/// `auth_service_health{component}` gauge).
pub type HealthReporter = Arc<dyn Fn(&str, bool) + Send + Sync>;

/// The probe endpoints; see the [module docs](self).
#[derive(Clone)]
pub struct HealthService {
    checks: Arc<[HealthCheck]>,
    timeout: Duration,
    startup: StartupGate,
    drain: DrainGate,
    reporter: Option<HealthReporter>,
    /// Whether bodies name each component and its reason, or only the overall status.
    details: bool,
}

impl fmt::Debug for HealthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthService")
            .field("checks", &self.checks)
            .field("timeout", &self.timeout)
            .field("started", &self.startup.is_started())
            .field("details", &self.details)
            .finish()
    }
}

impl HealthService {
    /// Probes with no dependency checks yet and a 2 s timeout per check.
    pub fn new(startup: StartupGate) -> Self {
        Self {
            checks: Arc::from(Vec::new()),
            timeout: Duration::from_secs(2),
            startup,
            drain: DrainGate::new(),
            reporter: None,
            details: true,
        }
    }

    /// The same probes, status codes and checks, answering only `{"status":"ok"|"error"}`: no
    /// component names, no reasons. For a listener the public reaches, while an internal one
    /// (a clone without this) answers the details.
    pub fn status_only(mut self) -> Self {
        self.details = false;
        self
    }

    /// Readiness answers 503 once `drain` starts draining.
    pub fn drain_gate(mut self, drain: DrainGate) -> Self {
        self.drain = drain;
        self
    }

    /// Adds a dependency to the readiness probe.
    pub fn with_check(mut self, check: HealthCheck) -> Self {
        let mut checks = self.checks.to_vec();
        checks.push(check);
        self.checks = checks.into();
        self
    }

    /// How long each check may take before it counts as down.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Reports each component's state after every readiness run.
    pub fn reporter(mut self, reporter: HealthReporter) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// Runs every check concurrently; the JSON body and whether all are up. While draining,
    /// answers not ready without running the checks.
    pub async fn readiness(&self) -> (bool, Value) {
        if self.drain.is_draining() {
            return body(vec![(
                "shutdown".to_owned(),
                Err("the process is shutting down".to_owned()),
            )]);
        }
        let runs = self.checks.iter().map(|check| {
            let run = (check.check)();
            let timeout = self.timeout;
            async move {
                let outcome = match tokio::time::timeout(timeout, run).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(reason)) => Err(reason),
                    Err(_) => Err(format!("no answer within {timeout:?}")),
                };
                (check.name.clone(), outcome)
            }
        });
        let results = join_all(runs.collect()).await;
        let mut components = Vec::new();
        for (name, outcome) in results {
            if let Some(report) = &self.reporter {
                report(&name, outcome.is_ok());
            }
            components.push((name.to_string(), outcome));
        }
        body(components)
    }

    fn liveness() -> (bool, Value) {
        body(vec![("process".to_owned(), Ok(()))])
    }

    fn startup_state(&self) -> (bool, Value) {
        let outcome = if self.startup.is_started() {
            Ok(())
        } else {
            Err("startup work is not finished".to_owned())
        };
        body(vec![("startup".to_owned(), outcome)])
    }
}

/// Runs futures concurrently and collects their outputs in order.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

fn body(components: Vec<(String, Result<(), String>)>) -> (bool, Value) {
    let mut info = BTreeMap::new();
    let mut error = BTreeMap::new();
    let mut details = BTreeMap::new();
    for (name, outcome) in components {
        let state = match outcome {
            Ok(()) => json!({ "status": "up" }),
            Err(reason) => json!({ "status": "down", "error": reason }),
        };
        if state["status"] == "up" {
            info.insert(name.clone(), state.clone());
        } else {
            error.insert(name.clone(), state.clone());
        }
        details.insert(name, state);
    }
    let healthy = error.is_empty();
    let status = if healthy { "ok" } else { "error" };
    (
        healthy,
        json!({ "status": status, "info": info, "error": error, "details": details }),
    )
}

fn respond(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl<B: Send + 'static> Service<Request<B>> for HealthService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        Box::pin(async move {
            if method != Method::GET && method != Method::HEAD {
                let body = json!({ "error": "method_not_allowed", "message": "probes answer GET" });
                return Ok(respond(StatusCode::METHOD_NOT_ALLOWED, &body));
            }
            let (healthy, body) = match path.rsplit('/').next() {
                Some("liveness") => Self::liveness(),
                Some("readiness") => this.readiness().await,
                Some("startup") => this.startup_state(),
                _ => {
                    let body = json!({ "error": "not_found", "message": "no such probe" });
                    return Ok(respond(StatusCode::NOT_FOUND, &body));
                }
            };
            let status = if healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            if this.details {
                Ok(respond(status, &body))
            } else {
                Ok(respond(status, &json!({ "status": body["status"] })))
            }
        })
    }
}

#[cfg(test)]
mod tests;
