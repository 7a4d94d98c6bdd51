//! The vocabulary every other module speaks: ids, secret digests, the opaque secrets behind
//! sessions and refresh tokens, and the authentication methods of a login.
//!
//! Opaque secrets are 256 random bits from the operating system, shown once as unpadded
//! base64url and stored only as their SHA-256 digest ([`SecretHash`]). A session's public id is
//! that digest ([`SessionId`]): access tokens carry it as `sid`, and users see it when listing
//! sessions.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{Error, Result, TokenRejection};

/// A random UUID id type: `new`, `as_uuid`, `Default` (a new id), `From<Uuid>`, `Display`.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// The id as a UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A user's stable id.
    UserId
);

uuid_id!(
    /// The id of a refresh-token family.
    FamilyId
);

uuid_id!(
    /// The stable id of an outbox message: the same on every delivery attempt, so receivers
    /// can drop repeats (a mail's `Message-ID`).
    MessageId
);

impl FromStr for UserId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| Error::InvalidRequest("not a user id".into()))
    }
}

/// The SHA-256 digest of a secret token (refresh token, session secret, recovery code): what
/// stores keep instead of the secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// The digest of `secret`.
    pub fn of(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }

    /// A digest read back from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Unpadded base64url of the digest.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest of a high-entropy secret reveals nothing, but a prefix is enough to debug.
        write!(f, "SecretHash({}…)", &self.to_base64url()[..8])
    }
}

/// The public id of a server-side session: the base64url SHA-256 of its 256-bit secret. It is
/// what access tokens carry as `sid` and what users see when listing sessions; the secret
/// itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// The id of the session whose secret is `secret`.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self(SecretHash::of(secret).to_base64url())
    }

    /// Parses an id given by a client: 43 base64url characters.
    pub fn parse(s: &str) -> Result<Self> {
        let valid = s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::InvalidRequest("not a session id".into()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

/// Where a passkey lives, as its backup-eligible flag says: bound to one device, or able to
/// be copied to others (a synced passkey).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PasskeyKind {
    /// Backup eligibility 0: `hwk` (a hardware-bound key).
    DeviceBound,
    /// Backup eligibility 1: `swk` (a key that may leave the device).
    Synced,
}

impl PasskeyKind {
    /// The kind of a passkey with this backup-eligible flag.
    pub fn from_backup_eligible(backup_eligible: bool) -> Self {
        if backup_eligible {
            Self::Synced
        } else {
            Self::DeviceBound
        }
    }
}

/// The second factor a login completed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecondFactor {
    /// A TOTP code.
    Totp,
    /// A recovery code.
    RecoveryCode,
    /// A passkey, user verification done.
    Passkey(PasskeyKind),
}

/// How the user of a session proved who they are: the login's authentication methods, which
/// its tokens carry as the `amr` claim (RFC 8176 values). A passkey reads `hwk` or `swk`
/// (its backup-eligible flag 0 or 1) and `user` (user verification is always required);
/// `mfa` marks a completed second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Amr {
    /// A password alone: `["pwd"]`.
    Password,
    /// A password, then a TOTP code: `["pwd", "otp", "mfa"]`.
    PasswordAndTotp,
    /// A password, then a recovery code: `["pwd", "mfa"]`.
    PasswordAndRecoveryCode,
    /// An emailed sign-in link or code alone: `["email"]`.
    Email,
    /// An emailed link or code, then a TOTP code: `["email", "otp", "mfa"]`.
    EmailAndTotp,
    /// An emailed link or code, then a recovery code: `["email", "mfa"]`.
    EmailAndRecoveryCode,
    /// A passkey alone (passwordless): `["hwk", "user"]` or `["swk", "user"]`.
    Passkey(PasskeyKind),
    /// A password, then a passkey: `["pwd", "hwk" or "swk", "user", "mfa"]`.
    PasswordAndPasskey(PasskeyKind),
    /// An emailed link or code, then a passkey: `["email", "hwk" or "swk", "user", "mfa"]`.
    EmailAndPasskey(PasskeyKind),
}

impl Amr {
    /// Every value, for exhaustive checks.
    pub const ALL: [Amr; 12] = [
        Amr::Password,
        Amr::PasswordAndTotp,
        Amr::PasswordAndRecoveryCode,
        Amr::Email,
        Amr::EmailAndTotp,
        Amr::EmailAndRecoveryCode,
        Amr::Passkey(PasskeyKind::DeviceBound),
        Amr::Passkey(PasskeyKind::Synced),
        Amr::PasswordAndPasskey(PasskeyKind::DeviceBound),
        Amr::PasswordAndPasskey(PasskeyKind::Synced),
        Amr::EmailAndPasskey(PasskeyKind::DeviceBound),
        Amr::EmailAndPasskey(PasskeyKind::Synced),
    ];

    /// The `amr` claim's values, in order.
    pub fn methods(self) -> &'static [&'static str] {
        use PasskeyKind::{DeviceBound, Synced};
        match self {
            Amr::Password => &["pwd"],
            Amr::PasswordAndTotp => &["pwd", "otp", "mfa"],
            Amr::PasswordAndRecoveryCode => &["pwd", "mfa"],
            Amr::Email => &["email"],
            Amr::EmailAndTotp => &["email", "otp", "mfa"],
            Amr::EmailAndRecoveryCode => &["email", "mfa"],
            Amr::Passkey(DeviceBound) => &["hwk", "user"],
            Amr::Passkey(Synced) => &["swk", "user"],
            Amr::PasswordAndPasskey(DeviceBound) => &["pwd", "hwk", "user", "mfa"],
            Amr::PasswordAndPasskey(Synced) => &["pwd", "swk", "user", "mfa"],
            Amr::EmailAndPasskey(DeviceBound) => &["email", "hwk", "user", "mfa"],
            Amr::EmailAndPasskey(Synced) => &["email", "swk", "user", "mfa"],
        }
    }

    /// The value whose methods are exactly `methods` (as stored with a session).
    pub fn from_methods<S: AsRef<str>>(methods: &[S]) -> Option<Self> {
        Self::ALL.into_iter().find(|amr| {
            amr.methods().len() == methods.len()
                && amr
                    .methods()
                    .iter()
                    .zip(methods)
                    .all(|(a, b)| *a == b.as_ref())
        })
    }

    /// Whether a second factor was used.
    pub fn is_multi_factor(self) -> bool {
        !matches!(self, Amr::Password | Amr::Email | Amr::Passkey(_))
    }

    /// Whether the second factor was a TOTP code.
    pub fn used_totp(self) -> bool {
        matches!(self, Amr::PasswordAndTotp | Amr::EmailAndTotp)
    }

    /// Whether the first factor was an emailed link or code (a sign-in by email).
    pub fn by_email(self) -> bool {
        matches!(
            self,
            Amr::Email | Amr::EmailAndTotp | Amr::EmailAndRecoveryCode | Amr::EmailAndPasskey(_)
        )
    }

    /// Whether the first factor was a passkey (a passwordless sign-in).
    pub fn by_passkey(self) -> bool {
        matches!(self, Amr::Passkey(_))
    }

    /// Whether a passkey was used, as first or second factor.
    pub fn used_passkey(self) -> bool {
        matches!(
            self,
            Amr::Passkey(_) | Amr::PasswordAndPasskey(_) | Amr::EmailAndPasskey(_)
        )
    }

    /// After this first factor (a password or an emailed link or code), the second.
    pub fn with_second_factor(self, second: SecondFactor) -> Self {
        match (self.by_email(), second) {
            (false, SecondFactor::Totp) => Amr::PasswordAndTotp,
            (false, SecondFactor::RecoveryCode) => Amr::PasswordAndRecoveryCode,
            (false, SecondFactor::Passkey(kind)) => Amr::PasswordAndPasskey(kind),
            (true, SecondFactor::Totp) => Amr::EmailAndTotp,
            (true, SecondFactor::RecoveryCode) => Amr::EmailAndRecoveryCode,
            (true, SecondFactor::Passkey(kind)) => Amr::EmailAndPasskey(kind),
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

    #[test]
    fn every_amr_reads_back_from_its_methods_and_nothing_else_does() {
        for amr in Amr::ALL {
            assert_eq!(Amr::from_methods(amr.methods()), Some(amr));
        }
        assert_eq!(Amr::from_methods(&["otp"]), None);
        assert_eq!(Amr::from_methods::<&str>(&[]), None);
        assert_eq!(Amr::from_methods(&["pwd", "mfa", "otp"]), None);
        assert_eq!(Amr::from_methods(&["swk"]), None);
        assert_eq!(
            Amr::Password.with_second_factor(SecondFactor::Passkey(PasskeyKind::Synced)),
            Amr::PasswordAndPasskey(PasskeyKind::Synced)
        );
        assert!(!Amr::Passkey(PasskeyKind::DeviceBound).is_multi_factor());
        assert!(Amr::EmailAndPasskey(PasskeyKind::DeviceBound).is_multi_factor());
    }
}
