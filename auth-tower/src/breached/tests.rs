#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use auth_core::password::{BreachCheckFailure, PasswordConfig, PasswordService, PwnedRangeCheck};
use auth_core::secrecy::SecretString;
use auth_core::{Error, PasswordRejection};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::*;

/// SHA-1("password") = 5BAA6 1E4C9B93F3F0682250B6CF8331B7EE68FD8.
const PASSWORD_RANGE: &str = "0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n\
                              1E4C9B93F3F0682250B6CF8331B7EE68FD8:3861493\r\n\
                              1E4C9B93F3F0682250B6CF8331B7EE68FD9:0\r\n";

/// A local server speaking the range API: answers every connection with `status` and `body`
/// and reports each request head it read.
async fn range_server(
    status: &'static str,
    body: &'static str,
) -> (String, mpsc::UnboundedReceiver<String>) {
    crate::fetch::answering(status, body.to_owned(), std::time::Duration::ZERO).await
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

#[tokio::test]
async fn only_the_prefix_is_sent_with_padding_requested() {
    let (base, mut heads) = range_server("200 OK", PASSWORD_RANGE).await;
    let source = HibpRangeSource::new(&base).unwrap();
    let body = source.fetch_range("5BAA6").await.unwrap();
    assert_eq!(body, PASSWORD_RANGE);
    let head = heads.recv().await.unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /range/5baa6 http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nadd-padding: true\r\n"), "{head}");
    assert!(
        !head.contains("1e4c9b93"),
        "the suffix must never leave the process"
    );
}

fn sha1_hex(password: &str) -> String {
    use sha1::Digest as _;
    sha1::Sha1::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[tokio::test]
async fn a_breached_password_is_refused_at_registration_through_the_api() {
    let breached = "correct horse battery staple";
    let digest = sha1_hex(breached);
    let body = format!(
        "{}:42\r\n0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n",
        &digest[5..]
    );
    let (base, mut heads) = range_server("200 OK", body.leak()).await;
    let check = PwnedRangeCheck::new(HibpRangeSource::new(&base).unwrap());
    let passwords =
        PasswordService::with_breach_check(PasswordConfig::default(), Arc::new(check)).unwrap();

    let error = passwords
        .hash_new_password(&secret(breached), &[])
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::WeakPassword(PasswordRejection::Breached)
    ));
    let head = heads.recv().await.unwrap();
    assert!(
        head.starts_with(&format!("GET /range/{} ", &digest[..5])),
        "{head}"
    );

    // Another password in a range that does not list it is accepted.
    assert!(
        passwords
            .hash_new_password(&secret("a perfectly unknown passphrase"), &[])
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_password_in_the_range_is_reported_breached() {
    let (base, _heads) = range_server("200 OK", PASSWORD_RANGE).await;
    let check = PwnedRangeCheck::new(HibpRangeSource::new(&base).unwrap());
    let password = auth_core::password::NormalizedPassword::new("password");
    assert_eq!(check.breach_count(&password).await.unwrap(), 3_861_493);
}

#[tokio::test]
async fn an_error_status_is_unavailable() {
    let (base, _heads) = range_server("503 Service Unavailable", "busy").await;
    let source = HibpRangeSource::new(&base).unwrap();
    let error = source.fetch_range("5BAA6").await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let source = HibpRangeSource::new(&base).unwrap();
    let error = source.fetch_range("5BAA6").await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_unavailable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let _hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let source = HibpRangeSource::new(&base)
        .unwrap()
        .with_timeout(Duration::from_millis(200));
    let error = source.fetch_range("5BAA6").await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn an_unreachable_api_follows_the_refuse_policy() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let config = PasswordConfig {
        on_breach_check_failure: BreachCheckFailure::Refuse,
        ..PasswordConfig::default()
    };
    let check = PwnedRangeCheck::new(HibpRangeSource::new(&base).unwrap());
    let passwords = PasswordService::with_breach_check(config, Arc::new(check)).unwrap();
    let error = passwords
        .check_new_password(&secret("a perfectly unknown passphrase"), &[])
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::WeakPassword(PasswordRejection::BreachCheckUnavailable)
    ));
}

#[test]
fn base_urls_that_are_not_http_are_refused() {
    for url in [
        "",
        "ftp://example.com",
        "not a url",
        "https://",
        "https://example.com/?q=1",
    ] {
        assert!(
            matches!(HibpRangeSource::new(url), Err(Error::Config(_))),
            "{url}"
        );
    }
    assert!(HibpRangeSource::new("https://api.pwnedpasswords.com/").is_ok());
}

#[tokio::test]
async fn a_prefix_that_is_not_five_hex_digits_is_refused_before_any_request() {
    let source = HibpRangeSource::new("http://127.0.0.1:9").unwrap();
    for prefix in ["", "5BAA", "5BAA61", "../x", "ZZZZZ"] {
        assert!(
            matches!(source.fetch_range(prefix).await, Err(Error::Internal(_))),
            "{prefix}"
        );
    }
}
