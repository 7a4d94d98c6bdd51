//! The HTTP routes: the auth API, probes, metrics and the public keys.

use std::sync::Arc;

use auth_core::flows::Authenticator;
use auth_core::token::Jwks;
use auth_tower::answer::Answer;
use auth_tower::health::HealthService;
use auth_tower::metrics::Metrics;
use axum::Json;
use axum::Router;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

/// The probes, each answered by the health service.
const PROBES: [&str; 3] = ["/health/liveness", "/health/readiness", "/health/startup"];
/// The metrics in Prometheus' text format.
const METRICS: &str = "/metrics";
/// The public keys that verify access tokens.
const JWKS: &str = "/.well-known/jwks.json";

#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) jwks: Arc<Jwks>,
}

/// Largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024;

/// A span per request, named by its request id, method and route template (never the raw
/// path, which may carry ids).
fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        request_id,
        method = %request.method(),
        route,
        user_id = tracing::field::Empty,
    )
}

fn log_response(response: &Response, latency: Duration, _span: &tracing::Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "answered"
    );
}

/// A handler that panicked answers 500 in our JSON shape; the process lives on.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error".to_owned(),
    )
    .into_json_response()
}

/// CORS for the configured origins only; none configured, no cross-origin access. Credentials
/// are allowed only with explicit origins, never with a wildcard.
fn cors(origins: &[String]) -> CorsLayer {
    let methods = [Method::GET, Method::POST, Method::DELETE];
    let headers = [header::AUTHORIZATION, header::CONTENT_TYPE];
    if origins.iter().any(|o| o == "*") {
        return CorsLayer::new()
            .allow_origin(AllowOrigin::any())
            .allow_methods(methods)
            .allow_headers(headers);
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(list))
        .allow_methods(methods)
        .allow_headers(headers)
        .allow_credentials(true)
}

/// The middleware every route goes through, outermost last.
#[derive(Debug, Clone)]
pub(crate) struct Stack {
    pub(crate) metrics: Metrics,
    pub(crate) cors_origins: Vec<String>,
    pub(crate) request_timeout: Duration,
}

/// What `serve` runs: the public routes, and the admin routes when `ADMIN_ADDR` gives the
/// operational endpoints a listener of their own.
pub(crate) struct Routers {
    pub(crate) public: Router,
    pub(crate) admin: Option<Router>,
}

/// Every route inside the middleware of `stack`, with the fallbacks that answer 404 and 405 in
/// our JSON shape: the probes, the public keys and the API, and `/metrics`. With `admin`,
/// `/metrics` and the probes' details (which name the stores and their errors) answer on the
/// admin routes only; the public probes answer their status alone, for load balancers. The
/// metrics label requests with the template of each route registered here.
pub(crate) fn router(
    state: AppState,
    auth: Authenticator,
    health: HealthService,
    stack: &Stack,
    proxies: crate::proxies::ProxyPolicy,
    admin: bool,
    ui: Option<&crate::ui::UiSettings>,
) -> Routers {
    let pages = ui.map(|settings| {
        let key = auth.derive_key("hosted pages: CSRF tokens");
        crate::ui::routes(auth.clone(), settings, *key, stack.metrics.clone())
            .layer(axum::Extension(proxies.clone()))
    });
    // The provider needs the hosted pages: its users sign in and consent there.
    // One CORS policy for the provider's endpoints and the keys its tokens are checked with.
    let provider_cors = ui.map(|_| crate::oauth::cors(auth.clone(), &stack.cors_origins));
    let provider = provider_cors.as_ref().map(|cors| {
        crate::oauth::routes(
            auth.clone(),
            proxies.clone(),
            stack.metrics.clone(),
            cors.clone(),
        )
    });
    let api = crate::api::routes(auth, proxies);
    let (operations, admin) = if admin {
        let internal = Stack {
            cors_origins: Vec::new(),
            ..stack.clone()
        };
        let routes = operations(health.clone(), Some(&stack.metrics));
        let admin = internal.apply(with_fallbacks(routes), &operation_templates(true));
        (operations(health.status_only(), None), Some(admin))
    } else {
        (operations(health, Some(&stack.metrics)), None)
    };
    // CORS for the API only: no other origin may read a page (a page holds its CSRF token).
    // The provider's endpoints have their own, which also admits browser apps' origins.
    let keys = Router::new().route(JWKS, get(jwks)).with_state(state);
    let (keys_inside, keys_outside) = match provider_cors {
        Some(cors) => (Router::new(), keys.layer(cors)),
        None => (keys, Router::new()),
    };
    let mut routes = with_fallbacks(operations.merge(keys_inside))
        .merge(api.router)
        .layer(cors(&stack.cors_origins))
        .merge(provider.unwrap_or_default())
        .merge(keys_outside);
    if let Some(pages) = pages {
        routes = routes.merge(pages);
    }
    let templates: Vec<String> = operation_templates(admin.is_none())
        .into_iter()
        .chain([JWKS.to_owned()])
        .chain(api.templates)
        .chain(ui.into_iter().flat_map(|_| {
            crate::ui::ROUTES
                .iter()
                .chain(crate::oauth::ROUTES)
                .map(|route| (*route).to_owned())
        }))
        .collect();
    Routers {
        public: stack.apply(routes, &templates),
        admin,
    }
}

/// The probes, answered by `health`, and `/metrics` when `metrics` is given.
fn operations<S: Clone + Send + Sync + 'static>(
    health: HealthService,
    metrics: Option<&Metrics>,
) -> Router<S> {
    let mut routes = Router::new();
    for probe in PROBES {
        routes = routes.route_service(probe, health.clone());
    }
    match metrics {
        Some(metrics) => routes.route_service(METRICS, metrics.service()),
        None => routes,
    }
}

/// The templates of [`operations`]' routes.
fn operation_templates(with_metrics: bool) -> Vec<String> {
    PROBES
        .into_iter()
        .chain(with_metrics.then_some(METRICS))
        .map(str::to_owned)
        .collect()
}

/// `routes` answering 404 and 405 in our JSON shape.
fn with_fallbacks(routes: Router) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

impl Stack {
    /// Wraps `routes` in the body limit, the request deadline, the panic catcher,
    /// `X-Content-Type-Options: nosniff` on every answer, metrics (labelled by the route
    /// `templates`), the request span and log line, and request ids.
    pub(crate) fn apply(&self, routes: Router, templates: &[String]) -> Router {
        let timeout = self.request_timeout;
        routes
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .layer(middleware::from_fn(move |request: Request, next: Next| {
                deadline(timeout, request, next)
            }))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(middleware::map_response(nosniff))
            .layer(self.metrics.layer().routes(templates))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_request(())
                    .on_response(log_response),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            // Outermost, so nothing below ever logs a credential.
            .layer(SetSensitiveRequestHeadersLayer::new([
                header::AUTHORIZATION,
                header::COOKIE,
            ]))
    }
}

/// Browsers must take every answer as the type it says it is (a JSON error is never
/// sniffed into HTML).
async fn nosniff(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A request still unanswered after `limit` is answered 503 `timeout`, with `Retry-After`;
/// its handler is dropped (work already handed to the hashing pool runs to its end).
async fn deadline(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_s = limit.as_secs(), "request timed out");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!("no answer within {} s; try again", limit.as_secs()),
            )
            .with_retry_after(Duration::from_secs(1))
            .into_json_response()
        }
    }
}

async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.jwks.as_ref().clone()),
    )
        .into_response()
}

/// The server's own refusals (no route, a panic, a timeout) in the one answer shape.
fn error(status: StatusCode, code: &'static str, message: String) -> Answer {
    Answer::new(status, code, message)
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {method} {}", uri.path()),
    )
    .into_json_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
    .into_json_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn stack(request_timeout: Duration) -> Stack {
        Stack {
            metrics: Metrics::new(),
            cors_origins: Vec::new(),
            request_timeout,
        }
    }

    async fn call(
        app: &Router,
        path: &str,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, parts.headers, json)
    }

    async fn boom() -> &'static str {
        panic!("handler bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_in_our_shape_and_the_service_lives_on() {
        let app = stack(Duration::from_secs(30)).apply(
            Router::new()
                .route("/boom", get(boom))
                .route("/fine", get(|| async { "ok" })),
            &[],
        );
        let (status, headers, body) = call(&app, "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"], "internal");
        assert_eq!(body["message"], "internal error", "no panic text leaks");
        assert!(headers.contains_key("x-request-id"));
        let (status, _, _) = call(&app, "/fine").await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_request_past_its_deadline_answers_503_timeout_with_retry_after() {
        let app = stack(Duration::from_millis(50)).apply(
            Router::new()
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        "never"
                    }),
                )
                .route("/fast", get(|| async { "ok" })),
            &[],
        );
        let (status, headers, body) = call(&app, "/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"], "timeout");
        assert_eq!(headers[header::RETRY_AFTER], "1");
        let (status, _, _) = call(&app, "/fast").await;
        assert_eq!(status, StatusCode::OK);
    }
}
