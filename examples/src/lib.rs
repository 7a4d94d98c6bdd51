//! The code behind the example programs in `src/bin/`, kept in a library so the tests in
//! `tests/` start exactly the services the programs serve.
//!
//! - [`demo`]: the `Authenticator` every server example shares, on in-memory stores with one
//!   registered demo user holding the role that grants `orders:read`, and its health probes.
//! - [`answers`]: the JSON answers of the HTTP examples (tokens, profile, errors), framework
//!   neutral.
//! - [`axum_app`]: an axum application (`cargo run -p auth-examples --bin axum_app`).
//! - [`hyper_server`]: the same application on plain hyper (`--bin hyper_server`).
//! - [`tonic_server`]: a gRPC server behind `AuthLayer` (`--bin tonic_server`).
//! - [`custom_user_store`]: a user store of the application's own (`--bin custom_user_store`).
//! - [`oidc_relying_party`]: an application that signs its users in through an OpenID provider
//!   (`--bin oidc_relying_party`).
#![deny(missing_docs)]

pub mod answers;
pub mod axum_app;
pub mod custom_user_store;
pub mod demo;
pub mod hyper_server;
pub mod oidc_relying_party;
pub mod tonic_server;
