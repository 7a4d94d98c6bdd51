//! [`HttpMetricsLayer`] and its service [`HttpMetrics`]: request counts and latencies by method,
//! route template and status class.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Method, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{Metrics, ResponseFuture};

/// The label of a request no route template matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Measures requests into [`Metrics`]; see the [module docs](super).
#[derive(Debug, Clone)]
pub struct HttpMetricsLayer {
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

impl HttpMetricsLayer {
    /// A layer recording into `metrics`, with no route templates yet (every route is
    /// `unmatched` until [`HttpMetricsLayer::routes`] names them).
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

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`HttpMetricsLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    layer: HttpMetricsLayer,
}

impl<S> HttpMetrics<S> {
    define_inner_service_accessors!();
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpMetrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let method = method_label(request.method());
        let route = self.layer.route_of(request.uri().path());
        ResponseFuture::new(
            self.inner.call(request),
            self.layer.metrics.clone(),
            method,
            route,
        )
    }
}
