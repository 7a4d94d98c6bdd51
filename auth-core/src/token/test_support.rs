//! Shared fixtures for the token tests: a fixed clock, a configuration, keys.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use secrecy::ExposeSecret;

use super::{Algorithm, Key, KeySet, NewToken, TokenConfig, TokenIssuer, TokenVerifier};
use crate::clock::ManualClock;
use crate::error::{Error, TokenRejection};

/// 2023-11-14T22:13:20Z.
pub(crate) const NOW: u64 = 1_700_000_000;

pub(crate) fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at_unix(NOW))
}

pub(crate) fn config() -> TokenConfig {
    TokenConfig::new("https://issuer.test", "api.test")
}

/// A key of `algorithm`; RSA comes from a fixture, since generating one is slow.
pub(crate) fn key(algorithm: Algorithm) -> Key {
    #[cfg(feature = "jwt")]
    if algorithm == Algorithm::Rs256 {
        return rsa_fixture();
    }
    Key::generate(algorithm).unwrap()
}

/// The 2048-bit RSA test key, parsed once per test binary.
#[cfg(feature = "jwt")]
pub(crate) fn rsa_fixture() -> Key {
    static RSA: std::sync::OnceLock<Key> = std::sync::OnceLock::new();
    RSA.get_or_init(|| {
        Key::from_pem(Algorithm::Rs256, include_str!("testdata/rsa-2048.pem")).unwrap()
    })
    .clone()
}

/// The public half of an asymmetric key, as a verifier elsewhere would load it.
pub(crate) fn public_only(key: &Key) -> Option<Key> {
    let public = key.export_public().ok()?;
    #[cfg(feature = "jwt")]
    if let Ok(loaded) = Key::from_pem(key.algorithm(), &public) {
        return Some(loaded);
    }
    #[cfg(feature = "paseto")]
    if let Ok(loaded) = Key::from_paserk(&public) {
        return Some(loaded);
    }
    None
}

/// An issuer and a verifier over `keys`, with the test configuration and a fixed clock.
pub(crate) fn tokens(keys: KeySet) -> (TokenIssuer, TokenVerifier) {
    let keys = Arc::new(keys);
    let clock = clock();
    (
        TokenIssuer::new(keys.clone(), config(), clock.clone()).unwrap(),
        TokenVerifier::new(keys, config(), clock).unwrap(),
    )
}

/// A verifier over `keys`, with the test configuration and a fixed clock.
pub(crate) fn verifier(keys: KeySet) -> TokenVerifier {
    TokenVerifier::new(Arc::new(keys), config(), clock()).unwrap()
}

/// A raw access token for `user-1`.
pub(crate) fn issue(issuer: &TokenIssuer) -> String {
    let issued = issuer.issue_access(NewToken::new("user-1")).unwrap();
    issued.token.expose_secret().to_owned()
}

/// Why `verifier` refuses `token` as an access token; panics if it accepts it.
pub(crate) fn reject(verifier: &TokenVerifier, token: &str) -> TokenRejection {
    match verifier.verify_access::<super::NoCustomClaims>(token) {
        Err(Error::InvalidToken(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}
