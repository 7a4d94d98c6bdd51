//! Issuing and verifying access tokens, and rotating the signing key without refusing tokens
//! that are still valid: publish the new key, switch signing, retire the old key after the
//! longest token lifetime.
//!
//! Run: `cargo run -p auth-examples --bin token_rotation`

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use auth_core::Error;
use auth_core::clock::ManualClock;
use auth_core::secrecy::ExposeSecret as _;
use auth_core::token::{
    Algorithm, Claims, Key, KeySet, NewToken, TokenConfig, TokenIssuer, TokenVerifier,
};

fn services(
    keys: &KeySet,
    clock: &Arc<ManualClock>,
) -> Result<(TokenIssuer, TokenVerifier), Error> {
    let keys = Arc::new(keys.clone());
    let config = TokenConfig::new("https://auth.example.com", "orders-api");
    Ok((
        TokenIssuer::new(keys.clone(), config.clone(), clock.clone())?,
        TokenVerifier::new(keys, config, clock.clone())?,
    ))
}

fn run() -> Result<(), Error> {
    let clock = Arc::new(ManualClock::at_unix(1_800_000_000));
    let first = Key::generate(Algorithm::EdDsa)?;
    let first_id = first.id().clone();
    let mut keys = KeySet::new(first)?;

    let (issuer, _) = services(&keys, &clock)?;
    let old_token = issuer.issue_access(NewToken::new("user-7").scope(["orders:read"]))?;
    println!("issued a token signed by {}", old_token.kid);

    // Rotate: the new key signs, the old one still verifies.
    keys.rotate(Key::generate(Algorithm::EdDsa)?)?;
    let (issuer, verifier) = services(&keys, &clock)?;
    let new_token = issuer.issue_access(NewToken::new("user-7"))?;
    println!("rotated; new tokens are signed by {}", new_token.kid);
    let claims: Claims = verifier.verify_access(old_token.token.expose_secret())?;
    println!(
        "the old token still verifies for {} (scope {:?})",
        claims.sub, claims.scope
    );
    println!("JWKS now publishes {} keys", keys.jwks().keys.len());

    // After the longest access-token lifetime, retire the old key.
    clock.advance(Duration::from_secs(900 + 30 + 1));
    keys.retire(first_id.as_str())?;
    let (_, verifier) = services(&keys, &clock)?;
    match verifier
        .verify_access::<auth_core::token::NoCustomClaims>(old_token.token.expose_secret())
    {
        Err(error) => println!("after retirement the old token is refused: {error}"),
        Ok(_) => return Err(Error::Internal("a retired key still verified".into())),
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
