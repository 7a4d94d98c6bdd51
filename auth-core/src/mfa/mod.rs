//! Second factors: TOTP (RFC 6238) with replay protection, secrets encrypted at rest, and
//! single-use recovery codes.
//!
//! The pieces are pure functions of their inputs and of the time they are given, so windows
//! and rotation are tested without sleeping:
//!
//! - [`TotpSecret`], [`hotp`], [`code_at`], [`verify`] and [`otpauth_uri`]: RFC 4226 / RFC 6238
//!   codes, interoperable with authenticator apps. [`verify`] accepts one step either side and
//!   returns the matched step; the caller refuses replays with it
//!   ([`MfaStore::accept_totp_step`](crate::store::MfaStore::accept_totp_step)).
//! - [`MfaKeyring`]: AES-256-GCM encryption of secrets at rest, bound to their user, under key
//!   ids so the key can rotate.
//! - [`RecoveryCodes`]: single-use codes of 120 random bits, stored only as a hash.
//! - [`reencrypt_totp_secrets`](crate::store::reencrypt_totp_secrets): moves stored secrets to the keyring's active key after a
//!   rotation, so older keys can be retired.
//!
//! # Example
//!
//! Enrolment, then a login a little later, with a fixed secret and fixed times:
//!
//! ```
//! use auth_core::mfa::{MfaKeyring, RecoveryCodes, TotpParams, TotpSecret};
//! use auth_core::mfa::{code_at, otpauth_uri, recovery_code_hash, verify};
//! use auth_core::id::UserId;
//! use auth_core::secrecy::ExposeSecret;
//!
//! # fn main() -> auth_core::Result<()> {
//! let keyring = MfaKeyring::generate(); // in production: MfaKeyring::from_hex("v1", key_hex)?
//! let user = UserId::new();
//! let params = TotpParams::default(); // SHA-1, 6 digits, 30 s
//!
//! // Enrol: a secret (here fixed; normally TotpSecret::generate), stored encrypted, shown as a URI.
//! let secret = TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
//! let stored = keyring.encrypt(&user, &secret)?;
//! let uri = otpauth_uri("Example", "alice@example.com", &secret, &params);
//! assert!(uri.expose_secret().starts_with("otpauth://totp/Example:alice%40example.com?secret="));
//! let (shown_codes, stored_hashes) = RecoveryCodes::generate();
//!
//! // The app computes a code at 2005-03-18 01:58:29 UTC...
//! let code = code_at(&secret, &params, 1_111_111_109).expect("after the epoch");
//! assert_eq!(code, "081804");
//!
//! // ...and the user types it 20 seconds later: the next step, inside the window.
//! let secret = keyring.decrypt(&user, &stored)?;
//! let step = verify(&secret, &params, "081 804", 1_111_111_129);
//! assert_eq!(step, Some(37_037_036)); // hand it to MfaStore::accept_totp_step
//! assert_eq!(verify(&secret, &params, "081804", 1_111_111_169), None); // two steps later
//!
//! // A recovery code, typed in any case and grouping, hashes to its stored hash.
//! let typed = shown_codes[0].expose_secret().to_uppercase().replace('-', " ");
//! assert_eq!(recovery_code_hash(&typed), Some(stored_hashes[0]));
//! # Ok(())
//! # }
//! ```

mod recovery;
mod secret;
mod totp;

use std::fmt;

pub use recovery::{RecoveryCodes, normalize_recovery_code, recovery_code_hash};
pub use secret::MfaKeyring;
pub use totp::{TotpSecret, code_at, hotp, otpauth_uri, step_at, verify};

use crate::error::{Error, Result};

/// The HMAC hash function of a TOTP credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TotpAlgorithm {
    /// HMAC-SHA-1: what authenticator apps expect by default.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl TotpAlgorithm {
    /// The name in an `otpauth://` URI: `SHA1`, `SHA256` or `SHA512`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }
}

/// The parameters of a TOTP credential, stored beside its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TotpParams {
    /// HMAC hash function.
    pub algorithm: TotpAlgorithm,
    /// Code length: 6 or 8.
    pub digits: u32,
    /// Time step in seconds.
    pub period: u64,
}

impl TotpParams {
    /// The shortest accepted period, in seconds.
    pub const MIN_PERIOD: u64 = 15;
    /// The longest accepted period, in seconds.
    pub const MAX_PERIOD: u64 = 300;

    /// Checks that `digits` is 6 or 8 and `period` lies in
    /// [`MIN_PERIOD`](Self::MIN_PERIOD)..=[`MAX_PERIOD`](Self::MAX_PERIOD); [`Error::Config`]
    /// otherwise.
    pub fn validate(&self) -> Result<()> {
        if !matches!(self.digits, 6 | 8) {
            return Err(Error::Config(format!(
                "TOTP digits must be 6 or 8, not {}",
                self.digits
            )));
        }
        if !(Self::MIN_PERIOD..=Self::MAX_PERIOD).contains(&self.period) {
            return Err(Error::Config(format!(
                "TOTP period must be {} to {} seconds, not {}",
                Self::MIN_PERIOD,
                Self::MAX_PERIOD,
                self.period
            )));
        }
        Ok(())
    }
}

impl Default for TotpParams {
    fn default() -> Self {
        Self {
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            period: 30,
        }
    }
}

/// A TOTP secret encrypted with AES-256-GCM, as stored: the id of the key that encrypted it,
/// the nonce and the ciphertext with its tag. The user id is the associated data.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedSecret {
    /// Id of the encryption key, so keys can rotate.
    pub key_id: String,
    /// The 96-bit GCM nonce.
    pub nonce: Vec<u8>,
    /// Ciphertext followed by the 128-bit tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for EncryptedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedSecret")
            .field("key_id", &self.key_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}
