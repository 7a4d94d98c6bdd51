//! What a new password must satisfy (ASVS 2.1): length only, no composition rules.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::error::{Error, PasswordRejection, Result};

/// A password in Unicode NFKC form: the form that is hashed, verified and checked against
/// breached-password lists. Its `Debug` output never shows the password.
pub struct NormalizedPassword(Zeroizing<String>);

impl NormalizedPassword {
    /// Normalises `raw` to NFKC without applying any policy.
    pub fn new(raw: &str) -> Self {
        Self(Zeroizing::new(raw.nfkc().collect()))
    }

    /// The normalised password.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised password's UTF-8 bytes: what the hash function receives.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Its length in Unicode scalar values.
    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Debug for NormalizedPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NormalizedPassword(REDACTED)")
    }
}

/// Length limits for new passwords, counted in Unicode scalar values. The maximum counts the
/// password as sent, what JSON Schema's `maxLength` counts, so an API can state it exactly. The
/// minimum must hold both as sent (JSON Schema's `minLength`) and for the NFKC form, which is
/// what is hashed and compared: normalisation can merge characters (`e` and a combining accent
/// become `é`, three Hangul jamo one syllable), and a password is as long as what is hashed.
/// It may also grow (`ﬃ` becomes `ffi`): 128 characters as sent are accepted whatever they
/// become.
///
/// Any character is allowed (spaces, emoji, any script); nothing is truncated and no
/// composition rule (upper case, digits, symbols) is imposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_chars: usize,
    max_chars: usize,
}

impl PasswordPolicy {
    /// ASVS 2.1.1: at least 12 characters.
    pub const DEFAULT_MIN_CHARS: usize = 12;
    /// ASVS 2.1.2: more than 128 characters are refused.
    pub const DEFAULT_MAX_CHARS: usize = 128;
    /// ASVS 2.1.2: at least 64 characters must always be accepted.
    pub const LOWEST_ALLOWED_MAX_CHARS: usize = 64;

    /// A policy with the given limits. The minimum must be at least 1 and the maximum at least
    /// 64 (ASVS 2.1.2) and not below the minimum.
    pub fn new(min_chars: usize, max_chars: usize) -> Result<Self> {
        if min_chars == 0 {
            return Err(Error::Config(
                "password minimum length must be at least 1".into(),
            ));
        }
        if max_chars < Self::LOWEST_ALLOWED_MAX_CHARS {
            return Err(Error::Config(format!(
                "password maximum length must be at least {} characters",
                Self::LOWEST_ALLOWED_MAX_CHARS
            )));
        }
        if min_chars > max_chars {
            return Err(Error::Config(format!(
                "password minimum length {min_chars} exceeds the maximum {max_chars}"
            )));
        }
        Ok(Self {
            min_chars,
            max_chars,
        })
    }

    /// The minimum number of characters.
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    /// The maximum number of characters.
    pub fn max_chars(&self) -> usize {
        self.max_chars
    }

    /// Checks the length of `raw` as sent, normalises it, and checks the normalised form's
    /// length against the minimum too.
    ///
    /// Input longer than four bytes per allowed character is refused before normalisation, so
    /// a huge password costs no more than a length check.
    pub fn check(&self, raw: &str) -> Result<NormalizedPassword, PasswordRejection> {
        let too_long = PasswordRejection::TooLong {
            max: self.max_chars,
        };
        if raw.len() > self.max_chars.saturating_mul(4) {
            return Err(too_long);
        }
        let too_short = PasswordRejection::TooShort {
            min: self.min_chars,
        };
        let chars = raw.chars().count();
        if chars > self.max_chars {
            return Err(too_long);
        }
        if chars < self.min_chars {
            return Err(too_short);
        }
        let normalized = NormalizedPassword::new(raw);
        if normalized.char_count() < self.min_chars {
            return Err(too_short);
        }
        Ok(normalized)
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: Self::DEFAULT_MIN_CHARS,
            max_chars: Self::DEFAULT_MAX_CHARS,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::default()
    }

    #[test]
    fn eleven_characters_are_too_short_and_twelve_are_enough() {
        assert_eq!(
            policy().check("abcdefghijk").err(),
            Some(PasswordRejection::TooShort { min: 12 })
        );
        assert!(policy().check("abcdefghijkl").is_ok());
    }

    #[test]
    fn sixty_four_and_one_hundred_twenty_eight_characters_are_accepted() {
        assert!(policy().check(&"x".repeat(64)).is_ok());
        assert!(policy().check(&"x".repeat(128)).is_ok());
    }

    #[test]
    fn one_hundred_twenty_nine_characters_are_refused() {
        assert_eq!(
            policy().check(&"x".repeat(129)).err(),
            Some(PasswordRejection::TooLong { max: 128 })
        );
    }

    #[test]
    fn a_megabyte_password_is_refused_without_normalising_it() {
        let huge = "é".repeat(512 * 1024);
        assert_eq!(
            policy().check(&huge).err(),
            Some(PasswordRejection::TooLong { max: 128 })
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Twelve emoji are 48 bytes and twelve characters.
        let emoji = "🔑".repeat(12);
        assert_eq!(emoji.len(), 48);
        assert!(policy().check(&emoji).is_ok());
        // 128 four-byte characters are 512 bytes and still accepted.
        assert!(policy().check(&"🦀".repeat(128)).is_ok());
        assert!(policy().check(&"🦀".repeat(129)).is_err());
    }

    #[test]
    fn spaces_and_any_script_are_accepted_without_composition_rules() {
        for password in [
            "correct horse battery staple",
            "            a",
            "все буквы одного регистра",
            "パスワードはとても長いです",
            "aaaaaaaaaaaa",
        ] {
            assert!(policy().check(password).is_ok(), "{password}");
        }
    }

    #[test]
    fn passwords_are_nfkc_normalised() {
        let fullwidth = policy().check("ｐａｓｓｗｏｒｄｐａｓｓｗｏｒｄ").unwrap();
        assert_eq!(fullwidth.as_str(), "passwordpassword");
        let decomposed = policy().check("cafe\u{301} au lait!!").unwrap();
        let composed = policy().check("caf\u{e9} au lait!!").unwrap();
        assert_eq!(decomposed.as_bytes(), composed.as_bytes());
    }

    #[test]
    fn length_is_counted_as_sent_whatever_normalisation_does() {
        // `ﬃ` normalises to three characters: 128 of them are 384 once normalised, and
        // still accepted; eleven are 33 once normalised, and still too short.
        let ligatures = policy().check(&"\u{FB03}".repeat(128)).unwrap();
        assert_eq!(ligatures.char_count(), 384);
        assert!(matches!(
            policy().check(&"\u{FB03}".repeat(11)),
            Err(PasswordRejection::TooShort { min: 12 })
        ));
        // What normalisation merges must still be long enough once merged: twelve characters
        // sent that become six (an accent as a combining mark) or four (Hangul jamo) are
        // too short; twenty-four that become twelve are enough.
        for merged in ["e\u{301}".repeat(6), "\u{1100}\u{1161}\u{11A8}".repeat(4)] {
            assert!(matches!(
                policy().check(&merged),
                Err(PasswordRejection::TooShort { min: 12 })
            ));
        }
        let combined = policy().check(&"e\u{301}".repeat(12)).unwrap();
        assert_eq!(combined.char_count(), 12);
        // The longest expansion there is (U+FDFA, eighteen characters) stays bounded.
        let longest = policy().check(&"\u{FDFA}".repeat(128)).unwrap();
        assert_eq!(longest.char_count(), 128 * 18);
    }

    #[test]
    fn limits_are_configurable_within_asvs_bounds() {
        let strict = PasswordPolicy::new(16, 256).unwrap();
        assert!(strict.check(&"x".repeat(15)).is_err());
        assert!(strict.check(&"x".repeat(200)).is_ok());
        assert!(PasswordPolicy::new(0, 128).is_err());
        assert!(PasswordPolicy::new(12, 63).is_err());
        assert!(PasswordPolicy::new(100, 80).is_err());
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let password = NormalizedPassword::new("hunter2hunter2");
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
