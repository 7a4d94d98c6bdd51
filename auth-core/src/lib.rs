//! Passwords, tokens, second factors, sessions and brute-force protection for Rust services.
//!
//! The [`Authenticator`](flows::Authenticator) is the one entry point most embedders need:
//!
//! ```
//! use auth_core::flows::{Authenticator, AuthenticatorConfig, LoginOutcome};
//! use auth_core::secrecy::{ExposeSecret, SecretString};
//! use auth_core::token::{Algorithm, Key, KeySet};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), auth_core::Error> {
//! let keys = KeySet::new(Key::generate(Algorithm::EdDsa)?)?;
//! let config = AuthenticatorConfig::new("https://auth.example.com", "api");
//! let auth = Authenticator::builder(keys, config).build()?; // in-memory stores
//!
//! let password = SecretString::from("correct horse battery staple");
//! auth.register("ada@example.com", &password).await?;
//! let LoginOutcome::Authenticated(tokens) = auth.login("ada@example.com", &password, None).await?
//! else {
//!     unreachable!("no second factor enrolled");
//! };
//! let tokens = auth.refresh(tokens.refresh_token.expose_secret(), None).await?;
//! let principal = auth.authenticate(tokens.access_token.expose_secret()).await?;
//! assert_eq!(principal.user_id, tokens.user_id);
//! # Ok(())
//! # }
//! ```
//!
//! Underneath: [`authz`] (roles, scopes and the rule for a token's scopes), [`oauth`] (the provider's side of OAuth 2.1 and OpenID Connect: clients), [`password`] (Argon2id, policy, breached-password checks), [`token`] (JWT and
//! PASETO with rotating keys), [`mfa`] (TOTP, recovery codes), [`session`], [`refresh`]
//! (refresh-token families and their rotation), [`throttle`], [`store`] (the storage traits,
//! the memory backend and the conformance suite), [`event`] (audit events and where they go),
//! [`id`] (the ids and secrets every module speaks of), [`clock`] and, with the `test-util`
//! feature, `testing` (fixtures for tests).
#![deny(missing_docs)]

pub mod authz;
pub mod clock;
pub mod email;
pub mod error;
pub mod event;
#[cfg(any(feature = "jwt", feature = "paseto"))]
pub mod flows;
pub mod id;
pub mod intent;
pub mod mail;
pub mod mfa;
pub mod oauth;
pub mod outbox;
pub mod passkey;
pub mod password;
pub mod refresh;
pub mod session;
pub mod store;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod throttle;
#[cfg(any(feature = "jwt", feature = "paseto"))]
pub mod token;

pub use error::{Error, PasswordRejection, Result, TokenRejection};
/// Re-exported so callers can build the secret types this crate takes.
pub use secrecy;
