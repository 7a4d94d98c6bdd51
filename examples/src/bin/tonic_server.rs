//! A tonic gRPC server with `AuthLayer` in front, serving `tonic-health`'s
//! `grpc.health.v1.Health`: calls without a valid bearer token in the `authorization`
//! metadata are refused (`UNAUTHENTICATED`). The code is in `auth_examples::tonic_server`.
//!
//! Run: `cargo run -p auth-examples --bin tonic_server` (127.0.0.1, `PORT` or 50051; prints
//! an access token of the demo user to call it with; Ctrl-C stops it).

use std::net::Ipv4Addr;

use auth_core::secrecy::ExposeSecret;
use auth_examples::demo::{self, DEMO_EMAIL, DEMO_PASSWORD, Demo};
use auth_examples::tonic_server;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = demo::port(50051)?;
    let shutdown = demo::shutdown_signal()?;
    let demo = Demo::start().await?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // A demo convenience: a real server never prints tokens.
    let token = demo.access_token(DEMO_EMAIL, DEMO_PASSWORD).await?;
    println!("demo access token: {}", token.expose_secret());
    tonic_server::serve(listener, demo.auth.clone(), shutdown).await?;
    println!("stopped");
    Ok(())
}
