//! [`ResponseFuture`] of [`HttpMetrics`](super::HttpMetrics).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::Response;
use pin_project_lite::pin_project;

use super::{HttpLabels, Metrics};

/// A bounded status label: the status class.
fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

pin_project! {
    /// The response future of [`HttpMetrics`](super::HttpMetrics): records the request when
    /// the response head is ready.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        metrics: Metrics,
        method: &'static str,
        route: Arc<str>,
        started: Instant,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, metrics: Metrics, method: &'static str, route: Arc<str>) -> Self {
        Self {
            inner,
            metrics,
            method,
            route,
            started: Instant::now(),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
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
