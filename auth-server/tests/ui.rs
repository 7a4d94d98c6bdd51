//! The hosted pages in a real browser: Debian's Chromium, headless, driven over WebDriver by
//! chromedriver, with a virtual passkey authenticator from the WebDriver WebAuthn extension.
//! Every step clicks the pages' own buttons over real HTTP; the mail comes from the test's
//! SMTP server. Screenshots of the main pages go to `target/ui-screenshots/`.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::mail::{Mail, next_mails};
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new horse battery staple";
const THIRD_PASSWORD: &str = "yet another horse battery staple";

/// A chromedriver process and one browser session in it.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: TempDir,
}

/// A folder removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// WebDriver's name for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// chromedriver on a free port, and a headless Chromium session that reaches nothing but
    /// loopback (the flags that keep it off the network), with a fresh profile.
    async fn start() -> Self {
        Self::start_with_script(true).await
    }

    /// [`start`](Self::start), with JavaScript off when `script` is false.
    async fn start_with_script(script: bool) -> Self {
        let port = free_port();
        // In a process group of its own, so the browser it starts goes with it when the test
        // drops it (a test binary killed outright, by Ctrl-C for one, leaves the group running).
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("ui-test-profile-{}", uuid_hex()));
        std::fs::create_dir_all(&profile).unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    "--window-size=1100,1300",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": {
                    "profile.managed_default_content_settings.javascript": if script { 1 } else { 2 },
                },
            },
        }}});
        let created = wd(port, "POST", "/session", Some(&capabilities)).await;
        let session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        Self {
            driver,
            port,
            session,
            _profile: TempDir(profile),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        wd(self.port, method, &path, body).await
    }

    async fn go(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({"url": url}))).await;
    }

    async fn url(&self) -> String {
        self.call("GET", "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The element `css` selects, waiting (at most 10 s) for it to exist.
    async fn find(&self, css: &str) -> String {
        for _ in 0..100 {
            if let Some(id) = self.try_find(css).await {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no {css} on {} within 10 s:\n{}",
            self.url().await,
            self.text("body").await
        );
    }

    async fn try_find(&self, css: &str) -> Option<String> {
        let body = json!({"using": "css selector", "value": css});
        let found = self.call("POST", "/element", Some(&body)).await;
        found[ELEMENT].as_str().map(str::to_owned)
    }

    async fn count(&self, css: &str) -> usize {
        let body = json!({"using": "css selector", "value": css});
        let found = self.call("POST", "/elements", Some(&body)).await;
        found.as_array().map_or(0, Vec::len)
    }

    /// Does `action` (`click` or `value`, with `body`) on the element `css` selects, finding
    /// it again when it went stale under a page that was still changing.
    async fn act(&self, css: &str, action: &str, body: &Value) {
        for _ in 0..50 {
            let id = self.find(css).await;
            let done = self
                .call("POST", &format!("/element/{id}/{action}"), Some(body))
                .await;
            if done["missing"] != true {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} kept going stale");
    }

    async fn click(&self, css: &str) {
        self.act(css, "click", &json!({})).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.act(css, "value", &json!({"text": text})).await;
    }

    /// The text of `css` now, empty if there is no such element (yet).
    async fn text(&self, css: &str) -> String {
        let Some(id) = self.try_find(css).await else {
            return String::new();
        };
        let text = self.call("GET", &format!("/element/{id}/text"), None).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// The text of `css`, once there is such an element (at most 10 s): what a step reads
    /// from the page its click leads to, which may still be loading.
    async fn read(&self, css: &str) -> String {
        let id = self.find(css).await;
        let text = self.call("GET", &format!("/element/{id}/text"), None).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Waits (at most 15 s) until the text of `css` holds `needle`.
    async fn wait_for_text(&self, css: &str, needle: &str) {
        for _ in 0..150 {
            if self.text(css).await.contains(needle) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no {needle:?} in {css} at {} after 15 s:\n{}",
            self.url().await,
            self.text("body").await
        );
    }

    /// Waits (at most 15 s) until the address ends with `path`, and says where it was.
    async fn wait_for_path(&self, path: &str) {
        for _ in 0..150 {
            let url = self.url().await;
            if url.split_once("://").is_some_and(|(_, rest)| {
                rest.split_once('/')
                    .is_some_and(|(_, p)| format!("/{p}") == path)
            }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "still at {} after 15 s, waiting for {path}:\n{}",
            self.url().await,
            self.text("body").await
        );
    }

    async fn screenshot(&self, name: &str) {
        let shot = self.call("GET", "/screenshot", None).await;
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            shot.as_str().unwrap(),
        )
        .unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// A virtual platform authenticator (CTAP2, internal transport, resident keys, user
    /// verification that succeeds): its id.
    async fn add_authenticator(&self) -> String {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        let id = self
            .call("POST", "/webauthn/authenticator", Some(&options))
            .await;
        id.as_str()
            .unwrap_or_else(|| panic!("no authenticator: {id}"))
            .to_owned()
    }

    /// The credentials the virtual authenticator holds.
    async fn credentials(&self, authenticator: &str) -> Vec<Value> {
        let listed = self
            .call(
                "GET",
                &format!("/webauthn/authenticator/{authenticator}/credentials"),
                None,
            )
            .await;
        listed.as_array().cloned().unwrap_or_default()
    }

    async fn remove_authenticator(&self, authenticator: &str) {
        self.call(
            "DELETE",
            &format!("/webauthn/authenticator/{authenticator}"),
            None,
        )
        .await;
    }

    /// Gives `authenticator` a credential another one held (its key, user handle and count).
    async fn add_credential(&self, authenticator: &str, credential: &Value) {
        let body = json!({
            "credentialId": credential["credentialId"],
            "isResidentCredential": true,
            "rpId": credential["rpId"],
            "privateKey": credential["privateKey"],
            "userHandle": credential["userHandle"],
            "signCount": credential["signCount"],
        });
        self.call(
            "POST",
            &format!("/webauthn/authenticator/{authenticator}/credential"),
            Some(&body),
        )
        .await;
    }

    async fn cookie(&self, name: &str) -> Option<String> {
        let cookie = self.call("GET", &format!("/cookie/{name}"), None).await;
        cookie["value"].as_str().map(str::to_owned)
    }
}

impl Drop for Browser {
    /// Stops chromedriver and the browser with it: killed alone, chromedriver would leave
    /// Chromium's processes running after the test.
    fn drop(&mut self) {
        if let Some(group) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.driver.start_kill();
    }
}

/// One WebDriver call: its `value`; an error answer is a test failure. chromedriver keeps
/// connections open whatever the request says, so the answer is read to its length.
async fn wd(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json; \
         charset=utf-8\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let (status, answer) = loop {
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "chromedriver closed the connection");
        raw.extend_from_slice(&chunk[..read]);
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |n| n.trim().parse().unwrap());
        if raw.len() >= end + 4 + length {
            let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
            let body: Value = serde_json::from_slice(&raw[end + 4..end + 4 + length]).unwrap();
            break (status, body);
        }
    };
    let value = answer["value"].clone();
    if status != 200 {
        // An element not found, or gone with the page it was on (a navigation between the
        // find and the use, which chromedriver reports as stale or, in a race with the new
        // document, as a node of another document), is an answer, not a failure: the
        // callers look again.
        let message = value["message"].as_str().unwrap_or_default();
        if value["error"] == "no such element"
            || value["error"] == "stale element reference"
            || message.contains("does not belong to the document")
            || message.contains("No node with given id")
        {
            return json!({"missing": true});
        }
        panic!("WebDriver {method} {path}: {status} {value}");
    }
    value
}

/// The browser: `AUTH_TEST_CHROMIUM`, else `chromium` from the `PATH`.
fn chromium() -> String {
    if let Some(browser) = std::env::var_os("AUTH_TEST_CHROMIUM") {
        return browser.to_string_lossy().into_owned();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .expect("chromium on the PATH (the test's need says so)")
        .to_string_lossy()
        .into_owned()
}

fn screenshot_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("ui-screenshots")
}

/// The server with passkeys on `http://localhost:<port>` (a secure context) and mail to
/// `smtp`, and `extra`.
async fn server(smtp: &PrivateSmtp, extra: &[(&str, &str)]) -> Server {
    let port = free_port().to_string();
    let origin = format!("http://localhost:{port}");
    let mut vars = vec![
        ("PORT", port.as_str()),
        ("APP_URL", origin.as_str()),
        ("PASSKEY_RP_ID", "localhost"),
        ("PRODUCT_NAME", "Acme"),
        ("MAIL_FROM", "Acme <auth@acme.example>"),
    ];
    let smtp_url = smtp.url();
    vars.push(("SMTP_URL", smtp_url.as_str()));
    vars.extend_from_slice(extra);
    start_with(&vars).await
}

/// The next mail to `to` whose subject starts with `subject` (notices of added factors come
/// in between).
async fn mail_about(smtp: &PrivateSmtp, to: &str, seen: &mut Vec<String>, subject: &str) -> Mail {
    loop {
        let mails = next_mails(smtp, to, seen, Duration::from_secs(20)).await;
        if let Some(mail) = mails.into_iter().find(|mail| {
            mail.header("Subject")
                .is_some_and(|s| s.starts_with(subject))
        }) {
            return mail;
        }
    }
}

fn sign_count(credentials: &[Value]) -> u64 {
    credentials[0]["signCount"].as_u64().unwrap()
}

/// The whole path of an account through the pages: register with a password, add a
/// passkey, sign out, sign in with the passkey alone from the username field's autofill,
/// the account page; then password plus passkey as the second factor; then a password reset
/// from the mailed link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_lives_through_the_pages_with_a_passkey() {
    if !require_all(&[Need::Chromium, Need::PythonAiosmtpd]) {
        return;
    }
    // The whole walk is one large future: on the heap, not the test thread's stack.
    Box::pin(account_walk()).await;
}

async fn account_walk() {
    let smtp = tokio::task::spawn_blocking(PrivateSmtp::start)
        .await
        .unwrap();
    let server = server(&smtp, &[]).await;
    let base = format!("http://localhost:{}", server.port);
    let browser = Browser::start().await;
    let authenticator = browser.add_authenticator().await;
    let email = format!("ada-{}@example.com", uuid_hex());
    let mut seen = Vec::new();

    // Register with a password; the address is verified from the mailed link's page (its
    // button, not the opening, verifies); then sign in with the password.
    browser.go(&format!("{base}/ui/register")).await;
    browser.type_into("#email", &email).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#register").await;
    browser.wait_for_text("h1", "Check your mail").await;
    let mail = mail_about(&smtp, &email, &mut seen, "Verify").await;
    let (path, token) = mail.link();
    assert!(path.starts_with("/ui/verify-email?token="), "{path}");
    // A link mailed before the pages were on opens the API's page, which posts back to the
    // API's own route.
    let api_page = send(
        server.port,
        "GET",
        &format!("/v1/auth/email/verify?token={token}"),
        &[],
        b"",
    )
    .await;
    assert!(
        api_page
            .raw_body
            .contains(&format!("action=\"{base}/v1/auth/email/verify\"")),
        "{}",
        api_page.raw_body
    );
    browser.go(&format!("{base}{path}")).await;
    browser.click("#confirm").await;
    browser.wait_for_text("h1", "Address verified").await;
    browser.click("a.button").await;
    browser.wait_for_path("/ui/sign-in").await;
    browser.type_into("#email", &email).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_path("/ui/account").await;
    assert_eq!(browser.read("#account-email").await, email);
    let cookie = browser.cookie("__Host-auth_session").await;
    assert!(cookie.is_some(), "the session is in its cookie");

    // Add a passkey: the page's script runs the ceremony with the virtual authenticator.
    assert!(browser.credentials(&authenticator).await.is_empty());
    browser.type_into("#passkey-name", "Test laptop").await;
    browser.click("#passkey-add").await;
    browser
        .wait_for_path("/ui/account?done=passkey_added")
        .await;
    let credentials = browser.credentials(&authenticator).await;
    assert_eq!(credentials.len(), 1, "the authenticator holds one passkey");
    assert_eq!(credentials[0]["isResidentCredential"], true);
    assert!(browser.read("tr.passkey").await.contains("Test laptop"));
    let count_after_registration = sign_count(&credentials);

    // Sign out. The sign-in page's username field offers the passkey in its autofill
    // (conditional mediation), and the virtual authenticator, standing in for the person
    // picking it, takes it at once: signed in again with the passkey alone.
    let before = browser.cookie("__Host-auth_session").await.unwrap();
    browser.click("#sign-out").await;
    browser.wait_for_path("/ui/account").await;
    let after_passkey = sign_count(&browser.credentials(&authenticator).await);
    assert!(
        after_passkey > count_after_registration,
        "the sign-in used the passkey: its counter moved ({count_after_registration} -> {after_passkey})"
    );
    let now = browser.cookie("__Host-auth_session").await.unwrap();
    assert_ne!(before, now, "a new session, in a new cookie");
    assert_eq!(
        browser.count("tr.session").await,
        1,
        "the session signed out of is gone from the list"
    );
    let old = send(
        server.port,
        "GET",
        "/ui/account",
        &[&format!("cookie: __Host-auth_session={before}")],
        b"",
    )
    .await;
    assert_eq!(old.status, 303, "the old cookie opens nothing");
    let session_row = browser.read("tr[aria-current=true]").await;
    assert!(
        session_row.contains("Chrome (headless) on Linux"),
        "{session_row}"
    );
    // The browser reaches `localhost` over IPv6 or IPv4 loopback.
    assert!(
        session_row.contains("::1") || session_row.contains("127.0.0.1"),
        "the client's address: {session_row}"
    );
    browser.screenshot("account").await;

    // Two-step sign-in with an authenticator app, from the account page (the passkey
    // sign-in just now makes the session fresh enough).
    browser.click("#enable-totp").await;
    let secret = browser.read("#totp-secret").await;
    browser.type_into("#code", &totp_code_in(&secret, 0)).await;
    browser.click("#confirm-totp").await;
    browser.wait_for_text("h1", "Your recovery codes").await;
    assert_eq!(browser.count("#recovery-codes li").await, 10);
    let recovery_code = browser.read("#recovery-codes li").await;

    // Password, then the passkey as the second factor. The authenticator leaves the
    // browser first, so the autofill has nothing to offer (the person ignores it), and
    // comes back, holding the same passkey, for the second factor.
    let passkey = browser.credentials(&authenticator).await.remove(0);
    browser.remove_authenticator(&authenticator).await;
    browser.go(&format!("{base}/ui/account")).await;
    browser.click("#sign-out").await;
    browser.wait_for_path("/ui/sign-in?signed_out=1").await;
    browser.wait_for_text("main", "You are signed out").await;
    browser.screenshot("sign-in").await;
    browser.type_into("#email", &email).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser
        .wait_for_path("/ui/sign-in/second-factor?factors=passkey%2Ctotp%2Crecovery_code")
        .await;
    browser.find("#passkey-second-factor").await;
    browser.screenshot("second-factor").await;
    let authenticator = browser.add_authenticator().await;
    browser.add_credential(&authenticator, &passkey).await;
    browser.click("#passkey-second-factor").await;
    browser.wait_for_path("/ui/account").await;
    let after_second_factor = sign_count(&browser.credentials(&authenticator).await);
    assert!(
        after_second_factor > after_passkey,
        "the second factor used the passkey ({after_passkey} -> {after_second_factor})"
    );

    // Forgot the password: the link from the mail opens the reset page, which takes the
    // new password and the authenticator code. (The passkey, as the authenticator holds it
    // now, is kept for later.)
    let passkey = browser.credentials(&authenticator).await.remove(0);
    browser.remove_authenticator(&authenticator).await;
    browser.click("#sign-out").await;
    browser.wait_for_path("/ui/sign-in?signed_out=1").await;
    browser.go(&format!("{base}/ui/forgot-password")).await;
    browser.type_into("#email", &email).await;
    browser.click("#send-reset").await;
    browser.wait_for_text("h1", "Check your mail").await;
    let mail = mail_about(&smtp, &email, &mut seen, "Reset").await;
    let (path, _) = mail.link();
    assert!(path.starts_with("/ui/reset-password?token="), "{path}");
    browser.go(&format!("{base}{path}")).await;
    browser.type_into("#new_password", NEW_PASSWORD).await;
    // The code of the next step: the one of this step may be spent already.
    browser.type_into("#code", &totp_code_in(&secret, 1)).await;
    browser.click("#reset").await;
    browser.wait_for_text("h1", "Password changed").await;

    // The new password works, and still asks for the second factor: a recovery code (this
    // step's and the next's TOTP codes are spent).
    browser.go(&format!("{base}/ui/sign-in")).await;
    browser.type_into("#email", &email).await;
    browser.type_into("#password", NEW_PASSWORD).await;
    browser.click("#sign-in").await;
    browser.type_into("#code", &recovery_code).await;
    browser.click("#verify").await;
    browser.wait_for_path("/ui/account").await;
    assert_eq!(browser.read("#account-email").await, email);

    // Forgot it again: this time the reset's second factor is the passkey.
    browser.click("#sign-out").await;
    browser.wait_for_path("/ui/sign-in?signed_out=1").await;
    browser.go(&format!("{base}/ui/forgot-password")).await;
    browser.type_into("#email", &email).await;
    browser.click("#send-reset").await;
    browser.wait_for_text("h1", "Check your mail").await;
    let mail = mail_about(&smtp, &email, &mut seen, "Reset").await;
    let (path, _) = mail.link();
    browser.go(&format!("{base}{path}")).await;
    let authenticator = browser.add_authenticator().await;
    browser.add_credential(&authenticator, &passkey).await;
    browser.type_into("#new_password", THIRD_PASSWORD).await;
    browser.click("#passkey-reset").await;
    // On to the sign-in page, whose autofill signs in with the passkey at once.
    browser.wait_for_path("/ui/account").await;
    let after_reset = sign_count(&browser.credentials(&authenticator).await);
    assert!(
        after_reset >= after_second_factor + 2,
        "the reset and the sign-in after it each used the passkey ({after_second_factor} -> {after_reset})"
    );
    let login = post_json(
        server.port,
        "/v1/auth/login",
        &json!({"email": email, "password": THIRD_PASSWORD}),
        None,
    )
    .await;
    assert_eq!(
        login.status, 200,
        "the password is the one set: {:?}",
        login.body
    );
    assert!(login.body["mfa_token"].is_string());
}

/// What a signed-in browser session is over raw HTTP: its cookies and the token its pages
/// carry.
struct RawSession {
    cookies: String,
    token: String,
}

/// The `name=value` pairs of a response's `Set-Cookie` headers that set a value.
fn set_cookies(raw_head: &str) -> Vec<String> {
    raw_head
        .lines()
        .filter_map(|line| line.strip_prefix("set-cookie: "))
        .filter_map(|cookie| cookie.split(';').next())
        .filter(|pair| !pair.ends_with('='))
        .map(str::to_owned)
        .collect()
}

/// The CSRF token a page renders.
fn page_token(html: &str) -> String {
    let start = html.find("name=\"csrf-token\" content=\"").unwrap() + 27;
    html[start..].split('"').next().unwrap().to_owned()
}

/// Registers `email` through the pages over raw HTTP: the session's cookies and token.
async fn raw_session(port: u16, email: &str) -> RawSession {
    let page = send(port, "GET", "/ui/register", &[], b"").await;
    let pre = set_cookies(&page.raw_head).join("; ");
    let token = page_token(&page.raw_body);
    let form = common::mail::form(&[
        ("csrf_token", &token),
        ("email", email),
        ("password", PASSWORD),
    ]);
    let cookie = format!("cookie: {pre}");
    let registered = send(
        port,
        "POST",
        "/ui/register",
        &[&cookie, "content-type: application/x-www-form-urlencoded"],
        form.as_bytes(),
    )
    .await;
    assert_eq!(registered.status, 303, "{}", registered.raw_body);
    let session = set_cookies(&registered.raw_head);
    assert!(
        session[0].starts_with("__Host-auth_session="),
        "{session:?}"
    );
    let cookies = format!("{pre}; {}", session[0]);
    let account = send(
        port,
        "GET",
        "/ui/account",
        &[&format!("cookie: {cookies}")],
        b"",
    )
    .await;
    assert_eq!(account.status, 200, "{}", account.raw_body);
    RawSession {
        cookies,
        token: page_token(&account.raw_body),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_another_session_and_a_text_plain_post_are_refused() {
    let server = start().await;
    let port = server.port;
    let ada = raw_session(port, &format!("ada-{}@example.com", uuid_hex())).await;
    let bob = raw_session(port, &format!("bob-{}@example.com", uuid_hex())).await;
    assert_ne!(ada.token, bob.token);

    let post = |session: &RawSession, token: &str| {
        let cookie = format!("cookie: {}", session.cookies);
        let form = common::mail::form(&[("csrf_token", token), ("new_email", "x@example.com")]);
        async move {
            send(
                port,
                "POST",
                "/ui/account/email",
                &[&cookie, "content-type: application/x-www-form-urlencoded"],
                form.as_bytes(),
            )
            .await
        }
    };
    let crossed = post(&ada, &bob.token).await;
    assert_eq!(crossed.status, 403, "{}", crossed.raw_body);
    assert!(
        crossed.raw_body.contains("This form expired"),
        "a form gets a page: {}",
        crossed.raw_body
    );
    let own = post(&ada, &ada.token).await;
    assert_eq!(own.status, 303, "{}", own.raw_body);

    // A cookie-authenticated JSON call sent as text/plain (what a cross-site form or a
    // no-cors fetch can send without a preflight): refused without the header, and refused
    // as not JSON with it.
    let cookie = format!("cookie: {}", ada.cookies);
    let plain = send(
        port,
        "POST",
        "/ui/passkeys/register/options",
        &[&cookie, "content-type: text/plain"],
        b"{}",
    )
    .await;
    assert_eq!(plain.status, 403, "{}", plain.raw_body);
    assert_eq!(plain.body["error"], "csrf_failed");
    let header = format!("x-csrf-token: {}", ada.token);
    let plain = send(
        port,
        "POST",
        "/ui/passkeys/register/options",
        &[&cookie, &header, "content-type: text/plain"],
        b"{}",
    )
    .await;
    assert_eq!(plain.status, 415, "{}", plain.raw_body);
}

/// A page on another site (`127.0.0.1` is not `localhost`) whose form posts to the server
/// on load, as a cross-site request forgery would.
async fn attacker_page(target: String) -> u16 {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let html = format!(
        "<!doctype html><html><body>\
         <form id=\"f\" method=\"post\" action=\"{target}\">\
         <input name=\"csrf_token\" value=\"guessed\">\
         <input name=\"new_email\" value=\"mallory@example.com\"></form>\
         <script>document.getElementById('f').submit()</script></body></html>"
    );
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer).await;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    port
}

/// With `SameSite=None` (so the browser does send the session cookie with another site's
/// post), the CSRF check alone refuses the forged post.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_post_is_refused_by_the_csrf_check_itself() {
    if !require_all(&[Need::Chromium, Need::PythonAiosmtpd]) {
        return;
    }
    Box::pin(cross_site_post()).await;
}

async fn cross_site_post() {
    let smtp = tokio::task::spawn_blocking(PrivateSmtp::start)
        .await
        .unwrap();
    let mut server = server(
        &smtp,
        &[
            ("UI_COOKIE_SAMESITE", "none"),
            ("EMAIL_VERIFICATION", "off"),
        ],
    )
    .await;
    let base = format!("http://localhost:{}", server.port);
    let browser = Browser::start().await;
    let email = format!("eve-{}@example.com", uuid_hex());
    browser.go(&format!("{base}/ui/register")).await;
    browser.type_into("#email", &email).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#register").await;
    browser.wait_for_path("/ui/account").await;

    let evil = attacker_page(format!("{base}/ui/account/email")).await;
    browser.go(&format!("http://127.0.0.1:{evil}/")).await;
    browser.wait_for_path("/ui/account/email").await;
    browser.wait_for_text("main", "This form expired").await;

    // Still signed in, the address unchanged, and no mail went to the attacker's address.
    browser.go(&format!("{base}/ui/account")).await;
    assert_eq!(browser.read("#account-email").await, email);
    let logs = terminate_and_collect_logs(&mut server).await;
    let refusal = logs
        .lines()
        .find(|line| line.contains("a request without its CSRF token was refused"))
        .unwrap_or_else(|| panic!("no refusal logged: {logs}"));
    assert!(
        refusal.contains("\"session\":true"),
        "the browser sent its session cookie, and the token check refused: {refusal}"
    );
    assert!(
        smtp.mails()
            .iter()
            .all(|mail| !mail.contains("mallory@example.com")),
        "no change of address was asked"
    );
}

/// Without JavaScript every page but the passkey buttons works: register, sign out, sign in
/// with the password and a TOTP code, end another session, change the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_work_without_javascript_but_for_passkeys() {
    if !require_all(&[Need::Chromium, Need::PythonAiosmtpd]) {
        return;
    }
    Box::pin(without_script()).await;
}

async fn without_script() {
    let smtp = tokio::task::spawn_blocking(PrivateSmtp::start)
        .await
        .unwrap();
    let server = server(&smtp, &[("EMAIL_VERIFICATION", "off")]).await;
    let base = format!("http://localhost:{}", server.port);
    let browser = Browser::start_with_script(false).await;
    let email = format!("bea-{}@example.com", uuid_hex());

    browser.go(&format!("{base}/ui/register")).await;
    browser.type_into("#email", &email).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#register").await;
    browser.wait_for_path("/ui/account").await;
    assert_eq!(browser.read("#account-email").await, email);
    let hidden = browser
        .call(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": "#passkey-add"})),
        )
        .await;
    let id = hidden[ELEMENT].as_str().unwrap().to_owned();
    let shown = browser
        .call("GET", &format!("/element/{id}/displayed"), None)
        .await;
    assert_eq!(shown, false, "no script, no passkey button");

    // Another device signs in over the API; this one ends it from the list.
    let other = post_json(
        server.port,
        "/v1/auth/login",
        &json!({"email": email, "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(other.status, 200);
    browser.go(&format!("{base}/ui/account")).await;
    assert_eq!(browser.count("tr.session").await, 2);
    browser.click("tr.session:not([aria-current]) button").await;
    browser
        .wait_for_path("/ui/account?done=session_ended")
        .await;
    assert_eq!(browser.count("tr.session").await, 1);
    let refused = get_json(
        server.port,
        "/v1/auth/me",
        other.body["access_token"].as_str(),
    )
    .await;
    assert_eq!(refused.status, 401, "the ended session's token is refused");

    // TOTP on, sign out, and back in with the password and a code.
    browser.click("#enable-totp").await;
    let secret = browser.read("#totp-secret").await;
    browser.type_into("#code", &totp_code_in(&secret, 0)).await;
    browser.click("#confirm-totp").await;
    browser.wait_for_text("h1", "Your recovery codes").await;
    browser.go(&format!("{base}/ui/account")).await;
    browser.click("#sign-out").await;
    browser.wait_for_path("/ui/sign-in?signed_out=1").await;
    browser.type_into("#email", &email).await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser
        .wait_for_path("/ui/sign-in/second-factor?factors=totp%2Crecovery_code")
        .await;
    browser.type_into("#code", &totp_code_in(&secret, 1)).await;
    browser.click("#verify").await;
    browser.wait_for_path("/ui/account").await;

    // A new password from the account page.
    browser.type_into("#current_password", PASSWORD).await;
    browser.type_into("#new_password", NEW_PASSWORD).await;
    browser.click("#change-password").await;
    browser
        .wait_for_path("/ui/account?done=password_changed")
        .await;
    browser
        .wait_for_text(".notice", "Your password was changed")
        .await;
}
