//! The caller's sessions: list them, end one, end all the others.

use auth_core::flows::{Authenticator, Principal};
use auth_core::id::SessionId;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ClientIp};
use super::types::{SessionBody, SessionsBody};

/// Seconds since the Unix epoch; 0 for a time before it.
fn timestamp(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[utoipa::path(get, path = "/v1/auth/sessions", responses((status = 200, body = SessionsBody), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn sessions(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let sessions = auth
        .sessions(&principal)
        .await?
        .into_iter()
        .map(|session| SessionBody {
            id: session.id,
            created_at: timestamp(session.created_at),
            last_used_at: timestamp(session.last_used_at),
            current: session.current,
            flagged: session.flagged,
            client: session.client,
            user_agent: session.user_agent,
        })
        .collect();
    Ok(Json(SessionsBody { sessions }).into_response())
}

#[utoipa::path(delete, path = "/v1/auth/sessions/{id}", params(("id" = String, Path, description = "a session id from the list")), responses((status = 204, description = "ended"), (status = 401, body = ErrorBody, description = "invalid_token, or reauth_required for a session other than the caller's"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn revoke_session(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ClientIp(client): ClientIp,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = SessionId::parse(&id)?;
    auth.revoke_session(&principal, &id, Some(client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/auth/sessions", responses((status = 204, description = "every other session ended"), (status = 401, body = ErrorBody, description = "invalid_token, or reauth_required: authenticate again first")), security(("bearer" = [])))]
pub(crate) async fn revoke_other_sessions(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ClientIp(client): ClientIp,
) -> Result<StatusCode, ApiError> {
    auth.revoke_other_sessions(&principal, Some(client)).await?;
    Ok(StatusCode::NO_CONTENT)
}
