//! The end-to-end harness: the built binary on an ephemeral port, spoken to over HTTP.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_auth-server");

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub logs: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// Starts `auth-server serve` on port 0 and reads the port from its "listening" log line.
pub async fn start() -> Server {
    start_with(&[]).await
}

/// Starts `auth-server serve` on port 0 with extra environment variables.
pub async fn start_with(vars: &[(&str, &str)]) -> Server {
    let mut command = Command::new(BIN);
    command
        .arg("serve")
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

/// An HTTP/1.1 answer: status, lower-cased head, JSON body (Null when empty).
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Value,
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

pub fn terminate(child: &Child) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}
