//! The pages' text, localised as the mails are: English built in (`locales/en.txt`), more
//! languages from `UI_LOCALES_DIR/<tag>.txt`, the language picked from `Accept-Language`. A
//! key a locale leaves out is shown in English; a key English does not have is a mistake in
//! the file, refused at start.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use auth_core::mail::templates::{canonical_tag, is_language_tag, negotiate};

/// English, compiled in.
const ENGLISH: &str = include_str!("../../locales/en.txt");
/// The language every key has a text in.
const DEFAULT_LOCALE: &str = "en";

/// Every locale's texts.
#[derive(Debug, Clone)]
pub(crate) struct Catalogue {
    locales: Arc<BTreeMap<String, HashMap<String, String>>>,
}

/// `key = text` lines; blank lines and `#` comments skipped. A problem names the line.
fn parse(source: &str, origin: &str) -> Result<HashMap<String, String>, String> {
    let mut texts = HashMap::new();
    for (number, line) in source.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, text)) = line.split_once('=') else {
            return Err(format!(
                "{origin}:{}: not `key = text`: {line:?}",
                number + 1
            ));
        };
        let (key, text) = (key.trim(), text.trim());
        if key.is_empty() || text.is_empty() {
            return Err(format!("{origin}:{}: an empty key or text", number + 1));
        }
        if texts.insert(key.to_owned(), text.to_owned()).is_some() {
            return Err(format!("{origin}:{}: {key} is given twice", number + 1));
        }
    }
    Ok(texts)
}

impl Catalogue {
    /// English alone.
    pub(crate) fn english() -> Self {
        let english = parse(ENGLISH, "en.txt").expect("the built-in English texts parse");
        Self {
            locales: Arc::new(BTreeMap::from([(DEFAULT_LOCALE.to_owned(), english)])),
        }
    }

    /// English and every `<tag>.txt` in `dir`: a problem for a file that does not parse, a
    /// name that is not a language tag, or a key English does not have.
    pub(crate) fn with_dir(dir: &Path) -> Result<Self, String> {
        let mut catalogue = Self::english();
        let english = catalogue.locales[DEFAULT_LOCALE].clone();
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut locales = (*catalogue.locales).clone();
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("txt") {
                continue;
            }
            let tag = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            if !is_language_tag(&tag) {
                return Err(format!(
                    "{}: {tag:?} is not a language tag (de, pt-BR)",
                    path.display()
                ));
            }
            let source =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let texts = parse(&source, &path.display().to_string())?;
            if let Some(unknown) = texts.keys().find(|key| !english.contains_key(*key)) {
                return Err(format!("{}: {unknown} is not a key", path.display()));
            }
            let tag = canonical_tag(&tag);
            if tag == DEFAULT_LOCALE {
                // English texts of the operator's own: over the built-in ones, key by key.
                let mut merged = english.clone();
                merged.extend(texts);
                locales.insert(tag, merged);
            } else {
                locales.insert(tag, texts);
            }
        }
        catalogue.locales = Arc::new(locales);
        Ok(catalogue)
    }

    /// The texts for a client preferring `accept_language`, negotiated as the mails are:
    /// the first language listed (by weight) with texts, by its full tag or its language;
    /// English otherwise.
    pub(crate) fn pick(&self, accept_language: Option<&str>) -> Texts {
        let locale = negotiate(accept_language, |candidate| {
            self.locales
                .get_key_value(candidate)
                .map(|(locale, _)| locale.as_str())
        })
        .unwrap_or(DEFAULT_LOCALE)
        .to_owned();
        Texts {
            catalogue: self.clone(),
            locale,
        }
    }
}

/// One locale's texts, English where it has none.
#[derive(Debug, Clone)]
pub(crate) struct Texts {
    catalogue: Catalogue,
    locale: String,
}

impl Texts {
    /// The text of `key`; the key itself if no locale has it (a template mistake the tests
    /// catch).
    pub(crate) fn get<'a>(&'a self, key: &'a str) -> &'a str {
        let locales = &self.catalogue.locales;
        locales
            .get(&self.locale)
            .and_then(|texts| texts.get(key))
            .or_else(|| locales[DEFAULT_LOCALE].get(key))
            .map_or(key, String::as_str)
    }

    /// Whether a text exists for `key`.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.catalogue.locales[DEFAULT_LOCALE].contains_key(key)
    }

    /// The language the page is written in, for `<html lang>`.
    pub(crate) fn lang(&self) -> &str {
        &self.locale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locale_file_overrides_english_and_falls_back_key_by_key() {
        let dir = std::env::temp_dir().join(format!("ui-locales-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("de.txt"), "# Deutsch\nsign_in.title = Anmelden\n").unwrap();
        let catalogue = Catalogue::with_dir(&dir).unwrap();
        let german = catalogue.pick(Some("fr;q=0.9, de-CH, en;q=0.5"));
        assert_eq!(german.lang(), "de");
        assert_eq!(german.get("sign_in.title"), "Anmelden");
        assert_eq!(
            german.get("sign_in.submit"),
            "Sign in",
            "English fills the gaps"
        );
        assert_eq!(catalogue.pick(Some("fr")).lang(), "en");
        assert_eq!(catalogue.pick(None).get("sign_in.title"), "Sign in");

        std::fs::write(dir.join("fr.txt"), "sign_in.titel = Connexion\n").unwrap();
        let problem = Catalogue::with_dir(&dir).unwrap_err();
        assert!(problem.contains("sign_in.titel is not a key"), "{problem}");
        std::fs::remove_file(dir.join("fr.txt")).unwrap();
        std::fs::write(dir.join("french.txt"), "sign_in.title = Connexion\n").unwrap();
        let problem = Catalogue::with_dir(&dir).unwrap_err();
        assert!(problem.contains("not a language tag"), "{problem}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn english_parses_and_refuses_a_malformed_line() {
        assert!(Catalogue::english().pick(None).has("account.title"));
        assert!(
            parse("just words", "x.txt")
                .unwrap_err()
                .contains("x.txt:1")
        );
        assert!(
            parse("a = 1\na = 2", "x.txt")
                .unwrap_err()
                .contains("twice")
        );
    }
}
