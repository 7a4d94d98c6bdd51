//! A trivial HTTP handler, bare or behind `AuthLayer`, for the load harness's `auth-layer`
//! scenario: the same axum server and runtime as `auth-server`, so the difference between the
//! two is the layer's alone.
//!
//! ```text
//! auth_layer_target <bare|cached|uncached> <port> <token file> <token count>
//! ```
//!
//! It signs `<token count>` EdDSA access tokens with a fresh key, writes them to
//! `<token file>` (one per line; every mode writes them, so the client sends the same requests
//! to each), then serves `GET /hello` on `127.0.0.1:<port>` until killed: `bare` answers
//! without any authentication, `cached` behind `AuthLayer` with the verified-token cache,
//! `uncached` behind `AuthLayer` checking every signature.

use std::process::ExitCode;
use std::sync::Arc;

use auth_core::clock::SystemClock;
use auth_core::secrecy::ExposeSecret as _;
use auth_core::token::{Algorithm, Key, KeySet, NewToken, TokenConfig, TokenIssuer, TokenVerifier};
use auth_tower::authn::{AuthLayer, TokenAuthentication};
use axum::Router;
use axum::routing::get;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("auth_layer_target: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let [mode, port, token_file, count] = args.as_slice() else {
        return Err(
            "usage: auth_layer_target <bare|cached|uncached> <port> <token file> <token count>"
                .into(),
        );
    };
    let port: u16 = port.parse().map_err(|_| format!("not a port: {port}"))?;
    let count: usize = count.parse().map_err(|_| format!("not a count: {count}"))?;
    let failed = |error: auth_core::Error| error.to_string();

    let clock = Arc::new(SystemClock);
    let config = TokenConfig::new("https://auth.example.com", "api");
    let keys =
        Arc::new(KeySet::new(Key::generate(Algorithm::EdDsa).map_err(failed)?).map_err(failed)?);
    let issuer = TokenIssuer::new(keys.clone(), config.clone(), clock.clone()).map_err(failed)?;
    let verifier = TokenVerifier::new(keys, config, clock).map_err(failed)?;
    let mut tokens = String::new();
    for i in 0..count {
        let issued = issuer
            .issue_access(NewToken::new(format!("user-{i}")).scope(["orders:read"]))
            .map_err(failed)?;
        tokens.push_str(issued.token.expose_secret());
        tokens.push('\n');
    }
    std::fs::write(token_file, tokens).map_err(|error| format!("{token_file}: {error}"))?;

    let app = Router::new().route("/hello", get(|| async { "hello" }));
    let app = match mode.as_str() {
        "bare" => app,
        "cached" => app.layer(AuthLayer::required(
            TokenAuthentication::new(verifier).with_cache(10_000),
        )),
        "uncached" => app.layer(AuthLayer::required(TokenAuthentication::new(verifier))),
        other => return Err(format!("unknown mode: {other}")),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|error| format!("127.0.0.1:{port}: {error}"))?;
        axum::serve(listener, app)
            .await
            .map_err(|error| error.to_string())
    })
}
