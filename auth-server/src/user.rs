//! `auth-server user create`: bootstrap an account in the server's database.

use std::io::BufRead as _;
use std::process::ExitCode;

use auth_core::flows::{Authenticator, AuthenticatorConfig, Stores};
use auth_core::secrecy::SecretString;
use auth_core::store::UserStore;
use auth_core::store::postgres::PostgresStore;
use auth_core::token::{Algorithm, Key, KeySet};

use crate::cli::UserCreateArgs;

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
    match crate::cli::block_on("user create", run(args, &password)) {
        None => ExitCode::FAILURE,
        Some(Ok(printed)) => {
            println!("{printed}");
            ExitCode::SUCCESS
        }
        Some(Err(error)) => {
            eprintln!("user create: {} ({error})", error.code());
            ExitCode::FAILURE
        }
    }
}

async fn run(
    args: &UserCreateArgs,
    password: &SecretString,
) -> auth_core::Result<serde_json::Value> {
    let store = PostgresStore::connect(&args.database.config()?)?;
    store.migrate().await?;
    let users = store.clone();
    // Registration issues no token; the key only satisfies the builder.
    let keys = KeySet::new(Key::generate(Algorithm::EdDsa)?)?;
    // The issuer the server runs with, so the password meets the same context words.
    let issuer = std::env::var("AUTH_ISSUER").unwrap_or_else(|_| "http://localhost".to_owned());
    let config = AuthenticatorConfig::new(issuer, "auth");
    let auth = Authenticator::builder(keys, config)
        .stores(Stores::postgres(store))
        .build()?;
    let user = auth.register(&args.email, password).await?;
    // The operator vouches for the address: an account made here signs in with its password
    // when verification is required.
    users
        .mark_email_verified(&user.id, &user.email, std::time::SystemTime::now())
        .await?;
    Ok(serde_json::json!({ "user_id": user.id, "email": user.email }))
}
