use std::time::Duration;

use auth_core::{Error, PasswordRejection, TokenRejection};
use http::{HeaderMap, Response, StatusCode, header};

use super::*;

/// One value of every variant of [`Error`], found by walking a chain: each arm names the next
/// sample. The `match` has no wildcard, so a new variant does not compile here until it is
/// chained in (and then [`expected`] does not compile until it has an expected answer).
fn every_error() -> Vec<Error> {
    let mut all = Vec::new();
    let mut next = Some(Error::InvalidCredentials);
    while let Some(error) = next {
        next = match &error {
            Error::InvalidCredentials => Some(Error::InvalidToken(TokenRejection::Expired)),
            Error::InvalidToken(_) => Some(Error::TokenReused),
            Error::TokenReused => Some(Error::MfaRequired),
            Error::MfaRequired => Some(Error::ReauthRequired {
                max_age: Duration::from_secs(300),
            }),
            Error::ReauthRequired { .. } => {
                Some(Error::WeakPassword(PasswordRejection::TooShort { min: 12 }))
            }
            Error::WeakPassword(_) => Some(Error::Throttled {
                retry_after: Duration::from_secs(3),
            }),
            Error::Throttled { .. } => Some(Error::EmailUnverified),
            Error::EmailUnverified => Some(Error::IntentInvalid),
            Error::IntentInvalid => Some(Error::CeremonyInvalid),
            Error::CeremonyInvalid => Some(Error::Conflict("the account exists".into())),
            Error::Conflict(_) => Some(Error::NotFound("no such session".into())),
            Error::NotFound(_) => Some(Error::InvalidRequest("empty email".into())),
            Error::InvalidRequest(_) => Some(Error::InvalidScope("a\"b is not a scope".into())),
            Error::InvalidScope(_) => Some(Error::Busy),
            Error::Busy => Some(Error::Unavailable("postgres: connection refused".into())),
            Error::Unavailable(_) => Some(Error::InvalidKey("pem at /etc/keys".into())),
            Error::InvalidKey(_) => Some(Error::Config("ttl out of range".into())),
            Error::Config(_) => Some(Error::InvalidHash("$unknown$".into())),
            Error::InvalidHash(_) => Some(Error::Internal("a bug".into())),
            Error::Internal(_) => None,
        };
        all.push(error);
    }
    all
}

/// The answer every sample of [`every_error`] must get: status, code, gRPC status, message,
/// `Retry-After`. These are `auth-server`'s answers as they were before the mapping moved
/// here.
fn expected(
    error: &Error,
) -> (
    StatusCode,
    &'static str,
    i32,
    &'static str,
    Option<&'static str>,
) {
    match error {
        Error::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            16,
            "invalid credentials",
            None,
        ),
        Error::InvalidToken(_) => (
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            16,
            "the token is invalid",
            None,
        ),
        Error::TokenReused => (
            StatusCode::UNAUTHORIZED,
            "token_reused",
            16,
            "refresh token reuse detected; the session is revoked",
            None,
        ),
        Error::MfaRequired => (
            StatusCode::FORBIDDEN,
            "mfa_required",
            7,
            "a second factor is required",
            None,
        ),
        Error::ReauthRequired { .. } => (
            StatusCode::UNAUTHORIZED,
            "reauth_required",
            16,
            "this action needs a fresh authentication (within 300 s)",
            None,
        ),
        Error::WeakPassword(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
            3,
            "password must have at least 12 characters",
            None,
        ),
        Error::Throttled { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            8,
            "too many attempts, retry in 3 s",
            Some("3"),
        ),
        Error::EmailUnverified => (
            StatusCode::FORBIDDEN,
            "email_unverified",
            7,
            "the email address is not verified yet",
            None,
        ),
        Error::IntentInvalid => (
            StatusCode::GONE,
            "intent_invalid",
            9,
            "this link or code is no longer valid",
            None,
        ),
        Error::CeremonyInvalid => (
            StatusCode::GONE,
            "ceremony_invalid",
            9,
            "this passkey ceremony is no longer valid: begin again",
            None,
        ),
        Error::Conflict(_) => (
            StatusCode::CONFLICT,
            "conflict",
            6,
            "conflict: the account exists",
            None,
        ),
        Error::NotFound(_) => (
            StatusCode::NOT_FOUND,
            "not_found",
            5,
            "not found: no such session",
            None,
        ),
        Error::InvalidRequest(_) => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            3,
            "invalid request: empty email",
            None,
        ),
        Error::InvalidScope(_) => (
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            3,
            "invalid scope: a\"b is not a scope",
            None,
        ),
        Error::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            14,
            "password hashing capacity exhausted, retry later",
            Some("1"),
        ),
        Error::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            14,
            "a dependency is unavailable, retry later",
            Some("5"),
        ),
        Error::InvalidKey(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "invalid_key",
            13,
            "internal error",
            None,
        ),
        Error::Config(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "invalid_config",
            13,
            "internal error",
            None,
        ),
        Error::InvalidHash(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "invalid_hash",
            13,
            "internal error",
            None,
        ),
        Error::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            13,
            "internal error",
            None,
        ),
    }
}

fn json(response: &Response<String>) -> serde_json::Value {
    serde_json::from_str(response.body()).unwrap()
}

fn grpc_request() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, "application/grpc".parse().unwrap());
    headers
}

/// `Retry-After` as expected, and a challenge on every 401 and only there: the same in JSON
/// and in gRPC answers.
fn assert_wait_and_challenge(
    error: &Error,
    headers: &HeaderMap,
    status: StatusCode,
    retry_after: Option<&str>,
) {
    let wait = headers
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap());
    assert_eq!(wait, retry_after, "{error:?}");
    assert_eq!(
        headers.contains_key(header::WWW_AUTHENTICATE),
        status == StatusCode::UNAUTHORIZED,
        "a challenge on every 401 and only there: {error:?}"
    );
}

#[test]
fn every_variant_is_sampled_once() {
    let all = every_error();
    let kinds: std::collections::HashSet<_> = all.iter().map(std::mem::discriminant).collect();
    assert_eq!(kinds.len(), all.len());
    assert_eq!(all.len(), 20);
}

#[test]
fn every_error_answers_json_with_its_status_code_message_and_retry_after() {
    for error in every_error() {
        let (status, code, _, message, retry_after) = expected(&error);
        assert_eq!(error.code(), code, "the code is auth-core's: {error:?}");
        let response: Response<String> = Answer::from_error(&error).into_json_response();
        assert_eq!(response.status(), status, "{error:?}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            json(&response),
            serde_json::json!({ "error": code, "message": message }),
            "{error:?}"
        );
        assert_wait_and_challenge(&error, response.headers(), status, retry_after);
    }
}

#[test]
fn every_error_answers_a_grpc_request_with_its_grpc_status_and_message() {
    for error in every_error() {
        let (status, _, grpc_status, message, retry_after) = expected(&error);
        let response: Response<String> =
            Answer::from_error(&error).into_response_for(&grpc_request());
        assert_eq!(response.status(), StatusCode::OK, "{error:?}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/grpc");
        assert_eq!(
            response.headers()["grpc-status"],
            grpc_status.to_string().as_str(),
            "{error:?}"
        );
        assert_eq!(response.headers()["grpc-message"], message, "{error:?}");
        assert!(response.body().is_empty(), "trailers-only: {error:?}");
        assert_wait_and_challenge(&error, response.headers(), status, retry_after);
    }
}

#[test]
fn a_stale_authentication_gets_an_rfc_9470_challenge_with_max_age() {
    let error = Error::ReauthRequired {
        max_age: Duration::from_secs(300),
    };
    let answer = Answer::from_error(&error);
    assert_eq!(
        answer.www_authenticate().unwrap(),
        "Bearer realm=\"api\", error=\"insufficient_user_authentication\", \
         error_description=\"a more recent authentication is required\", max_age=300"
    );
}

#[test]
fn every_401_for_a_credential_carries_an_invalid_token_challenge_with_the_generic_message() {
    for (error, description) in [
        (Error::InvalidCredentials, "invalid credentials"),
        (
            Error::InvalidToken(TokenRejection::BadSignature),
            "the token is invalid",
        ),
        (
            Error::TokenReused,
            "refresh token reuse detected; the session is revoked",
        ),
    ] {
        let answer = Answer::from_error(&error).with_realm("orders");
        assert_eq!(
            answer.www_authenticate().unwrap(),
            format!(
                "Bearer realm=\"orders\", error=\"invalid_token\", error_description=\"{description}\""
            )
            .as_str()
        );
    }
}

#[test]
fn a_refused_token_never_tells_its_reason() {
    let reasons = [
        TokenRejection::Malformed,
        TokenRejection::TooLarge,
        TokenRejection::UnknownKey,
        TokenRejection::AlgorithmMismatch,
        TokenRejection::ForbiddenHeader,
        TokenRejection::BadSignature,
        TokenRejection::WrongType,
        TokenRejection::Expired,
        TokenRejection::NotYetValid,
        TokenRejection::WrongIssuer,
        TokenRejection::WrongAudience,
        TokenRejection::Revoked,
        TokenRejection::NotActive,
    ];
    let generic = Answer::from_error(&Error::InvalidToken(TokenRejection::Expired));
    for reason in reasons {
        let answer = Answer::from_error(&Error::InvalidToken(reason));
        assert_eq!(answer, generic, "every reason gets one answer: {reason:?}");
        let challenge = answer.www_authenticate().unwrap();
        assert!(!challenge.to_str().unwrap().contains(reason.as_str()));
        assert!(!answer.json_body().contains(reason.as_str()));
    }
}

#[test]
fn server_faults_and_lost_dependencies_keep_their_details_out_of_the_answer() {
    for error in [
        Error::Unavailable("postgres://admin:hunter2@db".into()),
        Error::InvalidKey("hunter2".into()),
        Error::Config("hunter2".into()),
        Error::InvalidHash("hunter2".into()),
        Error::Internal("hunter2".into()),
    ] {
        let answer = Answer::from_error(&error);
        assert!(!answer.message().contains("hunter2"), "{error:?}");
        assert!(!answer.json_body().contains("hunter2"), "{error:?}");
    }
}

#[test]
fn throttled_retry_after_is_rounded_up_to_whole_seconds_and_at_least_one() {
    for (wait, seconds) in [
        (Duration::from_millis(1500), 2),
        (Duration::from_secs(3), 3),
        (Duration::from_millis(1), 1),
        (Duration::ZERO, 1),
    ] {
        let answer = Answer::from_error(&Error::Throttled { retry_after: wait });
        assert_eq!(answer.retry_after(), Some(seconds), "{wait:?}");
        assert_eq!(
            answer.message(),
            format!("too many attempts, retry in {seconds} s")
        );
    }
}

#[test]
fn a_missing_credential_gets_a_bare_challenge() {
    let answer = Answer::missing_credential().with_realm("orders");
    assert_eq!(
        (answer.status(), answer.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    assert_eq!(
        answer.www_authenticate().unwrap(),
        "Bearer realm=\"orders\""
    );
    assert_eq!(answer.grpc_status(), 16);
}

#[test]
fn a_malformed_credential_is_an_invalid_request() {
    let answer = Answer::malformed_credential();
    assert_eq!(
        (answer.status(), answer.code()),
        (StatusCode::UNAUTHORIZED, "invalid_request")
    );
    assert_eq!(
        answer.www_authenticate().unwrap(),
        "Bearer realm=\"api\", error=\"invalid_request\", error_description=\"malformed Authorization header\""
    );
}

#[test]
fn an_insufficient_scope_is_403_naming_the_scope() {
    let answer = Answer::insufficient_scope("orders:read orders:write");
    assert_eq!(
        (answer.status(), answer.code()),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );
    assert_eq!(
        answer.www_authenticate().unwrap(),
        "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"orders:read orders:write\""
    );
    let grpc: Response<String> = answer.into_grpc_response();
    assert_eq!(grpc.headers()["grpc-status"], "7");
    assert_eq!(
        grpc.headers()["grpc-message"],
        "this resource needs the scope orders:read orders:write"
    );
}

#[test]
fn an_answer_of_the_callers_own_has_no_challenge() {
    let answer = Answer::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is too large",
    );
    let response: Response<String> = answer.into_json_response();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
    assert!(!response.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(json(&response)["error"], "payload_too_large");
}

#[test]
fn grpc_requests_are_told_by_their_content_type() {
    for (content_type, grpc) in [
        ("application/grpc", true),
        ("application/grpc+proto", true),
        ("application/grpc+json", true),
        ("Application/gRPC", true),
        ("application/grpc-web", false),
        ("application/grpcx", false),
        ("application/json", false),
        ("", false),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        assert_eq!(is_grpc(&headers), grpc, "{content_type:?}");
    }
    assert!(!is_grpc(&HeaderMap::new()));
}

#[test]
fn grpc_messages_are_percent_encoded() {
    assert_eq!(percent_encoded("plain text, ok"), "plain text, ok");
    assert_eq!(percent_encoded("100% café"), "100%25 caf%C3%A9");
    assert_eq!(percent_encoded("line\nbreak"), "line%0Abreak");
    let answer = Answer::from_error(&Error::Conflict("café".into()));
    let response: Response<String> = answer.into_grpc_response();
    assert_eq!(response.headers()["grpc-message"], "conflict: caf%C3%A9");
}

#[test]
fn challenge_values_are_escaped() {
    assert_eq!(quoted(r#"a"b\c"#), r#"a\"b\\c"#);
    assert_eq!(quoted("line\r\nbreak"), "linebreak");
}
