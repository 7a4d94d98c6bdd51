//! [`ApiError`]: how a failure is answered. Every error is JSON `{"error", "message"}` with the
//! status its code calls for, `Retry-After` when waiting helps, and a `Bearer` challenge on a
//! `401`; an `auth_core::Error` gets auth-tower's one [`Answer`].

use auth_core::Error;
use auth_tower::answer::Answer;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::REALM;

/// An API failure, answered as JSON with the right status: auth-tower's [`Answer`], the one
/// answer every `auth_core::Error` gets.
#[derive(Debug)]
pub(crate) struct ApiError(Answer);

impl ApiError {
    /// A failure of the API's own (a body too large, say), with no `Retry-After`.
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self(Answer::new(status, code, message.into()))
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self(Answer::from_error(&error))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send a JSON body with Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(_) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            ),
            other => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                other.body_text(),
            ),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                rejection.body_text(),
            ),
            other => {
                tracing::error!(rejection = %other.body_text(), "path parameters missing");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

impl ApiError {
    /// The status it answers with.
    pub(super) fn status(&self) -> StatusCode {
        self.0.status()
    }

    /// Seconds to wait before trying again, when waiting helps.
    pub(super) fn retry_after(&self) -> Option<u64> {
        self.0.retry_after()
    }

    /// The message a person may read.
    pub(super) fn message(&self) -> &str {
        self.0.message()
    }
}

impl From<axum::extract::rejection::FormRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::FormRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            rejection.body_text(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.with_realm(REALM).into_json_response()
    }
}

/// The error body every failure answers with.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// A stable, documented code (`invalid_credentials`, `token_reused`, `weak_password`, ...).
    error: String,
    /// A human-readable explanation; never reveals whether an account exists.
    message: String,
}
