//! Single-use recovery codes: 120 random bits each, shown once, stored as a SHA-256 digest.
//!
//! With at least 112 bits a code needs no salt (ASVS 2.6.2): nobody can tabulate the digests.
//! Codes issued before this length (80 bits, 16 characters) are still accepted until used or
//! replaced; their holders should generate new ones.

use data_encoding::BASE32_NOPAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::id::SecretHash;

/// Random bytes in a recovery code (120 bits).
const CODE_BYTES: usize = 15;

/// Base32 characters in a recovery code, separators aside.
const CODE_LEN: usize = CODE_BYTES * 8 / 5;

/// Base32 characters in a code issued before codes carried 120 bits (80 bits).
const LEGACY_CODE_LEN: usize = 16;

/// Characters per dash-separated group when a code is shown.
const GROUP_LEN: usize = 4;

/// Typed input longer than this is refused before it is looked at.
const MAX_INPUT_LEN: usize = 64;

/// Generation of a user's recovery codes.
#[derive(Debug, Clone, Copy)]
pub struct RecoveryCodes;

impl RecoveryCodes {
    /// How many codes a user gets.
    pub const COUNT: usize = 10;

    /// Ten new codes: shown to the user once as 24 lower-case base32 characters in groups of
    /// four (`abcd-efgh-ijkl-mnop-qrst-uvwx`), and their hashes, which are what the store keeps.
    pub fn generate() -> (Vec<SecretString>, Vec<SecretHash>) {
        (0..Self::COUNT).map(|_| one_code()).unzip()
    }
}

fn one_code() -> (SecretString, SecretHash) {
    let mut bytes = Zeroizing::new([0; CODE_BYTES]);
    OsRng.fill_bytes(bytes.as_mut());
    let mut code = Zeroizing::new(BASE32_NOPAD.encode(bytes.as_ref()));
    code.make_ascii_lowercase();
    let mut shown = Zeroizing::new(String::with_capacity(CODE_LEN + CODE_LEN / GROUP_LEN));
    for (index, character) in code.chars().enumerate() {
        if index > 0 && index % GROUP_LEN == 0 {
            shown.push('-');
        }
        shown.push(character);
    }
    (
        SecretString::from(shown.as_str()),
        SecretHash::of(code.as_bytes()),
    )
}

/// A typed recovery code in its canonical form (24 lower-case base32 characters, or 16 for a
/// code issued before, spaces and dashes removed), or `None` if it cannot be one.
pub fn normalize_recovery_code(input: &str) -> Option<String> {
    if input.len() > MAX_INPUT_LEN {
        return None;
    }
    let mut code = Zeroizing::new(String::with_capacity(CODE_LEN));
    for character in input.chars() {
        if character == '-' || character.is_whitespace() {
            continue;
        }
        let character = character.to_ascii_lowercase();
        if !(character.is_ascii_lowercase() || ('2'..='7').contains(&character)) {
            return None;
        }
        code.push(character);
    }
    matches!(code.len(), CODE_LEN | LEGACY_CODE_LEN).then(|| std::mem::take(&mut *code))
}

/// The hash a store keeps for the typed recovery code, or `None` if it cannot be one.
pub fn recovery_code_hash(input: &str) -> Option<SecretHash> {
    let code = Zeroizing::new(normalize_recovery_code(input)?);
    Some(SecretHash::of(code.as_bytes()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn ten_distinct_codes_are_generated_with_their_hashes() {
        let (shown, hashes) = RecoveryCodes::generate();
        assert_eq!(shown.len(), 10);
        assert_eq!(hashes.len(), 10);
        let distinct: HashSet<&str> = shown.iter().map(|code| code.expose_secret()).collect();
        assert_eq!(distinct.len(), 10);
        assert_eq!(hashes.iter().collect::<HashSet<_>>().len(), 10);
    }

    #[test]
    fn codes_are_six_groups_of_four_lower_case_base32_characters_120_bits() {
        assert_eq!(CODE_BYTES * 8, 120);
        let (shown, _) = RecoveryCodes::generate();
        for code in &shown {
            let code = code.expose_secret();
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 6, "{code}");
            for group in groups {
                assert_eq!(group.len(), 4, "{code}");
                assert!(
                    group
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)),
                    "{code}"
                );
            }
        }
    }

    #[test]
    fn a_shown_code_typed_in_any_case_or_grouping_hashes_to_its_stored_hash() {
        let (shown, hashes) = RecoveryCodes::generate();
        for (code, hash) in shown.iter().zip(&hashes) {
            let code = code.expose_secret();
            let typed = [
                code.to_owned(),
                code.to_uppercase(),
                code.replace('-', ""),
                code.replace('-', " "),
                format!("  {}\n", code.to_uppercase().replace('-', "")),
            ];
            for typed in typed {
                assert_eq!(recovery_code_hash(&typed).as_ref(), Some(hash), "{typed:?}");
            }
            assert_eq!(*hash, SecretHash::of(code.replace('-', "").as_bytes()));
        }
    }

    #[test]
    fn garbage_does_not_normalize() {
        let long = "a".repeat(100);
        for garbage in [
            "",
            "abcd-efgh-ijkl-mno",
            "abcd-efgh-ijkl-mnopq",
            "abcd-efgh-ijkl-mnop-qrst",
            "abcd-efgh-ijkl-mnop-qrst-uvw",
            "abcd-efgh-ijkl-mnop-qrst-uvwxy",
            "abcd-efgh-ijkl-mn0p",
            "abcd-efgh-ijkl-mn1p",
            "abcd_efgh_ijkl_mnop",
            "ábcd-efgh-ijkl-mnop",
            long.as_str(),
        ] {
            assert_eq!(normalize_recovery_code(garbage), None, "{garbage}");
            assert_eq!(recovery_code_hash(garbage), None, "{garbage}");
        }
    }

    #[test]
    fn a_valid_code_normalizes_to_its_lower_case_characters() {
        assert_eq!(
            normalize_recovery_code("ABCD-efgh-ijkl-mnop-qrst-UVWX").as_deref(),
            Some("abcdefghijklmnopqrstuvwx")
        );
        // A code issued before codes carried 120 bits.
        assert_eq!(
            normalize_recovery_code(" ABCD-efgh ijkl-MNOP ").as_deref(),
            Some("abcdefghijklmnop")
        );
        assert_eq!(
            normalize_recovery_code("2345-6723-4567-2345").as_deref(),
            Some("2345672345672345")
        );
    }
}
