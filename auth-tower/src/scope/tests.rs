use std::convert::Infallible;

use auth_core::secrecy::ExposeSecret;
use auth_core::testing;
use auth_core::token::{Claims, NewToken, TokenIssuer, TokenVerifier};
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;

use super::*;
use crate::authn::{AuthLayer, TokenAuthentication};

async fn ok(_: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::from("ok")))
}

fn tokens() -> (TokenIssuer, TokenVerifier) {
    testing::issuer_and_verifier(testing::keys())
}

/// AuthLayer then RequireScope, as a route would stack them.
async fn request_with_scopes(
    layer: RequireScopeLayer<Claims>,
    scopes: &[&str],
) -> (StatusCode, http::HeaderMap, String) {
    let (issuer, verifier) = tokens();
    let token = issuer
        .issue_access(NewToken::new("user-1").scope(scopes.iter().copied()))
        .unwrap();
    let service =
        AuthLayer::required(TokenAuthentication::new(verifier)).layer(layer.layer(service_fn(ok)));
    let request = Request::get("/orders")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", token.token.expose_secret()),
        )
        .body(Full::default())
        .unwrap();
    let (parts, body) = service.oneshot(request).await.unwrap().into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn a_granted_scope_passes() {
    let (status, _, body) = request_with_scopes(
        RequireScopeLayer::all(["orders:read"]),
        &["profile", "orders:read"],
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn a_missing_scope_is_403_insufficient_scope_naming_the_scope() {
    let (status, headers, body) = request_with_scopes(
        RequireScopeLayer::all(["orders:read", "orders:write"]),
        &["orders:read"],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"orders:read orders:write\""
    );
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "insufficient_scope");
}

#[tokio::test]
async fn any_of_several_scopes_suffices_for_an_any_requirement() {
    let layer = RequireScopeLayer::any(["admin", "orders:read"]);
    assert_eq!(
        request_with_scopes(layer.clone(), &["orders:read"]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        request_with_scopes(layer, &["profile"]).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_predicate_decides_with_a_named_requirement() {
    let layer =
        RequireScopeLayer::<Claims>::predicate("staff", |claims| claims.sub.starts_with("staff-"));
    let (status, headers, _) = request_with_scopes(layer, &["anything"]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("scope=\"staff\"")
    );
}

#[tokio::test]
async fn without_a_principal_the_answer_is_401() {
    let service = RequireScopeLayer::<Claims>::all(["orders:read"]).layer(service_fn(ok));
    let response = service
        .oneshot(Request::new(Full::default()))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"api\""
    );
}

#[tokio::test]
async fn a_grpc_request_without_the_scope_gets_permission_denied() {
    let service = RequireScopeLayer::<Claims>::all(["orders:read"]).layer(service_fn(ok));
    let claims: Claims = serde_json::from_value(serde_json::json!({
        "iss": "i", "sub": "user-1", "aud": "api", "exp": 0, "iat": 0, "jti": "j",
        "scope": "profile",
    }))
    .unwrap();
    let mut request = Request::post("/orders.Orders/List")
        .header(header::CONTENT_TYPE, "application/grpc")
        .body(Full::default())
        .unwrap();
    request.extensions_mut().insert(claims);
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], "7");
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"orders:read\""
    );
}
