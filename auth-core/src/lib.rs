//! Passwords, tokens and the security rules around them, for Rust services.
#![deny(missing_docs)]

pub mod clock;
pub mod error;
pub mod event;
#[cfg(any(feature = "jwt", feature = "paseto"))]
pub mod flows;
pub mod mfa;
pub mod password;
pub mod session;
pub mod store;
pub mod throttle;
#[cfg(any(feature = "jwt", feature = "paseto"))]
pub mod token;

pub use error::{Error, PasswordRejection, Result, TokenRejection};
/// Re-exported so callers can build the secret types this crate takes.
pub use secrecy;
