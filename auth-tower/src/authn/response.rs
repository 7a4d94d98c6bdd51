//! The answers of the layer itself: RFC 6750 challenges with a JSON body.

use std::pin::Pin;
use std::task::{Context, Poll};

use auth_core::Error;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;

pin_project! {
    /// The response body of an [`Auth`](super::Auth): the inner service's body,
    /// or the layer's own JSON error.
    pub struct AuthBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Refused { #[pin] body: Full<Bytes> },
    }
}

impl<B> AuthBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    fn refused(body: Bytes) -> Self {
        Self {
            kind: Kind::Refused {
                body: Full::new(body),
            },
        }
    }
}

impl<B> Body for AuthBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Refused { body } => match body.poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
                Poll::Ready(Some(Err(never))) => match never {},
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Refused { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Refused { body } => body.size_hint(),
        }
    }
}

/// Escapes a value for a quoted-string in a `WWW-Authenticate` parameter.
fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

fn json_error(code: &str, message: &str) -> Bytes {
    let body = serde_json::json!({ "error": code, "message": message });
    Bytes::from(body.to_string())
}

fn response<B>(
    status: StatusCode,
    challenge: Option<String>,
    code: &str,
    message: &str,
) -> Response<AuthBody<B>> {
    let mut response = Response::new(AuthBody::refused(json_error(code, message)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(challenge) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// 401 for a request that carries no credential (RFC 6750 section 3.1: no error code).
pub(crate) fn missing_credential<B>(realm: &str) -> Response<AuthBody<B>> {
    response(
        StatusCode::UNAUTHORIZED,
        Some(format!("Bearer realm=\"{}\"", quoted(realm))),
        "unauthorized",
        "this resource needs a bearer token",
    )
}

/// 403 for a principal without the scope a route needs (RFC 6750 section 3.1).
pub(crate) fn insufficient_scope<B>(
    realm: &str,
    required: &str,
    status: StatusCode,
) -> Response<AuthBody<B>> {
    response(
        status,
        Some(format!(
            "Bearer realm=\"{}\", error=\"insufficient_scope\", scope=\"{}\"",
            quoted(realm),
            quoted(required)
        )),
        "insufficient_scope",
        &format!("this resource needs the scope {required}"),
    )
}

/// 401 for a malformed `Authorization` header (`invalid_request`).
pub(super) fn malformed_credential<B>(realm: &str) -> Response<AuthBody<B>> {
    response(
        StatusCode::UNAUTHORIZED,
        Some(format!(
            "Bearer realm=\"{}\", error=\"invalid_request\", error_description=\"malformed Authorization header\"",
            quoted(realm)
        )),
        "invalid_request",
        "the Authorization header is not a bearer credential",
    )
}

/// The answer to a credential the authenticator refused or could not check.
pub(super) fn refused<B>(realm: &str, error: &Error) -> Response<AuthBody<B>> {
    match error {
        Error::InvalidToken(reason) => response(
            StatusCode::UNAUTHORIZED,
            Some(format!(
                "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
                quoted(realm),
                quoted(reason.as_str())
            )),
            "invalid_token",
            "the access token is invalid",
        ),
        Error::InvalidCredentials => response(
            StatusCode::UNAUTHORIZED,
            Some(format!(
                "Bearer realm=\"{}\", error=\"invalid_token\"",
                quoted(realm)
            )),
            "invalid_token",
            "the access token is invalid",
        ),
        Error::Throttled { retry_after } => {
            let mut answer = response(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                error.code(),
                "too many attempts",
            );
            // Whole seconds, rounded up: retrying early would only be refused again.
            let seconds = retry_after.as_millis().div_ceil(1000).max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                answer.headers_mut().insert(header::RETRY_AFTER, value);
            }
            answer
        }
        Error::Unavailable(_) | Error::Busy => response(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "unavailable",
            "authentication is temporarily unavailable",
        ),
        _ => {
            tracing::error!(error = %error, "authentication failed unexpectedly");
            response(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "internal",
                "authentication failed",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn challenge_values_are_escaped() {
        assert_eq!(quoted(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(quoted("line\r\nbreak"), "linebreak");
    }
}
