//! The orders API of `axum_app` on plain hyper 1 + hyper-util: `tower::ServiceBuilder`
//! stacks with `AuthLayer` and `RequireScopeLayer`, a path match by hand, and
//! `TowerToHyperService` over hyper-util's `auto` connection builder. The code is in
//! `auth_examples::hyper_server`.
//!
//! Run: `cargo run -p auth-examples --bin hyper_server` (127.0.0.1, `PORT` or 3001; Ctrl-C
//! stops it after open connections finish).

use std::net::Ipv4Addr;

use auth_examples::demo::{self, DEMO_EMAIL, DEMO_PASSWORD, Demo};
use auth_examples::hyper_server::{self, App};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = demo::port(3001)?;
    let shutdown = demo::shutdown_signal()?;
    let demo = Demo::start().await?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    println!("demo user: {DEMO_EMAIL} / {DEMO_PASSWORD}");
    hyper_server::serve(listener, App::new(&demo), shutdown).await?;
    println!("stopped");
    Ok(())
}
