//! The flows by email end to end: the built server sends through a real SMTP server
//! (Python's aiosmtpd on a loopback port, spooling to a Maildir), and every link and code is
//! read from that spool only.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::mail::*;
use common::*;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new tuba staple";

/// A server on a port chosen first (so `APP_URL` names it), mailing through `smtp`.
async fn mailing_server(smtp_url: &str, extra: &[(&str, &str)]) -> Server {
    let port = free_port().to_string();
    let app_url = format!("http://127.0.0.1:{port}");
    let mut vars = vec![
        ("PORT", port.as_str()),
        ("SMTP_URL", smtp_url),
        ("MAIL_FROM", "Acme <auth@acme.example>"),
        ("APP_URL", app_url.as_str()),
        ("PRODUCT_NAME", "Acme"),
    ];
    vars.extend_from_slice(extra);
    start_with(&vars).await
}

/// A private SMTP server and a server mailing through it.
async fn smtp_and_server() -> (PrivateSmtp, Server) {
    let smtp = tokio::task::spawn_blocking(PrivateSmtp::start)
        .await
        .unwrap();
    let server = mailing_server(&smtp.url(), &[]).await;
    (smtp, server)
}

fn credentials(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

/// Registers `email` (verification required), verifies it from the mail, and signs in.
async fn verified_account(
    port: u16,
    smtp: &PrivateSmtp,
    email: &str,
    seen: &mut Vec<String>,
) -> Answer {
    let registered = post_json(
        port,
        "/v1/auth/register",
        &credentials(email, PASSWORD),
        None,
    )
    .await;
    assert_eq!(registered.status, 202, "{:?}", registered.body);
    let (_, token) = next_mail(smtp, email, seen).await.link();
    let verified = post_json(
        port,
        "/v1/auth/email/verify",
        &json!({"token": token}),
        None,
    )
    .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    let login = post_json(port, "/v1/auth/login", &credentials(email, PASSWORD), None).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    login
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_verify_from_the_page_and_sign_in() {
    if !require(Need::PythonAiosmtpd) {
        return;
    }
    // An API-only deployment: links open the API's own pages (with the hosted pages on, they
    // open those; tests/ui.rs follows them).
    let smtp = tokio::task::spawn_blocking(PrivateSmtp::start)
        .await
        .unwrap();
    let mut server = mailing_server(&smtp.url(), &[("UI_ENABLED", "false")]).await;
    let port = server.port;
    let mut seen = Vec::new();
    let email = format!("ada-{}@example.com", uuid_hex());

    let new = post_json(
        port,
        "/v1/auth/register",
        &credentials(&email, PASSWORD),
        None,
    )
    .await;
    let taken = post_json(
        port,
        "/v1/auth/register",
        &credentials(&email, "another long password"),
        None,
    )
    .await;
    assert_eq!((new.status, taken.status), (202, 202));
    assert_eq!(new.raw_body, r#"{"status":"verification_sent"}"#);
    assert_eq!(
        new.raw_body, taken.raw_body,
        "a taken address answers byte for byte alike"
    );
    let mails = next_mails(&smtp, &email, &mut seen, Duration::from_secs(20)).await;
    let mails = if mails.len() == 2 {
        mails
    } else {
        let mut all = mails;
        all.extend(next_mails(&smtp, &email, &mut seen, Duration::from_secs(20)).await);
        all
    };
    assert_eq!(mails.len(), 2, "{mails:#?}");
    let verify = mails
        .iter()
        .find(|mail| mail.header("Subject").unwrap().starts_with("Verify"))
        .unwrap();
    let exists = mails
        .iter()
        .find(|mail| {
            mail.header("Subject")
                .unwrap()
                .starts_with("You already have")
        })
        .unwrap();
    assert!(!exists.text.contains("token="), "{}", exists.text);
    assert_eq!(verify.header("From").unwrap(), "Acme <auth@acme.example>");

    let refused = post_json(port, "/v1/auth/login", &credentials(&email, PASSWORD), None).await;
    assert_eq!(
        (refused.status, refused.body["error"].as_str()),
        (403, Some("email_unverified"))
    );

    // Opening the page (twice: a scanner, then the person) uses nothing.
    let (path, token) = verify.link();
    assert!(path.starts_with("/v1/auth/email/verify?token="), "{path}");
    for _ in 0..2 {
        let page = send(port, "GET", &path, &[], b"").await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        assert!(
            page.head.contains("content-type: text/html"),
            "{}",
            page.head
        );
        assert!(
            page.head.contains("referrer-policy: no-referrer"),
            "{}",
            page.head
        );
        assert!(
            page.head.contains("cache-control: no-store"),
            "{}",
            page.head
        );
        assert!(
            page.raw_body.contains("<form method=\"post\""),
            "{}",
            page.raw_body
        );
    }
    let done = post_form(port, "/v1/auth/email/verify", &[("token", &token)]).await;
    assert_eq!(done.status, 200, "{}", done.raw_body);
    assert!(
        done.raw_body.contains("Address verified"),
        "{}",
        done.raw_body
    );
    let again = post_form(port, "/v1/auth/email/verify", &[("token", &token)]).await;
    assert_eq!(again.status, 410, "{}", again.raw_body);
    let page = send(port, "GET", &path, &[], b"").await;
    assert_eq!(page.status, 410, "a used link's page says so");
    let json_again = post_json(
        port,
        "/v1/auth/email/verify",
        &json!({"token": token}),
        None,
    )
    .await;
    assert_eq!(
        (json_again.status, json_again.body["error"].as_str()),
        (410, Some("intent_invalid"))
    );

    let login = post_json(port, "/v1/auth/login", &credentials(&email, PASSWORD), None).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    // The request log names the route, never the address with the token.
    let logs = terminate_and_collect_logs(&mut server).await;
    assert!(logs.contains("/v1/auth/email/verify"), "{logs}");
    assert!(!logs.contains(&token), "the token is in the log: {logs}");
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_from_the_mail_ends_the_old_sessions_and_the_old_password() {
    if !require(Need::PythonAiosmtpd) {
        return;
    }
    let (smtp, server) = smtp_and_server().await;
    let port = server.port;
    let mut seen = Vec::new();
    let email = format!("erin-{}@example.com", uuid_hex());
    let before = verified_account(port, &smtp, &email, &mut seen).await;

    let forgot = post_json(
        port,
        "/v1/auth/password/forgot",
        &json!({"email": email}),
        None,
    )
    .await;
    assert_eq!(forgot.status, 202);
    let (path, token) = next_mail(&smtp, &email, &mut seen).await.link();
    let page = send(port, "GET", &path, &[], b"").await;
    assert_eq!(page.status, 200);
    assert!(
        page.raw_body.contains("name=\"new_password\""),
        "{}",
        page.raw_body
    );

    let weak = post_json(
        port,
        "/v1/auth/password/reset",
        &json!({"token": token, "new_password": "short"}),
        None,
    )
    .await;
    assert_eq!(
        (weak.status, weak.body["error"].as_str()),
        (422, Some("weak_password"))
    );
    let reset = post_json(
        port,
        "/v1/auth/password/reset",
        &json!({"token": token, "new_password": NEW_PASSWORD}),
        None,
    )
    .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    assert_eq!(reset.body["status"], "password_reset");

    let refresh = post_json(
        port,
        "/v1/auth/refresh",
        &json!({"refresh_token": before.body["refresh_token"]}),
        None,
    )
    .await;
    assert_eq!(
        refresh.status, 401,
        "the old session's refresh token is dead"
    );
    let me = get_json(port, "/v1/auth/me", before.body["access_token"].as_str()).await;
    assert_eq!(me.status, 401, "and its access token");
    let old = post_json(port, "/v1/auth/login", &credentials(&email, PASSWORD), None).await;
    assert_eq!(old.status, 401);
    let new = post_json(
        port,
        "/v1/auth/login",
        &credentials(&email, NEW_PASSWORD),
        None,
    )
    .await;
    assert_eq!(new.status, 200);
    let notice = next_mail(&smtp, &email, &mut seen).await;
    assert_eq!(
        notice.header("Subject").unwrap(),
        "Your Acme password was changed"
    );

    let reused = post_json(
        port,
        "/v1/auth/password/reset",
        &json!({"token": token, "new_password": "yet another fine password"}),
        None,
    )
    .await;
    assert_eq!(
        (reused.status, reused.body["error"].as_str()),
        (410, Some("intent_invalid"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_of_an_account_with_a_second_factor_needs_the_factor() {
    if !require(Need::PythonAiosmtpd) {
        return;
    }
    let (smtp, server) = smtp_and_server().await;
    let port = server.port;
    let mut seen = Vec::new();
    let email = format!("gus-{}@example.com", uuid_hex());
    let login = verified_account(port, &smtp, &email, &mut seen).await;
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    let secret = enable_totp(port, &access).await;
    let notice = next_mail(&smtp, &email, &mut seen).await;
    assert!(
        notice
            .header("Subject")
            .unwrap()
            .starts_with("A second factor was added")
    );

    post_json(
        port,
        "/v1/auth/password/forgot",
        &json!({"email": email}),
        None,
    )
    .await;
    let (_, token) = next_mail(&smtp, &email, &mut seen).await.link();
    let without = post_json(
        port,
        "/v1/auth/password/reset",
        &json!({"token": token, "new_password": NEW_PASSWORD}),
        None,
    )
    .await;
    assert_eq!(
        (without.status, without.body["error"].as_str()),
        (403, Some("mfa_required"))
    );
    let wrong = post_json(
        port,
        "/v1/auth/password/reset",
        &json!({"token": token, "new_password": NEW_PASSWORD, "code": "000000"}),
        None,
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.body["error"].as_str()),
        (401, Some("invalid_credentials"))
    );
    // The next step's code: the confirmation spent this step's.
    let right = post_json(
        port,
        "/v1/auth/password/reset",
        &json!({"token": token, "new_password": NEW_PASSWORD, "code": totp_code_in(&secret, 1)}),
        None,
    )
    .await;
    assert_eq!(right.status, 200, "{:?}", right.body);
    let challenged = post_json(
        port,
        "/v1/auth/login",
        &credentials(&email, NEW_PASSWORD),
        None,
    )
    .await;
    assert_eq!(challenged.body["mfa_required"], true, "the factor stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_by_code_with_the_request_id_and_by_link() {
    if !require(Need::PythonAiosmtpd) {
        return;
    }
    let (smtp, server) = smtp_and_server().await;
    let port = server.port;
    let mut seen = Vec::new();
    let email = format!("hal-{}@example.com", uuid_hex());
    verified_account(port, &smtp, &email, &mut seen).await;

    let asked = post_json(port, "/v1/auth/login/email", &json!({"email": email}), None).await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    let request_id = asked.body["request_id"].as_str().unwrap().to_owned();
    let mail = next_mail(&smtp, &email, &mut seen).await;
    let code = mail.code();
    let signed_in = post_json(
        port,
        "/v1/auth/login/email/verify",
        &json!({"request_id": request_id, "code": code}),
        None,
    )
    .await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let me = get_json(port, "/v1/auth/me", signed_in.body["access_token"].as_str()).await;
    assert_eq!(me.body["email"], email.as_str());
    let (_, link_token) = mail.link();
    let sibling = post_json(
        port,
        "/v1/auth/login/email/verify",
        &json!({"token": link_token}),
        None,
    )
    .await;
    assert_eq!(
        (sibling.status, sibling.body["error"].as_str()),
        (410, Some("intent_invalid"))
    );

    post_json(port, "/v1/auth/login/email", &json!({"email": email}), None).await;
    let (path, token) = next_mail(&smtp, &email, &mut seen).await.link();
    let page = send(port, "GET", &path, &[], b"").await;
    assert_eq!(page.status, 200, "opening the link signs no one in");
    let by_link = post_form(port, "/v1/auth/login/email/verify", &[("token", &token)]).await;
    assert_eq!(by_link.status, 200, "{}", by_link.raw_body);
    assert!(
        by_link.body["access_token"].is_string(),
        "{:?}",
        by_link.body
    );
    let neither = post_json(
        port,
        "/v1/auth/login/email/verify",
        &json!({"code": "123456"}),
        None,
    )
    .await;
    assert_eq!(
        (neither.status, neither.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_address_is_confirmed_and_undone_by_mail() {
    if !require(Need::PythonAiosmtpd) {
        return;
    }
    let (smtp, server) = smtp_and_server().await;
    let port = server.port;
    let mut seen = Vec::new();
    let email = format!("kim-{}@example.com", uuid_hex());
    let new_email = format!("kim-new-{}@example.com", uuid_hex());
    let login = verified_account(port, &smtp, &email, &mut seen).await;
    let access = login.body["access_token"].as_str().unwrap().to_owned();

    let asked = post_json(
        port,
        "/v1/auth/email/change",
        &json!({"new_email": new_email}),
        Some(&access),
    )
    .await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    let (_, token) = next_mail(&smtp, &new_email, &mut seen).await.link();
    let confirmed = post_json(
        port,
        "/v1/auth/email/change/confirm",
        &json!({"token": token}),
        None,
    )
    .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let me = get_json(port, "/v1/auth/me", Some(&access)).await;
    assert_eq!(me.body["email"], new_email.as_str());

    let told = next_mail(&smtp, &email, &mut seen).await;
    assert!(told.text.contains(&new_email), "{}", told.text);
    let (path, undo) = told.link();
    let page = send(port, "GET", &path, &[], b"").await;
    assert_eq!(page.status, 200);
    let undone = post_form(port, "/v1/auth/email/change/confirm", &[("token", &undo)]).await;
    assert_eq!(undone.status, 200, "{}", undone.raw_body);
    let me = get_json(port, "/v1/auth/me", Some(&access)).await;
    assert_eq!(me.status, 401, "the undo ends every session");
    let back = post_json(port, "/v1/auth/login", &credentials(&email, PASSWORD), None).await;
    assert_eq!(back.status, 401, "the undo took the password away");
    // The owner, at the old address again, sets a new one.
    post_json(
        port,
        "/v1/auth/password/forgot",
        &json!({"email": email}),
        None,
    )
    .await;
    let (_, token) = next_mail(&smtp, &email, &mut seen).await.link();
    let reset = post_json(
        port,
        "/v1/auth/password/reset",
        &json!({"token": token, "new_password": NEW_PASSWORD}),
        None,
    )
    .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    let home = post_json(
        port,
        "/v1/auth/login",
        &credentials(&email, NEW_PASSWORD),
        None,
    )
    .await;
    assert_eq!(home.status, 200);
}

/// The routes that take an address answer byte for byte alike for a known and an unknown one
/// (the request id aside, which is random either way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_and_unknown_addresses_get_identical_answers() {
    if !require(Need::PythonAiosmtpd) {
        return;
    }
    let (smtp, server) = smtp_and_server().await;
    let port = server.port;
    let mut seen = Vec::new();
    let known = format!("known-{}@example.com", uuid_hex());
    let login = verified_account(port, &smtp, &known, &mut seen).await;
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    let other = format!("other-{}@example.com", uuid_hex());
    verified_account(port, &smtp, &other, &mut seen).await;
    let unknown = format!("unknown-{}@example.com", uuid_hex());

    for (path, field) in [
        ("/v1/auth/register", None),
        ("/v1/auth/password/forgot", None),
        ("/v1/auth/login/email", Some("request_id")),
    ] {
        let mut answers = Vec::new();
        for address in [&known, &unknown] {
            let body = if path.ends_with("register") {
                credentials(address, "some other long password")
            } else {
                json!({"email": address})
            };
            let answer = post_json(port, path, &body, None).await;
            let shown = match field {
                Some(field) => {
                    let id = answer.body[field].as_str().unwrap().to_owned();
                    assert_eq!(id.len(), 22, "{path}: {id}");
                    answer.raw_body.replace(&id, "<id>")
                }
                None => answer.raw_body.clone(),
            };
            answers.push((answer.status, shown));
        }
        assert_eq!(answers[0], answers[1], "{path}");
        assert_eq!(answers[0].0, 202, "{path}");
    }
    let mut answers = Vec::new();
    for address in [&other, &unknown] {
        let answer = post_json(
            port,
            "/v1/auth/email/change",
            &json!({"new_email": address}),
            Some(&access),
        )
        .await;
        answers.push((answer.status, answer.raw_body));
    }
    assert_eq!(answers[0], answers[1], "email/change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_down_requests_still_answer_and_the_mail_goes_once_it_is_back() {
    if !require(Need::PythonAiosmtpd) {
        return;
    }
    let smtp_port = free_port();
    let server = mailing_server(
        &format!("smtp://127.0.0.1:{smtp_port}"),
        &[("EMAIL_VERIFICATION", "off")],
    )
    .await;
    let port = server.port;
    let email = format!("max-{}@example.com", uuid_hex());
    let registered = post_json(
        port,
        "/v1/auth/register",
        &credentials(&email, PASSWORD),
        None,
    )
    .await;
    assert_eq!(registered.status, 201);
    for _ in 0..2 {
        let forgot = post_json(
            port,
            "/v1/auth/password/forgot",
            &json!({"email": email}),
            None,
        )
        .await;
        assert_eq!(
            forgot.status, 202,
            "SMTP is down; the request still answers"
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let smtp = tokio::task::spawn_blocking(move || PrivateSmtp::start_on(smtp_port))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut mails = next_mails(&smtp, &email, &mut seen, Duration::from_secs(40)).await;
    if mails.len() < 2 {
        mails.extend(next_mails(&smtp, &email, &mut seen, Duration::from_secs(40)).await);
    }
    assert_eq!(mails.len(), 2, "both waited and went: {mails:#?}");
    // Nothing goes twice: each Message-ID once, even after more rounds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ids: Vec<String> = smtp
        .mails()
        .iter()
        .map(|raw| parse(raw).header("Message-ID").unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "{ids:?}");
    assert_eq!(ids.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_committed_before_a_crash_goes_out_after_the_restart() {
    if !require(Need::PythonAiosmtpd) {
        return;
    }
    let Some(base) = auth_core::testing::needs::postgres_url() else {
        return;
    };
    let schema = format!("mail_{}", uuid_hex());
    let admin = tokio_postgres_connect(&base).await;
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let separator = if base.contains('?') { '&' } else { '?' };
    let database_url = format!("{base}{separator}options=-c%20search_path%3D{schema}");

    let smtp_port = free_port();
    let smtp_url = format!("smtp://127.0.0.1:{smtp_port}");
    let vars = [
        ("DATABASE_URL", database_url.as_str()),
        ("EMAIL_VERIFICATION", "off"),
    ];
    let mut server = mailing_server(&smtp_url, &vars).await;
    let email = format!("crash-{}@example.com", uuid_hex());
    let port = server.port;
    assert_eq!(
        post_json(
            port,
            "/v1/auth/register",
            &credentials(&email, PASSWORD),
            None
        )
        .await
        .status,
        201
    );
    assert_eq!(
        post_json(
            port,
            "/v1/auth/password/forgot",
            &json!({"email": email}),
            None
        )
        .await
        .status,
        202
    );
    // Killed with the mail committed and not sent (nothing listens for SMTP yet).
    server.child.kill().await.unwrap();

    let smtp = tokio::task::spawn_blocking(move || PrivateSmtp::start_on(smtp_port))
        .await
        .unwrap();
    let _restarted = mailing_server(&smtp_url, &vars).await;
    let mut seen = Vec::new();
    let mail = next_mail(&smtp, &email, &mut seen).await;
    assert!(
        mail.header("Subject")
            .unwrap()
            .starts_with("Reset your Acme password")
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.mails().len(), 1, "sent once");
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

async fn tokio_postgres_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_through_a_relay_that_requires_starttls_and_auth() {
    if !require_all(&[Need::PythonAiosmtpd, Need::Openssl]) {
        return;
    }
    let (smtp, ca) = tokio::task::spawn_blocking(|| {
        let ca = TestCa::new();
        (PrivateSmtp::start_secure(&ca, "mailer", "s3cret-pass"), ca)
    })
    .await
    .unwrap();
    let url = format!(
        "smtp://mailer:s3cret-pass@127.0.0.1:{}?tls=required",
        smtp.port
    );
    let ca_file = ca.cert.to_str().unwrap().to_owned();
    let server = mailing_server(
        &url,
        &[("SMTP_CA_FILE", &ca_file), ("EMAIL_VERIFICATION", "off")],
    )
    .await;
    let email = format!("tls-{}@example.com", uuid_hex());
    let forgot = post_json(
        server.port,
        "/v1/auth/password/forgot",
        &json!({"email": email}),
        None,
    )
    .await;
    assert_eq!(forgot.status, 202);
    let mut seen = Vec::new();
    let mail = next_mail(&smtp, &email, &mut seen).await;
    assert_eq!(mail.header("Subject").unwrap(), "Your request at Acme");
}

/// Links at the HTTP level: a newer one voids the older, a link of one purpose is nothing to
/// another route, and of concurrent uses of one link exactly one succeeds; each refusal is
/// `410 intent_invalid`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_are_voided_by_newer_ones_purpose_bound_and_used_once_under_concurrency() {
    if !require(Need::PythonAiosmtpd) {
        return;
    }
    let (smtp, server) = smtp_and_server().await;
    let port = server.port;
    let mut seen = Vec::new();
    let email = format!("ray-{}@example.com", uuid_hex());
    verified_account(port, &smtp, &email, &mut seen).await;
    let gone = |answer: &Answer| {
        (
            answer.status,
            answer.body["error"].as_str().map(str::to_owned),
        )
    };
    let intent_invalid = (410, Some("intent_invalid".to_owned()));

    post_json(
        port,
        "/v1/auth/password/forgot",
        &json!({"email": email}),
        None,
    )
    .await;
    let (_, older) = next_mail(&smtp, &email, &mut seen).await.link();
    post_json(
        port,
        "/v1/auth/password/forgot",
        &json!({"email": email}),
        None,
    )
    .await;
    let (_, newer) = next_mail(&smtp, &email, &mut seen).await.link();
    let voided = post_json(
        port,
        "/v1/auth/password/reset",
        &json!({"token": older, "new_password": NEW_PASSWORD}),
        None,
    )
    .await;
    assert_eq!(gone(&voided), intent_invalid, "the newer link voided it");

    for (path, body) in [
        ("/v1/auth/email/verify", json!({"token": newer})),
        ("/v1/auth/login/email/verify", json!({"token": newer})),
        ("/v1/auth/email/change/confirm", json!({"token": newer})),
    ] {
        let other = post_json(port, path, &body, None).await;
        assert_eq!(gone(&other), intent_invalid, "a reset link at {path}");
    }

    // Five at once: a link takes five tries (a sixth would spend it).
    let uses: Vec<_> = (0..5)
        .map(|_| {
            let newer = newer.clone();
            tokio::spawn(async move {
                post_json(
                    port,
                    "/v1/auth/password/reset",
                    &json!({"token": newer, "new_password": NEW_PASSWORD}),
                    None,
                )
                .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for used in uses {
        let answer = used.await.unwrap();
        if answer.status != 200 {
            assert_eq!(gone(&answer), intent_invalid);
        }
        statuses.push(answer.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
}
