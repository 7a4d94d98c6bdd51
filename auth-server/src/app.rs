//! The HTTP routes: the auth API, probes, metrics and the public keys.

use std::sync::Arc;

use auth_core::flows::Authenticator;
use auth_core::token::Jwks;
use auth_tower::health::HealthService;
use auth_tower::metrics::Metrics;
use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

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
];

#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) jwks: Arc<Jwks>,
}

/// Largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024;

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
        .merge(crate::api::routes(auth))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(cors(cors_origins))
        .layer(metrics.layer().routes(ROUTES))
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
