//! One identity per email address: [`normalize_email`] is the form every lookup, uniqueness
//! check and throttle key uses, so that two spellings of one address never make two accounts
//! or two counters.

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

/// The longest address accepted, in bytes of its normalised form (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// An email address in the form accounts are stored and found by:
/// - surrounding whitespace removed;
/// - the local part (before the `@`) in NFKC_Casefold form: compatibility forms,
///   case and invisible formatting characters make no difference (`ＡＤＡ`, `Ada`, `ada`,
///   `a\u{AD}da` are one local part, as are `straße` and `strasse`);
/// - the domain converted to ASCII by IDNA (UTS #46 processing): `Bücher.Example` becomes
///   `xn--bcher-kva.example`.
///
/// [`Error::InvalidRequest`] unless there is exactly one `@` with something on either side,
/// no whitespace or control character, a domain IDNA accepts, and at most
/// [`MAX_EMAIL_BYTES`] bytes once normalised.
///
/// Out of scope: confusable characters of different scripts (UTS #39), such as a Cyrillic
/// `а` in place of a Latin `a`. Those addresses stay distinct, as mail servers treat them; an
/// application that shows addresses to other users should flag mixed scripts itself.
pub fn normalize_email(email: &str) -> Result<String> {
    let invalid = || Error::InvalidRequest("not an email address".into());
    let email = email.trim();
    // Cheap bound before any Unicode work: no valid address is four times the limit.
    if email.len() > 4 * MAX_EMAIL_BYTES
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err(invalid());
    }
    let local = nfkc_casefold(local);
    let domain = idna::domain_to_ascii(domain).map_err(|_| invalid())?;
    if local.is_empty() || domain.is_empty() {
        return Err(invalid());
    }
    let normalized = format!("{local}@{domain}");
    if normalized.len() > MAX_EMAIL_BYTES {
        return Err(invalid());
    }
    Ok(normalized)
}

/// NFKC_Casefold (Unicode 3.13, the `NFKC_CF` property): compatibility decomposition, full
/// case folding, invisible default-ignorable characters removed, then NFKC composition.
///
/// Full case folding differs from lower-casing in a few places, mapped here: `ß`/`ẞ` fold to
/// `ss`, final `ς` to `σ`, the iota subscript to `ι`, Cherokee small letters to their capitals
/// (Cherokee folds to upper case), and the Cyrillic letter variants U+1C80..U+1C88 to their
/// ordinary forms. These were found by comparing lower-casing with full case folding over
/// every code point of Unicode 14; the test below pins each of them.
pub fn nfkc_casefold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.nfkd() {
        if is_default_ignorable(c) {
            continue;
        }
        match c {
            'ß' | 'ẞ' => folded.push_str("ss"),
            'ς' => folded.push('σ'),
            '\u{345}' => folded.push('ι'),
            '\u{13A0}'..='\u{13F5}' => folded.push(c),
            '\u{13F8}'..='\u{13FD}' => folded.extend(char::from_u32(u32::from(c) - 8)),
            '\u{AB70}'..='\u{ABBF}' => {
                folded.extend(char::from_u32(u32::from(c) - 0xAB70 + 0x13A0));
            }
            '\u{1C80}'..='\u{1C88}' => folded.push(match c {
                '\u{1C80}' => 'в',
                '\u{1C81}' => 'д',
                '\u{1C82}' => 'о',
                '\u{1C83}' => 'с',
                '\u{1C84}' | '\u{1C85}' => 'т',
                '\u{1C86}' => 'ъ',
                '\u{1C87}' => 'ѣ',
                _ => 'ꙋ',
            }),
            _ => folded.extend(c.to_lowercase()),
        }
    }
    folded.nfkc().collect()
}

/// The `Default_Ignorable_Code_Point` property (DerivedCoreProperties.txt): characters that
/// render as nothing, which NFKC_Casefold removes.
fn is_default_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{AD}'
            | '\u{34F}'
            | '\u{61C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_address_normalise_alike() {
        for spelling in [
            "ada@example.com",
            "  Ada@Example.COM ",
            "ＡＤＡ@example.com",
            "a\u{AD}da@example.com",
            "ADA@EXAMPLE.COM",
        ] {
            assert_eq!(
                normalize_email(spelling).unwrap(),
                "ada@example.com",
                "{spelling:?}"
            );
        }
        assert_eq!(
            normalize_email("Straße@example.com").unwrap(),
            normalize_email("STRASSE@example.com").unwrap()
        );
        assert_eq!(
            normalize_email("ΟΔΥΣΣΕΥΣ@example.gr").unwrap(),
            normalize_email("οδυσσευς@example.gr").unwrap()
        );
    }

    #[test]
    fn unicode_domains_become_ascii() {
        assert_eq!(
            normalize_email("kim@Bücher.Example").unwrap(),
            "kim@xn--bcher-kva.example"
        );
        assert_eq!(
            normalize_email("kim@xn--bcher-kva.example").unwrap(),
            "kim@xn--bcher-kva.example"
        );
        assert_eq!(
            normalize_email("用户@例子.广告").unwrap(),
            "用户@xn--fsqu00a.xn--4rr70v"
        );
    }

    #[test]
    fn confusables_of_other_scripts_stay_distinct() {
        // Cyrillic а (U+0430) is not Latin a: out of scope, see the function's docs.
        assert_ne!(
            normalize_email("\u{430}da@example.com").unwrap(),
            normalize_email("ada@example.com").unwrap()
        );
    }

    #[test]
    fn what_is_not_an_address_is_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        let huge = "a".repeat(10_000);
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a@b@c",
            "ada lovelace@example.com",
            "ada@exa\tmple.com",
            "ada@exa\u{0}mple.com",
            "\u{AD}@example.com",
            "ada@xn--zz",
            long.as_str(),
            huge.as_str(),
        ] {
            assert!(
                matches!(normalize_email(bad), Err(Error::InvalidRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn case_folding_matches_unicode_where_it_differs_from_lower_case() {
        for (text, folded) in [
            ("ß", "ss"),
            ("ẞ", "ss"),
            ("ς", "σ"),
            ("ᾈ", "ἀι"),
            ("Ꭰ", "Ꭰ"),
            ("ꭰ", "Ꭰ"),
            ("ᏸ", "Ᏸ"),
            ("\u{1C80}", "в"),
            ("ﬃ", "ffi"),
            ("Ｋ", "k"),
            ("K", "k"),
            ("a\u{200B}b\u{FE0F}", "ab"),
        ] {
            assert_eq!(nfkc_casefold(text), folded, "{text:?}");
        }
    }
}
