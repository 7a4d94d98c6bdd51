//! HTTP-side building blocks over [`auth_core`].
//!
//! `auth-core` holds the rules and makes no HTTP requests; everything that speaks HTTP and
//! that an embedding service would want lives here. So far:
//!
//! - [`breached::HibpRangeSource`] (feature `hibp`, on by default): an HTTPS client for the
//!   Have I Been Pwned k-anonymity range API, plugged into
//!   [`auth_core::password::PwnedRangeCheck`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use auth_core::password::{PasswordConfig, PasswordService, PwnedRangeCheck};
//! use auth_tower::breached::HibpRangeSource;
//!
//! # fn main() -> Result<(), auth_core::Error> {
//! let source = HibpRangeSource::new(HibpRangeSource::DEFAULT_BASE_URL)?;
//! let passwords = PasswordService::with_breach_check(
//!     PasswordConfig::default(),
//!     Arc::new(PwnedRangeCheck::new(source)),
//! )?;
//! # let _ = passwords;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

#[cfg(feature = "hibp")]
pub mod breached;
