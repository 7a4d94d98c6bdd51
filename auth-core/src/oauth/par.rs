//! Pushed authorization requests (RFC 9126): a client sends its authorization request to the
//! provider directly, authenticated as at the token endpoint, and gets back a `request_uri`
//! to send the browser with instead. The parameters then never pass through the browser, and
//! a client registered with `require_pushed_authorization_requests` cannot be impersonated by
//! a request written in an address bar.
//!
//! The `request_uri` is `urn:ietf:params:oauth:request_uri:` and 256 random bits; it is kept
//! as its SHA-256 digest, with the client it belongs to and the request's parameters, for
//! [`PUSHED_REQUEST_TTL`]. It names the request until a code is issued for it: sign-in and
//! consent pages come back to the authorization endpoint with the same `request_uri`, and the
//! code's issue deletes it, so it is used once (RFC 9126 section 4, section 7.3).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::ClientId;
use crate::id::{OpaqueSecret, SecretHash};

/// The prefix of every `request_uri` (RFC 9126 section 2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request may be used: ten minutes, the top of RFC 9126's range, because
/// the sign-in and consent it leads to happen within it.
pub const PUSHED_REQUEST_TTL: Duration = Duration::from_secs(600);

/// The most bytes of names and values a pushed request keeps.
pub const MAX_PUSHED_LEN: usize = 8192;

/// The parameters a pushed request may not carry: the client's authentication (it stays with
/// the push) and another request by reference.
pub const NOT_PUSHED: [&str; 5] = [
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "request_uri",
    "request",
];

/// A pushed authorization request, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRequest {
    /// The SHA-256 digest of the reference (the part of the `request_uri` after the prefix).
    pub hash: SecretHash,
    /// The client that pushed it; only it may use it.
    pub client_id: ClientId,
    /// The request's parameters, `client_id` among them.
    pub params: BTreeMap<String, String>,
    /// When it stops being usable.
    pub expires_at: SystemTime,
}

/// A fresh `request_uri`, and the digest of its reference.
pub fn new_request_uri() -> (SecretHash, String) {
    let reference = OpaqueSecret::generate();
    let hash = reference.hash();
    let uri = format!(
        "{REQUEST_URI_PREFIX}{}",
        secrecy::ExposeSecret::expose_secret(&reference.into_secret())
    );
    (hash, uri)
}

/// The digest of the reference `request_uri` carries; `None` if it is not one of ours.
pub fn reference_of(request_uri: &str) -> Option<SecretHash> {
    let reference = request_uri.strip_prefix(REQUEST_URI_PREFIX)?;
    OpaqueSecret::parse(reference)
        .ok()
        .map(|secret| secret.hash())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_uri_carries_a_reference_known_by_its_digest() {
        let (hash, uri) = new_request_uri();
        assert!(uri.starts_with(REQUEST_URI_PREFIX));
        assert_eq!(reference_of(&uri), Some(hash));
        let (other, _) = new_request_uri();
        assert_ne!(hash, other);
        for bad in [
            "",
            REQUEST_URI_PREFIX,
            "urn:ietf:params:oauth:request_uri:short",
            "https://client.example/request.jwt",
            &uri.replace("request_uri", "request-uri"),
        ] {
            assert_eq!(reference_of(bad), None, "{bad}");
        }
    }
}
