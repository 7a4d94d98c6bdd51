//! End to end: what new passwords the real binary refuses, at registration and at a change:
//! the shipped common list, words of the context, the operator's list and the range API (a
//! local server speaking its protocol), and what happens when the range API is down.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use serde_json::json;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

mod common;

use common::*;

/// A range API over loopback that knows `listed`: each request gets the suffixes of the
/// listed passwords under its prefix, padded with zero-count entries as the real one is.
async fn range_api(listed: &[&str]) -> String {
    let digests: Vec<String> = listed
        .iter()
        .map(|p| {
            Sha1::digest(p.as_bytes())
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect()
        })
        .collect();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let digests = digests.clone();
            tokio::spawn(async move {
                let mut request = vec![0; 4096];
                let n = stream.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..n]);
                let prefix = request
                    .split_whitespace()
                    .nth(1)
                    .and_then(|path| path.strip_prefix("/range/"))
                    .unwrap_or("")
                    .to_ascii_uppercase();
                let mut body = String::from("0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n");
                for digest in &digests {
                    if let Some(suffix) = digest.strip_prefix(&prefix) {
                        body.push_str(&format!("{suffix}:42\r\n"));
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

fn operator_list(name: &str, entries: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("auth-server-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("breached.txt");
    std::fs::write(&path, entries).unwrap();
    path
}

async fn register(port: u16, email: &str, password: &str) -> Answer {
    post_json(
        port,
        "/v1/auth/register",
        &json!({"email": email, "password": password}),
        None,
    )
    .await
}

fn refused_as_weak(answer: &Answer, why: &str) -> bool {
    answer.status == 422
        && answer.body["error"] == "weak_password"
        && answer.body["message"]
            .as_str()
            .is_some_and(|m| m.contains(why))
}

#[tokio::test]
async fn new_passwords_meet_the_common_list_context_words_the_operators_list_and_the_range_api() {
    let list = operator_list("passwords", "operator listed passphrase\n");
    let range = range_api(&["range listed passphrase"]).await;
    let server = start_with(&[
        ("BREACHED_PASSWORDS_FILE", list.to_str().unwrap()),
        ("BREACHED_PASSWORDS_HIBP", "true"),
        ("BREACHED_PASSWORDS_HIBP_URL", &range),
        ("PASSWORD_CONTEXT_WORDS", "Orbitron"),
    ])
    .await;
    let port = server.port;
    for (email, password, why) in [
        ("a@example.com", "password1234", "most common"),
        ("b@example.com", "QWERTYUIOP123", "most common"),
        ("ada.lovelace@example.com", "ada.lovelace2024!", "built on"),
        ("c@example.com", "orbitron-2024-x", "built on"),
        ("d@example.com", "operator listed passphrase", "breached"),
        ("e@example.com", "range listed passphrase", "breached"),
    ] {
        let answer = register(port, email, password).await;
        assert!(
            refused_as_weak(&answer, why),
            "{password}: {} {}",
            answer.status,
            answer.body
        );
    }
    let accepted = register(port, "f@example.com", "correct horse battery staple").await;
    assert_eq!(accepted.status, 201, "{}", accepted.body);

    // A change of password meets the same checks, with the account's own email as context.
    let login = post_json(
        port,
        "/v1/auth/login",
        &json!({"email": "f@example.com", "password": "correct horse battery staple"}),
        None,
    )
    .await;
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    let change = |new: &'static str| {
        let access = access.clone();
        async move {
            post_json(
                port,
                "/v1/auth/password",
                &json!({"current_password": "correct horse battery staple", "new_password": new}),
                Some(&access),
            )
            .await
        }
    };
    assert!(refused_as_weak(
        &change("password1234").await,
        "most common"
    ));
    assert!(refused_as_weak(
        &change("Orbitron-Password").await,
        "built on"
    ));
    assert!(refused_as_weak(
        &change("range listed passphrase").await,
        "breached"
    ));
    let changed = change("a brand new passphrase").await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    let _ = std::fs::remove_dir_all(list.parent().unwrap());
}

#[tokio::test]
async fn a_range_api_that_does_not_answer_follows_the_configured_policy() {
    // A port that was just free: nothing listens there.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let refuse = start_with(&[
        ("BREACHED_PASSWORDS_HIBP", "true"),
        ("BREACHED_PASSWORDS_HIBP_URL", &closed),
        ("BREACHED_PASSWORDS_ON_FAILURE", "refuse"),
    ])
    .await;
    let answer = register(refuse.port, "a@example.com", "correct horse battery staple").await;
    assert!(
        refused_as_weak(&answer, "could not be checked"),
        "{}",
        answer.body
    );

    let allow = start_with(&[
        ("BREACHED_PASSWORDS_HIBP", "true"),
        ("BREACHED_PASSWORDS_HIBP_URL", &closed),
    ])
    .await;
    let answer = register(allow.port, "a@example.com", "correct horse battery staple").await;
    assert_eq!(answer.status, 201, "{}", answer.body);
}

#[tokio::test]
async fn bad_breached_password_settings_stop_the_server_with_every_problem() {
    let output = tokio::process::Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("BREACHED_PASSWORDS_FILE", "/nonexistent/list.txt")
        .env("BREACHED_PASSWORDS_HIBP", "yes")
        .env("BREACHED_PASSWORDS_ON_FAILURE", "maybe")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for variable in [
        "BREACHED_PASSWORDS_FILE",
        "BREACHED_PASSWORDS_HIBP",
        "BREACHED_PASSWORDS_ON_FAILURE",
    ] {
        assert!(
            stderr.contains(variable),
            "{variable} missing from {stderr}"
        );
    }
}
