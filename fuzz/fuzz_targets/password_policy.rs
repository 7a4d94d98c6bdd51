//! Any input, of any length and any bytes, is accepted or refused by the policy: never a panic,
//! and an accepted password is within the policy's limits after normalisation.
#![no_main]

use auth_core::password::PasswordPolicy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let policy = PasswordPolicy::default();
    if let Ok(normalized) = policy.check(raw) {
        let chars = normalized.char_count();
        assert!(chars >= policy.min_chars() && chars <= policy.max_chars());
    }
});
