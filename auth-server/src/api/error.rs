//! [`ApiError`]: how a failure is answered. Every error is JSON `{"error", "message"}` with the
//! status its code calls for, and `Retry-After` when waiting helps.

use std::time::Duration;

use auth_core::Error;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An API failure, answered as JSON with the right status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<Duration>,
}

impl ApiError {
    /// A failure with no `Retry-After`.
    pub(super) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = match &error {
            Error::InvalidCredentials | Error::InvalidToken(_) | Error::TokenReused => {
                StatusCode::UNAUTHORIZED
            }
            Error::MfaRequired => StatusCode::FORBIDDEN,
            Error::WeakPassword(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Busy | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry_after = match &error {
            Error::Throttled { retry_after } => Some(*retry_after),
            Error::Busy => Some(Duration::from_secs(1)),
            // A lost dependency usually comes back within a failover or a restart.
            Error::Unavailable(_) => Some(Duration::from_secs(5)),
            _ => None,
        };
        let message = match &error {
            // Details of internal failures go to the log, not to the client.
            _ if status == StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %error, "request failed");
                "internal error".to_owned()
            }
            Error::Unavailable(detail) => {
                tracing::warn!(detail = %detail, "a dependency is unavailable");
                "a dependency is unavailable, retry later".to_owned()
            }
            Error::InvalidToken(_) => "the token is invalid".to_owned(),
            _ => error.to_string(),
        };
        Self {
            status,
            code: error.code(),
            message,
            retry_after,
        }
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_millis().div_ceil(1000).max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
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
