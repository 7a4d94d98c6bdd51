//! The connection edge over raw sockets: a request head sent too slowly is cut, a kept-alive
//! connection left idle is closed, at the connection cap a new client waits for a slot
//! instead of being refused or breaking the server, and with `ADMIN_ADDR` the operational
//! endpoints answer on their own listener.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIVENESS: &[u8] = b"GET /health/liveness HTTP/1.1\r\nHost: edge.test\r\n\r\n";

/// Reads until the server closes the connection or `limit` passes: what it sent, and whether
/// it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (received, true),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => return (received, false),
        }
    }
}

#[tokio::test]
async fn a_request_head_sent_too_slowly_is_cut_at_the_timeout() {
    let server = start_with(&[("HEADER_READ_TIMEOUT", "1")]).await;
    let mut slow = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let started = Instant::now();
    // One byte every 200 ms: the whole head would take 10 s.
    let mut cut = false;
    for byte in LIVENESS {
        if slow.write_all(&[*byte]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut probe = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), slow.read(&mut probe)).await
        {
            cut = true;
            break;
        }
    }
    eprintln!("the slow head was cut after {:?}", started.elapsed());
    assert!(cut, "the server waited for the whole slow head");
    // The server still answers everyone else.
    assert_eq!(request(server.port, "GET", "/health/liveness").await.0, 200);
}

#[tokio::test]
async fn a_kept_alive_connection_left_idle_is_closed() {
    let server = start_with(&[("IDLE_TIMEOUT", "1")]).await;
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    stream.write_all(LIVENESS).await.unwrap();
    let mut first = vec![0u8; 4096];
    let n = stream.read(&mut first).await.unwrap();
    assert!(
        first[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first[..n])
    );
    // The answer came; the connection stays open for the next request, but not for ever.
    let idle = Instant::now();
    let (rest, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    eprintln!("the idle connection was closed after {:?}", idle.elapsed());
    assert!(closed, "still open after 10 s idle");
    assert!(
        rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
}

#[tokio::test]
async fn at_the_connection_cap_a_new_client_waits_for_a_slot_and_is_answered() {
    let server = start_with(&[("MAX_CONNECTIONS", "3"), ("HEADER_READ_TIMEOUT", "60")]).await;
    // Three connections that say nothing hold every slot.
    let mut holders = Vec::new();
    for _ in 0..3 {
        holders.push(
            TcpStream::connect(("127.0.0.1", server.port))
                .await
                .unwrap(),
        );
    }
    // The kernel completes the fourth handshake; the server does not take it up yet.
    let mut waiting = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    waiting.write_all(LIVENESS).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut answer)).await;
    assert!(
        early.is_err(),
        "answered while every slot was held: {early:?}"
    );
    // One holder leaves: the waiting client is accepted and answered.
    drop(holders.pop());
    let n = tokio::time::timeout(Duration::from_secs(10), waiting.read(&mut answer))
        .await
        .expect("no answer once a slot was free")
        .unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    drop(holders);
}

#[tokio::test]
async fn an_idle_connection_has_the_idle_timeout_and_its_next_head_the_header_timeout() {
    let server = start_with(&[("HEADER_READ_TIMEOUT", "1"), ("IDLE_TIMEOUT", "30")]).await;
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    for round in 0..2 {
        stream.write_all(LIVENESS).await.unwrap();
        let n = stream.read(&mut answer).await.unwrap();
        assert!(answer[..n].starts_with(b"HTTP/1.1 200"), "round {round}");
        // Idle longer than the header timeout: still open for the next request.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
    }
    // A head begun and left unfinished is cut at the header timeout, idle or not.
    stream
        .write_all(b"GET /health/liveness HTTP/1.1\r\n")
        .await
        .unwrap();
    let (rest, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(closed, "an unfinished head held the connection");
    assert!(
        rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
}

/// Answers `GET /health/liveness` over a connection to `address`.
async fn liveness_over(address: std::net::SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(address).await?;
    stream
        .write_all(b"GET /health/liveness HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn by_default_the_server_listens_on_ipv6_and_ipv4_and_bind_addr_narrows_it() {
    let both = start().await;
    for address in [
        format!("127.0.0.1:{}", both.port),
        format!("[::1]:{}", both.port),
    ] {
        let answer = liveness_over(address.parse().unwrap()).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{address}");
    }
    let v4 = start_with(&[("BIND_ADDR", "127.0.0.1")]).await;
    let refused = liveness_over(format!("[::1]:{}", v4.port).parse().unwrap()).await;
    assert!(refused.is_err(), "IPv6 reached a server bound to 127.0.0.1");
    let answer = liveness_over(format!("127.0.0.1:{}", v4.port).parse().unwrap())
        .await
        .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"));
}

#[tokio::test]
async fn a_request_slower_to_answer_than_the_header_timeout_is_not_cut() {
    // A costly hash keeps the login busy well past the 1 s header timeout.
    let server = start_with(&[
        ("HEADER_READ_TIMEOUT", "1"),
        ("ARGON2_MEMORY_KIB", "262144"),
        ("ARGON2_ITERATIONS", "4"),
    ])
    .await;
    let body =
        serde_json::json!({"email": "slow@example.com", "password": "wrong horse battery staple"})
            .to_string();
    let head = format!(
        "POST /v1/auth/login HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(60)).await;
    eprintln!("answered after {:?}", started.elapsed());
    assert!(closed);
    assert!(
        answer.starts_with(b"HTTP/1.1 401"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn with_admin_addr_metrics_and_probe_details_answer_only_on_the_admin_listener() {
    let server = start_with(&[("ADMIN_ADDR", "127.0.0.1:0")]).await;
    let admin = server.admin_port.expect("an admin listener");
    assert_ne!(admin, server.port);

    // The public listener: the API and the keys, probes with their status alone, no metrics.
    let metrics = send(server.port, "GET", "/metrics", &[], b"").await;
    assert_eq!(metrics.status, 404);
    assert_eq!(metrics.body["error"], "not_found");
    for probe in ["/health/readiness", "/health/liveness", "/health/startup"] {
        assert_eq!(
            request(server.port, "GET", probe).await,
            (200, serde_json::json!({"status": "ok"})),
            "{probe}"
        );
    }
    assert_eq!(
        get_json(server.port, "/.well-known/jwks.json", None)
            .await
            .status,
        200
    );
    signed_in(server.port, "public").await;

    // The admin listener: metrics (the login above counted) and the probes' details, nothing
    // of the API.
    let metrics = send(admin, "GET", "/metrics", &[], b"").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .head
            .contains("content-type: application/openmetrics-text")
    );
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains("auth_password_hash_capacity")
            && text.contains(r#"auth_login_total{outcome="success",method="password"} 1"#),
        "{text}"
    );
    let (status, body) = request(admin, "GET", "/health/readiness").await;
    assert_eq!(status, 200);
    assert!(body["details"].is_object(), "{body}");
    let (status, body) = request(admin, "GET", "/health/liveness").await;
    assert_eq!(status, 200);
    assert_eq!(body["details"]["process"]["status"], "up");
    for (method, path) in [
        ("POST", "/v1/auth/login"),
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/openapi.json"),
    ] {
        let answer = send(admin, method, path, &[], b"").await;
        assert_eq!(answer.status, 404, "{method} {path}");
        assert_eq!(answer.body["error"], "not_found");
    }
}

#[tokio::test]
async fn without_admin_addr_everything_answers_on_the_one_listener() {
    let server = start().await;
    assert_eq!(server.admin_port, None);
    assert_eq!(
        send(server.port, "GET", "/metrics", &[], b"").await.status,
        200
    );
    let (status, body) = request(server.port, "GET", "/health/liveness").await;
    assert_eq!(status, 200);
    assert_eq!(body["details"]["process"]["status"], "up");
}
