//! The HTTP routes served so far: liveness and the public keys.

use std::sync::Arc;

use auth_core::token::Jwks;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) jwks: Arc<Jwks>,
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/health/liveness", get(liveness))
        .route("/.well-known/jwks.json", get(jwks))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// The process is up: never touches a dependency.
async fn liveness() -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "info": { "process": { "status": "up" } },
        "error": {},
        "details": { "process": { "status": "up" } },
    }))
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
