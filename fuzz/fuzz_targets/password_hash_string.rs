//! Any stored hash string, well-formed or not, gives a value or an error: never a panic.
//!
//! Input: the stored hash string, then optionally a newline and the password to check against
//! it (a fixed password when there is none).
#![no_main]

use auth_core::password::{Argon2Params, HashScheme, needs_rehash, verify_password};
use libfuzzer_sys::fuzz_target;

/// Whether verifying `stored` would hash at costs low enough to keep the fuzzer fast. Costs up
/// to the accepted limits are slow but not a bug, so only cheap ones are exercised: every
/// numeric `name=value` parameter must be small, and the schemes whose defaults are expensive
/// must name their cost explicitly.
fn cheap(stored: &str) -> bool {
    if stored.starts_with("$2") {
        return stored.get(4..6).is_some_and(|cost| cost <= "06");
    }
    let (mut rounds_named, mut log_n_named) = (false, false);
    for pair in stored.split(['$', ',']) {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        let limit = match name {
            "m" => 256,
            "t" => 4,
            "p" => 2,
            "i" => {
                rounds_named = true;
                2_000
            }
            "ln" => {
                log_n_named = true;
                10
            }
            "r" => 8,
            _ => continue,
        };
        if value > limit {
            return false;
        }
    }
    let scheme = stored.split('$').nth(1).unwrap_or_default();
    let default_cost = match scheme {
        "pbkdf2-sha256" | "pbkdf2-sha512" => !rounds_named,
        "scrypt" => !log_n_named,
        _ => false,
    };
    !default_cost
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (stored, password) = input
        .split_once('\n')
        .unwrap_or((input, "correct horse battery staple"));
    let _ = HashScheme::of(stored);
    let _ = needs_rehash(Argon2Params::default(), stored);
    if cheap(stored) {
        let _ = verify_password(Argon2Params::default(), password, stored);
    }
});
