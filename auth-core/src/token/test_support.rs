//! Helpers of the token tests alone; the fixtures they share with other tests are in
//! [`crate::testing`].
#![allow(clippy::unwrap_used)]

use secrecy::ExposeSecret;

use super::{Key, NewToken, TokenIssuer, TokenVerifier};
use crate::error::{Error, TokenRejection};

/// The public half of an asymmetric key, as a verifier elsewhere would load it.
pub(crate) fn public_only(key: &Key) -> Option<Key> {
    let public = key.export_public().ok()?;
    #[cfg(feature = "jwt")]
    if let Ok(loaded) = Key::from_pem(key.algorithm(), &public) {
        return Some(loaded);
    }
    #[cfg(feature = "paseto")]
    if let Ok(loaded) = Key::from_paserk(&public) {
        return Some(loaded);
    }
    None
}

/// A raw access token for `user-1`.
pub(crate) fn issue(issuer: &TokenIssuer) -> String {
    let issued = issuer.issue_access(NewToken::new("user-1")).unwrap();
    issued.token.expose_secret().to_owned()
}

/// Why `verifier` refuses `token` as an access token; panics if it accepts it.
pub(crate) fn reject(verifier: &TokenVerifier, token: &str) -> TokenRejection {
    match verifier.verify_access::<super::NoCustomClaims>(token) {
        Err(Error::InvalidToken(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}
