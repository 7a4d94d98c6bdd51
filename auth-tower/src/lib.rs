//! HTTP-side building blocks over [`auth_core`].
//!
//! `auth-core` holds the rules and makes no HTTP requests; everything that speaks HTTP and
//! that an embedding service would want lives here. So far:
//!
//! - [`answer::Answer`]: the one answer to every `auth_core::Error` (status, code, message,
//!   `Retry-After`, RFC 6750 challenge), as JSON or, to gRPC requests, as a gRPC status.
//! - [`authn::AuthLayer`]: bearer authentication for any Tower stack (axum, tonic, hyper), with
//!   RFC 6750 answers and the verified principal in the request extensions.
//! - [`health::HealthService`]: liveness, readiness (concurrent checks with timeouts) and
//!   startup probes.
//! - [`metrics`]: `HttpMetricsLayer` (requests by method, route template, status class),
//!   the `/metrics` service (OpenMetrics), and the auth business metrics from auth-core's
//!   events and observer hooks.
//! - [`browser`], `SessionLayer` (a session cookie over the same session store as the API)
//!   and `CsrfLayer` (a token on every state-changing request), for pages.
//! - [`scope::RequireScopeLayer`]: `403 insufficient_scope` for principals that lack a scope.
//! - [`breached::HibpRangeSource`] (feature `hibp`, on by default): an HTTPS client for the
//!   Have I Been Pwned k-anonymity range API, plugged into
//!   [`auth_core::password::PwnedRangeCheck`].
//! - `client_keys::JwksFetcher` (feature `client-keys`): the keys of `private_key_jwt` clients
//!   at their `jwks_uri`, over HTTPS, never from a private address unless allowed.
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

use std::future::Future;
use std::pin::Pin;

#[cfg(any(feature = "jwt", feature = "paseto"))]
#[macro_use]
mod macros;

/// A boxed, sendable future, as the services and traits of this crate return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

pub mod answer;
#[cfg(any(feature = "jwt", feature = "paseto"))]
pub mod authn;
#[cfg(feature = "hibp")]
pub mod breached;
#[cfg(any(feature = "jwt", feature = "paseto"))]
pub mod browser;
#[cfg(feature = "client-keys")]
pub mod client_keys;
#[cfg(any(feature = "hibp", feature = "client-keys"))]
mod fetch;
pub mod health;
#[cfg(any(feature = "jwt", feature = "paseto"))]
pub mod metrics;
#[cfg(any(feature = "jwt", feature = "paseto"))]
pub mod scope;
