//! End to end: the real binary, on an ephemeral port, spoken to over HTTP.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_auth-server");

struct Server {
    child: Child,
    port: u16,
    logs: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// Starts `auth-server serve` on port 0 and reads the port from its "listening" log line.
async fn start() -> Server {
    let mut child = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("PORT", "0")
        .env("LOG_FORMAT", "json")
        .env("SHUTDOWN_TIMEOUT", "5")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("server exited before listening");
            let log: Value = serde_json::from_str(&line).unwrap();
            if log["message"] == "listening" {
                let addr = log["addr"].as_str().unwrap();
                return addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
            }
        }
    })
    .await
    .expect("no listening line within 30 s");
    let (tx, logs) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    Server { child, port, logs }
}

/// A minimal HTTP/1.1 exchange: returns the status code and the JSON body.
async fn request(port: u16, method: &str, path: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    (status, serde_json::from_str(body).unwrap())
}

fn terminate(child: &Child) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn liveness_answers_ok_without_any_dependency() {
    let server = start().await;
    let (status, body) = request(server.port, "GET", "/health/liveness").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["info"]["process"]["status"], "up");
}

#[tokio::test]
async fn jwks_publishes_the_generated_ed25519_key() {
    let server = start().await;
    let (status, body) = request(server.port, "GET", "/.well-known/jwks.json").await;
    assert_eq!(status, 200);
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert!(keys[0]["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    assert!(
        keys[0].get("d").is_none(),
        "private key material must never be published"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let server = start().await;
    let (status, body) = request(server.port, "GET", "/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    let (status, body) = request(server.port, "DELETE", "/health/liveness").await;
    assert_eq!(status, 405);
    assert_eq!(body["error"], "method_not_allowed");
}

#[tokio::test]
async fn sigterm_drains_and_exits_zero() {
    let mut server = start().await;
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
    let joined = messages.join("\n");
    assert!(
        joined.contains("shutting down") && joined.contains("SIGTERM"),
        "{joined}"
    );
    assert!(joined.contains("drained"), "{joined}");
}

#[tokio::test]
async fn healthcheck_exits_zero_against_a_live_server_and_one_otherwise() {
    let server = start().await;
    let live = Command::new(BIN)
        .args(["healthcheck", "--port", &server.port.to_string()])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert!(live.status.success(), "{live:?}");
    let missing = Command::new(BIN)
        .args([
            "healthcheck",
            "--port",
            &server.port.to_string(),
            "--path",
            "/missing",
        ])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = Command::new(BIN)
        .args(["healthcheck", "--port", &closed_port.to_string()])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
}

#[tokio::test]
async fn production_mode_lists_every_problem_and_exits_non_zero() {
    let output = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("AUTH_ENV", "production")
        .env("PORT", "not-a-port")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    for name in ["PORT:", "DATABASE_URL:", "AUTH_SIGNING_KEYS:"] {
        assert!(stderr.contains(name), "{name} missing from {stderr}");
    }
}
