//! The passwords everyone tries first, and passwords built on words of the context.
//!
//! - [`CommonPasswords::shipped`]: the 30,000 most common passwords of zxcvbn's frequency list,
//!   compiled into the crate (about 240 KiB). `data/common-passwords.txt` says which package
//!   and version it was generated from, with its licence beside it in `data/LICENSE-zxcvbn.txt`
//!   (the list itself comes from Dropbox's zxcvbn, MIT); `data/generate-common-passwords.py`
//!   regenerates it, and CI checks that it reproduces byte for byte. Comparison ignores case:
//!   `Password1234` is as common as `password1234`.
//! - [`built_on_context`]: a password that is the account's email name or the service's name
//!   plus a few characters (`ada.lovelace2024!`) is refused: such words add nothing an
//!   attacker who knows the account does not already know (NIST SP 800-63B 5.1.1.2).

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use async_trait::async_trait;

use super::breached::BreachedPasswordCheck;
use super::policy::NormalizedPassword;
use crate::error::Result;

const SHIPPED: &str = include_str!("../../data/common-passwords.txt");

/// A list of common passwords, compared without regard to case.
pub struct CommonPasswords {
    entries: HashSet<&'static str>,
    source: String,
}

impl CommonPasswords {
    /// The list compiled into the crate, parsed once per process.
    pub fn shipped() -> &'static Self {
        static LIST: OnceLock<CommonPasswords> = OnceLock::new();
        LIST.get_or_init(|| {
            let mut source = Vec::new();
            let mut entries = HashSet::new();
            for line in SHIPPED.lines() {
                match line.strip_prefix("# ") {
                    Some(comment) => source.push(comment),
                    None if !line.is_empty() => {
                        entries.insert(line);
                    }
                    None => {}
                }
            }
            Self {
                entries,
                source: source.join("\n"),
            }
        })
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where the list came from: package, version, archive digest, licence.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `password`, in lower case, is on the list.
    pub fn contains(&self, password: &NormalizedPassword) -> bool {
        let password = password.as_str();
        if password.len() > MAX_ENTRY_BYTES {
            return false;
        }
        self.entries.contains(password.to_lowercase().as_str())
    }
}

/// No shipped entry is longer; longer candidates are not looked up.
const MAX_ENTRY_BYTES: usize = 64;

impl fmt::Debug for CommonPasswords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommonPasswords")
            .field("entries", &self.entries.len())
            .finish()
    }
}

#[async_trait]
impl BreachedPasswordCheck for &'static CommonPasswords {
    async fn is_breached(&self, password: &NormalizedPassword) -> Result<bool> {
        Ok(self.contains(password))
    }
}

/// Context words shorter than this are not looked for: too many passwords would hold them by
/// chance.
const MIN_CONTEXT_WORD_CHARS: usize = 4;

/// Parts of a name that say nothing about the service: URL and host-name boilerplate.
const NOT_A_NAME: [&str; 12] = [
    "http",
    "https",
    "www",
    "localhost",
    "com",
    "org",
    "net",
    "auth",
    "login",
    "account",
    "accounts",
    "server",
];

/// The words of `context` worth looking for, lower case: each whole text and each of its
/// alphanumeric runs of at least four characters (`ada.lovelace` gives `ada.lovelace` and
/// `lovelace`; `https://auth.example.com` gives `example`, host-name boilerplate such as
/// `auth` and `www` and all-digit runs such as ports left out).
pub(super) fn context_words<'a>(context: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut words = Vec::new();
    for text in context {
        let text = NormalizedPassword::new(text).as_str().to_lowercase();
        let runs = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|run| !NOT_A_NAME.contains(run) && !run.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_owned);
        for word in std::iter::once(text.clone()).chain(runs) {
            if word.chars().count() >= MIN_CONTEXT_WORD_CHARS && !words.contains(&word) {
                words.push(word);
            }
        }
    }
    // Longest first, so a whole name is taken out before its parts.
    words.sort_by_key(|word| std::cmp::Reverse(word.len()));
    words
}

/// Whether `password` holds one of `words` and, once every occurrence is taken out, what
/// remains would be shorter than `min_chars`: the context word carries the password.
pub(super) fn built_on_context(
    password: &NormalizedPassword,
    words: &[String],
    min_chars: usize,
) -> bool {
    let lower = password.as_str().to_lowercase();
    let mut rest = lower.clone();
    for word in words {
        rest = rest.replace(word.as_str(), "");
    }
    rest.len() != lower.len() && rest.chars().count() < min_chars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(p: &str) -> NormalizedPassword {
        NormalizedPassword::new(p)
    }

    #[test]
    fn the_shipped_list_has_its_entries_and_says_where_it_came_from() {
        let list = CommonPasswords::shipped();
        assert_eq!(list.len(), 30_000);
        assert!(list.source().contains("Package: zxcvbn 4.5.0 from PyPI"));
        assert!(list.source().contains("Licence: MIT"));
        for common in [
            "password1234",
            "PASSWORD1234",
            "qwertyuiop123",
            "Ｐａｓｓｗｏｒｄ1234",
        ] {
            assert!(list.contains(&normalized(common)), "{common}");
        }
        for rare in ["correct horse battery staple", "", "# Package: zxcvbn"] {
            assert!(!list.contains(&normalized(rare)), "{rare}");
        }
    }

    #[test]
    fn the_compiled_list_stays_small() {
        assert!(SHIPPED.len() < 2 * 1024 * 1024, "{} bytes", SHIPPED.len());
    }

    #[test]
    fn context_words_are_whole_texts_and_their_longer_runs() {
        assert_eq!(
            context_words(["Ada.Lovelace", "https://auth.example.com"]),
            vec![
                "https://auth.example.com",
                "ada.lovelace",
                "lovelace",
                "example"
            ]
        );
        assert!(context_words(["al", "bob"]).is_empty());
        // Host-name boilerplate and port numbers name nothing.
        assert_eq!(
            context_words(["http://localhost:8080", "https://auth.example.com"]),
            vec![
                "https://auth.example.com",
                "http://localhost:8080",
                "example"
            ]
        );
    }

    #[test]
    fn a_password_carried_by_a_context_word_is_built_on_it() {
        let words = context_words(["ada.lovelace", "Orbit"]);
        for weak in [
            "ada.lovelace2024!",
            "AdaLovelace12345",
            "lovelace-lovelace",
            "orbitorbit12",
            "Orbit-Password",
        ] {
            assert!(built_on_context(&normalized(weak), &words, 12), "{weak}");
        }
        for fine in [
            "lovelace rides the analytical engine",
            "correct horse battery staple",
            "orbit around a quiet moon",
        ] {
            assert!(!built_on_context(&normalized(fine), &words, 12), "{fine}");
        }
    }
}
