//! Any typed code is accepted or refused by TOTP verification, and any typed recovery code is
//! normalised or refused: never a panic. Accepted TOTP codes match the step they are accepted
//! for, a code computed for a time is accepted at that time, and recovery code normalisation is
//! idempotent and yields the canonical form.
//!
//! Input: 4 bytes of parameters (algorithm, digits, period as a little-endian `u16`), 8 bytes of
//! time (little-endian `i64`), then the typed code as UTF-8. Shorter inputs are skipped.
#![no_main]

use auth_core::mfa::{
    TotpAlgorithm, TotpParams, TotpSecret, code_at, normalize_recovery_code, recovery_code_hash,
    step_at, verify,
};
use libfuzzer_sys::fuzz_target;

/// RFC 6238's SHA-1 test secret.
const SECRET: &[u8] = b"12345678901234567890";

fn params(bytes: &[u8; 4]) -> TotpParams {
    TotpParams {
        algorithm: match bytes[0] % 3 {
            0 => TotpAlgorithm::Sha1,
            1 => TotpAlgorithm::Sha256,
            _ => TotpAlgorithm::Sha512,
        },
        digits: u32::from(bytes[1]),
        period: u64::from(u16::from_le_bytes([bytes[2], bytes[3]])),
    }
}

fn check_totp(params: &TotpParams, unix_seconds: i64, code: &str) {
    let secret = TotpSecret::from_bytes(SECRET).expect("fixture secret");
    let valid = params.validate().is_ok();
    if let Some(step) = verify(&secret, params, code, unix_seconds) {
        assert!(valid, "a code accepted under invalid parameters");
        let current = step_at(params, unix_seconds).expect("a step for an accepted code");
        assert!(
            step.abs_diff(current) <= 1,
            "a code accepted outside the window"
        );
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let expected = auth_core::mfa::hotp(&secret, params.algorithm, step, params.digits);
        assert_eq!(digits, expected, "an accepted code is not the step's code");
    }
    if valid && let Some(expected) = code_at(&secret, params, unix_seconds) {
        assert_eq!(
            verify(&secret, params, &expected, unix_seconds),
            step_at(params, unix_seconds),
            "the current code is refused"
        );
    }
}

fn check_recovery(code: &str) {
    let normalized = normalize_recovery_code(code);
    assert_eq!(normalized.is_some(), recovery_code_hash(code).is_some());
    if let Some(normalized) = normalized {
        // 24 characters, or 16 for a code issued before codes carried 120 bits.
        assert!(matches!(normalized.len(), 16 | 24), "{normalized}");
        assert!(
            normalized
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        );
        assert_eq!(
            normalize_recovery_code(&normalized).as_deref(),
            Some(normalized.as_str())
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, code)) = data.split_first_chunk::<12>() else {
        return;
    };
    let Ok(code) = std::str::from_utf8(code) else {
        return;
    };
    let (param_bytes, time_bytes) = head.split_at(4);
    let params = params(param_bytes.try_into().expect("4 bytes"));
    let unix_seconds = i64::from_le_bytes(time_bytes.try_into().expect("8 bytes"));
    check_totp(&params, unix_seconds, code);
    check_recovery(code);
});
