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
mod tests {
    use super::*;

    const SEED_SHA1: &[u8] = b"12345678901234567890";
    const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

    fn params(algorithm: TotpAlgorithm, digits: u32) -> TotpParams {
        TotpParams {
            algorithm,
            digits,
            period: 30,
        }
    }

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(SEED_SHA1).unwrap()
    }

    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        let secret = rfc_secret();
        for (counter, code) in (0..).zip(expected) {
            assert_eq!(
                hotp(&secret, TotpAlgorithm::Sha1, counter, 6),
                code,
                "{counter}"
            );
        }
    }

    #[test]
    fn totp_matches_rfc_6238_appendix_b() {
        let table: [(i64, [&str; 3]); 6] = [
            (59, ["94287082", "46119246", "90693936"]),
            (1_111_111_109, ["07081804", "68084774", "25091201"]),
            (1_111_111_111, ["14050471", "67062674", "99943326"]),
            (1_234_567_890, ["89005924", "91819424", "93441116"]),
            (2_000_000_000, ["69279037", "90698825", "38618901"]),
            (20_000_000_000, ["65353130", "77737706", "47863826"]),
        ];
        let algorithms = [
            (TotpAlgorithm::Sha1, SEED_SHA1),
            (TotpAlgorithm::Sha256, SEED_SHA256),
            (TotpAlgorithm::Sha512, SEED_SHA512),
        ];
        for (time, codes) in table {
            for ((algorithm, seed), code) in algorithms.into_iter().zip(codes) {
                let secret = TotpSecret::from_bytes(seed).unwrap();
                let params = params(algorithm, 8);
                assert_eq!(
                    code_at(&secret, &params, time).as_deref(),
                    Some(code),
                    "{algorithm:?} at {time}"
                );
                assert!(verify(&secret, &params, code, time).is_some());
            }
        }
    }

    #[test]
    fn the_current_code_is_accepted_and_its_step_returned() {
        let (secret, params) = (rfc_secret(), TotpParams::default());
        let code = code_at(&secret, &params, 1_000_000).unwrap();
        assert_eq!(verify(&secret, &params, &code, 1_000_000), Some(33_333));
    }

    #[test]
    fn the_codes_of_the_previous_and_next_steps_are_accepted() {
        let (secret, params) = (rfc_secret(), TotpParams::default());
        let now = 1_000_000; // step 33_333
        let previous = hotp(&secret, params.algorithm, 33_332, 6);
        let next = hotp(&secret, params.algorithm, 33_334, 6);
        assert_eq!(verify(&secret, &params, &previous, now), Some(33_332));
        assert_eq!(verify(&secret, &params, &next, now), Some(33_334));
    }

    #[test]
    fn a_code_from_two_steps_ago_is_refused() {
        let (secret, params) = (rfc_secret(), TotpParams::default());
        let old = hotp(&secret, params.algorithm, 33_331, 6);
        assert_eq!(verify(&secret, &params, &old, 1_000_000), None);
    }

    #[test]
    fn a_code_from_two_steps_ahead_is_refused() {
        let (secret, params) = (rfc_secret(), TotpParams::default());
        let early = hotp(&secret, params.algorithm, 33_335, 6);
        assert_eq!(verify(&secret, &params, &early, 1_000_000), None);
    }

    #[test]
    fn a_wrong_code_is_refused() {
        let (secret, params) = (rfc_secret(), TotpParams::default());
        let code = code_at(&secret, &params, 1_000_000).unwrap();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert_eq!(verify(&secret, &params, wrong, 1_000_000), None);
    }

    #[test]
    fn a_code_of_the_wrong_length_is_refused() {
        let (secret, params) = (rfc_secret(), TotpParams::default());
        let code = code_at(&secret, &params, 1_000_000).unwrap();
        assert_eq!(verify(&secret, &params, &code[..5], 1_000_000), None);
        assert_eq!(
            verify(&secret, &params, &format!("{code}0"), 1_000_000),
            None
        );
        assert_eq!(verify(&secret, &params, "", 1_000_000), None);
        let eight = params_with_digits(8);
        let long = code_at(&secret, &eight, 1_000_000).unwrap();
        assert_eq!(verify(&secret, &params, &long, 1_000_000), None);
    }

    fn params_with_digits(digits: u32) -> TotpParams {
        TotpParams {
            digits,
            ..TotpParams::default()
        }
    }

    #[test]
    fn a_code_with_non_digits_is_refused() {
        let (secret, params) = (rfc_secret(), TotpParams::default());
        for code in [
            "12345a",
            "+12345",
            "-12345",
            "١٢٣٤٥٦",
            "12 3 45",
            "123\t456",
        ] {
            assert_eq!(verify(&secret, &params, code, 1_000_000), None, "{code}");
        }
    }

    #[test]
    fn surrounding_whitespace_and_one_inner_space_are_tolerated() {
        let (secret, params) = (rfc_secret(), TotpParams::default());
        let code = code_at(&secret, &params, 1_000_000).unwrap();
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        for typed in [format!(" {code}\n"), spaced.clone(), format!("\t{spaced} ")] {
            assert_eq!(
                verify(&secret, &params, &typed, 1_000_000),
                Some(33_333),
                "{typed:?}"
            );
        }
        let two_spaces = format!("{}  {}", &code[..3], &code[3..]);
        assert_eq!(verify(&secret, &params, &two_spaces, 1_000_000), None);
    }

    #[test]
    fn no_code_is_accepted_before_the_epoch_or_with_invalid_params() {
        let secret = rfc_secret();
        let params = TotpParams::default();
        assert_eq!(step_at(&params, -1), None);
        assert_eq!(code_at(&secret, &params, -30), None);
        let code = code_at(&secret, &params, 0).unwrap();
        assert_eq!(verify(&secret, &params, &code, -1), None);
        let zero_period = TotpParams {
            period: 0,
            ..params
        };
        assert_eq!(step_at(&zero_period, 1_000), None);
        assert_eq!(verify(&secret, &zero_period, &code, 0), None);
        assert_eq!(verify(&secret, &params_with_digits(0), "", 1_000), None);
    }

    #[test]
    fn the_first_step_accepts_its_next_step_and_has_no_previous_one() {
        let (secret, params) = (rfc_secret(), TotpParams::default());
        let next = hotp(&secret, params.algorithm, 1, 6);
        assert_eq!(verify(&secret, &params, &next, 0), Some(1));
    }

    #[test]
    fn params_outside_the_allowed_ranges_are_refused() {
        assert!(TotpParams::default().validate().is_ok());
        assert!(params_with_digits(8).validate().is_ok());
        for digits in [0, 5, 7, 9, 10] {
            assert!(params_with_digits(digits).validate().is_err(), "{digits}");
        }
        for (period, ok) in [
            (14, false),
            (15, true),
            (300, true),
            (301, false),
            (0, false),
        ] {
            let params = TotpParams {
                period,
                ..TotpParams::default()
            };
            assert_eq!(params.validate().is_ok(), ok, "{period}");
        }
    }

    #[test]
    fn a_secret_round_trips_through_base32() {
        for algorithm in [
            TotpAlgorithm::Sha1,
            TotpAlgorithm::Sha256,
            TotpAlgorithm::Sha512,
        ] {
            let secret = TotpSecret::generate(algorithm);
            let encoded = secret.to_base32();
            let decoded = TotpSecret::from_base32(encoded.expose_secret()).unwrap();
            assert_eq!(decoded.expose_bytes(), secret.expose_bytes());
        }
    }

    #[test]
    fn generated_secrets_have_the_rfc_length_for_their_algorithm_and_differ() {
        assert_eq!(
            TotpSecret::generate(TotpAlgorithm::Sha1)
                .expose_bytes()
                .len(),
            20
        );
        assert_eq!(
            TotpSecret::generate(TotpAlgorithm::Sha256)
                .expose_bytes()
                .len(),
            32
        );
        assert_eq!(
            TotpSecret::generate(TotpAlgorithm::Sha512)
                .expose_bytes()
                .len(),
            64
        );
        let (a, b) = (
            TotpSecret::generate(TotpAlgorithm::Sha1),
            TotpSecret::generate(TotpAlgorithm::Sha1),
        );
        assert_ne!(a.expose_bytes(), b.expose_bytes());
    }

    #[test]
    fn base32_is_unpadded_upper_case_and_read_in_any_case_with_spaces_and_padding() {
        let secret = rfc_secret();
        let encoded = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(secret.to_base32().expose_secret(), encoded);
        for typed in [
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "gezd gnbv gy3t qojq GEZD GNBV GY3T QOJQ",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ======",
        ] {
            let decoded = TotpSecret::from_base32(typed).unwrap();
            assert_eq!(decoded.expose_bytes(), SEED_SHA1, "{typed}");
        }
        // 16 bytes encode to 26 characters: padding is missing from a non-multiple of 8.
        let sixteen = TotpSecret::from_bytes(&[7; 16]).unwrap();
        let unpadded = sixteen.to_base32();
        assert_eq!(unpadded.expose_secret().len(), 26);
        let decoded = TotpSecret::from_base32(unpadded.expose_secret()).unwrap();
        assert_eq!(decoded.expose_bytes(), &[7; 16]);
    }

    #[test]
    fn garbage_and_short_secrets_are_refused() {
        for garbage in [
            "",
            "not base32!",
            "GEZDGNBVGY3TQOJ1",
            "GEZDGNBVGY3TQOJQG",
            "GEZD-GNBV",
        ] {
            assert!(
                matches!(TotpSecret::from_base32(garbage), Err(Error::InvalidKey(_))),
                "{garbage}"
            );
        }
        // Ten bytes: valid base32, but below the 128 bits RFC 4226 requires.
        assert!(TotpSecret::from_base32("JBSWY3DPEHPK3PXP").is_err());
        assert!(TotpSecret::from_bytes(&[1; 15]).is_err());
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let secret = rfc_secret();
        let debug = format!("{secret:?}");
        assert!(!debug.contains("1234"), "{debug}");
        assert!(!debug.contains("GEZD"), "{debug}");
        assert!(debug.contains("len: 20"), "{debug}");
    }

    #[test]
    fn the_otpauth_uri_has_the_shape_authenticator_apps_expect() {
        let secret = rfc_secret();
        let uri = otpauth_uri(
            "Example Co",
            "alice@example.com",
            &secret,
            &TotpParams::default(),
        );
        assert_eq!(
            uri.expose_secret(),
            "otpauth://totp/Example%20Co:alice%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example%20Co\
             &algorithm=SHA1&digits=6&period=30"
        );
        let params = TotpParams {
            algorithm: TotpAlgorithm::Sha512,
            digits: 8,
            period: 60,
        };
        let uri = otpauth_uri("Ünïcode:&?", "a+b/c~d_e.f-g", &secret, &params);
        assert!(
            uri.expose_secret()
                .starts_with("otpauth://totp/%C3%9Cn%C3%AFcode%3A%26%3F:a%2Bb%2Fc~d_e.f-g?secret="),
            "{}",
            uri.expose_secret()
        );
        assert!(
            uri.expose_secret().ends_with(
                "&issuer=%C3%9Cn%C3%AFcode%3A%26%3F&algorithm=SHA512&digits=8&period=60"
            )
        );
    }
}
