//! The mails the flows send, from templates: a plain-text and an HTML body per kind and
//! locale, English built in, more locales added as files.
//!
//! A locale is a folder named by its language tag (`de`, `pt-BR`) holding, for each
//! [`MailKind`], `<kind>.txt` (a first line `Subject: ...`, a blank line, then the text body)
//! and optionally `<kind>.html` (the HTML body). A kind missing from a locale falls back to
//! English. Templates name fields as `{{field}}`; the fields are those of [`Field`], and a
//! template naming any other is refused when it is loaded. Values are escaped in HTML bodies.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::error::{Error, Result};

/// What a mail is for: one template each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MailKind {
    /// A link that verifies the address of a new account.
    VerifyEmail,
    /// To an address someone tried to sign up with again: the account exists.
    AccountExists,
    /// A link to set a new password.
    ResetPassword,
    /// To an address with no active account that someone asked a reset or sign-in for.
    NoAccount,
    /// A sign-in link and code.
    Login,
    /// To a new address: a link that moves the account to it.
    ChangeEmail,
    /// To the address an account left: what changed, and a link that undoes it.
    EmailChanged,
    /// A notice: the password was changed or reset.
    PasswordChanged,
    /// A notice: a second factor was added.
    FactorAdded,
    /// A notice: a second factor was removed.
    FactorRemoved,
    /// A notice: a passkey was added.
    PasskeyAdded,
    /// A notice: a passkey was removed.
    PasskeyRemoved,
}

impl MailKind {
    /// Every kind.
    pub const ALL: [MailKind; 12] = [
        MailKind::VerifyEmail,
        MailKind::AccountExists,
        MailKind::ResetPassword,
        MailKind::NoAccount,
        MailKind::Login,
        MailKind::ChangeEmail,
        MailKind::EmailChanged,
        MailKind::PasswordChanged,
        MailKind::FactorAdded,
        MailKind::FactorRemoved,
        MailKind::PasskeyAdded,
        MailKind::PasskeyRemoved,
    ];

    /// The stable name: the template's file name, and the outbox message's kind after `mail.`.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::VerifyEmail => "verify_email",
            MailKind::AccountExists => "account_exists",
            MailKind::ResetPassword => "reset_password",
            MailKind::NoAccount => "no_account",
            MailKind::Login => "login",
            MailKind::ChangeEmail => "change_email",
            MailKind::EmailChanged => "email_changed",
            MailKind::PasswordChanged => "password_changed",
            MailKind::FactorAdded => "factor_added",
            MailKind::FactorRemoved => "factor_removed",
            MailKind::PasskeyAdded => "passkey_added",
            MailKind::PasskeyRemoved => "passkey_removed",
        }
    }

    fn builtin(self) -> (&'static str, &'static str) {
        macro_rules! english {
            ($name:literal) => {
                (
                    include_str!(concat!("../../templates/en/", $name, ".txt")),
                    include_str!(concat!("../../templates/en/", $name, ".html")),
                )
            };
        }
        match self {
            MailKind::VerifyEmail => english!("verify_email"),
            MailKind::AccountExists => english!("account_exists"),
            MailKind::ResetPassword => english!("reset_password"),
            MailKind::NoAccount => english!("no_account"),
            MailKind::Login => english!("login"),
            MailKind::ChangeEmail => english!("change_email"),
            MailKind::EmailChanged => english!("email_changed"),
            MailKind::PasswordChanged => english!("password_changed"),
            MailKind::FactorAdded => english!("factor_added"),
            MailKind::FactorRemoved => english!("factor_removed"),
            MailKind::PasskeyAdded => english!("passkey_added"),
            MailKind::PasskeyRemoved => english!("passkey_removed"),
        }
    }
}

impl fmt::Display for MailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field a template may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `{{product}}`: the product's name.
    Product,
    /// `{{app_url}}`: the application's address.
    AppUrl,
    /// `{{email}}`: the address the mail is about (the recipient's, or the address an account
    /// left).
    Email,
    /// `{{new_email}}`: the address an account moved to.
    NewEmail,
    /// `{{link}}`: the one-time link.
    Link,
    /// `{{code}}`: the one-time code.
    Code,
    /// `{{expires}}`: how long the link or code works (`30 min`, `24 h`).
    Expires,
}

impl Field {
    const ALL: [Field; 7] = [
        Field::Product,
        Field::AppUrl,
        Field::Email,
        Field::NewEmail,
        Field::Link,
        Field::Code,
        Field::Expires,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Product => "product",
            Field::AppUrl => "app_url",
            Field::Email => "email",
            Field::NewEmail => "new_email",
            Field::Link => "link",
            Field::Code => "code",
            Field::Expires => "expires",
        }
    }
}

/// The values a mail is rendered with.
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(Field, String)>);

impl Fields {
    /// No values yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) `field`.
    pub fn with(mut self, field: Field, value: impl Into<String>) -> Self {
        self.0.retain(|(kept, _)| *kept != field);
        self.0.push((field, value.into()));
        self
    }

    fn value(&self, field: Field) -> &str {
        self.0
            .iter()
            .find(|(kept, _)| *kept == field)
            .map_or("", |(_, value)| value.as_str())
    }
}

/// A mail rendered: what goes into a [`MailMessage`](super::MailMessage) besides its recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body, when the template has one.
    pub html: Option<String>,
}

#[derive(Debug, Clone)]
struct Template {
    subject: String,
    text: String,
    html: Option<String>,
}

impl Template {
    /// Parses `<kind>.txt` (and `.html`); `origin` names them in errors.
    fn parse(text: &str, html: Option<&str>, origin: &str) -> Result<Self> {
        let text = text.replace("\r\n", "\n");
        let (first, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
        let subject = first
            .strip_prefix("Subject:")
            .map(str::trim)
            .filter(|subject| !subject.is_empty())
            .ok_or_else(|| {
                Error::Config(format!(
                    "mail template {origin}.txt: the first line must be `Subject: ...`"
                ))
            })?;
        let template = Self {
            subject: subject.to_owned(),
            text: body.trim_start_matches('\n').to_owned(),
            html: html.map(str::to_owned),
        };
        for part in [Some(&template.subject), Some(&template.text)]
            .into_iter()
            .chain([template.html.as_ref()])
            .flatten()
        {
            check_fields(part, origin)?;
        }
        Ok(template)
    }
}

/// [`Error::Config`] if `template` names a field that is not one of [`Field`]'s, or leaves a
/// `{{` unclosed.
fn check_fields(template: &str, origin: &str) -> Result<()> {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| Error::Config(format!("mail template {origin}: an unclosed `{{{{`")))?;
        let name = after[..end].trim();
        if !Field::ALL.iter().any(|field| field.name() == name) {
            return Err(Error::Config(format!(
                "mail template {origin}: unknown field `{name}`"
            )));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// Replaces every `{{field}}` of `template` with its value, escaped by `escape`.
fn fill(template: &str, fields: &Fields, escape: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let name = after[..end].trim();
        if let Some(field) = Field::ALL.iter().find(|field| field.name() == name) {
            out.push_str(&escape(fields.value(*field)));
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `value` as HTML text: `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A subject line is one line, whatever a value holds.
fn one_line(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// The templates of every locale. English (`en`) is always complete.
#[derive(Debug, Clone)]
pub struct Templates {
    locales: BTreeMap<String, BTreeMap<MailKind, Template>>,
}

/// The locale every kind has a template in.
pub const DEFAULT_LOCALE: &str = "en";

impl Default for Templates {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Templates {
    /// The built-in English templates.
    pub fn builtin() -> Self {
        let english = MailKind::ALL
            .into_iter()
            .map(|kind| {
                let (text, html) = kind.builtin();
                let template = Template::parse(text, Some(html), kind.as_str())
                    .unwrap_or_else(|error| unreachable!("built-in template {kind}: {error}"));
                (kind, template)
            })
            .collect();
        Self {
            locales: BTreeMap::from([(DEFAULT_LOCALE.to_owned(), english)]),
        }
    }

    /// These templates and those of every locale folder in `dir` (see the
    /// [module documentation](self)); a locale folder's templates replace the built-in ones
    /// of that locale. [`Error::Config`] names the file that does not parse, a folder that is
    /// not a language tag, or a folder with no template.
    pub fn with_dir(mut self, dir: &Path) -> Result<Self> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Error::Config(format!("mail templates folder {}: {e}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::Config(format!("{}: {e}", dir.display())))?;
            if !entry.path().is_dir() {
                continue;
            }
            let locale = entry.file_name().to_string_lossy().into_owned();
            if !is_language_tag(&locale) {
                return Err(Error::Config(format!(
                    "mail templates: {locale:?} is not a language tag (en, de, pt-BR)"
                )));
            }
            let mut kinds = BTreeMap::new();
            for kind in MailKind::ALL {
                let origin = format!("{locale}/{kind}");
                let read = |extension: &str| {
                    let path = entry.path().join(format!("{kind}.{extension}"));
                    match std::fs::read_to_string(&path) {
                        Ok(text) => Ok(Some(text)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                        Err(e) => Err(Error::Config(format!("{}: {e}", path.display()))),
                    }
                };
                let (Some(text), html) = (read("txt")?, read("html")?) else {
                    continue;
                };
                kinds.insert(kind, Template::parse(&text, html.as_deref(), &origin)?);
            }
            if kinds.is_empty() {
                return Err(Error::Config(format!(
                    "mail templates: {locale}/ holds no <kind>.txt template"
                )));
            }
            self.locales.insert(canonical_tag(&locale), kinds);
        }
        Ok(self)
    }

    /// The locales there are templates for.
    pub fn locales(&self) -> impl Iterator<Item = &str> {
        self.locales.keys().map(String::as_str)
    }

    /// The locale to write in for a client preferring `preferences` (an `Accept-Language`
    /// value, or one tag: a user's saved choice): the first one, by weight, that there are
    /// templates for, by its full tag or its language; English otherwise.
    pub fn choose(&self, preferences: Option<&str>) -> &str {
        negotiate(preferences, |candidate| {
            self.locales
                .get_key_value(candidate)
                .map(|(locale, _)| locale.as_str())
        })
        .unwrap_or(DEFAULT_LOCALE)
    }

    /// Mail `kind` in `locale` (English where the locale has no template for it), with
    /// `fields`.
    pub fn render(&self, kind: MailKind, locale: &str, fields: &Fields) -> Rendered {
        let template = self
            .locales
            .get(&canonical_tag(locale))
            .and_then(|kinds| kinds.get(&kind))
            .or_else(|| self.locales.get(DEFAULT_LOCALE)?.get(&kind))
            .unwrap_or_else(|| unreachable!("English has every template"));
        Rendered {
            subject: fill(&template.subject, fields, one_line),
            text: fill(&template.text, fields, str::to_owned),
            html: template
                .html
                .as_ref()
                .map(|html| fill(html, fields, escape_html)),
        }
    }
}

/// Whether `tag` looks like a language tag: letters, digits and dashes, a language first.
/// The first locale `find` knows for a client preferring `preferences` (an
/// `Accept-Language` value, or one tag), by weight, then in the client's order: each tag by
/// its full form ([`canonical_tag`]), then by its language. `None` if `find` knows none. The
/// one negotiation of every localised text (mails, and the hosted pages of a server).
pub fn negotiate<'a>(
    preferences: Option<&str>,
    find: impl Fn(&str) -> Option<&'a str>,
) -> Option<&'a str> {
    let mut wanted: Vec<(f32, &str)> = preferences
        .unwrap_or("")
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            (!tag.is_empty() && weight > 0.0).then_some((weight, tag))
        })
        .collect();
    // Stable: equal weights keep the client's order.
    wanted.sort_by(|a, b| b.0.total_cmp(&a.0));
    wanted.into_iter().find_map(|(_, tag)| {
        let tag = canonical_tag(tag);
        let language = tag.split('-').next().unwrap_or_default();
        find(&tag).or_else(|| find(language))
    })
}

/// Whether `tag` is shaped as a language tag (`de`, `pt-BR`, `zh-Hant`).
pub fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
    language_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// A tag in one case: the language lower case, the rest as `pt-BR` spells it.
pub fn canonical_tag(tag: &str) -> String {
    let mut parts = tag.split('-');
    let mut out = parts.next().unwrap_or_default().to_ascii_lowercase();
    for part in parts {
        out.push('-');
        if part.len() == 2 {
            out.push_str(&part.to_ascii_uppercase());
        } else {
            out.push_str(&part.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A fresh folder, removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new() -> Self {
            let path = std::env::temp_dir()
                .join(format!("auth-templates-{}", crate::intent::IntentId::new()));
            std::fs::create_dir(&path).unwrap();
            Self(path)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn fields() -> Fields {
        Fields::new()
            .with(Field::Product, "Acme <Pro>")
            .with(Field::AppUrl, "https://app.example.com")
            .with(Field::Email, "ada@example.com")
            .with(Field::Link, "https://app.example.com/x?token=a&b")
            .with(Field::Code, "123456")
            .with(Field::Expires, "10 min")
    }

    #[test]
    fn every_builtin_kind_renders_without_leftover_fields() {
        let templates = Templates::builtin();
        for kind in MailKind::ALL {
            let mail = templates.render(kind, "en", &fields());
            for part in [&mail.subject, &mail.text, mail.html.as_ref().unwrap()] {
                assert!(!part.contains("{{"), "{kind}: {part}");
            }
            assert!(
                mail.subject.contains("Acme <Pro>"),
                "{kind}: {}",
                mail.subject
            );
        }
        let login = templates.render(MailKind::Login, "en", &fields());
        assert!(login.subject.ends_with("123456"));
        assert!(login.text.contains("https://app.example.com/x?token=a&b"));
        let html = login.html.unwrap();
        assert!(html.contains("Acme &lt;Pro&gt;"), "{html}");
        assert!(html.contains("token=a&amp;b"), "{html}");
    }

    #[test]
    fn locales_come_from_files_and_fall_back_to_english() {
        let dir = TempDir::new();
        std::fs::create_dir(dir.path().join("de")).unwrap();
        std::fs::write(
            dir.path().join("de/login.txt"),
            "Subject: Ihr Code für {{product}}: {{code}}\n\nCode: {{code}}\n",
        )
        .unwrap();
        let templates = Templates::builtin().with_dir(dir.path()).unwrap();
        assert_eq!(templates.locales().collect::<Vec<_>>(), ["de", "en"]);
        assert_eq!(templates.choose(Some("de-CH, en;q=0.5")), "de");
        assert_eq!(templates.choose(Some("fr, de;q=0.9")), "de");
        assert_eq!(templates.choose(Some("en;q=0.9, de;q=0.1")), "en");
        assert_eq!(templates.choose(Some("de;q=0")), "en");
        assert_eq!(templates.choose(Some("fr")), "en");
        assert_eq!(templates.choose(None), "en");

        let german = templates.render(MailKind::Login, "de", &fields());
        assert_eq!(german.subject, "Ihr Code für Acme <Pro>: 123456");
        assert_eq!(german.text, "Code: 123456\n");
        assert_eq!(german.html, None, "no HTML file: text only");
        let fallback = templates.render(MailKind::ResetPassword, "de", &fields());
        assert!(fallback.subject.starts_with("Reset your"), "{fallback:?}");
    }

    #[test]
    fn bad_template_files_are_refused_with_their_name() {
        let cases = [
            ("de", "login.txt", "No subject line\n\nbody", "de/login.txt"),
            (
                "de",
                "login.txt",
                "Subject: {{nope}}\n\nbody",
                "unknown field `nope`",
            ),
            ("de", "login.txt", "Subject: x\n\n{{code", "unclosed"),
            (
                "not a tag",
                "login.txt",
                "Subject: x\n\nbody",
                "not a language tag",
            ),
            ("fr", "readme.md", "hello", "holds no"),
        ];
        for (locale, file, content, expected) in cases {
            let dir = TempDir::new();
            std::fs::create_dir(dir.path().join(locale)).unwrap();
            std::fs::write(dir.path().join(locale).join(file), content).unwrap();
            let error = Templates::builtin().with_dir(dir.path()).unwrap_err();
            assert!(
                matches!(&error, Error::Config(m) if m.contains(expected)),
                "{locale}/{file}: {error}"
            );
        }
        assert!(matches!(
            Templates::builtin().with_dir(Path::new("/nonexistent/templates")),
            Err(Error::Config(_))
        ));
    }
}
