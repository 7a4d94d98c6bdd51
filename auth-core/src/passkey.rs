//! Passkeys (WebAuthn credentials) as stored: the records a
//! [`PasskeyStore`](crate::store::PasskeyStore) keeps, and the state of a ceremony between its
//! two requests. The ceremonies themselves (feature `passkeys`) are in
//! [`flows`](crate::flows), over webauthn-rs.
//!
//! - **Credential records.** Id, public key, sign count, backup eligibility and state,
//!   transports, AAGUID, name, created and last used. The public key is kept as webauthn-rs
//!   serialises its credential (the key and the policy it was registered under); the columns
//!   beside it are the record every check is made against.
//! - **Sign count.** A non-zero counter that does not increase may mean a cloned
//!   authenticator; the store decides it atomically with the update
//!   ([`CounterCheck`]), so two sign-ins presenting the same counter at once cannot both pass.
//!   Both zero means the authenticator keeps no counter (most synced passkeys).
//! - **User handle.** Random and opaque ([`PasskeyStore::passkey_handle`]), made at the first
//!   registration: the authenticator stores it and a discoverable sign-in returns it, so it
//!   must say nothing about the account (never its email).
//! - **Ceremony state.** Single use ([`PasskeyStore::take_ceremony`]), short-lived, bound to
//!   what began it (the account, the second-factor challenge, the session, the reset link),
//!   kept in the store so any server can finish a ceremony another began.
//!
//! [`PasskeyStore::passkey_handle`]: crate::store::PasskeyStore::passkey_handle
//! [`PasskeyStore::take_ceremony`]: crate::store::PasskeyStore::take_ceremony

use std::fmt;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::id::UserId;

/// The longest credential id WebAuthn allows (bytes).
pub const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// The longest name a passkey may be given (characters).
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;

/// A credential id: what the authenticator chose, 1 to 1023 bytes, shown in base64url.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PasskeyId(Vec<u8>);

impl PasskeyId {
    /// The id of these bytes; [`Error::InvalidRequest`] if empty or longer than WebAuthn
    /// allows.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        if bytes.is_empty() || bytes.len() > MAX_CREDENTIAL_ID_LEN {
            return Err(Error::InvalidRequest(
                "a credential id is 1 to 1023 bytes".into(),
            ));
        }
        Ok(Self(bytes))
    }

    /// The id written in base64url (padding tolerated, as browsers differ).
    pub fn parse(text: &str) -> Result<Self> {
        let trimmed = text.trim_end_matches('=');
        if trimmed.len() > MAX_CREDENTIAL_ID_LEN.div_ceil(3) * 4 {
            return Err(Error::InvalidRequest(
                "the credential id is too long".into(),
            ));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(trimmed)
            .map_err(|_| Error::InvalidRequest("the credential id is not base64url".into()))?;
        Self::from_bytes(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for PasskeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(&self.0))
    }
}

impl fmt::Debug for PasskeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasskeyId({self})")
    }
}

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The credential id: unique across accounts.
    pub id: PasskeyId,
    /// Whose it is.
    pub user_id: UserId,
    /// What the owner calls it.
    pub name: String,
    /// The public key, its algorithm and the policy it was registered under, as webauthn-rs
    /// serialises a credential (JSON). Its own counter and backup flags are not read: the
    /// fields below are.
    pub credential: Vec<u8>,
    /// The last signature counter accepted (0: the authenticator keeps none).
    pub sign_count: u32,
    /// Whether the credential may be copied to other devices (a synced passkey).
    pub backup_eligible: bool,
    /// Whether it is copied now.
    pub backup_state: bool,
    /// How the client may reach the authenticator (`internal`, `hybrid`, `usb`, ...), as
    /// the browser reported at registration.
    pub transports: Vec<String>,
    /// The authenticator model's id (all zero when the authenticator does not say).
    pub aaguid: Uuid,
    /// When it was registered.
    pub created_at: SystemTime,
    /// When it last signed someone in, or completed a step.
    pub last_used_at: Option<SystemTime>,
}

/// What a verified assertion reported, to record against its passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyUse {
    /// The assertion's signature counter.
    pub sign_count: u32,
    /// The backup-eligible flag it carried.
    pub backup_eligible: bool,
    /// The backed-up flag it carried.
    pub backup_state: bool,
    /// When.
    pub at: SystemTime,
}

/// What recording a use found about the signature counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterCheck {
    /// The counter went up: stored.
    Advanced,
    /// Both the stored counter and the assertion's are zero: the authenticator keeps none.
    NoCounter,
    /// A non-zero counter did not go up past `stored`: maybe a cloned authenticator. The
    /// stored counter is left as it was.
    Regressed {
        /// The counter stored before.
        stored: u32,
    },
}

/// What a ceremony is for; its state is only ever finished by the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CeremonyKind {
    /// Registering a new passkey on a signed-in account.
    Registration,
    /// Signing in without a password: discoverable, or username first.
    SignIn,
    /// The second factor after a password or an emailed link.
    SecondFactor,
    /// Reauthenticating within a session.
    Reauthentication,
    /// The second factor of a password reset.
    PasswordReset,
}

impl CeremonyKind {
    /// Every kind.
    pub const ALL: [CeremonyKind; 5] = [
        CeremonyKind::Registration,
        CeremonyKind::SignIn,
        CeremonyKind::SecondFactor,
        CeremonyKind::Reauthentication,
        CeremonyKind::PasswordReset,
    ];

    /// The stable name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::SignIn => "sign_in",
            CeremonyKind::SecondFactor => "second_factor",
            CeremonyKind::Reauthentication => "reauthentication",
            CeremonyKind::PasswordReset => "password_reset",
        }
    }

    /// The kind stored under `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// The id a client finishes a ceremony with: 128 random bits in base64url.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CeremonyId(String);

impl CeremonyId {
    /// A fresh id.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// An id as a client sent it; [`Error::InvalidRequest`] unless it has the form of one.
    pub fn parse(text: &str) -> Result<Self> {
        let well_formed = text.len() == 22
            && URL_SAFE_NO_PAD
                .decode(text)
                .is_ok_and(|bytes| bytes.len() == 16);
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::InvalidRequest("malformed ceremony id".into()))
        }
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CeremonyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CeremonyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CeremonyId({})", self.0)
    }
}

/// A ceremony begun and not finished: what the server must keep between its two requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// The id the client was given.
    pub id: CeremonyId,
    /// What it is for.
    pub kind: CeremonyKind,
    /// The account it was begun for, when one was known (not for a discoverable sign-in, nor
    /// for a username-first sign-in of an account that does not exist).
    pub user_id: Option<UserId>,
    /// What else it is bound to: the second-factor challenge's id, the session, the reset
    /// link's intent.
    pub binding: Option<String>,
    /// webauthn-rs's state (challenge, allowed credentials, policy), serialised.
    pub state: Vec<u8>,
    /// When it was begun.
    pub created_at: SystemTime,
    /// Past this it reads as absent.
    pub expires_at: SystemTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_ids_round_trip_in_base64url_and_refuse_bad_sizes() {
        let id = PasskeyId::from_bytes(vec![0xfb, 0xff, 0x01]).unwrap();
        assert_eq!(id.to_string(), "-_8B");
        assert_eq!(PasskeyId::parse("-_8B").unwrap(), id);
        assert_eq!(PasskeyId::parse("-_8B==").unwrap(), id);
        assert!(PasskeyId::parse("").is_err());
        assert!(PasskeyId::parse("+/8B").is_err());
        assert!(PasskeyId::from_bytes(vec![0; MAX_CREDENTIAL_ID_LEN]).is_ok());
        assert!(PasskeyId::from_bytes(vec![0; MAX_CREDENTIAL_ID_LEN + 1]).is_err());
        assert!(PasskeyId::parse(&"A".repeat(5000)).is_err());
    }

    #[test]
    fn ceremony_ids_are_random_and_parsed_strictly() {
        let a = CeremonyId::generate();
        assert_ne!(a, CeremonyId::generate());
        assert_eq!(CeremonyId::parse(a.as_str()).unwrap(), a);
        for bad in ["", "short", &"A".repeat(23), &"!".repeat(22)] {
            assert!(CeremonyId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ceremony_kinds_round_trip_through_their_names() {
        for kind in CeremonyKind::ALL {
            assert_eq!(CeremonyKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(CeremonyKind::from_name("other"), None);
    }
}
