//! Any input, of any length and any bytes, is accepted or refused by the policy: never a panic.
//! An accepted password has from the minimum to the maximum of characters as sent, and at least
//! the minimum once normalised (normalisation may merge characters, or expand them past the
//! maximum).
#![no_main]

use auth_core::password::PasswordPolicy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let policy = PasswordPolicy::default();
    if let Ok(normalized) = policy.check(raw) {
        let sent = raw.chars().count();
        assert!(sent >= policy.min_chars() && sent <= policy.max_chars());
        assert!(normalized.char_count() >= policy.min_chars());
    }
});
