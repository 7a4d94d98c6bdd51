//! Server-side sessions and the opaque secrets behind sessions and refresh tokens.
//!
//! Both are 256 random bits from the operating system, shown once as unpadded base64url and
//! stored only as their SHA-256 digest ([`SecretHash`]). A session's public id is that digest
//! ([`SessionId`]): access tokens carry it as `sid`, and users see it when listing sessions.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::error::{Result, TokenRejection};
use crate::store::{SecretHash, SessionId};

/// A 256-bit opaque secret (a refresh token, a session secret).
pub struct OpaqueSecret(SecretString);

impl OpaqueSecret {
    /// A fresh secret from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
    }

    /// Reads a secret given by a client; anything but 43 base64url characters is malformed.
    pub fn parse(text: &str) -> Result<Self> {
        let well_formed = text.len() == 43
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD
                .decode(text)
                .is_ok_and(|bytes| bytes.len() == 32);
        if well_formed {
            Ok(Self(SecretString::from(text)))
        } else {
            Err(TokenRejection::Malformed.into())
        }
    }

    /// The digest stored in place of the secret.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(self.0.expose_secret().as_bytes())
    }

    /// The session id of a session whose secret this is.
    pub fn session_id(&self) -> SessionId {
        SessionId::from_secret(self.0.expose_secret().as_bytes())
    }

    /// The secret, to hand to its holder.
    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

impl fmt::Debug for OpaqueSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueSecret(REDACTED)")
    }
}

/// How long sessions and their refresh tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetimes {
    /// Unused for this long, a session (and its refresh token) expires. Default 7 days.
    pub idle: Duration,
    /// Absolute lifetime of a session and its refresh-token family (`REFRESH_TOKEN_TTL`).
    /// Default 30 days.
    pub absolute: Duration,
    /// A refresh token presented again within this time after its rotation is a client retry,
    /// not reuse. Default zero: every second use is reuse.
    pub refresh_reuse_grace: Duration,
}

impl Default for SessionLifetimes {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(7 * 24 * 3600),
            absolute: Duration::from_secs(30 * 24 * 3600),
            refresh_reuse_grace: Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bits_of_base64url_and_distinct() {
        let a = OpaqueSecret::generate().into_secret();
        let b = OpaqueSecret::generate().into_secret();
        assert_eq!(a.expose_secret().len(), 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
        let decoded = URL_SAFE_NO_PAD.decode(a.expose_secret()).unwrap();
        assert_eq!(decoded.len(), 32);
    }

    #[test]
    fn a_parsed_secret_hashes_like_the_generated_one() {
        let secret = OpaqueSecret::generate();
        let hash = secret.hash();
        let id = secret.session_id();
        let text = secret.into_secret();
        let parsed = OpaqueSecret::parse(text.expose_secret()).unwrap();
        assert_eq!(parsed.hash(), hash);
        assert_eq!(parsed.session_id(), id);
        assert_eq!(id.as_str(), hash.to_base64url());
    }

    #[test]
    fn malformed_secrets_are_refused() {
        for text in [
            "",
            "short",
            &"a".repeat(44),
            &"!".repeat(43),
            &"a".repeat(4096),
        ] {
            assert!(OpaqueSecret::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let secret = OpaqueSecret::generate();
        assert_eq!(format!("{secret:?}"), "OpaqueSecret(REDACTED)");
    }
}
