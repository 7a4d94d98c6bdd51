//! The `/v1/auth` HTTP API: JSON in, JSON out, every error as `{"error", "message"}` with the
//! status its code calls for.
//!
//! - `auth`, `mfa` and `sessions` hold the handlers of each route group;
//! - `extract` the extractors (JSON body, path parameter, client address), `types` the request
//!   and response bodies, `error` how a failure is answered.

mod auth;
mod error;
mod extract;
mod mfa;
mod sessions;
mod types;

#[cfg(test)]
mod tests;

use auth_core::flows::{Authenticator, Principal};
use auth_tower::authn::AuthLayer;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};

// The handlers and their `#[utoipa::path]` structs, which `ApiDoc` names unqualified.
use auth::*;
use mfa::*;
use sessions::*;

pub(crate) use extract::TrustedProxyHeader;

/// Names the authenticated user in the request's span, so its log line says who asked.
async fn record_user(request: Request, next: axum::middleware::Next) -> Response {
    if let Some(principal) = request.extensions().get::<Principal>() {
        tracing::Span::current().record("user_id", tracing::field::display(principal.user_id));
    }
    next.run(request).await
}

/// The `/v1/auth` routes; the bearer ones behind `AuthLayer`.
pub(crate) fn routes(auth: Authenticator, proxy_header: TrustedProxyHeader) -> Router {
    let bearer = Router::new()
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/me", get(me))
        .route("/v1/auth/password", post(change_password))
        .route("/v1/auth/mfa/totp/enroll", post(enroll_totp))
        .route("/v1/auth/mfa/totp/confirm", post(confirm_totp))
        .route("/v1/auth/mfa/totp", delete(disable_totp))
        .route(
            "/v1/auth/sessions",
            get(sessions).delete(revoke_other_sessions),
        )
        .route("/v1/auth/sessions/{id}", delete(revoke_session))
        .route_layer(axum::middleware::from_fn(record_user))
        .route_layer(AuthLayer::required(auth.clone()).realm("auth"));
    Router::new()
        .route("/v1/auth/register", post(register))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/mfa/verify", post(verify_mfa))
        .route("/openapi.json", get(openapi))
        .merge(bearer)
        .with_state(auth)
        .layer(Extension(proxy_header))
}

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document, generated from the handlers and the types they read and write.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "auth-server", description = "Authentication API"),
    paths(
        register,
        login,
        refresh,
        verify_mfa,
        logout,
        me,
        change_password,
        enroll_totp,
        confirm_totp,
        disable_totp,
        sessions,
        revoke_other_sessions,
        revoke_session
    ),
    modifiers(&BearerScheme)
)]
pub(crate) struct ApiDoc;

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Response {
    Json(<ApiDoc as utoipa::OpenApi>::openapi()).into_response()
}
