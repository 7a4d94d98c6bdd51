//! Fixtures for tests, of this crate and of the crates built on it (feature `test-util`): one
//! fixed time and clock, one token configuration, keys that load fast, and issuers, verifiers
//! and authenticators assembled from them over the memory stores; and [`private`] instances of
//! PostgreSQL and Redis for tests that break their stores.
//!
//! Fixtures panic on failure: a fixture that does not load is a broken test, not a finding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod needs;
/// A software passkey for tests of the passkey ceremonies.
#[cfg(all(feature = "passkeys", feature = "jwt"))]
pub mod passkey;
pub mod private;
pub mod topologies;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clock::ManualClock;

/// The fixed "now" of every test: 2023-11-14T22:13:20Z.
pub const NOW: u64 = 1_700_000_000;

/// The issuer of fixture tokens.
pub const ISSUER: &str = "https://issuer.test";

/// The audience of fixture tokens.
pub const AUDIENCE: &str = "api.test";

/// [`NOW`] as a time.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// A manual clock standing at [`NOW`].
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at_unix(NOW))
}

/// The committed key files, PEM-encoded, so no test reads them by path.
pub mod pem {
    /// An Ed25519 private key (PKCS#8).
    pub const ED25519: &str = include_str!("token/testdata/ed25519.pem");
    /// The public half of [`ED25519`].
    pub const ED25519_PUBLIC: &str = include_str!("token/testdata/ed25519-public.pem");
    /// A P-256 private key (PKCS#8).
    pub const P256: &str = include_str!("token/testdata/p256.pem");
    /// The public half of [`P256`].
    pub const P256_PUBLIC: &str = include_str!("token/testdata/p256-public.pem");
    /// A 2048-bit RSA private key (PKCS#8), so tests need not generate one.
    pub const RSA_2048: &str = include_str!("token/testdata/rsa-2048.pem");
    /// [`RSA_2048`] in PKCS#1.
    pub const RSA_2048_PKCS1: &str = include_str!("token/testdata/rsa-2048-pkcs1.pem");
    /// The public half of [`RSA_2048`] (SPKI).
    pub const RSA_2048_PUBLIC: &str = include_str!("token/testdata/rsa-2048-public.pem");
    /// The public half of [`RSA_2048`] in PKCS#1.
    pub const RSA_2048_PUBLIC_PKCS1: &str =
        include_str!("token/testdata/rsa-2048-public-pkcs1.pem");
    /// A 1024-bit RSA key: too short, refused.
    pub const RSA_1024: &str = include_str!("token/testdata/rsa-1024.pem");
    /// The public half of [`RSA_1024`] (SPKI): refused too.
    pub const RSA_1024_PUBLIC: &str = include_str!("token/testdata/rsa-1024-public.pem");
}

#[cfg(any(feature = "jwt", feature = "paseto"))]
pub use tokens::*;

#[cfg(any(feature = "jwt", feature = "paseto"))]
mod tokens {
    use std::sync::Arc;

    use super::{AUDIENCE, ISSUER, clock};
    use crate::clock::ManualClock;
    use crate::flows::{Authenticator, AuthenticatorBuilder, AuthenticatorConfig};
    use crate::token::{Algorithm, Key, KeySet, TokenConfig, TokenIssuer, TokenVerifier};

    /// The token configuration of fixtures: [`ISSUER`], [`AUDIENCE`], defaults otherwise.
    pub fn token_config() -> TokenConfig {
        TokenConfig::new(ISSUER, AUDIENCE)
    }

    /// A key of `algorithm`; RSA comes from the committed fixture, since generating one is slow.
    pub fn key(algorithm: Algorithm) -> Key {
        #[cfg(feature = "jwt")]
        if algorithm == Algorithm::Rs256 {
            return rsa_key();
        }
        Key::generate(algorithm).expect("a fresh key")
    }

    /// The 2048-bit RSA fixture key, parsed once per test binary.
    #[cfg(feature = "jwt")]
    pub fn rsa_key() -> Key {
        static RSA: std::sync::OnceLock<Key> = std::sync::OnceLock::new();
        RSA.get_or_init(|| {
            Key::from_pem(Algorithm::Rs256, super::pem::RSA_2048).expect("the RSA fixture loads")
        })
        .clone()
    }

    /// A key set whose active key is a fresh key of the default algorithm.
    pub fn keys() -> KeySet {
        KeySet::new(key(Algorithm::default())).expect("a signing key")
    }

    /// An issuer and a verifier over `keys`, with [`token_config`] and a clock at [`NOW`](super::NOW).
    pub fn issuer_and_verifier(keys: KeySet) -> (TokenIssuer, TokenVerifier) {
        issuer_and_verifier_on(keys, clock())
    }

    /// An issuer and a verifier over `keys`, with [`token_config`], reading time from `clock`
    /// (so the test can move it).
    pub fn issuer_and_verifier_on(
        keys: KeySet,
        clock: Arc<ManualClock>,
    ) -> (TokenIssuer, TokenVerifier) {
        let keys = Arc::new(keys);
        (
            TokenIssuer::new(keys.clone(), token_config(), clock.clone()).expect("valid config"),
            TokenVerifier::new(keys, token_config(), clock).expect("valid config"),
        )
    }

    /// A verifier over `keys`, with [`token_config`] and a clock at [`NOW`](super::NOW).
    pub fn verifier(keys: KeySet) -> TokenVerifier {
        TokenVerifier::new(Arc::new(keys), token_config(), clock()).expect("valid config")
    }

    /// The configuration of fixture authenticators: [`ISSUER`] and [`AUDIENCE`], defaults
    /// otherwise.
    pub fn authenticator_config() -> AuthenticatorConfig {
        AuthenticatorConfig::new(ISSUER, AUDIENCE)
    }

    /// An authenticator builder with fresh [`keys`] and `config`, over the memory stores, to
    /// finish with a clock, stores or an observer of the test's own.
    pub fn authenticator_builder(config: AuthenticatorConfig) -> AuthenticatorBuilder {
        Authenticator::builder(keys(), config)
    }

    /// An authenticator over the memory stores with a clock at [`NOW`](super::NOW).
    pub fn authenticator() -> Authenticator {
        authenticator_builder(authenticator_config())
            .clock(clock())
            .build()
            .expect("a valid configuration")
    }
}
