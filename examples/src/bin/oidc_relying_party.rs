//! A web application that signs its users in through an OpenID provider; the routes and
//! the checks are in `auth_examples::oidc_relying_party`.
//!
//! Run: `OIDC_ISSUER=... OIDC_CLIENT_ID=... [OIDC_CLIENT_SECRET=...] cargo run -p
//! auth-examples --bin oidc_relying_party` (127.0.0.1, `PORT` or 3001). The client's
//! redirect URI is `http://127.0.0.1:<port>/callback` unless `OIDC_REDIRECT_URI` says
//! otherwise (an application behind a proxy); register exactly that with the provider. Without
//! `OIDC_CLIENT_SECRET` it is a public client (PKCE alone).

use std::net::Ipv4Addr;
use std::process::ExitCode;

use auth_examples::oidc_relying_party::{self, Config, RelyingParty};
use auth_examples::{axum_app, demo};
use tokio::net::TcpListener;

fn var(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid Unicode")),
    }
}

fn required(name: &str) -> Result<String, String> {
    var(name)?.ok_or_else(|| format!("{name} is required"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("oidc_relying_party: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = required("OIDC_ISSUER")?;
    let client_id = required("OIDC_CLIENT_ID")?;
    let client_secret = var("OIDC_CLIENT_SECRET")?;
    let port = demo::port(3001)?;
    let shutdown = demo::shutdown_signal()?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let address = listener.local_addr()?;
    let redirect_uri =
        var("OIDC_REDIRECT_URI")?.unwrap_or_else(|| format!("http://{address}/callback"));
    let rp = RelyingParty::discover(Config {
        issuer,
        client_id,
        client_secret,
        redirect_uri: redirect_uri.clone(),
    })
    .await?;
    println!("listening on http://{address}");
    println!("redirect URI: {redirect_uri}");
    axum_app::serve(listener, oidc_relying_party::router(rp), shutdown).await?;
    println!("stopped");
    Ok(())
}
