//! The HTTP routes: the auth API, probes, metrics and the public keys.

use std::sync::Arc;

use auth_core::flows::Authenticator;
use auth_core::token::Jwks;
use auth_tower::health::HealthService;
use auth_tower::metrics::Metrics;
use axum::Json;
use axum::Router;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// The route templates the metrics label requests with.
pub(crate) const ROUTES: &[&str] = &[
    "/v1/auth/register",
    "/v1/auth/login",
    "/v1/auth/refresh",
    "/v1/auth/logout",
    "/v1/auth/me",
    "/v1/auth/mfa/verify",
    "/v1/auth/password",
    "/v1/auth/mfa/totp/enroll",
    "/v1/auth/mfa/totp/confirm",
    "/v1/auth/mfa/totp",
    "/v1/auth/sessions",
    "/v1/auth/sessions/{id}",
    "/health/liveness",
    "/health/readiness",
    "/health/startup",
    "/metrics",
    "/.well-known/jwks.json",
    "/openapi.json",
];

#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) jwks: Arc<Jwks>,
}

/// Largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024;

/// Longest a request may take before it is answered 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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

pub(crate) fn router(
    state: AppState,
    auth: Authenticator,
    health: HealthService,
    metrics: &Metrics,
    cors_origins: &[String],
    proxy_header: crate::api::TrustedProxyHeader,
) -> Router {
    Router::new()
        .route_service("/health/liveness", health.clone())
        .route_service("/health/readiness", health.clone())
        .route_service("/health/startup", health)
        .route_service("/metrics", metrics.service())
        .route("/.well-known/jwks.json", get(jwks))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .merge(crate::api::routes(auth, proxy_header))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(cors(cors_origins))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(metrics.layer().routes(ROUTES))
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

async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.jwks.as_ref().clone()),
    )
        .into_response()
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
