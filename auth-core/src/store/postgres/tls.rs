//! libpq's TLS parameters, read out of a connection string before tokio-postgres parses it
//! (it knows only `disable`, `prefer` and `require`, and no `sslrootcert`).
//!
//! | `sslmode` | here |
//! |---|---|
//! | unset, `disable`, `allow`, `prefer` | no TLS (libpq's `prefer` encrypts without checking anything: name `require` or stronger to encrypt) |
//! | `require`, `verify-full` | TLS, the certificate verified in full: chain and host name (stricter than libpq's `require`) |
//! | `verify-ca` | TLS, the chain verified but not the name; needs a CA file |
//!
//! `sslrootcert=<file>` is the CA file (taking precedence over `PostgresConfig::ca_file`);
//! `sslrootcert=system` means the system's roots. With a CA file, only it is trusted. An
//! `sslrootcert` without `sslmode` means `verify-full`, as libpq 16 reads `sslrootcert=system`.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// What the connection string asks of TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SslMode {
    /// `disable`, `allow`, `prefer` or unset: no TLS.
    Plain,
    /// `require` or `verify-full`.
    VerifyFull,
    /// `verify-ca`.
    VerifyCa,
}

/// Where trusted roots come from, when the connection string says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RootCert {
    /// `sslrootcert=system`.
    System,
    /// `sslrootcert=<file>`.
    File(PathBuf),
}

/// A connection string with its TLS parameters taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TlsParams {
    /// The rest of the connection string, for tokio-postgres.
    pub(super) rest: String,
    pub(super) mode: SslMode,
    pub(super) root_cert: Option<RootCert>,
}

/// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL or a key-value string; the last
/// occurrence of a key wins, as in libpq. A key-value string that does not tokenise is handed on
/// as it is, for tokio-postgres to report.
pub(super) fn take_tls_params(connection: &str) -> Result<TlsParams> {
    let (rest, pairs) =
        if connection.starts_with("postgres://") || connection.starts_with("postgresql://") {
            take_from_url(connection)
        } else {
            take_from_key_values(connection)
        };
    let mut mode = None;
    let mut root_cert = None;
    for (key, value) in pairs {
        if key == "sslmode" {
            mode = Some(match value.as_str() {
                "disable" | "allow" | "prefer" => SslMode::Plain,
                "require" | "verify-full" => SslMode::VerifyFull,
                "verify-ca" => SslMode::VerifyCa,
                other => {
                    return Err(Error::Config(format!(
                        "PostgreSQL connection string: sslmode {other:?} is not one of disable, \
                         allow, prefer, require, verify-ca, verify-full"
                    )));
                }
            });
        } else {
            root_cert = match value.as_str() {
                "" => {
                    return Err(Error::Config(
                        "PostgreSQL connection string: sslrootcert is empty".into(),
                    ));
                }
                "system" => Some(RootCert::System),
                path => Some(RootCert::File(PathBuf::from(path))),
            };
        }
    }
    let mode = mode.unwrap_or(if root_cert.is_some() {
        SslMode::VerifyFull
    } else {
        SslMode::Plain
    });
    Ok(TlsParams {
        rest,
        mode,
        root_cert,
    })
}

fn is_tls_key(key: &str) -> bool {
    key == "sslmode" || key == "sslrootcert"
}

/// The URL without the TLS parameters of its query, and those parameters, decoded. The query
/// starts at the first `?` after the credentials, which end at the first `@`, as tokio-postgres
/// reads them (a `?` in a password is no query).
fn take_from_url(url: &str) -> (String, Vec<(String, String)>) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let after_credentials = url[after_scheme..]
        .find('@')
        .map_or(after_scheme, |at| after_scheme + at + 1);
    let Some(question) = url[after_credentials..].find('?') else {
        return (url.to_owned(), Vec::new());
    };
    let (base, query) = (
        &url[..after_credentials + question],
        &url[after_credentials + question + 1..],
    );
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key);
        if is_tls_key(&key) {
            taken.push((key, percent_decode(value)));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, taken)
}

/// `%XX` sequences decoded as tokio-postgres decodes them (an incomplete one is kept).
fn percent_decode(value: &str) -> String {
    percent_encoding::percent_decode_str(value)
        .decode_utf8_lossy()
        .into_owned()
}

/// The key-value string without its TLS pairs, and those pairs, unquoted.
fn take_from_key_values(connection: &str) -> (String, Vec<(String, String)>) {
    let Some(pairs) = key_value_spans(connection) else {
        return (connection.to_owned(), Vec::new());
    };
    let mut rest = String::new();
    let mut taken = Vec::new();
    let mut copied_to = 0;
    for pair in pairs {
        if is_tls_key(&pair.key) {
            rest.push_str(&connection[copied_to..pair.start]);
            copied_to = pair.end;
            taken.push((pair.key, pair.value));
        }
    }
    rest.push_str(&connection[copied_to..]);
    (rest.trim().to_owned(), taken)
}

struct Pair {
    key: String,
    value: String,
    start: usize,
    end: usize,
}

/// Each `key = value` of a libpq key-value string with where it starts and ends; the value
/// unquoted (`'...'`, backslash escapes). `None` if the string does not tokenise.
fn key_value_spans(s: &str) -> Option<Vec<Pair>> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let offset = |i: usize| chars.get(i).map_or(s.len(), |&(o, _)| o);
    let mut pairs = Vec::new();
    let mut i = 0;
    loop {
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        let Some(_) = at(i) else {
            return Some(pairs);
        };
        let start = i;
        while at(i).is_some_and(|c| !c.is_whitespace() && c != '=') {
            i += 1;
        }
        let key: String = chars[start..i].iter().map(|&(_, c)| c).collect();
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        if key.is_empty() || at(i) != Some('=') {
            return None;
        }
        i += 1;
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        let mut value = String::new();
        if at(i) == Some('\'') {
            i += 1;
            loop {
                match at(i)? {
                    '\'' => {
                        i += 1;
                        break;
                    }
                    '\\' => {
                        value.push(at(i + 1)?);
                        i += 2;
                    }
                    c => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(c) = at(i).filter(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(at(i + 1)?);
                    i += 2;
                } else {
                    value.push(c);
                    i += 1;
                }
            }
        }
        pairs.push(Pair {
            key,
            value,
            start: offset(start),
            end: offset(i),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(connection: &str) -> TlsParams {
        take_tls_params(connection).unwrap()
    }

    #[test]
    fn every_libpq_mode_maps_and_leaves_the_url_to_tokio_postgres() {
        for (mode, expected) in [
            ("disable", SslMode::Plain),
            ("allow", SslMode::Plain),
            ("prefer", SslMode::Plain),
            ("require", SslMode::VerifyFull),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            let url = format!("postgres://auth:pw@db:5432/auth?sslmode={mode}&connect_timeout=3");
            assert_eq!(
                params(&url),
                TlsParams {
                    rest: "postgres://auth:pw@db:5432/auth?connect_timeout=3".into(),
                    mode: expected,
                    root_cert: None,
                },
                "{mode}"
            );
        }
        assert_eq!(params("postgres://db/auth").mode, SslMode::Plain);
        assert_eq!(
            params("postgresql://db/auth?sslmode=verify-full").rest,
            "postgresql://db/auth"
        );
    }

    #[test]
    fn sslrootcert_is_a_file_or_the_system_roots_and_is_decoded() {
        let taken = params(
            "postgres://db/auth?sslrootcert=%2Fetc%2Fauth%2Fdb%20ca.pem&sslmode=verify-ca&options=-c%20search_path%3Dauth",
        );
        assert_eq!(
            taken,
            TlsParams {
                rest: "postgres://db/auth?options=-c%20search_path%3Dauth".into(),
                mode: SslMode::VerifyCa,
                root_cert: Some(RootCert::File("/etc/auth/db ca.pem".into())),
            }
        );
        assert_eq!(
            params("postgres://db/auth?sslrootcert=system").root_cert,
            Some(RootCert::System)
        );
        assert!(matches!(
            take_tls_params("postgres://db/auth?sslrootcert="),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn the_last_occurrence_wins_as_in_libpq() {
        assert_eq!(
            params("postgres://db/a?sslmode=disable&sslmode=verify-full").mode,
            SslMode::VerifyFull
        );
        assert_eq!(
            params("host=db sslmode=verify-full sslmode=prefer").mode,
            SslMode::Plain
        );
    }

    #[test]
    fn key_value_strings_keep_everything_else_byte_for_byte() {
        assert_eq!(
            params(
                r"host=db  user=auth sslmode = 'verify-ca' password='it\'s' sslrootcert='/ca dir/ca.pem' dbname=auth"
            ),
            TlsParams {
                rest: r"host=db  user=auth  password='it\'s'  dbname=auth".into(),
                mode: SslMode::VerifyCa,
                root_cert: Some(RootCert::File("/ca dir/ca.pem".into())),
            }
        );
        assert_eq!(
            params(r"host=db sslrootcert=/ca\ dir/ca.pem").root_cert,
            Some(RootCert::File("/ca dir/ca.pem".into()))
        );
        assert_eq!(
            params("host=db sslmode=require"),
            TlsParams {
                rest: "host=db".into(),
                mode: SslMode::VerifyFull,
                root_cert: None,
            }
        );
    }

    #[test]
    fn the_query_is_found_as_tokio_postgres_finds_it() {
        // A `?` in the password is no query; an encoded key is still the key.
        assert_eq!(
            params("postgres://u:pa?ss@db/auth?ssl%6Dode=verify-full"),
            TlsParams {
                rest: "postgres://u:pa?ss@db/auth".into(),
                mode: SslMode::VerifyFull,
                root_cert: None,
            }
        );
        assert_eq!(
            params("postgres://u:pa?sslmode=disable@db/auth").rest,
            "postgres://u:pa?sslmode=disable@db/auth"
        );
    }

    #[test]
    fn sslrootcert_without_sslmode_means_verify_full() {
        assert_eq!(
            params("postgres://db/auth?sslrootcert=system").mode,
            SslMode::VerifyFull
        );
        assert_eq!(
            params("host=db sslrootcert=/ca.pem sslmode=disable").mode,
            SslMode::Plain
        );
    }

    #[test]
    fn an_unknown_mode_is_a_configuration_error_naming_the_choices() {
        for connection in [
            "postgres://db/auth?sslmode=verify",
            "host=db sslmode=REQUIRE",
        ] {
            let refused = take_tls_params(connection);
            assert!(
                matches!(&refused, Err(Error::Config(why)) if why.contains("verify-full")),
                "{connection}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_string_that_does_not_tokenise_is_handed_on_unchanged() {
        for broken in ["host=db sslmode", "host='db", "=x"] {
            assert_eq!(
                params(broken),
                TlsParams {
                    rest: broken.into(),
                    mode: SslMode::Plain,
                    root_cert: None,
                }
            );
        }
    }
}
