//! Registration and login with `auth-core`'s password service, including the upgrade of a
//! bcrypt hash imported from a previous system to Argon2id on the first successful login.
//!
//! Run: `cargo run -p auth-examples --bin password_login`

use std::collections::HashMap;
use std::process::ExitCode;

use auth_core::Error;
use auth_core::password::{PasswordConfig, PasswordService, Verification};
use auth_core::secrecy::SecretString;

/// The application's own user table: email to stored hash.
type Users = HashMap<String, String>;

async fn register(
    passwords: &PasswordService,
    users: &mut Users,
    email: &str,
    password: &str,
) -> Result<(), Error> {
    let stored = passwords
        .hash_new_password(&SecretString::from(password), &[])
        .await?;
    users.insert(email.to_owned(), stored);
    Ok(())
}

/// Logs in; on success with an outdated hash, stores the upgraded one.
async fn login(
    passwords: &PasswordService,
    users: &mut Users,
    email: &str,
    password: &str,
) -> Result<(), Error> {
    let password = SecretString::from(password);
    let Some(stored) = users.get(email) else {
        // Same work as a real verification, so timing does not reveal unknown accounts.
        let _ = passwords.verify_unknown_account(&password).await?;
        return Err(Error::InvalidCredentials);
    };
    match passwords.verify(&password, stored).await? {
        Verification::Valid { needs_rehash } => {
            if needs_rehash {
                let upgraded = passwords.rehash(&password).await?;
                println!("  upgraded {email}'s hash to {}", scheme(&upgraded));
                users.insert(email.to_owned(), upgraded);
            }
            Ok(())
        }
        Verification::Invalid => Err(Error::InvalidCredentials),
    }
}

fn scheme(stored: &str) -> &str {
    stored.split('$').nth(1).unwrap_or("?")
}

async fn run() -> Result<(), Error> {
    let passwords = PasswordService::new(PasswordConfig::default())?;
    let mut users = Users::new();

    register(
        &passwords,
        &mut users,
        "ada@example.com",
        "correct horse battery staple",
    )
    .await?;
    println!(
        "registered ada@example.com ({})",
        scheme(&users["ada@example.com"])
    );

    match register(&passwords, &mut users, "bob@example.com", "hunter2").await {
        Err(error) => println!("refused bob@example.com: {} ({error})", error.code()),
        Ok(()) => {
            return Err(Error::Internal(
                "a seven-character password was accepted".into(),
            ));
        }
    }

    // An account imported from a service that stored bcrypt hashes (cost 12).
    let legacy = bcrypt::hash("a password from the old system", 12)
        .map_err(|e| Error::Internal(e.to_string()))?;
    users.insert("cy@example.com".into(), legacy);

    for (email, password) in [
        ("ada@example.com", "correct horse battery staple"),
        ("ada@example.com", "wrong horse battery staple"),
        ("nobody@example.com", "correct horse battery staple"),
        ("cy@example.com", "a password from the old system"),
        ("cy@example.com", "a password from the old system"),
    ] {
        println!("login {email}:");
        match login(&passwords, &mut users, email, password).await {
            Ok(()) => println!("  ok"),
            Err(error) => println!("  refused: {}", error.code()),
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
