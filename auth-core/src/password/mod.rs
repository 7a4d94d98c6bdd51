//! Password hashing, verification and policy.
//!
//! - New hashes are Argon2id PHC strings at configurable parameters (OWASP's m = 19 MiB,
//!   t = 2, p = 1 by default).
//! - Verification also accepts bcrypt, PBKDF2 and scrypt hashes imported from other systems,
//!   and says when a stored hash must be replaced ([`Verification::Valid`] with
//!   `needs_rehash`).
//! - New passwords meet a length-only policy (ASVS 2.1: 12 to 128 characters by default, any
//!   Unicode, NFKC-normalised, never truncated), are not among the 30,000 most common
//!   passwords ([`CommonPasswords`]) nor built on the email name or the service's name, and
//!   pass an optional breached-password check.
//! - [`PasswordService`] runs every hash on its own threads behind a bounded pool: concurrent
//!   logins can neither starve the runtime nor queue without limit. Each thread reuses one
//!   Argon2 memory buffer and, on Linux, runs at a lower priority than request handling
//!   ([`PasswordConfig::hash_thread_niceness`]).
//!
//! ```
//! use auth_core::password::{PasswordConfig, PasswordService, Verification};
//! use secrecy::SecretString;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), auth_core::Error> {
//! let passwords = PasswordService::new(PasswordConfig::default())?;
//! let password = SecretString::from("correct horse battery staple");
//! // The account's email name and the like are not allowed to carry the password.
//! let stored = passwords.hash_new_password(&password, &["ada"]).await?;
//! assert!(stored.starts_with("$argon2id$"));
//!
//! match passwords.verify(&password, &stored).await? {
//!     Verification::Valid { needs_rehash: true } => { /* store passwords.rehash(..) */ }
//!     Verification::Valid { needs_rehash: false } => { /* logged in */ }
//!     Verification::Invalid => unreachable!("the password matches"),
//! }
//!
//! // A weak password is refused with a stable code.
//! let weak = passwords
//!     .hash_new_password(&SecretString::from("password1234"), &[])
//!     .await;
//! assert_eq!(weak.unwrap_err().code(), "weak_password");
//! # Ok(())
//! # }
//! ```

mod argon2_buffer;
mod breached;
mod common;
mod hash;
mod policy;
mod pool;
mod service;

pub use breached::{BreachChecks, BreachList, BreachedPasswordCheck, PwnedRangeCheck, RangeSource};
pub use common::CommonPasswords;
pub use hash::{
    Argon2Params, HashScheme, MAX_ARGON2_MEMORY_KIB, STORED_ARGON2_MEMORY_FACTOR, Verification,
    hash_password, needs_rehash, verify_password,
};
pub use policy::{NormalizedPassword, PasswordPolicy};
pub use pool::{HASH_WAIT_BUCKETS, HashWaits};
pub use service::{BreachCheckFailure, PasswordConfig, PasswordService};
