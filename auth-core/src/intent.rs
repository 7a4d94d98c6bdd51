//! One-time intents: what an emailed link or code lets its holder do once (verify an address,
//! reset a password, sign in, change the address), for a short time, for one account.
//!
//! - **Purpose-bound.** An intent serves its [`Purpose`] alone: a reset link does not verify an
//!   address.
//! - **Secrets stored hashed.** A link carries a 256-bit [`OpaqueSecret`](crate::id::OpaqueSecret); a code is 6 to 8
//!   digits ([`IntentCode`]) and is only ever looked up together with its intent's id (the
//!   request id the client was given), hashed with that id, so one code never matches another
//!   intent.
//! - **Single use.** [`IntentStore::consume_intent`](crate::store::IntentStore::consume_intent)
//!   marks it used atomically: of concurrent uses exactly one gets it.
//! - **Short-lived and voidable.** Each purpose has a default lifetime
//!   ([`Purpose::default_lifetime`]); issuing a new intent of the same purpose for the same
//!   account voids the older ones; an intent carries the credentials epoch it was issued under,
//!   and the flows refuse it once the epoch has moved (a password change voids a pending reset).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use rand::Rng;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};
use crate::id::{SecretHash, UserId};

/// What an intent lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Prove the account's address receives mail.
    VerifyEmail,
    /// Set a new password without the old one.
    ResetPassword,
    /// Sign in by following a link.
    LoginLink,
    /// Sign in by typing a code.
    LoginCode,
    /// Move the account to a new address (the intent's target).
    ChangeEmail,
    /// Move the account back to the address a change left (the intent's target), sent to
    /// that address. Not voided by a newer change nor by a credential change: it is the old
    /// owner's way back from a takeover.
    UndoEmailChange,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Purpose; 6] = [
        Purpose::VerifyEmail,
        Purpose::ResetPassword,
        Purpose::LoginLink,
        Purpose::LoginCode,
        Purpose::ChangeEmail,
        Purpose::UndoEmailChange,
    ];

    /// The stable name stored and logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::LoginLink => "login_link",
            Purpose::LoginCode => "login_code",
            Purpose::ChangeEmail => "change_email",
            Purpose::UndoEmailChange => "undo_email_change",
        }
    }

    /// How long an intent of this purpose lives unless configured otherwise: a reset 30
    /// minutes, a sign-in link 15, a code 10, an address change 1 hour, its undo 72 hours
    /// (an owner may notice a takeover late), a verification 24 hours (mail is often read the
    /// next day).
    pub fn default_lifetime(self) -> Duration {
        let minutes = match self {
            Purpose::VerifyEmail => 24 * 60,
            Purpose::ResetPassword => 30,
            Purpose::LoginLink => 15,
            Purpose::LoginCode => 10,
            Purpose::ChangeEmail => 60,
            Purpose::UndoEmailChange => 72 * 60,
        };
        Duration::from_secs(minutes * 60)
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Purpose {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Purpose::ALL
            .into_iter()
            .find(|purpose| purpose.as_str() == s)
            .ok_or_else(|| Error::Internal(format!("unknown intent purpose {s:?}")))
    }
}

/// The id of an intent: public (a code's request id names it), random, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IntentId(String);

impl IntentId {
    /// A new random id: 128 bits, base64url.
    pub fn new() -> Self {
        use base64::Engine as _;
        let bytes: [u8; 16] = OsRng.r#gen();
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// An id given by a client: 22 base64url characters, or [`Error::InvalidRequest`].
    pub fn parse(text: &str) -> Result<Self> {
        let well_formed = text.len() == 22
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::InvalidRequest("not an intent id".into()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for IntentId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for IntentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A short numeric code (6 to 8 digits) for one intent.
pub struct IntentCode(SecretString);

impl IntentCode {
    /// The fewest and most digits a code has.
    pub const DIGITS: std::ops::RangeInclusive<u8> = 6..=8;

    /// A fresh code of `digits` digits (clamped to [`DIGITS`](Self::DIGITS)), every value
    /// equally likely.
    pub fn generate(digits: u8) -> Self {
        let digits = digits.clamp(*Self::DIGITS.start(), *Self::DIGITS.end());
        let bound = 10u32.pow(u32::from(digits));
        let value = OsRng.gen_range(0..bound);
        Self(SecretString::from(format!(
            "{value:0width$}",
            width = usize::from(digits)
        )))
    }

    /// A code typed by a user: its digits, spaces and dashes ignored; anything else, or a
    /// length out of range, is [`Error::InvalidRequest`].
    pub fn parse(text: &str) -> Result<Self> {
        let digits: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let length = u8::try_from(digits.len()).unwrap_or(u8::MAX);
        if Self::DIGITS.contains(&length) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(SecretString::from(digits)))
        } else {
            Err(Error::InvalidRequest("a code is 6 to 8 digits".into()))
        }
    }

    /// The digest stored for this code as the code of intent `id`: the same code of another
    /// intent hashes differently.
    pub fn hash_for(&self, id: &IntentId) -> SecretHash {
        let keyed = format!("{}:{}", id.as_str(), self.0.expose_secret());
        SecretHash::of(keyed.as_bytes())
    }

    /// The code, to send to its holder.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for IntentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IntentCode(REDACTED)")
    }
}

/// A stored intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Its id.
    pub id: IntentId,
    /// The account it acts on.
    pub user_id: UserId,
    /// What it allows.
    pub purpose: Purpose,
    /// The digest of its link secret, or of its code ([`IntentCode::hash_for`]).
    pub secret_hash: SecretHash,
    /// Whether its secret is a code, named by [`IntentKey::Code`] alone; otherwise a link's,
    /// named by [`IntentKey::Link`] alone.
    pub code: bool,
    /// The account's credentials epoch when it was issued.
    pub epoch: u64,
    /// What it acts towards, when its purpose has one (the new address of a change).
    pub target: Option<String>,
    /// When it was issued.
    pub created_at: SystemTime,
    /// When it stops working.
    pub expires_at: SystemTime,
}

/// How a client names the intent it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentKey {
    /// By the digest of a link's secret (never names a code's intent).
    Link(SecretHash),
    /// By the intent's id and the digest of its code.
    Code {
        /// The intent's id (the request id the client was given).
        id: IntentId,
        /// [`IntentCode::hash_for`] that id.
        hash: SecretHash,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip_and_have_their_lifetimes() {
        for purpose in Purpose::ALL {
            assert_eq!(purpose.as_str().parse::<Purpose>().unwrap(), purpose);
        }
        assert!("reset".parse::<Purpose>().is_err());
        let minutes = |p: Purpose| p.default_lifetime().as_secs() / 60;
        assert_eq!(minutes(Purpose::ResetPassword), 30);
        assert_eq!(minutes(Purpose::LoginLink), 15);
        assert_eq!(minutes(Purpose::LoginCode), 10);
    }

    #[test]
    fn codes_have_their_digits_and_hash_per_intent() {
        for digits in [0, 6, 7, 8, 12] {
            let code = IntentCode::generate(digits);
            let expected = usize::from(digits.clamp(6, 8));
            assert_eq!(code.expose().len(), expected);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        let code = IntentCode::parse(" 123-456 ").unwrap();
        assert_eq!(code.expose(), "123456");
        for bad in ["12345", "123456789", "12a456", ""] {
            assert!(IntentCode::parse(bad).is_err(), "{bad:?}");
        }
        let (a, b) = (IntentId::new(), IntentId::new());
        assert_ne!(code.hash_for(&a), code.hash_for(&b));
        assert_eq!(
            code.hash_for(&a),
            IntentCode::parse("123456").unwrap().hash_for(&a)
        );
        assert!(!format!("{code:?}").contains("123456"));
    }

    #[test]
    fn ids_are_random_and_parse_strictly() {
        let id = IntentId::new();
        assert_eq!(IntentId::parse(id.as_str()).unwrap(), id);
        assert_ne!(IntentId::new(), id);
        for bad in ["", "short", &"a".repeat(23), "aaaaaaaaaaaaaaaaaaaaa!"] {
            assert!(IntentId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
