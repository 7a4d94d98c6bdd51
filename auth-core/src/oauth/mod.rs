//! OAuth 2.1 and OpenID Connect, the provider's side: the rules, in types of our own (no HTTP
//! types here; the server maps requests onto them).
//!
//! - [`client`]: registered clients: confidential ones authenticate with a secret we generate
//!   (256 bits, stored as its SHA-256 digest, compared in constant time), public ones prove
//!   possession with PKCE; each has exact redirect URIs ([`RedirectUri`]), the grants and
//!   scopes it may use, and whether it is first party (see [`crate::authz`] for what that
//!   changes). [`ClientStore`](crate::store::ClientStore) keeps them.
//! - [`pkce`]: the `S256` code challenge and its check; `plain` is refused.
//! - [`authorize`]: the authorization request, checked against its client, and where each
//!   refusal goes (a page until the redirect URI is proven the client's, the client after).
//! - [`error`]: the protocol's error codes.
//! - [`grant`]: authorization codes, consent, and the client grant a session carries.
//! - [`keys`]: the public keys of a client of `private_key_jwt`, and its assertions.
//! - [`par`]: pushed authorization requests (RFC 9126).

pub mod authorize;
pub mod client;
pub mod error;
pub mod grant;
pub mod keys;
pub mod par;
pub mod pkce;

pub use authorize::{AuthorizationRequest, Prompt, RawRequest, Refusal};
pub use error::{ErrorCode, OAuthError};
pub use grant::{AuthorizationCode, ClientGrant, Consent, Redemption};
pub use par::PushedRequest;
pub use pkce::CodeChallenge;

pub use client::{
    Client, ClientAuthMethod, ClientId, ClientKeys, GrantType, NewClient, RedirectUri,
    RegisteredClient,
};
