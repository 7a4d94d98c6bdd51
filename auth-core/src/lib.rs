//! Passwords, tokens and the security rules around them, for Rust services.
#![deny(missing_docs)]

pub mod clock;
pub mod error;
pub mod password;
#[cfg(any(feature = "jwt", feature = "paseto"))]
pub mod token;

pub use error::{Error, PasswordRejection, Result, TokenRejection};
/// Re-exported so callers can build the secret types this crate takes.
pub use secrecy;
