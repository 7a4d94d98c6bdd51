//! The layer through real Tower services.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use auth_core::clock::{Clock, ManualClock};
use auth_core::flows::{LoginOutcome, Principal};
use auth_core::id::SessionId;
use auth_core::secrecy::{ExposeSecret, SecretString};
use auth_core::session::SidRevocationCheck;
use auth_core::store::memory::MemoryStore;
use auth_core::testing;
use auth_core::token::{Claims, NewToken, TokenIssuer, TokenKind, TokenVerifier};
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use tower::{Service, ServiceExt, service_fn};
use tower_layer::Layer;

use super::*;
use crate::answer::Answer;

struct Fixture {
    issuer: TokenIssuer,
    verifier: TokenVerifier,
    clock: Arc<ManualClock>,
}

fn fixture() -> Fixture {
    let clock = testing::clock();
    let (issuer, verifier) = testing::issuer_and_verifier_on(testing::keys(), clock.clone());
    Fixture {
        issuer,
        verifier,
        clock,
    }
}

impl Fixture {
    fn token(&self, new: NewToken) -> String {
        self.issuer
            .issue_access(new)
            .unwrap()
            .token
            .expose_secret()
            .to_owned()
    }
}

/// Answers 200 with the subject of the claims the layer inserted, or "anonymous".
async fn echo(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let sensitive = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_none_or(http::HeaderValue::is_sensitive);
    assert!(sensitive, "the layer marks Authorization sensitive");
    let who = request
        .extensions()
        .get::<Claims>()
        .map_or("anonymous".to_owned(), |claims| claims.sub.clone());
    Ok(Response::new(Full::from(who)))
}

fn get(authorization: Option<&str>) -> Request<Full<Bytes>> {
    let mut request = Request::get("/orders");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    request.body(Full::default()).unwrap()
}

async fn call<S>(service: S, request: Request<Full<Bytes>>) -> (StatusCode, http::HeaderMap, String)
where
    S: Service<
            Request<Full<Bytes>>,
            Response = Response<AuthBody<Full<Bytes>>>,
            Error = Infallible,
        >,
{
    let response = service.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn challenge(headers: &http::HeaderMap) -> &str {
    headers[header::WWW_AUTHENTICATE].to_str().unwrap()
}

#[tokio::test]
async fn a_valid_token_reaches_the_service_with_its_claims() {
    let f = fixture();
    let layer = AuthLayer::required(TokenAuthentication::new(f.verifier.clone()));
    let token = f.token(NewToken::new("user-42"));
    let (status, _, body) = call(
        layer.layer(service_fn(echo)),
        get(Some(&format!("Bearer {token}"))),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "user-42");
}

#[tokio::test]
async fn a_missing_token_gets_a_bare_bearer_challenge() {
    let f = fixture();
    let layer = AuthLayer::required(TokenAuthentication::new(f.verifier)).realm("orders");
    let (status, headers, body) = call(layer.layer(service_fn(echo)), get(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&headers), "Bearer realm=\"orders\"");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "unauthorized");
    assert!(json["message"].is_string());
}

#[tokio::test]
async fn a_malformed_header_is_an_invalid_request() {
    let f = fixture();
    let layer = AuthLayer::required(TokenAuthentication::new(f.verifier));
    for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b"] {
        let (status, headers, body) = call(layer.layer(service_fn(echo)), get(Some(value))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{value}");
        assert!(
            challenge(&headers).contains("error=\"invalid_request\""),
            "{value}"
        );
        assert!(body.contains("\"invalid_request\""), "{value}");
    }
}

#[tokio::test]
async fn bad_tokens_get_invalid_token_without_the_reason() {
    let f = fixture();
    let layer = AuthLayer::required(TokenAuthentication::new(f.verifier.clone()));
    let expired = f.token(NewToken::new("user-1").ttl(Duration::from_secs(60)));
    let challenge_token = f
        .issuer
        .issue(TokenKind::MfaChallenge, NewToken::new("user-1"))
        .unwrap()
        .token
        .expose_secret()
        .to_owned();
    f.clock.advance(Duration::from_secs(60 + 31));
    // The reasons (expired, wrong type, malformed) are for logs: every one gets one answer.
    for token in [expired, challenge_token, "not.a.token".to_owned()] {
        let (status, headers, body) = call(
            layer.layer(service_fn(echo)),
            get(Some(&format!("Bearer {token}"))),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            challenge(&headers),
            "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"the token is invalid\""
        );
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error"], "invalid_token");
        assert_eq!(json["message"], "the token is invalid");
    }
}

#[tokio::test]
async fn optional_mode_lets_anonymous_requests_through_but_not_bad_tokens() {
    let f = fixture();
    let layer = AuthLayer::optional(TokenAuthentication::new(f.verifier.clone()));
    let (status, _, body) = call(layer.layer(service_fn(echo)), get(None)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    let (status, _, _) = call(layer.layer(service_fn(echo)), get(Some("Bearer garbage"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let token = f.token(NewToken::new("user-9"));
    let (status, _, body) = call(
        layer.layer(service_fn(echo)),
        get(Some(&format!("Bearer {token}"))),
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "user-9"));
}

#[tokio::test]
async fn a_session_cookie_is_read_when_configured() {
    let f = fixture();
    let layer =
        AuthLayer::required(TokenAuthentication::new(f.verifier.clone())).cookie("__Host-access");
    let token = f.token(NewToken::new("user-c"));
    let request = Request::get("/")
        .header(header::COOKIE, format!("__Host-access={token}"))
        .body(Full::default())
        .unwrap();
    let (status, _, body) = call(layer.layer(service_fn(echo)), request).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "user-c"));
}

#[tokio::test]
async fn the_verified_token_cache_serves_repeats_but_never_past_expiry() {
    let f = fixture();
    let authentication = TokenAuthentication::new(f.verifier.clone()).with_cache(16);
    let cached = || authentication.verifier().cached_tokens();
    let token = f.token(NewToken::new("user-7").ttl(Duration::from_secs(120)));
    assert_eq!(authentication.verify(&token).await.unwrap().sub, "user-7");
    assert_eq!(cached(), 1);
    assert_eq!(authentication.verify(&token).await.unwrap().sub, "user-7");
    assert_eq!(cached(), 1);
    // Past the token's expiry the cache does not answer, and the verifier refuses.
    f.clock.advance(Duration::from_secs(120 + 31));
    assert_eq!(
        authentication.verify(&token).await.unwrap_err().code(),
        "invalid_token"
    );
    assert_eq!(cached(), 0);
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let f = fixture();
    let authentication = TokenAuthentication::new(f.verifier.clone()).with_cache(3);
    for i in 0..10 {
        let token = f.token(NewToken::new(format!("user-{i}")));
        authentication.verify(&token).await.unwrap();
        let cached = authentication.verifier().cached_tokens();
        assert!((1..=3).contains(&cached), "{cached} cached");
    }
}

#[tokio::test]
async fn a_revoked_session_is_refused_even_when_its_token_is_cached() {
    let f = fixture();
    let store = Arc::new(MemoryStore::new());
    let check = SidRevocationCheck::new(store, f.clock.clone(), Duration::from_secs(2));
    let authentication = TokenAuthentication::new(f.verifier.clone())
        .with_cache(16)
        .with_sid_check(check.clone());
    let sid = SessionId::from_secret(b"a session secret of some length!");
    let token = f.token(NewToken::new("user-s").session_id(sid.as_str()));
    assert!(authentication.verify(&token).await.is_ok());
    check
        .revoke(&sid, f.clock.now() + Duration::from_secs(900))
        .await
        .unwrap();
    let layer = AuthLayer::required(authentication);
    let (status, headers, _) = call(
        layer.layer(service_fn(echo)),
        get(Some(&format!("Bearer {token}"))),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge(&headers).contains("error=\"invalid_token\""));
    assert!(!challenge(&headers).contains("session revoked"));
}

#[tokio::test]
async fn the_authenticator_yields_its_principal_and_logout_is_immediate() {
    let auth = testing::authenticator();
    let password = SecretString::from("correct horse battery staple");
    let user = auth.register("ada@example.com", &password).await.unwrap();
    let LoginOutcome::Authenticated(tokens) = auth
        .login("ada@example.com", &password, None)
        .await
        .unwrap()
    else {
        panic!("no MFA enrolled");
    };
    let bearer = format!("Bearer {}", tokens.access_token.expose_secret());
    let service = AuthLayer::required(auth.clone()).layer(service_fn(
        |request: Request<Full<Bytes>>| async move {
            let principal = request.extensions().get::<Principal>().cloned();
            Ok::<_, Infallible>(Response::new(Full::from(
                principal.map_or("none".to_owned(), |p| p.user_id.to_string()),
            )))
        },
    ));
    let (status, _, body) = call(service.clone(), get(Some(&bearer))).await;
    assert_eq!((status, body), (StatusCode::OK, user.id.to_string()));
    let principal = auth
        .authenticate(tokens.access_token.expose_secret())
        .await
        .unwrap();
    auth.logout(&principal, None).await.unwrap();
    let (status, _, _) = call(service, get(Some(&bearer))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[test]
fn dependency_failures_answer_503_and_throttling_429() {
    let refused = |error: auth_core::Error| -> Response<AuthBody<Full<Bytes>>> {
        response::refusal(Answer::from_error(&error), &http::HeaderMap::new())
    };
    let unavailable = refused(auth_core::Error::Unavailable("redis down".into()));
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        unavailable
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .is_none()
    );
    let throttled = refused(auth_core::Error::Throttled {
        retry_after: Duration::from_millis(1500),
    });
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers()[header::RETRY_AFTER], "2");
}

/// A principal of the caller's own type, as an embedder's closure would yield.
#[derive(Clone)]
struct Robot(&'static str);

#[tokio::test]
async fn an_async_closure_authenticates_and_its_principal_reaches_the_service() {
    let layer = AuthLayer::required(|token: String| async move {
        match token.as_str() {
            "build-bot-token" => Ok(Robot("build-bot")),
            _ => Err(auth_core::Error::InvalidCredentials),
        }
    });
    let service = layer.layer(service_fn(|request: Request<Full<Bytes>>| async move {
        let who = request
            .extensions()
            .get::<Robot>()
            .map_or("nobody", |r| r.0);
        Ok::<_, Infallible>(Response::new(Full::from(who)))
    }));
    let (status, _, body) = call(service.clone(), get(Some("Bearer build-bot-token"))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "build-bot"));
    let (status, headers, _) = call(service, get(Some("Bearer someone-else"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge(&headers).contains("error=\"invalid_token\""));
}

/// What the layer answers when its authenticator fails every token with `error()`, asked as
/// JSON or as gRPC.
async fn refused_with(
    error: fn() -> auth_core::Error,
    grpc: bool,
) -> (StatusCode, http::HeaderMap, String) {
    let layer = AuthLayer::required(move |_token: String| async move { Err::<Robot, _>(error()) });
    let mut request = get(Some("Bearer some-token"));
    if grpc {
        request.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
    }
    call(layer.layer(service_fn(echo)), request).await
}

fn code(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    json["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn refused_credentials_are_invalid_credentials_with_an_invalid_token_challenge() {
    let (status, headers, body) =
        refused_with(|| auth_core::Error::InvalidCredentials, false).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    assert_eq!(
        challenge(&headers),
        "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"invalid credentials\""
    );
}

#[tokio::test]
async fn a_missing_second_factor_is_403_mfa_required() {
    let (status, headers, body) = refused_with(|| auth_core::Error::MfaRequired, false).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "mfa_required")
    );
    assert!(headers.get(header::WWW_AUTHENTICATE).is_none());
}

#[tokio::test]
async fn a_full_hashing_pool_is_503_busy_with_retry_after_1() {
    let (status, headers, body) = refused_with(|| auth_core::Error::Busy, false).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "busy")
    );
    assert_eq!(headers[header::RETRY_AFTER], "1");
}

#[tokio::test]
async fn a_lost_dependency_is_503_unavailable_with_retry_after_5_and_no_detail() {
    let (status, headers, body) = refused_with(
        || auth_core::Error::Unavailable("redis at 10.0.0.7".into()),
        false,
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    assert_eq!(headers[header::RETRY_AFTER], "5");
    assert!(!body.contains("10.0.0.7"), "{body}");
}

#[tokio::test]
async fn a_server_fault_is_500_with_its_code_and_internal_error() {
    let (status, _, body) =
        refused_with(|| auth_core::Error::InvalidKey("pem".into()), false).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "invalid_key")
    );
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["message"], "internal error");
}

#[tokio::test]
async fn grpc_requests_are_refused_with_a_grpc_status() {
    let (status, headers, body) = refused_with(
        || auth_core::Error::InvalidToken(auth_core::TokenRejection::Expired),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/grpc");
    assert_eq!(headers["grpc-status"], "16");
    assert_eq!(headers["grpc-message"], "the token is invalid");
    assert!(challenge(&headers).contains("error=\"invalid_token\""));
    assert!(body.is_empty());

    let (_, headers, _) = refused_with(|| auth_core::Error::Busy, true).await;
    assert_eq!(headers["grpc-status"], "14");
    assert_eq!(headers[header::RETRY_AFTER], "1");

    // No credential at all: UNAUTHENTICATED with the bare challenge.
    let layer = AuthLayer::required(|_token: String| async { Ok(Robot("unused")) });
    let mut request = get(None);
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc+proto"),
    );
    let (status, headers, _) = call(layer.layer(service_fn(echo)), request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["grpc-status"], "16");
    assert_eq!(challenge(&headers), "Bearer realm=\"api\"");
}
