//! `auth-server user create`: bootstrap an account in the server's database.

use std::io::BufRead as _;
use std::process::ExitCode;

use auth_core::flows::{Authenticator, AuthenticatorConfig, Stores};
use auth_core::secrecy::SecretString;
use auth_core::store::UserStore;
use auth_core::store::postgres::PostgresStore;
use auth_core::token::{Algorithm, Key, KeySet};

use crate::cli::{DatabaseArgs, UserCreateArgs};

/// The flows over the server's database, for a one-shot command (its schema migrated first),
/// and the store. It issues no token: its key is a throwaway. Sessions it ends have their
/// access tokens refused for the longest lifetime the server accepts (a day), so no server's
/// token outlives the revocation whatever its `ACCESS_TOKEN_TTL`.
pub(crate) async fn operator_authenticator(
    database: &DatabaseArgs,
) -> auth_core::Result<(Authenticator, PostgresStore)> {
    let store = PostgresStore::connect(&database.config()?)?;
    store.migrate().await?;
    let keys = KeySet::new(Key::generate(Algorithm::EdDsa)?)?;
    // The issuer the server runs with, so a password meets the same context words.
    let issuer = std::env::var("AUTH_ISSUER").unwrap_or_else(|_| "http://localhost".to_owned());
    let mut config = AuthenticatorConfig::new(issuer, "auth");
    config.tokens.access_ttl = crate::config::MAX_ACCESS_TTL;
    let mut builder = Authenticator::builder(keys, config).stores(Stores::postgres(store.clone()));
    // Registration judges a client's jwks_uri as the server will fetch it.
    let production = std::env::var("AUTH_ENV").as_deref() == Ok("production");
    let mut problems = Vec::new();
    let setting = std::env::var("CLIENT_JWKS_ALLOW_PRIVATE").ok();
    if let Some(fetcher) =
        crate::config::client_key_fetcher(setting.as_deref(), production, &mut problems)
    {
        builder = builder.client_key_source(fetcher);
    }
    if let Some(problem) = problems.first() {
        return Err(auth_core::Error::Config(problem.clone()));
    }
    let auth = builder.build()?;
    Ok((auth, store))
}

pub(crate) fn create(args: &UserCreateArgs) -> ExitCode {
    let password = match std::env::var("AUTH_BOOTSTRAP_PASSWORD") {
        Ok(password) if !password.is_empty() => SecretString::from(password),
        _ => {
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).is_err() {
                eprintln!("user create: cannot read the password from standard input");
                return ExitCode::FAILURE;
            }
            SecretString::from(line.trim_end_matches(['\r', '\n']).to_owned())
        }
    };
    crate::cli::run_printing("user create", run(args, &password))
}

async fn run(
    args: &UserCreateArgs,
    password: &SecretString,
) -> auth_core::Result<serde_json::Value> {
    let (auth, users) = operator_authenticator(&args.database).await?;
    let user = auth.register(&args.email, password).await?;
    // The operator vouches for the address: an account made here signs in with its password
    // when verification is required.
    users
        .mark_email_verified(&user.id, &user.email, std::time::SystemTime::now())
        .await?;
    Ok(serde_json::json!({ "user_id": user.id, "email": user.email }))
}
