//! An `Authenticator` whose accounts live in a user store of the application's own
//! (`auth_examples::custom_user_store::UserDirectory`, a `RwLock<HashMap>` with a
//! case-insensitive email index), every other store from the library's memory backend:
//! register, refuse a second account with the same email, log in, authenticate the token.
//!
//! The flows by email (sign-up with verification, reset, sign-in by link) write an account
//! with its links and mail in one unit of work (`Stores::unit`), which must be the backend
//! that holds the accounts; with accounts elsewhere, as here, use `register` and `login`.
//!
//! Run: `cargo run -p auth-examples --bin custom_user_store`

use std::sync::Arc;

use auth_core::Error;
use auth_core::flows::{Authenticator, AuthenticatorConfig, LoginOutcome, Stores};
use auth_core::secrecy::{ExposeSecret, SecretString};
use auth_core::token::{Algorithm, Key, KeySet};
use auth_examples::custom_user_store::UserDirectory;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let directory = Arc::new(UserDirectory::new());
    let stores = Stores {
        users: directory.clone(),
        ..Stores::memory()
    };
    let keys = KeySet::new(Key::generate(Algorithm::EdDsa)?)?;
    let config = AuthenticatorConfig::new("https://auth.example.com", "shop");
    let auth = Authenticator::builder(keys, config)
        .stores(stores)
        .build()?;

    let password = SecretString::from("correct horse battery staple");
    let user = auth.register("Ada@Example.com", &password).await?;
    println!("registered {}", user.email);

    match auth.register("ADA@example.com", &password).await {
        Err(error) => println!(
            "registering ADA@example.com again: refused ({})",
            error.code()
        ),
        Ok(_) => return Err("the same email was registered twice".into()),
    }

    let LoginOutcome::Authenticated(tokens) =
        auth.login("ADA@EXAMPLE.COM", &password, None).await?
    else {
        return Err("a second factor was asked for, but none is enrolled".into());
    };
    println!("login as ADA@EXAMPLE.COM: ok");
    let principal = auth
        .authenticate(tokens.access_token.expose_secret())
        .await?;
    let profile = auth.me(&principal).await?;
    println!("the access token speaks for {}", profile.email);

    let wrong = SecretString::from("wrong horse battery staple");
    match auth.login("ada@example.com", &wrong, None).await {
        Err(Error::InvalidCredentials) => println!("login with a wrong password: refused"),
        other => return Err(format!("a wrong password was not refused: {other:?}").into()),
    }
    println!("the directory holds {} account(s)", directory.len());
    Ok(())
}
