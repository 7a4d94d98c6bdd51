//! Mail from the tests' SMTP server (`PrivateSmtp`'s spool): parsed, waited for, and the
//! links and codes in it; and forms posted as a page's button would.

use std::time::Duration;

use super::{Answer, PrivateSmtp, send};

/// A mail from the spool: its headers and its decoded plain-text body.
#[derive(Debug, Clone)]
pub struct Mail {
    pub headers: String,
    pub text: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.headers
            .lines()
            .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_owned())
    }

    /// The link's path and query (below `APP_URL`), and its token.
    pub fn link(&self) -> (String, String) {
        let end = self.text.find("?token=").expect("a link");
        let start = self.text[..end].rfind("http://").expect("a link");
        let url: String = self.text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let path = url["http://".len()..]
            .split_once('/')
            .map(|(_, rest)| format!("/{rest}"))
            .unwrap();
        let token = url.split_once("?token=").unwrap().1.to_owned();
        (path, token)
    }

    pub fn code(&self) -> String {
        self.text
            .lines()
            .map(str::trim)
            .find(|line| line.len() >= 6 && line.bytes().all(|b| b.is_ascii_digit()))
            .expect("a code")
            .to_owned()
    }
}

/// Undoes quoted-printable (soft breaks and `=XX`), for a body sent that way.
pub fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=' && i + 3 <= bytes.len())
            .then(|| u8::from_str_radix(&joined[i + 1..i + 3], 16).ok())
            .flatten();
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

pub fn parse(raw: &str) -> Mail {
    let raw = raw.replace("\r\n", "\n");
    let (headers, body) = raw.split_once("\n\n").unwrap();
    // The text part: a multipart body's first part, or the body itself.
    let text_part = match body.find("Content-Type: text/plain") {
        Some(start) => {
            let part = &body[start..];
            let (part_headers, rest) = part.split_once("\n\n").unwrap();
            let end = rest.find("\n--").unwrap_or(rest.len());
            (part_headers.to_owned(), rest[..end].to_owned())
        }
        None => (headers.to_owned(), body.to_owned()),
    };
    let text = if text_part.0.contains("quoted-printable") {
        quoted_printable(&text_part.1)
    } else {
        text_part.1
    };
    Mail {
        headers: headers.to_owned(),
        text,
    }
}

/// Waits (at most `within`) until the spool holds a mail to `to` besides those in `seen`
/// (their `Message-ID`s), and returns the new ones to `to`.
pub async fn next_mails(
    smtp: &PrivateSmtp,
    to: &str,
    seen: &mut Vec<String>,
    within: Duration,
) -> Vec<Mail> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let fresh: Vec<Mail> = smtp
            .mails()
            .iter()
            .map(|raw| parse(raw))
            .filter(|mail| mail.header("To").is_some_and(|t| t.contains(to)))
            .filter(|mail| !seen.contains(&mail.header("Message-ID").unwrap()))
            .collect();
        if !fresh.is_empty() {
            seen.extend(fresh.iter().map(|mail| mail.header("Message-ID").unwrap()));
            return fresh;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new mail to {to} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The one next mail to `to`.
pub async fn next_mail(smtp: &PrivateSmtp, to: &str, seen: &mut Vec<String>) -> Mail {
    let mut mails = next_mails(smtp, to, seen, Duration::from_secs(20)).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    mails.remove(0)
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let value: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".to_owned(),
                    other => format!("%{other:02X}"),
                })
                .collect();
            format!("{k}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub async fn post_form(port: u16, path: &str, pairs: &[(&str, &str)]) -> Answer {
    send(
        port,
        "POST",
        path,
        &["content-type: application/x-www-form-urlencoded"],
        form(pairs).as_bytes(),
    )
    .await
}
