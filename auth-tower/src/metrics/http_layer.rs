//! [`MetricsLayer`]: request counts and latencies by method, route template and status class.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::{HttpLabels, Metrics};

/// The label of a request no route template matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Measures requests into [`Metrics`]; see the [module docs](super).
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: Metrics,
    routes: Arc<[RouteTemplate]>,
}

#[derive(Debug)]
struct RouteTemplate {
    label: Arc<str>,
    segments: Vec<Segment>,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Parameter,
}

impl RouteTemplate {
    fn parse(template: &str) -> Self {
        let segments = template
            .trim_start_matches('/')
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') && segment.ends_with('}') {
                    Segment::Parameter
                } else {
                    Segment::Literal(segment.to_owned())
                }
            })
            .collect();
        Self {
            label: Arc::from(template),
            segments,
        }
    }

    fn matches(&self, path: &str) -> bool {
        let mut parts = path.trim_start_matches('/').split('/');
        let all_segments = self
            .segments
            .iter()
            .all(|segment| match (segment, parts.next()) {
                (Segment::Literal(literal), Some(part)) => literal == part,
                (Segment::Parameter, Some(part)) => !part.is_empty(),
                (_, None) => false,
            });
        all_segments && parts.next().is_none()
    }
}

impl MetricsLayer {
    /// A layer recording into `metrics`, with no route templates yet (every route is
    /// `unmatched` until [`MetricsLayer::routes`] names them).
    pub fn new(metrics: Metrics) -> Self {
        Self {
            metrics,
            routes: Arc::from(Vec::new()),
        }
    }

    /// The route templates requests are labelled with; `{name}` matches one path segment. The
    /// first match wins.
    pub fn routes<I, S>(mut self, templates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut routes: Vec<RouteTemplate> = Vec::new();
        routes.extend(self.routes.iter().map(|r| RouteTemplate::parse(&r.label)));
        routes.extend(
            templates
                .into_iter()
                .map(|t| RouteTemplate::parse(t.as_ref())),
        );
        self.routes = routes.into();
        self
    }

    fn route_of(&self, path: &str) -> Arc<str> {
        self.routes
            .iter()
            .find(|route| route.matches(path))
            .map_or_else(|| Arc::from(UNMATCHED_ROUTE), |route| route.label.clone())
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Measured<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Measured {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`MetricsLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct Measured<S> {
    inner: S,
    layer: MetricsLayer,
}

impl<S> Measured<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// A bounded method label.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Measured<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = MetricsResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let method = method_label(request.method());
        let route = self.layer.route_of(request.uri().path());
        MetricsResponseFuture {
            inner: self.inner.call(request),
            metrics: self.layer.metrics.clone(),
            method,
            route,
            started: Instant::now(),
        }
    }
}

pin_project! {
    /// The response future of [`Measured`]: records when the response head is ready.
    pub struct MetricsResponseFuture<F> {
        #[pin]
        inner: F,
        metrics: Metrics,
        method: &'static str,
        route: Arc<str>,
        started: Instant,
    }
}

impl<F, B, E> Future for MetricsResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let status = match &result {
            Ok(response) => status_class(response.status().as_u16()),
            // The service failed without a response: what a client sees is a server error.
            Err(_) => "5xx",
        };
        let labels = HttpLabels {
            method: this.method,
            route: this.route.clone(),
            status,
        };
        this.metrics
            .record_http(&labels, this.started.elapsed().as_secs_f64());
        Poll::Ready(result)
    }
}
