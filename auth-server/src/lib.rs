//! `auth-server`: the reference authentication server.
//!
//! Subcommands: `serve` (the default), `migrate`, `purge`, `healthcheck`, `keys generate`,
//! `user create|grant|revoke|roles|sign-out`, `role list|set|delete`, `client create|list|delete` and `mfa reencrypt`. Configuration
//! comes from the environment (see `auth-server serve --help`).
//!
//! The binary is a thin wrapper over [`main`]; the library exists so that tests and fuzz
//! targets can drive the real router in-process.
#![deny(missing_docs)]

mod api;
mod app;
mod cli;
mod clients;
mod config;
mod error;
mod healthcheck;
mod keys;
mod listen;
mod mailer;
mod mfa;
mod migrate;
mod oauth;
mod proxies;
mod purge;
mod roles;
mod serve;
mod ui;
mod user;

use std::process::ExitCode;

use clap::Parser as _;

use cli::{Cli, ClientCommand, Command, KeysCommand, MfaCommand, RoleCommand, UserCommand};

pub use error::ServeError;

/// Parses the command line and runs the subcommand it names.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or_default() {
        Command::Serve => serve::main(),
        Command::Migrate(args) => migrate::main(&args),
        Command::Purge => purge::main(),
        Command::Healthcheck(args) => healthcheck::main(&args),
        Command::Keys {
            command: KeysCommand::Generate(args),
        } => keys::generate(&args),
        Command::User {
            command: UserCommand::Create(args),
        } => user::create(&args),
        Command::User {
            command: UserCommand::Grant(args),
        } => roles::grant(&args),
        Command::User {
            command: UserCommand::Revoke(args),
        } => roles::revoke(&args),
        Command::User {
            command: UserCommand::Roles(args),
        } => roles::user_roles(&args),
        Command::User {
            command: UserCommand::SignOut(args),
        } => roles::sign_out(&args),
        Command::Role {
            command: RoleCommand::List(args),
        } => roles::list(&args),
        Command::Role {
            command: RoleCommand::Set(args),
        } => roles::set(&args),
        Command::Role {
            command: RoleCommand::Delete(args),
        } => roles::delete(&args),
        Command::Client {
            command: ClientCommand::Create(args),
        } => clients::create(&args),
        Command::Client {
            command: ClientCommand::List(args),
        } => clients::list(&args),
        Command::Client {
            command: ClientCommand::Delete(args),
        } => clients::delete(&args),
        Command::Mfa {
            command: MfaCommand::Reencrypt(args),
        } => mfa::reencrypt(&args),
    }
}

/// The router `serve` runs when no variable is set (development mode: in-memory stores, a
/// generated signing key, default Argon2 and throttle settings), without the listener. Requests
/// to the throttled routes need a `ConnectInfo<SocketAddr>` extension, as `serve` adds. For
/// in-process tests and fuzzing; call it within a Tokio runtime. It fails only if the
/// development defaults are refused ([`ServeError::Config`]) or cannot build the Authenticator
/// ([`ServeError::Authenticator`]).
#[doc(hidden)]
pub fn development_router() -> Result<axum::Router, ServeError> {
    development_router_with(&[])
}

/// [`development_router`] with these variables set (`REGISTRATIONS_PER_ADDRESS_HOUR`, say,
/// for a fuzzer that registers an account per input).
#[doc(hidden)]
pub fn development_router_with(vars: &[(&str, &str)]) -> Result<axum::Router, ServeError> {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(variable, _)| *variable == name)
            .map(|(_, value)| (*value).to_owned())
    };
    let config = config::from_env(lookup).map_err(ServeError::Config)?;
    serve::development_router(&config)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::{Request, StatusCode, header};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn post(
        router: &axum::Router,
        path: &str,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40_000))));
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn the_development_router_serves_the_api_in_process() {
        let router = super::development_router().unwrap();
        let credentials =
            r#"{"email":"ada@example.com","password":"correct horse battery staple"}"#;
        let (status, body) = post(&router, "/v1/auth/register", credentials).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = post(&router, "/v1/auth/login", credentials).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["access_token"].is_string());
        let (status, body) = post(&router, "/v1/auth/login", "{\"email\":").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_request");
    }
}
