//! A tonic gRPC server with `AuthLayer` in front of every service, here the standard
//! `grpc.health.v1.Health` service of `tonic-health` (no protobuf compiler needed).
//!
//! The layer does fit `Server::builder().layer(..)` as it is (its body `AuthBody<..>` is a
//! `Body<Data = Bytes>` whose error converts into tonic's `BoxError`), but its refusals are
//! HTTP answers: status `401`, `WWW-Authenticate` and a JSON body. gRPC clients read that
//! body as a gRPC message: tonic's client fails with `INTERNAL` ("protocol error: received
//! message with invalid compression flag: 123", the `{`) instead of `UNAUTHENTICATED`. So the
//! example puts [`grpc_status_for_refusals`] outside the layer, in a `tower::ServiceBuilder`:
//! it turns any answer that is not gRPC into a gRPC trailers-only answer (HTTP 200,
//! `grpc-status`, `grpc-message`, empty body) and keeps `WWW-Authenticate` (and
//! `Retry-After`) as metadata. The token goes in the `authorization` metadata:
//! `Bearer <token>`.
//!
//! In a real service, keep the health service out of the authenticated stack (probes carry
//! no token); here it stands in for a protected service because it needs no code generation.
//!
//! Run: `cargo run -p auth-examples --bin tonic_server` (listens on 127.0.0.1, `PORT` or
//! 50051, prints a demo access token), then for example:
//!
//! ```text
//! grpcurl -plaintext -H "authorization: Bearer $TOKEN" -proto health.proto \
//!   localhost:50051 grpc.health.v1.Health/Check
//! ```

use std::future::Future;

use auth_core::flows::Authenticator;
use auth_tower::authn::{AuthBody, AuthLayer};
use http::{HeaderMap, Response, StatusCode, header};
use tokio::net::TcpListener;
use tonic::metadata::MetadataMap;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Status};
use tower::ServiceBuilder;

use crate::demo::REALM;

/// Serves the health service behind `AuthLayer` on `listener` until `shutdown` resolves.
/// The overall health (service name `""`) answers `SERVING`.
pub async fn serve(
    listener: TcpListener,
    auth: Authenticator,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let authentication = ServiceBuilder::new()
        .map_response(grpc_status_for_refusals)
        .layer(AuthLayer::required(auth).realm(REALM));
    Server::builder()
        .layer(authentication)
        .add_service(health)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
}

/// Passes gRPC answers through; turns the HTTP refusals of `AuthLayer` (anything that is not
/// `application/grpc`) into gRPC statuses: 401 `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`,
/// 429 `RESOURCE_EXHAUSTED`, 503 `UNAVAILABLE`, anything else `INTERNAL`.
pub fn grpc_status_for_refusals(
    response: Response<AuthBody<tonic::body::Body>>,
) -> Response<tonic::body::Body> {
    let is_grpc = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"));
    if is_grpc {
        return response.map(tonic::body::Body::new);
    }
    let code = match response.status() {
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::TOO_MANY_REQUESTS => Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        _ => Code::Internal,
    };
    let mut kept = HeaderMap::new();
    for name in [header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(value) = response.headers().get(&name) {
            kept.insert(name, value.clone());
        }
    }
    // The challenge says what was wrong (`error="invalid_token"`, a scope); the JSON body
    // says the same in prose but is not at hand without awaiting it.
    let reason = match code {
        Code::Unauthenticated => "a valid bearer token is required",
        Code::PermissionDenied => "the token lacks a required scope",
        Code::ResourceExhausted => "too many attempts",
        Code::Unavailable => "authentication is temporarily unavailable",
        _ => "authentication failed",
    };
    let message = match kept
        .get(header::WWW_AUTHENTICATE)
        .and_then(|value| value.to_str().ok())
    {
        Some(challenge) => format!("{reason} ({challenge})"),
        None => reason.to_owned(),
    };
    Status::with_metadata(code, message, MetadataMap::from_headers(kept)).into_http()
}
