//! HOTP (RFC 4226) and TOTP (RFC 6238) over `hmac` with SHA-1, SHA-256 and SHA-512.

use std::fmt;

use data_encoding::{BASE32_NOPAD, BASE32_NOPAD_NOCASE};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use super::{TotpAlgorithm, TotpParams};
use crate::error::{Error, Result};

/// The shortest secret accepted: 128 bits, the minimum of RFC 4226 (section 4, R6).
const MIN_SECRET_LEN: usize = 16;

/// The most digits a code can have: the truncated HMAC value has 31 bits.
const MAX_DIGITS: u32 = 10;

/// A TOTP shared secret. Zeroed on drop; `Debug` shows only its length.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// A new random secret of the length RFC 6238 uses for `algorithm`: 20 bytes for SHA-1,
    /// 32 for SHA-256, 64 for SHA-512.
    pub fn generate(algorithm: TotpAlgorithm) -> Self {
        let len = match algorithm {
            TotpAlgorithm::Sha1 => 20,
            TotpAlgorithm::Sha256 => 32,
            TotpAlgorithm::Sha512 => 64,
        };
        let mut bytes = Zeroizing::new(vec![0; len]);
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A secret from its raw bytes; [`Error::InvalidKey`] if shorter than 16 bytes (128 bits).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MIN_SECRET_LEN {
            return Err(Error::InvalidKey(format!(
                "a TOTP secret needs at least {MIN_SECRET_LEN} bytes, not {}",
                bytes.len()
            )));
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// A secret from base32 as authenticator apps show it: any case, spaces and padding
    /// optional. [`Error::InvalidKey`] if it is not base32 or too short.
    pub fn from_base32(encoded: &str) -> Result<Self> {
        let mut compact = Zeroizing::new(String::with_capacity(encoded.len()));
        compact.extend(encoded.chars().filter(|c| !c.is_whitespace()));
        let unpadded = compact.trim_end_matches('=');
        let bytes = BASE32_NOPAD_NOCASE
            .decode(unpadded.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| Error::InvalidKey("a TOTP secret is not valid base32".into()))?;
        Self::from_bytes(&bytes)
    }

    /// The secret as unpadded upper-case base32, the form authenticator apps expect.
    pub fn to_base32(&self) -> SecretString {
        // `encode` allocates exactly, so the conversion to a boxed `str` does not reallocate.
        SecretString::from(BASE32_NOPAD.encode(&self.0))
    }

    /// The raw secret bytes.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpSecret")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

/// The RFC 4226 HOTP code of `counter`: HMAC, dynamic truncation, the last `digits` decimal
/// digits zero-padded (at most 10 digits, all a 31-bit value has).
pub fn hotp(secret: &TotpSecret, algorithm: TotpAlgorithm, counter: u64, digits: u32) -> String {
    let message = counter.to_be_bytes();
    let key = secret.expose_bytes();
    let value = match algorithm {
        TotpAlgorithm::Sha1 => truncated_hmac::<Hmac<Sha1>>(key, &message),
        TotpAlgorithm::Sha256 => truncated_hmac::<Hmac<Sha256>>(key, &message),
        TotpAlgorithm::Sha512 => truncated_hmac::<Hmac<Sha512>>(key, &message),
    };
    let digits = digits.min(MAX_DIGITS);
    match value {
        Some(value) => format!(
            "{:0width$}",
            u64::from(value) % 10u64.pow(digits),
            width = digits as usize
        ),
        // Unreachable (HMAC takes keys of any length); an empty code matches no input.
        None => String::new(),
    }
}

/// HMAC of `message` under `key`, dynamically truncated to 31 bits (RFC 4226, section 5.3).
fn truncated_hmac<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Option<u32> {
    let mut mac = <M as Mac>::new_from_slice(key).ok()?;
    mac.update(message);
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest.last()? & 0x0f);
    let window: [u8; 4] = digest.get(offset..offset + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(window) & 0x7fff_ffff)
}

/// The TOTP time step of `unix_seconds`; `None` before the epoch or for a zero period.
pub fn step_at(params: &TotpParams, unix_seconds: i64) -> Option<u64> {
    u64::try_from(unix_seconds).ok()?.checked_div(params.period)
}

/// The code an authenticator app shows at `unix_seconds`; `None` before the epoch.
pub fn code_at(secret: &TotpSecret, params: &TotpParams, unix_seconds: i64) -> Option<String> {
    let step = step_at(params, unix_seconds)?;
    Some(hotp(secret, params.algorithm, step, params.digits))
}

/// Checks `code` against the steps one before, at and one after `unix_seconds`, in constant
/// time, and returns the step it matches (the current one first). `None` for a wrong code, a
/// code of the wrong length or with non-digits, or invalid `params`. Surrounding whitespace and
/// one inner space (`"123 456"`) are tolerated.
///
/// Replays are not refused here: give the returned step to
/// [`MfaStore::accept_totp_step`](crate::store::MfaStore::accept_totp_step).
pub fn verify(
    secret: &TotpSecret,
    params: &TotpParams,
    code: &str,
    unix_seconds: i64,
) -> Option<u64> {
    params.validate().ok()?;
    let code = normalize_code(code, params.digits)?;
    let current = step_at(params, unix_seconds)?;
    let mut matched = Choice::from(0);
    let mut step = 0;
    // Every candidate is computed and compared; the current step comes last so it wins.
    let candidates = [
        current.checked_sub(1),
        current.checked_add(1),
        Some(current),
    ];
    for candidate in candidates.into_iter().flatten() {
        let expected = hotp(secret, params.algorithm, candidate, params.digits);
        let is_match = expected.as_bytes().ct_eq(code.as_bytes());
        step.conditional_assign(&candidate, is_match);
        matched |= is_match;
    }
    bool::from(matched).then_some(step)
}

/// The digits of a typed code, or `None` if it is not `digits` ASCII digits once surrounding
/// whitespace and one inner space are removed.
fn normalize_code(code: &str, digits: u32) -> Option<String> {
    let trimmed = code.trim();
    let (head, tail) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
    let joined = [head, tail].concat();
    let well_formed = joined.len() == digits as usize && joined.bytes().all(|b| b.is_ascii_digit());
    well_formed.then_some(joined)
}

/// The `otpauth://totp/` URI that authenticator apps read (usually from a QR code), with
/// `issuer` and `account` percent-encoded. It holds the secret, hence the `SecretString`.
pub fn otpauth_uri(
    issuer: &str,
    account: &str,
    secret: &TotpSecret,
    params: &TotpParams,
) -> SecretString {
    let encoded_secret = secret.to_base32();
    let encoded_secret = encoded_secret.expose_secret();
    // Room for the worst case, so the buffer holding the secret never reallocates.
    let capacity = 128 + 6 * issuer.len() + 3 * account.len() + encoded_secret.len();
    let mut uri = Zeroizing::new(String::with_capacity(capacity));
    uri.push_str("otpauth://totp/");
    percent_encode(issuer, &mut uri);
    uri.push(':');
    percent_encode(account, &mut uri);
    uri.push_str("?secret=");
    uri.push_str(encoded_secret);
    uri.push_str("&issuer=");
    percent_encode(issuer, &mut uri);
    uri.push_str("&algorithm=");
    uri.push_str(params.algorithm.as_str());
    uri.push_str(&format!(
        "&digits={}&period={}",
        params.digits, params.period
    ));
    SecretString::from(uri.as_str())
}

/// Appends `text` to `out`, percent-encoding every byte but RFC 3986's unreserved characters.
fn percent_encode(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests;
