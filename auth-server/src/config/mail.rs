//! The mail settings: where mail goes (`SMTP_URL`, `MAIL_FROM`), what links point at
//! (`APP_URL`), how mails read (`PRODUCT_NAME`, `MAIL_TEMPLATES_DIR`) and whether addresses
//! must be verified (`EMAIL_VERIFICATION`).

use std::path::Path;

use auth_core::flows::{EmailConfig, EmailVerification};
use auth_core::mail::{SmtpSink, Templates};
use auth_core::secrecy::{ExposeSecret, SecretString};

/// Mail, as configured.
#[derive(Debug, Clone)]
pub(crate) struct MailConfig {
    /// `SMTP_URL` (lettre's form: `smtps://user:pass@host:465`,
    /// `smtp://host:587?tls=required`); `None`: mail goes to the log (development only).
    pub(crate) smtp_url: Option<SecretString>,
    /// `MAIL_FROM`: the sender, `Name <address>` or an address.
    pub(crate) from: String,
    /// `SMTP_CA_FILE`: a CA certificate (PEM) trusted for the relay besides the system's.
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// Verification, the application's address, the product name.
    pub(crate) email: EmailConfig,
    /// The built-in templates and those of `MAIL_TEMPLATES_DIR`.
    pub(crate) templates: Templates,
}

impl MailConfig {
    /// The SMTP sink, when `SMTP_URL` is set (checked when it was read).
    pub(crate) fn smtp_sink(&self) -> Option<Result<SmtpSink, auth_core::Error>> {
        self.smtp_url.as_ref().map(|url| {
            SmtpSink::from_url_trusting(url.expose_secret(), &self.from, self.ca_pem.as_deref())
        })
    }
}

/// Reads the mail settings; `port` makes the development `APP_URL`.
pub(super) fn read(
    get: &dyn Fn(&str) -> Option<String>,
    production: bool,
    port: u16,
    problems: &mut Vec<String>,
) -> MailConfig {
    let smtp_url = get("SMTP_URL").map(SecretString::from);
    let from = get("MAIL_FROM");
    let ca_pem = get("SMTP_CA_FILE").and_then(|path| match std::fs::read(&path) {
        Ok(pem) => Some(pem),
        Err(e) => {
            problems.push(format!("SMTP_CA_FILE: {path}: {e}"));
            None
        }
    });
    if ca_pem.is_some() && smtp_url.is_none() {
        problems.push("SMTP_CA_FILE: set without SMTP_URL".to_owned());
    }
    if let Some(url) = &smtp_url {
        let scheme = url.expose_secret().split("://").next().unwrap_or_default();
        if !matches!(scheme, "smtp" | "smtps") {
            problems.push(
                "SMTP_URL: not an smtp:// or smtps:// URL (smtps://user:pass@host:465, \
                 smtp://host:587?tls=required)"
                    .to_owned(),
            );
        } else if production && !SmtpSink::requires_tls(url.expose_secret()) {
            problems.push(
                "SMTP_URL: production sends mail only over TLS: use smtps://, or smtp://...?tls=required"
                    .to_owned(),
            );
        }
        match &from {
            None => problems.push("MAIL_FROM: not set; SMTP_URL needs a sender".to_owned()),
            Some(sender) => {
                let sink =
                    SmtpSink::from_url_trusting(url.expose_secret(), sender, ca_pem.as_deref());
                if let Err(error) = sink {
                    // The error names the variable; lettre's message never holds the URL.
                    problems.push(error.to_string().replace("invalid configuration: ", ""));
                }
            }
        }
    }

    let verification = match get("EMAIL_VERIFICATION") {
        None if smtp_url.is_some() => EmailVerification::Required,
        None => EmailVerification::Off,
        Some(value) => value.parse().unwrap_or_else(|_| {
            problems.push(format!(
                "EMAIL_VERIFICATION: {value:?} is not off, optional or required"
            ));
            EmailVerification::Off
        }),
    };
    if production && smtp_url.is_none() {
        problems.push(
            "SMTP_URL: not set; production sends the verification, reset and sign-in mails \
             over SMTP (development writes them to the log)"
                .to_owned(),
        );
    }

    let app_url = get("APP_URL").unwrap_or_else(|| format!("http://localhost:{port}"));
    let app_url = app_url.trim_end_matches('/').to_owned();
    if production && get("APP_URL").is_none() {
        problems.push(
            "APP_URL: not set; production needs the public address the mailed links open"
                .to_owned(),
        );
    } else if production && !app_url.starts_with("https://") {
        problems.push("APP_URL: not HTTPS; production mails only https:// links".to_owned());
    }
    let email = EmailConfig {
        verification,
        product_name: get("PRODUCT_NAME").unwrap_or_else(|| "Auth".to_owned()),
        app_url,
        ..EmailConfig::default()
    };
    if let Err(error) = email.validate() {
        problems.push(format!(
            "APP_URL or PRODUCT_NAME: {}",
            error.to_string().replace("invalid configuration: ", "")
        ));
    }

    let templates = match get("MAIL_TEMPLATES_DIR") {
        None => Templates::builtin(),
        Some(dir) => Templates::builtin()
            .with_dir(Path::new(&dir))
            .unwrap_or_else(|error| {
                problems.push(format!(
                    "MAIL_TEMPLATES_DIR: {}",
                    error.to_string().replace("invalid configuration: ", "")
                ));
                Templates::builtin()
            }),
    };

    MailConfig {
        smtp_url,
        from: from.unwrap_or_else(|| "Auth <auth@localhost>".to_owned()),
        ca_pem,
        email,
        templates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_with(vars: &[(&str, &str)], production: bool) -> (MailConfig, Vec<String>) {
        let get = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let mut problems = Vec::new();
        let config = read(&get, production, 8080, &mut problems);
        (config, problems)
    }

    #[test]
    fn development_logs_mail_and_verification_follows_smtp() {
        let (config, problems) = read_with(&[], false);
        assert!(problems.is_empty(), "{problems:?}");
        assert!(config.smtp_url.is_none());
        assert_eq!(config.email.verification, EmailVerification::Off);
        assert_eq!(config.email.app_url, "http://localhost:8080");

        let (config, problems) = read_with(
            &[
                ("SMTP_URL", "smtp://127.0.0.1:2525"),
                ("MAIL_FROM", "Acme <auth@acme.example>"),
                ("APP_URL", "http://127.0.0.1:8080/"),
            ],
            false,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.email.verification, EmailVerification::Required);
        assert_eq!(config.email.app_url, "http://127.0.0.1:8080");
        assert!(config.smtp_sink().unwrap().is_ok());
    }

    #[test]
    fn production_needs_smtp_over_tls_a_sender_and_an_https_app_url() {
        let (_, problems) = read_with(&[], true);
        let joined = problems.join("\n");
        assert!(joined.contains("SMTP_URL: not set"), "{joined}");
        assert!(joined.contains("APP_URL: not set"), "{joined}");

        let (_, problems) = read_with(
            &[
                ("SMTP_URL", "smtp://mail.example.com:25"),
                ("APP_URL", "http://app.example.com"),
            ],
            true,
        );
        let joined = problems.join("\n");
        assert!(joined.contains("only over TLS"), "{joined}");
        let (_, problems) = read_with(
            &[
                ("SMTP_URL", "smtp://mail.example.com:587?tls=opportunistic"),
                ("MAIL_FROM", "auth@example.com"),
                ("APP_URL", "https://app.example.com"),
            ],
            true,
        );
        assert!(
            problems.iter().any(|p| p.contains("only over TLS")),
            "opportunistic TLS falls back to plaintext: {problems:?}"
        );
        assert!(joined.contains("MAIL_FROM: not set"), "{joined}");
        assert!(joined.contains("APP_URL: not HTTPS"), "{joined}");

        let (config, problems) = read_with(
            &[
                ("SMTP_URL", "smtps://user:secret@mail.example.com"),
                ("MAIL_FROM", "auth@example.com"),
                ("APP_URL", "https://app.example.com"),
                ("EMAIL_VERIFICATION", "optional"),
            ],
            true,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.email.verification, EmailVerification::Optional);
        assert!(
            !format!("{config:?}").contains("secret"),
            "the SMTP password never shows"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let (_, problems) = read_with(
            &[
                ("SMTP_URL", "http://mail.example.com"),
                ("EMAIL_VERIFICATION", "sometimes"),
                ("APP_URL", "ftp://app.example.com"),
                ("MAIL_TEMPLATES_DIR", "/nonexistent/templates"),
            ],
            false,
        );
        let joined = problems.join("\n");
        for expected in [
            "SMTP_URL: not an smtp",
            "EMAIL_VERIFICATION: \"sometimes\"",
            "APP_URL or PRODUCT_NAME",
            "MAIL_TEMPLATES_DIR",
        ] {
            assert!(joined.contains(expected), "{expected}: {joined}");
        }
        let (_, problems) = read_with(
            &[
                ("SMTP_URL", "smtp://127.0.0.1"),
                ("MAIL_FROM", "not an address"),
            ],
            false,
        );
        assert!(
            problems.iter().any(|p| p.starts_with("MAIL_FROM")),
            "{problems:?}"
        );
    }
}
