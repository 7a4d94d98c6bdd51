//! The API's tests over the development router.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn send(
    router: &Router,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = request.body(Body::from(body.to_owned())).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40_000))));
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{status} with a non-JSON body: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, json)
}

/// Found by the `api_bodies` fuzz target: axum's own plain-text rejection answered a
/// session id that percent-decodes to invalid UTF-8.
#[tokio::test]
async fn a_session_id_that_is_not_utf8_is_answered_400_in_our_json_shape() {
    let router = crate::development_router().unwrap();
    let credentials = r#"{"email":"ada@example.com","password":"correct horse battery staple"}"#;
    let (status, _) = send(
        &router,
        Method::POST,
        "/v1/auth/register",
        None,
        credentials,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, tokens) = send(&router, Method::POST, "/v1/auth/login", None, credentials).await;
    assert_eq!(status, StatusCode::OK);
    let token = tokens["access_token"].as_str().unwrap();

    let (status, body) = send(
        &router,
        Method::DELETE,
        "/v1/auth/sessions/%9A",
        Some(token),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    assert!(body["message"].is_string());
}
