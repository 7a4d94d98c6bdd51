//! The end-to-end harness: the built binary on an ephemeral port, spoken to over HTTP.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub, unused_imports)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

pub mod mail;

pub use auth_core::testing::needs::{Need, require, require_all};
pub use auth_core::testing::private::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_auth-server");

pub struct Server {
    pub child: Child,
    pub port: u16,
    /// The admin listener's port, when `ADMIN_ADDR` is set.
    pub admin_port: Option<u16>,
    pub logs: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// A random name part: 32 hex digits.
pub fn uuid_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Registers a fresh account (its email starts with `name`) and logs it in: its credentials and
/// the login's answer.
pub async fn signed_in(port: u16, name: &str) -> (Value, Answer) {
    let email = format!("{name}-{}@example.com", uuid_hex());
    let credentials =
        serde_json::json!({"email": email, "password": "correct horse battery staple"});
    let registered = post_json(port, "/v1/auth/register", &credentials, None).await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    let login = post_json(port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    (credentials, login)
}

/// Waits until the server on `port` says it is ready (at most 10 s).
pub async fn ready(port: u16) {
    for _ in 0..200 {
        if request(port, "GET", "/health/readiness").await.0 == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server on port {port} was not ready within 10 s");
}

/// Starts `auth-server serve` on port 0 and reads the port from its "listening" log line.
pub async fn start() -> Server {
    start_with(&[]).await
}

/// Starts `auth-server serve` on port 0 with extra environment variables.
pub async fn start_with(vars: &[(&str, &str)]) -> Server {
    let mut command = Command::new(BIN);
    command.arg("serve");
    spawn_server(command, vars).await
}

/// Starts `auth-server serve` as [`start_with`] does, under an address-space limit
/// (`RLIMIT_AS`, set by the shell's `ulimit -v` before it becomes the server).
pub async fn start_limited(vars: &[(&str, &str)], address_space_kib: u64) -> Server {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(format!(
            "ulimit -v {address_space_kib} && exec \"$0\" serve"
        ))
        .arg(BIN);
    spawn_server(command, vars).await
}

async fn spawn_server(mut command: Command, vars: &[(&str, &str)]) -> Server {
    command
        .env_clear()
        .env("PORT", "0")
        .env("LOG_FORMAT", "json")
        .env("SHUTDOWN_TIMEOUT", "5");
    // The test's own variables win over the defaults above.
    for (name, value) in vars {
        command.env(name, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port_of = |log: &Value| {
        let addr = log["addr"].as_str().unwrap();
        addr.rsplit(':').next().unwrap().parse::<u16>().unwrap()
    };
    let mut admin_port = None;
    // Every line is kept for the test, those before "listening" too: work the server does at
    // start (the first purge, say) may log before it listens.
    let (tx, logs) = tokio::sync::mpsc::unbounded_channel();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("server exited before listening");
            let log: Value = serde_json::from_str(&line).unwrap();
            let message = log["message"].as_str().unwrap_or_default().to_owned();
            let _ = tx.send(line);
            if message.starts_with("admin listening") {
                admin_port = Some(port_of(&log));
            }
            if message == "listening" {
                return port_of(&log);
            }
        }
    })
    .await
    .expect("no listening line within 30 s");
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    Server {
        child,
        port,
        admin_port,
        logs,
    }
}

/// An HTTP/1.1 answer: status, lower-cased head, JSON body (Null when empty).
pub struct Answer {
    pub status: u16,
    /// The status line and headers, lower-cased.
    pub head: String,
    /// The headers as they came (cookie values keep their case).
    pub raw_head: String,
    pub body: Value,
    /// The body as it came, byte for byte.
    pub raw_body: String,
}

impl Answer {
    /// The first value of the header `name` (lower-case), as it came.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.raw_head.lines().skip(1).find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// A minimal HTTP/1.1 exchange with extra header lines and a body.
pub async fn send(port: u16, method: &str, path: &str, headers: &[&str], body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (413) before reading a large body, and close.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()))
    };
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        raw_head: head.to_owned(),
        raw_body: raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned(),
        body,
    }
}

pub async fn post_json(port: u16, path: &str, body: &Value, bearer: Option<&str>) -> Answer {
    let authorization = bearer.map(|token| format!("authorization: Bearer {token}"));
    let mut headers = vec!["content-type: application/json"];
    if let Some(value) = &authorization {
        headers.push(value);
    }
    send(port, "POST", path, &headers, body.to_string().as_bytes()).await
}

pub async fn get_json(port: u16, path: &str, bearer: Option<&str>) -> Answer {
    let authorization = bearer.map(|token| format!("authorization: Bearer {token}"));
    let headers: Vec<&str> = authorization.iter().map(String::as_str).collect();
    send(port, "GET", path, &headers, b"").await
}

/// A JSON exchange without a body: the status code and the JSON body.
pub async fn request(port: u16, method: &str, path: &str) -> (u16, Value) {
    let answer = send(port, method, path, &[], b"").await;
    assert!(
        answer.head.contains("content-type: application/json"),
        "{}",
        answer.head
    );
    (answer.status, answer.body)
}

/// Sends SIGTERM, asserts a clean exit within 15 s, and returns every log line the process
/// wrote after starting, joined.
pub async fn terminate_and_collect_logs(server: &mut Server) -> String {
    terminate(&server.child);
    let status = tokio::time::timeout(Duration::from_secs(15), server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    let mut messages = Vec::new();
    // The log forwarder ends when the process closes its stdout.
    while let Ok(Some(line)) =
        tokio::time::timeout(Duration::from_secs(5), server.logs.recv()).await
    {
        messages.push(line);
    }
    messages.join("\n")
}

pub fn terminate(child: &Child) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The TOTP code for `secret` at `offset_steps` 30-second steps from now.
pub fn totp_code_in(secret: &str, offset_steps: i64) -> String {
    use auth_core::mfa::{TotpParams, TotpSecret, code_at};
    let secret = TotpSecret::from_base32(secret).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = i64::try_from(now).unwrap() + offset_steps * 30;
    code_at(&secret, &TotpParams::default(), at).unwrap()
}

fn token(answer: &Answer, field: &str) -> String {
    answer.body[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {} {:?}", answer.status, answer.body))
        .to_owned()
}

/// The whole life of an account over HTTP, whatever the backends: register, login, me, enrol
/// Enrols and confirms TOTP for the account whose access token is `access`; its secret.
pub async fn enable_totp(port: u16, access: &str) -> String {
    let enrolled = post_json(
        port,
        "/v1/auth/mfa/totp/enroll",
        &serde_json::json!({}),
        Some(access),
    )
    .await;
    assert_eq!(enrolled.status, 200, "{:?}", enrolled.body);
    let secret = enrolled.body["secret"].as_str().unwrap().to_owned();
    let confirmed = post_json(
        port,
        "/v1/auth/mfa/totp/confirm",
        &serde_json::json!({"code": totp_code_in(&secret, 0)}),
        Some(access),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    secret
}

/// TOTP, confirm, logout, login (a challenge), verify with a TOTP code, refresh, replay the
/// spent refresh token (reuse detected), and find the whole family dead.
pub async fn mfa_happy_path(port: u16, email: &str) {
    let credentials =
        serde_json::json!({"email": email, "password": "correct horse battery staple"});
    let registered = post_json(port, "/v1/auth/register", &credentials, None).await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);
    let email = email.to_lowercase();
    assert_eq!(
        registered.body["email"],
        email.as_str(),
        "addresses are kept lower-case"
    );

    let login = post_json(port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert!(
        login.head.contains("cache-control: no-store"),
        "{}",
        login.head
    );
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    let access = token(&login, "access_token");
    let me = get_json(port, "/v1/auth/me", Some(&access)).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["user_id"], registered.body["user_id"]);
    assert_eq!(me.body["email"], email.as_str());
    assert_eq!(me.body["mfa_enabled"], false, "{:?}", me.body);

    let enrolled = post_json(
        port,
        "/v1/auth/mfa/totp/enroll",
        &serde_json::json!({}),
        Some(&access),
    )
    .await;
    assert_eq!(enrolled.status, 200, "{:?}", enrolled.body);
    let secret = token(&enrolled, "secret");
    let confirmed = post_json(
        port,
        "/v1/auth/mfa/totp/confirm",
        &serde_json::json!({"code": totp_code_in(&secret, 0)}),
        Some(&access),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let me = get_json(port, "/v1/auth/me", Some(&access)).await;
    assert_eq!(me.body["mfa_enabled"], true, "{:?}", me.body);

    let logout = post_json(
        port,
        "/v1/auth/logout",
        &serde_json::json!({}),
        Some(&access),
    )
    .await;
    assert_eq!(logout.status, 204, "{:?}", logout.body);
    let me = get_json(port, "/v1/auth/me", Some(&access)).await;
    assert_eq!(me.status, 401, "a logged-out session's access token");
    assert!(
        me.head
            .contains("www-authenticate: bearer realm=\"auth\", error=\"invalid_token\""),
        "{}",
        me.head
    );

    // The password alone is no longer enough.
    let challenge = post_json(port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(challenge.status, 200, "{:?}", challenge.body);
    assert_eq!(challenge.body["mfa_required"], true, "{:?}", challenge.body);
    assert!(challenge.body.get("access_token").is_none());
    let mfa_token = token(&challenge, "mfa_token");
    // The next step's code: the confirmation spent this one, and spent steps never count twice.
    let code = totp_code_in(&secret, 1);
    let verified = post_json(
        port,
        "/v1/auth/mfa/verify",
        &serde_json::json!({"mfa_token": mfa_token, "code": code}),
        None,
    )
    .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    let access = token(&verified, "access_token");
    let refresh = token(&verified, "refresh_token");
    assert_eq!(
        get_json(port, "/v1/auth/me", Some(&access)).await.status,
        200
    );

    // The same code on a fresh challenge is a replay.
    let challenge = post_json(port, "/v1/auth/login", &credentials, None).await;
    let replayed = post_json(
        port,
        "/v1/auth/mfa/verify",
        &serde_json::json!({"mfa_token": token(&challenge, "mfa_token"), "code": code}),
        None,
    )
    .await;
    assert_eq!(
        (replayed.status, replayed.body["error"].as_str()),
        (401, Some("invalid_credentials")),
        "a spent TOTP code"
    );

    let rotated = post_json(
        port,
        "/v1/auth/refresh",
        &serde_json::json!({"refresh_token": refresh}),
        None,
    )
    .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    // The client goes on with its new token; a copy of the old one presented after that is
    // reuse, however soon (the grace period covers retries of a lost answer, not this).
    let rotated = post_json(
        port,
        "/v1/auth/refresh",
        &serde_json::json!({"refresh_token": token(&rotated, "refresh_token")}),
        None,
    )
    .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let newest_access = token(&rotated, "access_token");
    let newest_refresh = token(&rotated, "refresh_token");

    let reused = post_json(
        port,
        "/v1/auth/refresh",
        &serde_json::json!({"refresh_token": refresh}),
        None,
    )
    .await;
    assert_eq!(
        (reused.status, reused.body["error"].as_str()),
        (401, Some("token_reused")),
        "{:?}",
        reused.body
    );
    // The family died with the reuse: its newest refresh token and its session are gone.
    let dead = post_json(
        port,
        "/v1/auth/refresh",
        &serde_json::json!({"refresh_token": newest_refresh}),
        None,
    )
    .await;
    assert_eq!(
        (dead.status, dead.body["error"].as_str()),
        (401, Some("invalid_token")),
        "{:?}",
        dead.body
    );
    assert_eq!(
        get_json(port, "/v1/auth/me", Some(&newest_access))
            .await
            .status,
        401
    );
}

/// A schema of the test's own on the test database, dropped at the end.
pub struct Schema {
    pub admin: tokio_postgres::Client,
    pub name: String,
    pub url: String,
}

impl Schema {
    pub async fn create() -> Option<Self> {
        let base = auth_core::testing::needs::postgres_url()?;
        let (admin, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let name = format!("auth_e2e_{}", uuid_hex());
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{name}");
        Some(Self { admin, name, url })
    }

    pub async fn drop_schema(self) {
        self.admin
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name))
            .await
            .unwrap();
    }
}

/// `auth-server ARGS` against `schema` with `vars` besides `DATABASE_URL`: how it ended.
pub fn cli(schema: &Schema, args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &schema.url)
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

/// `auth-server ARGS` against `schema` with `vars` besides `DATABASE_URL`: success, and the
/// JSON it printed.
pub fn cli_json(
    schema: &Schema,
    args: &[&str],
    vars: &[(&str, &str)],
) -> (bool, serde_json::Value) {
    let output = cli(schema, args, vars);
    let printed = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "{args:?} printed no JSON: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), printed)
}
