//! A tonic gRPC server with `AuthLayer` in front of every service, here the standard
//! `grpc.health.v1.Health` service of `tonic-health` (no protobuf compiler needed).
//!
//! The layer fits `Server::builder().layer(..)` as it is: its body `AuthBody<..>` is a
//! `Body<Data = Bytes>` whose error converts into tonic's `BoxError`, and it answers a gRPC
//! request (`content-type: application/grpc*`) in gRPC: a trailers-only answer (HTTP 200,
//! `grpc-status` 16 `UNAUTHENTICATED`, 7 `PERMISSION_DENIED`, 14 `UNAVAILABLE`, ..., and
//! `grpc-message`) with `WWW-Authenticate` (and `Retry-After`) as metadata, so gRPC clients
//! see a status, not an HTTP error. The token goes in the `authorization` metadata:
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
use auth_tower::authn::AuthLayer;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::demo::REALM;

/// Serves the health service behind `AuthLayer` on `listener` until `shutdown` resolves.
/// The overall health (service name `""`) answers `SERVING`.
pub async fn serve(
    listener: TcpListener,
    auth: Authenticator,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    Server::builder()
        .layer(AuthLayer::required(auth).realm(REALM))
        .add_service(health)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
}
