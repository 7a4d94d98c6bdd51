//! An axum application protected by `auth-tower`: `POST /login` returns tokens from an
//! `auth_core` `Authenticator` (a demo user is registered at start), `GET /me` needs a bearer
//! token, `GET /orders` a bearer token and the `orders:read` scope, and `/health/*` serves
//! the probes. The routes are built by `auth_examples::axum_app::router`.
//!
//! Run: `cargo run -p auth-examples --bin axum_app` (127.0.0.1, `PORT` or 3000; Ctrl-C stops
//! it after in-flight requests finish). Try it with the `curl` lines in the docs of
//! `auth_examples::axum_app`.

use std::net::Ipv4Addr;

use auth_examples::axum_app;
use auth_examples::demo::{self, DEMO_EMAIL, DEMO_PASSWORD, Demo};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = demo::port(3000)?;
    let shutdown = demo::shutdown_signal()?;
    let demo = Demo::start().await?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    println!("demo user: {DEMO_EMAIL} / {DEMO_PASSWORD}");
    axum_app::serve(listener, axum_app::router(&demo), shutdown).await?;
    println!("stopped");
    Ok(())
}
