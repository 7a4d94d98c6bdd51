//! The JSON answers of the HTTP examples, in the shape `auth-server` uses: tokens as
//! `{access_token, token_type, expires_in, refresh_token}`, errors as
//! `{"error": "<code>", "message": "<text>"}` with the matching status. Framework neutral
//! (`http::Response<String>`), so the axum and the hyper example answer alike.
//!
//! Not a program of its own; used by `cargo run -p auth-examples --bin axum_app` and
//! `--bin hyper_server`.

use std::fmt;
use std::net::IpAddr;

use auth_core::Error;
use auth_core::flows::{Authenticator, LoginOutcome, Principal};
use auth_core::secrecy::{ExposeSecret, SecretString};
use http::{HeaderValue, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

/// The body of `POST /login`.
#[derive(Deserialize)]
pub struct LoginRequest {
    /// The account's email address.
    pub email: String,
    /// The password, moved into a `SecretString` before use.
    pub password: String,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// `POST /login`: tokens, or the MFA challenge when a second factor is enrolled.
pub async fn login(
    auth: &Authenticator,
    request: LoginRequest,
    client: Option<IpAddr>,
) -> Response<String> {
    let password = SecretString::from(request.password);
    match auth.login(&request.email, &password, client).await {
        Ok(LoginOutcome::Authenticated(tokens)) => json(
            StatusCode::OK,
            &json!({
                "access_token": tokens.access_token.expose_secret(),
                "token_type": tokens.token_type,
                "expires_in": tokens.expires_in,
                "refresh_token": tokens.refresh_token.expose_secret(),
            }),
        ),
        Ok(LoginOutcome::MfaRequired {
            mfa_token,
            expires_in,
        }) => json(
            StatusCode::OK,
            &json!({
                "mfa_required": true,
                "mfa_token": mfa_token.expose_secret(),
                "expires_in": expires_in,
            }),
        ),
        Err(error) => error_response(&error),
    }
}

/// `GET /me`: the caller's account.
pub async fn me(auth: &Authenticator, principal: &Principal) -> Response<String> {
    match auth.me(principal).await {
        Ok(profile) => json(
            StatusCode::OK,
            &json!({
                "user_id": profile.user_id,
                "email": profile.email,
                "mfa_enabled": profile.mfa_enabled,
                "session_id": profile.session_id.as_ref().map(|id| id.as_str()),
            }),
        ),
        Err(error) => error_response(&error),
    }
}

/// `GET /orders`: the caller's orders (a fixed list: the point is who gets to see it).
pub fn orders(principal: &Principal) -> Response<String> {
    json(
        StatusCode::OK,
        &json!({
            "user_id": principal.user_id,
            "orders": [{ "id": "ord-1001", "total_cents": 4200 }],
        }),
    )
}

/// A request body that is not the expected JSON.
pub fn malformed_body(reason: &str) -> Response<String> {
    error_response(&Error::InvalidRequest(reason.to_owned()))
}

/// No such route.
pub fn not_found() -> Response<String> {
    json(
        StatusCode::NOT_FOUND,
        &json!({ "error": "not_found", "message": "no such resource" }),
    )
}

/// The route exists but not for this method.
pub fn method_not_allowed(allow: &'static str) -> Response<String> {
    let mut response = json(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({ "error": "method_not_allowed", "message": format!("this resource answers {allow}") }),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// The status an error answers with.
pub fn error_status(error: &Error) -> StatusCode {
    match error {
        Error::InvalidRequest(_) => StatusCode::BAD_REQUEST,
        Error::InvalidCredentials
        | Error::InvalidToken(_)
        | Error::TokenReused
        | Error::MfaRequired => StatusCode::UNAUTHORIZED,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::WeakPassword(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Busy | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"error", "message"}` with the error's status (and `Retry-After` when throttled). Server
/// faults say no more than that they happened.
pub fn error_response(error: &Error) -> Response<String> {
    let status = error_status(error);
    let message = if status.is_server_error() {
        "the request could not be completed".to_owned()
    } else {
        error.to_string()
    };
    let mut response = json(
        status,
        &json!({ "error": error.code(), "message": message }),
    );
    if let Error::Throttled { retry_after } = error {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    }
    response
}

fn json(status: StatusCode, body: &Value) -> Response<String> {
    let mut response = Response::new(body.to_string());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
