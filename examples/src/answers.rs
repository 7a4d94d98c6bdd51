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
use auth_tower::answer::Answer;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::demo::REALM;

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
            factors,
        }) => json(
            StatusCode::OK,
            &json!({
                "mfa_required": true,
                "mfa_token": mfa_token.expose_secret(),
                "expires_in": expires_in,
                "factors": factors.iter().map(|factor| factor.as_str()).collect::<Vec<_>>(),
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
    Answer::new(StatusCode::NOT_FOUND, "not_found", "no such resource").into_json_response()
}

/// The route exists but not for this method.
pub fn method_not_allowed(allow: &'static str) -> Response<String> {
    let mut response: Response<String> = Answer::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this resource answers {allow}"),
    )
    .into_json_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// The answer to `error`: auth-tower's one [`Answer`] (status, code, a client-safe message,
/// `Retry-After`, a `Bearer` challenge on `401`), as JSON.
pub fn error_response(error: &Error) -> Response<String> {
    Answer::from_error(error)
        .with_realm(REALM)
        .into_json_response()
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use auth_core::TokenRejection;

    use super::*;

    fn answer(error: Error) -> (StatusCode, http::HeaderMap, Value) {
        let (parts, body) = error_response(&error).into_parts();
        (
            parts.status,
            parts.headers,
            serde_json::from_str(&body).unwrap(),
        )
    }

    #[test]
    fn errors_get_the_servers_status_code_and_retry_after() {
        let cases = [
            (
                Error::MfaRequired,
                StatusCode::FORBIDDEN,
                "mfa_required",
                None,
            ),
            (
                Error::Busy,
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                Some("1"),
            ),
            (
                Error::Unavailable("redis".into()),
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                Some("5"),
            ),
            (
                Error::Throttled {
                    retry_after: Duration::from_millis(200),
                },
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                Some("1"),
            ),
            (
                Error::Internal("no principal".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                None,
            ),
        ];
        for (error, status, code, retry_after) in cases {
            let (got, headers, body) = answer(error);
            assert_eq!((got, body["error"].as_str()), (status, Some(code)));
            assert_eq!(
                headers
                    .get(header::RETRY_AFTER)
                    .map(|v| v.to_str().unwrap()),
                retry_after,
                "{code}"
            );
        }
    }

    #[test]
    fn a_refused_token_is_answered_without_its_reason() {
        let (status, headers, body) = answer(Error::InvalidToken(TokenRejection::Expired));
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        assert_eq!(body["message"], "the token is invalid");
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"orders\", error=\"invalid_token\", error_description=\"the token is invalid\""
        );
    }

    #[test]
    fn server_faults_say_internal_error_and_no_more() {
        let (_, _, body) = answer(Error::Internal("no principal".into()));
        assert_eq!(body["message"], "internal error");
    }
}
