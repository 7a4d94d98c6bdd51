//! One answer per error: how an [`auth_core::Error`], and the few refusals of this crate's own
//! layers, are answered over HTTP and gRPC.
//!
//! [`Answer::from_error`] is the one mapping from an error to its answer: a status, the
//! error's stable [code](auth_core::Error::code), a message that is safe to show a client,
//! `Retry-After` when waiting helps, and for `401` an RFC 6750 `WWW-Authenticate: Bearer`
//! challenge (for `reauth_required`, RFC 9470's `insufficient_user_authentication` with
//! `max_age`). It is an exhaustive `match` with no wildcard arm, so a new variant of
//! `auth_core::Error` does not compile until it has an answer. [`AuthLayer`], [`RequireScope`]
//! and `auth-server` all answer through it.
//!
//! | error | status | code | `Retry-After` | gRPC status |
//! |---|---|---|---|---|
//! | `InvalidCredentials` | 401 | `invalid_credentials` | | 16 `UNAUTHENTICATED` |
//! | `InvalidToken(_)` | 401 | `invalid_token` | | 16 `UNAUTHENTICATED` |
//! | `TokenReused` | 401 | `token_reused` | | 16 `UNAUTHENTICATED` |
//! | `MfaRequired` | 403 | `mfa_required` | | 7 `PERMISSION_DENIED` |
//! | `ReauthRequired { max_age }` | 401 | `reauth_required` | | 16 `UNAUTHENTICATED` |
//! | `WeakPassword(_)` | 422 | `weak_password` | | 3 `INVALID_ARGUMENT` |
//! | `Throttled { retry_after }` | 429 | `throttled` | `retry_after`, rounded up | 8 `RESOURCE_EXHAUSTED` |
//! | `EmailUnverified` | 403 | `email_unverified` | | 7 `PERMISSION_DENIED` |
//! | `IntentInvalid` | 410 | `intent_invalid` | | 9 `FAILED_PRECONDITION` |
//! | `CeremonyInvalid` | 410 | `ceremony_invalid` | | 9 `FAILED_PRECONDITION` |
//! | `Conflict(_)` | 409 | `conflict` | | 6 `ALREADY_EXISTS` |
//! | `NotFound(_)` | 404 | `not_found` | | 5 `NOT_FOUND` |
//! | `InvalidRequest(_)` | 400 | `invalid_request` | | 3 `INVALID_ARGUMENT` |
//! | `InvalidScope(_)` | 400 | `invalid_scope` | | 3 `INVALID_ARGUMENT` |
//! | `Busy` | 503 | `busy` | 1 | 14 `UNAVAILABLE` |
//! | `Unavailable(_)` | 503 | `unavailable` | 5 | 14 `UNAVAILABLE` |
//! | `InvalidKey(_)`, `Config(_)`, `InvalidHash(_)`, `Internal(_)` | 500 | `invalid_key`, `invalid_config`, `invalid_hash`, `internal` | | 13 `INTERNAL` |
//!
//! Messages never carry what is for logs only: every refused token gets the same
//! `the token is invalid` (the [`TokenRejection`](auth_core::TokenRejection) reason is
//! logged at `debug`), a lost dependency `a dependency is unavailable, retry later` (the
//! detail is logged at `warn`), and a server fault `internal error` (logged at `error`).
//!
//! An answer goes out as JSON `{"error": code, "message": text}` with its status
//! ([`Answer::into_json_response`]), or, to a gRPC request (`content-type: application/grpc*`,
//! see [`is_grpc`]), as a trailers-only gRPC answer: HTTP `200`, `content-type:
//! application/grpc`, `grpc-status` and a percent-encoded `grpc-message`, with
//! `WWW-Authenticate` and `Retry-After` kept as metadata ([`Answer::into_grpc_response`]).
//! [`Answer::into_response_for`] picks by the request's headers.
//!
//! ```
//! use std::time::Duration;
//!
//! use auth_core::Error;
//! use auth_core::TokenRejection;
//! use auth_tower::answer::Answer;
//! use http::{HeaderMap, Response, StatusCode, header};
//!
//! // A refused token: 401 with a generic RFC 6750 challenge; the reason stays in the logs.
//! let answer = Answer::from_error(&Error::InvalidToken(TokenRejection::Expired)).with_realm("orders");
//! assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(answer.code(), "invalid_token");
//! let response: Response<String> = answer.into_json_response();
//! assert_eq!(
//!     response.headers()[header::WWW_AUTHENTICATE],
//!     r#"Bearer realm="orders", error="invalid_token", error_description="the token is invalid""#
//! );
//! assert_eq!(
//!     response.body(),
//!     r#"{"error":"invalid_token","message":"the token is invalid"}"#
//! );
//!
//! // Throttled, asked over gRPC: RESOURCE_EXHAUSTED, and Retry-After rounded up.
//! let throttled = Error::Throttled { retry_after: Duration::from_millis(1500) };
//! let mut request = HeaderMap::new();
//! request.insert(header::CONTENT_TYPE, "application/grpc+proto".parse()?);
//! let response: Response<String> = Answer::from_error(&throttled).into_response_for(&request);
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["grpc-status"], "8");
//! assert_eq!(response.headers()["grpc-message"], "too many attempts, retry in 2 s");
//! assert_eq!(response.headers()[header::RETRY_AFTER], "2");
//! assert!(response.body().is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`AuthLayer`]: crate::authn::AuthLayer
//! [`RequireScope`]: crate::scope::RequireScope

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

use auth_core::Error;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};

/// The realm of challenges unless one is set with [`Answer::with_realm`].
const DEFAULT_REALM: &str = "api";

/// What every refused token is told: the reason is for logs, never for the client.
const INVALID_TOKEN: &str = "the token is invalid";

/// The content type of gRPC requests and of the answers to them.
const GRPC: &str = "application/grpc";

/// How long to wait after `Busy`: the hashing queue drains within about a second.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How long to wait after `Unavailable`: a lost dependency usually comes back within a
/// failover or a restart.
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// How a request is refused; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    /// Whole seconds.
    retry_after: Option<u64>,
    challenge: Option<Challenge>,
    realm: Cow<'static, str>,
}

/// The parameters of an RFC 6750 `Bearer` challenge besides the realm.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Challenge {
    error: Option<&'static str>,
    description: Option<Cow<'static, str>>,
    scope: Option<String>,
    /// RFC 9470: how recent the user's authentication must be, in seconds.
    max_age: Option<u64>,
}

impl Challenge {
    /// No error parameter: the request carried no credential (RFC 6750 section 3.1).
    const BARE: Self = Self {
        error: None,
        description: None,
        scope: None,
        max_age: None,
    };
}

impl Answer {
    /// An answer of the caller's own (a body too large, say): JSON `{"error": code, "message":
    /// message}` with `status`, no challenge and no `Retry-After`.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            challenge: None,
            realm: Cow::Borrowed(DEFAULT_REALM),
        }
    }

    /// The answer to `error`: the one mapping of the [table](self).
    pub fn from_error(error: &Error) -> Self {
        let code = error.code();
        // No wildcard arm: a new variant of `Error` does not compile until it is answered.
        match error {
            Error::InvalidCredentials | Error::TokenReused => {
                Self::unauthorized(code, error.to_string())
            }
            Error::InvalidToken(reason) => {
                tracing::debug!(%reason, "token refused");
                Self::unauthorized(code, INVALID_TOKEN)
            }
            Error::MfaRequired => Self::new(StatusCode::FORBIDDEN, code, error.to_string()),
            Error::ReauthRequired { max_age } => Self::new(
                StatusCode::UNAUTHORIZED,
                code,
                error.to_string(),
            )
            .with_challenge(Challenge {
                error: Some("insufficient_user_authentication"),
                description: Some(Cow::Borrowed("a more recent authentication is required")),
                scope: None,
                max_age: Some(max_age.as_secs()),
            }),
            Error::WeakPassword(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, error.to_string())
            }
            Error::Throttled { retry_after } => {
                let seconds = whole_seconds(*retry_after);
                Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    code,
                    format!("too many attempts, retry in {seconds} s"),
                )
                .with_retry_after(*retry_after)
            }
            Error::EmailUnverified => Self::new(StatusCode::FORBIDDEN, code, error.to_string()),
            Error::IntentInvalid | Error::CeremonyInvalid => {
                Self::new(StatusCode::GONE, code, error.to_string())
            }
            Error::Conflict(_) => Self::new(StatusCode::CONFLICT, code, error.to_string()),
            Error::NotFound(_) => Self::new(StatusCode::NOT_FOUND, code, error.to_string()),
            Error::InvalidRequest(_) | Error::InvalidScope(_) => {
                Self::new(StatusCode::BAD_REQUEST, code, error.to_string())
            }
            Error::Busy => Self::new(StatusCode::SERVICE_UNAVAILABLE, code, error.to_string())
                .with_retry_after(BUSY_RETRY_AFTER),
            Error::Unavailable(detail) => {
                tracing::warn!(detail = %detail, "a dependency is unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code,
                    "a dependency is unavailable, retry later",
                )
                .with_retry_after(UNAVAILABLE_RETRY_AFTER)
            }
            Error::InvalidKey(_)
            | Error::Config(_)
            | Error::InvalidHash(_)
            | Error::Internal(_) => {
                // Details of internal failures go to the log, not to the client.
                tracing::error!(error = %error, "request failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, code, "internal error")
            }
        }
    }

    /// `401 unauthorized` for a request that carries no credential, with a bare
    /// `Bearer realm=".."` challenge (RFC 6750 section 3.1: no error code).
    pub fn missing_credential() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this resource needs a bearer token",
        )
        .with_challenge(Challenge::BARE)
    }

    /// `401 invalid_request` for an `Authorization` header that is not one bearer credential.
    pub fn malformed_credential() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "the Authorization header is not a bearer credential",
        )
        .with_challenge(Challenge {
            error: Some("invalid_request"),
            description: Some(Cow::Borrowed("malformed Authorization header")),
            scope: None,
            max_age: None,
        })
    }

    /// `403 insufficient_scope` for a principal that lacks `required`, which the challenge's
    /// `scope` parameter names.
    pub fn insufficient_scope(required: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("this resource needs the scope {required}"),
        )
        .with_challenge(Challenge {
            error: Some("insufficient_scope"),
            description: None,
            scope: Some(required.to_owned()),
            max_age: None,
        })
    }

    /// A `401` with `error="invalid_token"` and the client-safe message as its description.
    fn unauthorized(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        let message = message.into();
        Self::new(StatusCode::UNAUTHORIZED, code, message.clone()).with_challenge(Challenge {
            error: Some("invalid_token"),
            description: Some(message),
            scope: None,
            max_age: None,
        })
    }

    fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// The realm its `WWW-Authenticate` challenge names (default `api`).
    pub fn with_realm(mut self, realm: impl Into<Cow<'static, str>>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Sends `Retry-After` with `wait` in whole seconds, rounded up (retrying early would only
    /// be refused again), at least 1.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(whole_seconds(wait));
        self
    }

    /// The HTTP status (of a JSON answer; a gRPC answer is `200` with [`grpc_status`]).
    ///
    /// [`grpc_status`]: Self::grpc_status
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code, the `error` field of the JSON body.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message, safe to show a client: the `message` field of the JSON body and the
    /// `grpc-message` of a gRPC answer.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `Retry-After`, in whole seconds.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The gRPC status code that stands for [`status`](Self::status): 16 `UNAUTHENTICATED`
    /// for `401`, 7 `PERMISSION_DENIED` for `403`, 8 `RESOURCE_EXHAUSTED` for `429`,
    /// 14 `UNAVAILABLE` for `503`, 3 `INVALID_ARGUMENT` for `400` and `422`, 6
    /// `ALREADY_EXISTS` for `409`, 5 `NOT_FOUND` for `404`, 13 `INTERNAL` otherwise.
    pub fn grpc_status(&self) -> i32 {
        match self.status {
            StatusCode::UNAUTHORIZED => 16,
            StatusCode::FORBIDDEN => 7,
            StatusCode::TOO_MANY_REQUESTS => 8,
            StatusCode::SERVICE_UNAVAILABLE => 14,
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => 3,
            StatusCode::CONFLICT => 6,
            StatusCode::GONE => 9,
            StatusCode::NOT_FOUND => 5,
            _ => 13,
        }
    }

    /// The `WWW-Authenticate` value: `Bearer realm=".."` and the challenge's parameters, for
    /// the answers that carry one (every `401`, and `403 insufficient_scope`).
    pub fn www_authenticate(&self) -> Option<HeaderValue> {
        let challenge = self.challenge.as_ref()?;
        let mut value = format!("Bearer realm=\"{}\"", quoted(&self.realm));
        if let Some(error) = challenge.error {
            let _ = write!(value, ", error=\"{error}\"");
        }
        if let Some(description) = &challenge.description {
            let _ = write!(value, ", error_description=\"{}\"", quoted(description));
        }
        if let Some(scope) = &challenge.scope {
            let _ = write!(value, ", scope=\"{}\"", quoted(scope));
        }
        if let Some(max_age) = challenge.max_age {
            let _ = write!(value, ", max_age={max_age}");
        }
        HeaderValue::from_str(&value).ok()
    }

    /// The JSON body: `{"error": code, "message": message}`.
    pub fn json_body(&self) -> String {
        serde_json::json!({ "error": self.code, "message": self.message }).to_string()
    }

    /// The answer as JSON with its status, `Cache-Control: no-store`, and `WWW-Authenticate`
    /// and `Retry-After` where it has them.
    pub fn into_json_response<B: From<String>>(self) -> Response<B> {
        let mut response = Response::new(B::from(self.json_body()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        self.insert_challenge_and_wait(headers);
        response
    }

    /// The answer as a trailers-only gRPC answer: HTTP `200`, `content-type:
    /// application/grpc`, `grpc-status`, a percent-encoded `grpc-message`, an empty body, and
    /// `WWW-Authenticate` and `Retry-After` as metadata where it has them.
    pub fn into_grpc_response<B: From<String>>(self) -> Response<B> {
        let mut response = Response::new(B::from(String::new()));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(GRPC));
        headers.insert(
            HeaderName::from_static("grpc-status"),
            HeaderValue::from(self.grpc_status()),
        );
        if let Ok(message) = HeaderValue::from_str(&percent_encoded(&self.message)) {
            headers.insert(HeaderName::from_static("grpc-message"), message);
        }
        self.insert_challenge_and_wait(headers);
        response
    }

    /// The answer to a request with these headers: gRPC to a gRPC request ([`is_grpc`]),
    /// JSON to any other.
    pub fn into_response_for<B: From<String>>(self, request: &HeaderMap) -> Response<B> {
        if is_grpc(request) {
            self.into_grpc_response()
        } else {
            self.into_json_response()
        }
    }

    fn insert_challenge_and_wait(&self, headers: &mut HeaderMap) {
        if let Some(challenge) = self.www_authenticate() {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
}

impl From<&Error> for Answer {
    fn from(error: &Error) -> Self {
        Self::from_error(error)
    }
}

impl From<Error> for Answer {
    fn from(error: Error) -> Self {
        Self::from_error(&error)
    }
}

/// Whether a request with these headers is a gRPC call: its `content-type` is
/// `application/grpc` or `application/grpc+<format>` (`application/grpc+proto`, ...).
pub fn is_grpc(request: &HeaderMap) -> bool {
    request
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_at_checked(GRPC.len()))
        .is_some_and(|(start, rest)| {
            start.eq_ignore_ascii_case(GRPC)
                && (rest.is_empty() || rest.starts_with('+') || rest.starts_with(';'))
        })
}

/// Whole seconds, rounded up, at least 1.
fn whole_seconds(wait: Duration) -> u64 {
    let seconds = u64::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u64::MAX);
    seconds.max(1)
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

/// `grpc-message` encoding (gRPC over HTTP/2): every byte outside `0x20..=0x7E`, and `%`
/// itself, as `%XX` of its UTF-8 bytes.
fn percent_encoded(message: &str) -> String {
    let mut encoded = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7E).contains(&byte) && byte != b'%' {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests;
