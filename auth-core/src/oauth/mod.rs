//! OAuth 2.1 and OpenID Connect, the provider's side: the rules, in types of our own (no HTTP
//! types here; the server maps requests onto them).
//!
//! - [`client`]: registered clients: confidential ones authenticate with a secret we generate
//!   (256 bits, stored as its SHA-256 digest, compared in constant time), public ones prove
//!   possession with PKCE; each has exact redirect URIs ([`RedirectUri`]), the grants and
//!   scopes it may use, and whether it is first party (see [`crate::authz`] for what that
//!   changes). [`ClientStore`](crate::store::ClientStore) keeps them.
//! - [`pkce`]: the `S256` code challenge and its check; `plain` is refused.

pub mod client;
pub mod pkce;

pub use pkce::CodeChallenge;

pub use client::{
    Client, ClientAuthMethod, ClientId, GrantType, NewClient, RedirectUri, RegisteredClient,
};
