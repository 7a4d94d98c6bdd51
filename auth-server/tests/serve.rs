//! End to end: the real binary, on an ephemeral port, spoken to over HTTP.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

mod common;

use common::*;

#[tokio::test]
async fn liveness_answers_ok_without_any_dependency() {
    let server = start().await;
    let (status, body) = request(server.port, "GET", "/health/liveness").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["info"]["process"]["status"], "up");
}

#[tokio::test]
async fn jwks_publishes_the_generated_ed25519_key_and_the_rs256_key_of_id_tokens() {
    let server = start().await;
    let (status, body) = request(server.port, "GET", "/.well-known/jwks.json").await;
    assert_eq!(status, 200);
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1]["kty"], "RSA");
    assert_eq!(keys[1]["alg"], "RS256");
    assert!(keys[1].get("d").is_none() && keys[1].get("p").is_none());
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
    let joined = terminate_and_collect_logs(&mut server).await;
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

#[tokio::test]
async fn bad_input_gets_the_right_status_and_code() {
    let server = start().await;
    let port = server.port;
    let good =
        serde_json::json!({"email": "bob@example.com", "password": "correct horse battery staple"});
    assert_eq!(
        post_json(port, "/v1/auth/register", &good, None)
            .await
            .status,
        201
    );

    let cases: Vec<(Answer, u16, &str)> = vec![
        (send(port, "POST", "/v1/auth/register", &["content-type: application/json"], b"{not json").await, 400, "invalid_request"),
        (post_json(port, "/v1/auth/register", &serde_json::json!({"email": "x@example.com"}), None).await, 400, "invalid_request"),
        (send(port, "POST", "/v1/auth/register", &["content-type: text/plain"], good.to_string().as_bytes()).await, 415, "unsupported_media_type"),
        (send(port, "POST", "/v1/auth/register", &["content-type: application/json"], &vec![b' '; 70 * 1024]).await, 413, "payload_too_large"),
        (post_json(port, "/v1/auth/register", &serde_json::json!({"email": "c@example.com", "password": "short"}), None).await, 422, "weak_password"),
        (post_json(port, "/v1/auth/register", &serde_json::json!({"email": "not-an-email", "password": "correct horse battery staple"}), None).await, 400, "invalid_request"),
        (post_json(port, "/v1/auth/register", &good, None).await, 409, "conflict"),
        (post_json(port, "/v1/auth/login", &serde_json::json!({"email": "bob@example.com", "password": "wrong horse battery staple"}), None).await, 401, "invalid_credentials"),
        (post_json(port, "/v1/auth/login", &serde_json::json!({"email": "nobody@example.com", "password": "wrong horse battery staple"}), None).await, 401, "invalid_credentials"),
        (post_json(port, "/v1/auth/refresh", &serde_json::json!({"refresh_token": "garbage"}), None).await, 401, "invalid_token"),
        (get_json(port, "/v1/auth/me", None).await, 401, "unauthorized"),
        (get_json(port, "/v1/auth/me", Some("not.a.token")).await, 401, "invalid_token"),
    ];
    for (answer, status, code) in cases {
        assert_eq!(
            (answer.status, answer.body["error"].as_str()),
            (status, Some(code)),
            "{:?}",
            answer.body
        );
        assert!(answer.body["message"].is_string());
    }
}

#[tokio::test]
async fn repeated_failures_answer_429_with_retry_after() {
    let server = start().await;
    let port = server.port;
    let good =
        serde_json::json!({"email": "eve@example.com", "password": "correct horse battery staple"});
    assert_eq!(
        post_json(port, "/v1/auth/register", &good, None)
            .await
            .status,
        201
    );
    let wrong =
        serde_json::json!({"email": "eve@example.com", "password": "wrong horse battery staple"});
    for _ in 0..6 {
        assert_eq!(
            post_json(port, "/v1/auth/login", &wrong, None).await.status,
            401
        );
    }
    let throttled = post_json(port, "/v1/auth/login", &good, None).await;
    assert_eq!(
        (throttled.status, throttled.body["error"].as_str()),
        (429, Some("throttled"))
    );
    assert!(
        throttled.head.contains("retry-after: "),
        "{}",
        throttled.head
    );
}

/// One address registering without end took every hashing slot before: now the sixth
/// registration in an hour (here, at a rate of five) is refused before any hashing, with
/// `Retry-After`, whatever the earlier ones answered (a taken email counts too).
#[tokio::test]
async fn registrations_from_one_address_are_limited_with_retry_after() {
    let server = start_with(&[("REGISTRATIONS_PER_ADDRESS_HOUR", "5")]).await;
    let port = server.port;
    let account = |n: u32| serde_json::json!({"email": format!("reg{n}@example.com"), "password": "correct horse battery staple"});
    for n in 0..4 {
        assert_eq!(
            post_json(port, "/v1/auth/register", &account(n), None)
                .await
                .status,
            201
        );
    }
    let taken = post_json(port, "/v1/auth/register", &account(0), None).await;
    assert_eq!(taken.status, 409);
    let refused = post_json(port, "/v1/auth/register", &account(5), None).await;
    assert_eq!(
        (refused.status, refused.body["error"].as_str()),
        (429, Some("throttled"))
    );
    assert!(refused.head.contains("retry-after: "), "{}", refused.head);
    // Logging in is another matter.
    let login = post_json(port, "/v1/auth/login", &account(1), None).await;
    assert_eq!(login.status, 200);
}

/// Every answer of the API is `no-store` (tokens, the profile, the session list and errors
/// alike), every answer anywhere is `nosniff`, and no origin is let in with credentials
/// unless it is listed: not by default in development, not by a wildcard.
#[tokio::test]
async fn api_answers_are_never_cached_or_sniffed_and_cors_lets_in_only_listed_origins() {
    let server = start().await;
    let port = server.port;
    let credentials =
        serde_json::json!({"email": "hdr@example.com", "password": "correct horse battery staple"});
    let registered = post_json(port, "/v1/auth/register", &credentials, None).await;
    let login = post_json(port, "/v1/auth/login", &credentials, None).await;
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    let answers = [
        ("register", registered),
        ("login", login),
        ("me", get_json(port, "/v1/auth/me", Some(&access)).await),
        (
            "sessions",
            get_json(port, "/v1/auth/sessions", Some(&access)).await,
        ),
        (
            "me without a token",
            get_json(port, "/v1/auth/me", None).await,
        ),
        (
            "a bad body",
            post_json(port, "/v1/auth/login", &serde_json::json!({}), None).await,
        ),
    ];
    for (what, answer) in &answers {
        assert!(
            answer.head.contains("cache-control: no-store"),
            "{what}: {}",
            answer.head
        );
        assert!(
            answer.head.contains("x-content-type-options: nosniff"),
            "{what}: {}",
            answer.head
        );
    }
    let probe = send(port, "GET", "/health/liveness", &[], b"").await;
    assert!(
        probe.head.contains("x-content-type-options: nosniff"),
        "{}",
        probe.head
    );

    let preflight = [
        "origin: https://evil.example",
        "access-control-request-method: POST",
        "access-control-request-headers: content-type",
    ];
    let answer = send(port, "OPTIONS", "/v1/auth/login", &preflight, b"").await;
    assert!(
        !answer.head.contains("access-control-allow-origin"),
        "development lets in no origin by default: {}",
        answer.head
    );
    let wildcard = start_with(&[("CORS_ORIGINS", "*")]).await;
    let answer = send(wildcard.port, "OPTIONS", "/v1/auth/login", &preflight, b"").await;
    assert!(
        answer.head.contains("access-control-allow-origin: *"),
        "{}",
        answer.head
    );
    assert!(
        !answer.head.contains("access-control-allow-credentials"),
        "a wildcard never comes with credentials: {}",
        answer.head
    );
    let listed = start_with(&[("CORS_ORIGINS", "https://app.example")]).await;
    let mut from_app = preflight;
    from_app[0] = "origin: https://app.example";
    let answer = send(listed.port, "OPTIONS", "/v1/auth/login", &from_app, b"").await;
    assert!(
        answer
            .head
            .contains("access-control-allow-origin: https://app.example"),
        "{}",
        answer.head
    );
    let answer = send(listed.port, "OPTIONS", "/v1/auth/login", &preflight, b"").await;
    assert!(
        !answer.head.contains("access-control-allow-origin"),
        "{}",
        answer.head
    );
}

#[tokio::test]
async fn readiness_startup_and_metrics_are_served() {
    let server = start().await;
    let (status, body) = request(server.port, "GET", "/health/readiness").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, _) = request(server.port, "GET", "/health/startup").await;
    assert_eq!(status, 200);
    let metrics = send(server.port, "GET", "/metrics", &[], b"").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .head
            .contains("content-type: application/openmetrics-text")
    );
}

async fn delete_json(port: u16, path: &str, body: &Value, bearer: &str) -> Answer {
    let authorization = format!("authorization: Bearer {bearer}");
    send(
        port,
        "DELETE",
        path,
        &["content-type: application/json", &authorization],
        body.to_string().as_bytes(),
    )
    .await
}

#[tokio::test]
async fn the_full_mfa_life_of_an_account_on_the_memory_backends() {
    let server = start().await;
    mfa_happy_path(server.port, "Mei@Example.com").await;
}

#[tokio::test]
async fn totp_enrolment_challenge_recovery_sessions_and_password_change_over_http() {
    let server = start().await;
    let port = server.port;
    let credentials =
        serde_json::json!({"email": "lee@example.com", "password": "correct horse battery staple"});
    assert_eq!(
        post_json(port, "/v1/auth/register", &credentials, None)
            .await
            .status,
        201
    );
    let first = post_json(port, "/v1/auth/login", &credentials, None).await;
    let access = first.body["access_token"].as_str().unwrap().to_owned();

    let enrolled = post_json(
        port,
        "/v1/auth/mfa/totp/enroll",
        &serde_json::json!({}),
        Some(&access),
    )
    .await;
    assert_eq!(enrolled.status, 200, "{:?}", enrolled.body);
    let secret = enrolled.body["secret"].as_str().unwrap().to_owned();
    assert!(
        enrolled.body["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let wrong = post_json(
        port,
        "/v1/auth/mfa/totp/confirm",
        &serde_json::json!({"code": "000000"}),
        Some(&access),
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.body["error"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let confirmed = post_json(
        port,
        "/v1/auth/mfa/totp/confirm",
        &serde_json::json!({"code": totp_code_in(&secret, 0)}),
        Some(&access),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let codes = confirmed.body["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    let again = post_json(
        port,
        "/v1/auth/mfa/totp/enroll",
        &serde_json::json!({}),
        Some(&access),
    )
    .await;
    assert_eq!(
        (again.status, again.body["error"].as_str()),
        (409, Some("conflict"))
    );

    // The password alone now gets a challenge; the challenge is no access token.
    let challenge = post_json(port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(challenge.body["mfa_required"], true, "{:?}", challenge.body);
    let mfa_token = challenge.body["mfa_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get_json(port, "/v1/auth/me", Some(&mfa_token)).await.status,
        401
    );
    let verify = |code: Value| {
        let body = serde_json::json!({"mfa_token": mfa_token, "code": code});
        async move { post_json(port, "/v1/auth/mfa/verify", &body, None).await }
    };
    let second = verify(codes[0].clone()).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    let used = verify(codes[0].clone()).await;
    assert_eq!(
        (used.status, used.body["error"].as_str()),
        (401, Some("invalid_credentials"))
    );
    let second_access = second.body["access_token"].as_str().unwrap().to_owned();

    // Two sessions: list, revoke the other, see it refused.
    let listed = get_json(port, "/v1/auth/sessions", Some(&second_access)).await;
    let sessions = listed.body["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{:?}", listed.body);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = send(
        port,
        "DELETE",
        &format!("/v1/auth/sessions/{other}"),
        &[&format!("authorization: Bearer {second_access}")],
        b"",
    )
    .await;
    assert_eq!(revoked.status, 204);
    assert_eq!(
        get_json(port, "/v1/auth/me", Some(&access)).await.status,
        401
    );
    let gone = send(
        port,
        "DELETE",
        &format!("/v1/auth/sessions/{other}"),
        &[&format!("authorization: Bearer {second_access}")],
        b"",
    )
    .await;
    assert_eq!(
        (gone.status, gone.body["error"].as_str()),
        (404, Some("not_found"))
    );

    // Disabling needs a proof; the password works.
    let nothing = delete_json(
        port,
        "/v1/auth/mfa/totp",
        &serde_json::json!({}),
        &second_access,
    )
    .await;
    assert_eq!(nothing.status, 400);
    let disabled = delete_json(
        port,
        "/v1/auth/mfa/totp",
        &serde_json::json!({"password": "correct horse battery staple"}),
        &second_access,
    )
    .await;
    assert_eq!(disabled.status, 204, "{:?}", disabled.body);

    // Changing the password needs the current one.
    let refused = post_json(
        port,
        "/v1/auth/password",
        &serde_json::json!({"current_password": "nope nope nope", "new_password": "a brand new passphrase"}),
        Some(&second_access),
    )
    .await;
    assert_eq!(refused.status, 401);
    let changed = post_json(
        port,
        "/v1/auth/password",
        &serde_json::json!({"current_password": "correct horse battery staple", "new_password": "a brand new passphrase"}),
        Some(&second_access),
    )
    .await;
    assert_eq!(changed.status, 204, "{:?}", changed.body);
    let old = post_json(port, "/v1/auth/login", &credentials, None).await;
    assert_eq!(old.status, 401);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_kept() {
    let mut server = start().await;
    let generated = send(server.port, "GET", "/health/liveness", &[], b"").await;
    let id_line = generated
        .head
        .lines()
        .find(|line| line.starts_with("x-request-id: "))
        .expect("a generated request id");
    assert!(id_line.len() > "x-request-id: ".len() + 30, "{id_line}");
    let kept = send(
        server.port,
        "GET",
        "/health/liveness",
        &["x-request-id: trace-abc-123"],
        b"",
    )
    .await;
    assert!(
        kept.head.contains("x-request-id: trace-abc-123"),
        "{}",
        kept.head
    );

    // The request's log line names its id, route and status, and never the bearer token.
    let secret_token = "eyJzZWNyZXQiOiJ0b2tlbiJ9.never.logged";
    let _ = get_json(server.port, "/v1/auth/me", Some(secret_token)).await;
    terminate(&server.child);
    let _ = tokio::time::timeout(Duration::from_secs(15), server.child.wait()).await;
    let mut logs = Vec::new();
    while let Ok(Some(line)) =
        tokio::time::timeout(Duration::from_secs(5), server.logs.recv()).await
    {
        logs.push(line);
    }
    let logs = logs.join("\n");
    assert!(logs.contains("trace-abc-123"), "{logs}");
    assert!(logs.contains("\"route\":\"/v1/auth/me\""), "{logs}");
    assert!(!logs.contains(secret_token), "a token reached the logs");
}

/// Registers and logs in on `server`, then checks the access token with Python's `cryptography`
/// given nothing but the server's JWKS; a token with a flipped signature must fail that check.
async fn an_issued_jwt_verifies_independently(server: &common::Server) {
    let port = server.port;
    let credentials = serde_json::json!({"email": "jose@example.com", "password": "correct horse battery staple"});
    let registered = post_json(port, "/v1/auth/register", &credentials, None).await;
    let login = post_json(port, "/v1/auth/login", &credentials, None).await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    let (_, jwks) = request(port, "GET", "/.well-known/jwks.json").await;
    // The sources' directory now, not at build time (the target directory may be shared).
    let script = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
        + "/tests/support/verify_jwt.py";
    let verified = Command::new("python3")
        .args([script.as_str(), &jwks.to_string(), &token, "auth"])
        .output()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{out}");
    assert_eq!(out.trim(), registered.body["user_id"].as_str().unwrap());

    // The same check refuses a tampered token.
    // Flip the first character of the signature (the last one may only carry padding bits).
    let signature_start = token.rfind('.').unwrap() + 1;
    let first = &token[signature_start..=signature_start];
    let replacement = if first == "A" { "B" } else { "A" };
    let tampered = format!(
        "{}{replacement}{}",
        &token[..signature_start],
        &token[signature_start + 1..]
    );
    let refused = Command::new("python3")
        .args([script.as_str(), &jwks.to_string(), &tampered, "auth"])
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
}

#[tokio::test]
async fn an_issued_jwt_verifies_with_an_independent_implementation_from_the_jwks_alone() {
    if !require(Need::PythonCryptography) {
        return;
    }
    an_issued_jwt_verifies_independently(&start().await).await;
}

#[tokio::test]
async fn an_rs256_key_from_keys_generate_signs_tokens_others_verify() {
    if !require(Need::PythonCryptography) {
        return;
    }
    let generated = Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(["keys", "generate", "--format", "jwt-rs256"])
        .output()
        .await
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    let printed: Value = serde_json::from_slice(&generated.stdout).unwrap();
    assert_eq!(printed["alg"], "RS256");
    let keys = serde_json::json!([printed]).to_string();
    let server = start_with(&[("AUTH_SIGNING_KEYS", keys.as_str())]).await;
    let (_, jwks) = request(server.port, "GET", "/.well-known/jwks.json").await;
    let published = &jwks["keys"][0];
    assert_eq!(published["kty"], "RSA");
    assert_eq!(published["kid"], printed["kid"]);
    assert_eq!(published["alg"], "RS256");
    an_issued_jwt_verifies_independently(&server).await;
}

/// The client address the audit log recorded for the failed logins, in order.
async fn failed_login_clients(mut server: common::Server) -> Vec<String> {
    terminate(&server.child);
    let _ = tokio::time::timeout(Duration::from_secs(15), server.child.wait()).await;
    let mut clients = Vec::new();
    while let Ok(Some(line)) =
        tokio::time::timeout(Duration::from_secs(5), server.logs.recv()).await
    {
        let log: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if log["event"] == "login_failed" {
            clients.push(log["client"].as_str().unwrap_or_default().to_owned());
        }
    }
    clients
}

#[tokio::test]
async fn the_client_address_comes_from_a_trusted_proxy_header_only_when_configured() {
    let wrong = serde_json::json!({"email": "nobody@example.com", "password": "wrong horse battery staple"});
    let forwarded = |port| {
        let body = wrong.to_string();
        async move {
            send(
                port,
                "POST",
                "/v1/auth/login",
                &[
                    "content-type: application/json",
                    "x-forwarded-for: 198.51.100.7, 203.0.113.9",
                ],
                body.as_bytes(),
            )
            .await
        }
    };

    let direct = start().await;
    assert_eq!(forwarded(direct.port).await.status, 401);
    assert_eq!(
        failed_login_clients(direct).await,
        vec!["127.0.0.1"],
        "the header is ignored by default"
    );

    let proxied = start_with(&[
        ("TRUSTED_PROXY_HEADER", "X-Forwarded-For"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    assert_eq!(forwarded(proxied.port).await.status, 401);
    assert_eq!(
        failed_login_clients(proxied).await,
        vec!["203.0.113.9"],
        "the address the proxy appended, not the one the client claimed"
    );

    // From a peer that is not a trusted proxy, the header is ignored.
    let elsewhere = start_with(&[
        ("TRUSTED_PROXY_HEADER", "X-Forwarded-For"),
        ("TRUSTED_PROXIES", "10.0.0.0/8"),
    ])
    .await;
    assert_eq!(forwarded(elsewhere.port).await.status, 401);
    assert_eq!(failed_login_clients(elsewhere).await, vec!["127.0.0.1"]);
}

#[tokio::test]
async fn rotating_a_forged_forwarded_address_does_not_escape_the_throttle() {
    let server = start_with(&[
        ("TRUSTED_PROXY_HEADER", "X-Forwarded-For"),
        ("TRUSTED_PROXIES", "10.0.0.0/8"),
    ])
    .await;
    // A new account and a new claimed address each time: only the real address can be counted.
    let mut statuses = Vec::new();
    for n in 0..60 {
        let wrong = serde_json::json!({"email": format!("victim{n}@example.com"), "password": "wrong horse battery staple"})
            .to_string();
        let forged = format!("x-forwarded-for: 198.51.100.{n}");
        let answer = send(
            server.port,
            "POST",
            "/v1/auth/login",
            &["content-type: application/json", &forged],
            wrong.as_bytes(),
        )
        .await;
        statuses.push(answer.status);
    }
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    eprintln!("60 forged addresses: {throttled} throttled");
    assert!(throttled > 0, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [401, 429].contains(s)),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_and_refuses_new_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A costly hash keeps the login in flight for a good while after the signal; the drain
    // deadline is long enough for it even on a machine busy with other tests (at the
    // harness's 5 s it was cut off there now and then). The admin listener tells the
    // orchestrator about the drain while it lasts.
    let mut server = start_with(&[
        ("ADMIN_ADDR", "127.0.0.1:0"),
        ("ARGON2_MEMORY_KIB", "262144"),
        ("ARGON2_ITERATIONS", "4"),
        ("SHUTDOWN_TIMEOUT", "18"),
    ])
    .await;
    let body =
        serde_json::json!({"email": "slow@example.com", "password": "wrong horse battery staple"})
            .to_string();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/auth/login HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Let the server read the request and start hashing, then ask it to stop.
    let mut first = [0u8; 1];
    let peek = tokio::time::timeout(Duration::from_millis(100), stream.peek(&mut first)).await;
    assert!(
        peek.is_err(),
        "the login must still be in flight when the signal is sent"
    );
    terminate(&server.child);
    let admin = server.admin_port.unwrap();
    let mut draining = false;
    for _ in 0..100 {
        let answer = send(admin, "GET", "/health/readiness", &[], b"").await;
        if answer.status == 503 && answer.body["error"]["shutdown"]["status"] == "down" {
            draining = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(draining, "the admin readiness never said draining");

    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "the in-flight login completed: {answer}"
    );
    let status = tokio::time::timeout(Duration::from_secs(20), server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    for port in [server.port, admin] {
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err(),
            "no new connections to {port} after shutdown"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_of_the_api() {
    let server = start().await;
    let (status, doc) = request(server.port, "GET", "/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let expected = [
        ("post", "/v1/auth/register"),
        ("post", "/v1/auth/login"),
        ("post", "/v1/auth/mfa/verify"),
        ("post", "/v1/auth/refresh"),
        ("post", "/v1/auth/logout"),
        ("get", "/v1/auth/me"),
        ("post", "/v1/auth/password"),
        ("post", "/v1/auth/reauthenticate"),
        ("post", "/v1/auth/mfa/totp/enroll"),
        ("post", "/v1/auth/mfa/totp/confirm"),
        ("delete", "/v1/auth/mfa/totp"),
        ("get", "/v1/auth/sessions"),
        ("delete", "/v1/auth/sessions"),
        ("delete", "/v1/auth/sessions/{id}"),
        ("post", "/v1/auth/email/verify"),
        ("get", "/v1/auth/email/verify"),
        ("post", "/v1/auth/email/verify/resend"),
        ("post", "/v1/auth/password/forgot"),
        ("post", "/v1/auth/password/reset"),
        ("get", "/v1/auth/password/reset"),
        ("post", "/v1/auth/login/email"),
        ("post", "/v1/auth/login/email/verify"),
        ("get", "/v1/auth/login/email/verify"),
        ("post", "/v1/auth/email/change"),
        ("post", "/v1/auth/email/change/confirm"),
        ("get", "/v1/auth/email/change/confirm"),
        ("post", "/v1/auth/passkeys/register/options"),
        ("post", "/v1/auth/passkeys/register/finish"),
        ("get", "/v1/auth/passkeys"),
        ("patch", "/v1/auth/passkeys/{id}"),
        ("delete", "/v1/auth/passkeys/{id}"),
        ("post", "/v1/auth/passkeys/login/options"),
        ("post", "/v1/auth/passkeys/login/finish"),
        ("post", "/v1/auth/passkeys/mfa/options"),
        ("post", "/v1/auth/passkeys/mfa/finish"),
        ("post", "/v1/auth/passkeys/reauthenticate/options"),
        ("post", "/v1/auth/passkeys/reset/options"),
        ("post", "/v1/auth/passkeys/reset/finish"),
    ];
    for (method, path) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        expected.len(),
        "every documented operation is a route"
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "TokenBody",
        "ErrorBody",
        "Credentials",
        "LoginBody",
        "SessionsBody",
    ] {
        assert!(schemas.contains_key(schema), "{schema} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    // The document's token shape is the one login really answers with.
    let token_fields: Vec<&str> = schemas["TokenBody"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let credentials =
        serde_json::json!({"email": "doc@example.com", "password": "correct horse battery staple"});
    post_json(server.port, "/v1/auth/register", &credentials, None).await;
    let login = post_json(server.port, "/v1/auth/login", &credentials, None).await;
    for field in token_fields {
        assert!(
            login.body.get(field).is_some(),
            "{field} documented but not answered"
        );
    }
}

#[tokio::test]
async fn the_request_log_names_the_authenticated_user() {
    let mut server = start().await;
    let credentials =
        serde_json::json!({"email": "who@example.com", "password": "correct horse battery staple"});
    let registered = post_json(server.port, "/v1/auth/register", &credentials, None).await;
    let login = post_json(server.port, "/v1/auth/login", &credentials, None).await;
    let access = login.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get_json(server.port, "/v1/auth/me", Some(&access))
            .await
            .status,
        200
    );
    terminate(&server.child);
    let _ = tokio::time::timeout(Duration::from_secs(15), server.child.wait()).await;
    let mut logs = Vec::new();
    while let Ok(Some(line)) =
        tokio::time::timeout(Duration::from_secs(5), server.logs.recv()).await
    {
        logs.push(line);
    }
    let user_id = registered.body["user_id"].as_str().unwrap();
    let answered_me = logs
        .iter()
        .filter(|line| line.contains("\"answered\"") && line.contains("/v1/auth/me"))
        .collect::<Vec<_>>();
    assert_eq!(answered_me.len(), 1, "{logs:?}");
    assert!(answered_me[0].contains(user_id), "{}", answered_me[0]);
    assert!(
        answered_me[0].contains("\"status\":200"),
        "{}",
        answered_me[0]
    );
    assert!(answered_me[0].contains("latency_ms"), "{}", answered_me[0]);
}

#[tokio::test]
async fn an_overloaded_hashing_pool_answers_503_busy_with_retry_after() {
    // One hash at a time, one waiting, and each hash slow enough that a burst overlaps.
    let server = start_with(&[
        ("PASSWORD_HASH_CONCURRENCY", "1"),
        ("PASSWORD_HASH_QUEUE", "1"),
        ("ARGON2_ITERATIONS", "40"),
    ])
    .await;
    let port = server.port;
    let burst: Vec<_> = (0..10)
        .map(|i| {
            tokio::spawn(async move {
                let body = serde_json::json!({"email": format!("nobody{i}@example.com"), "password": "correct horse battery staple"});
                post_json(port, "/v1/auth/login", &body, None).await
            })
        })
        .collect();
    let mut busy = 0;
    let mut answered = 0;
    for answer in burst {
        let answer = answer.await.unwrap();
        match answer.status {
            401 => answered += 1,
            503 => {
                assert_eq!(answer.body["error"], "busy", "{:?}", answer.body);
                assert!(answer.head.contains("retry-after:"), "{}", answer.head);
                busy += 1;
            }
            other => panic!("unexpected {other}: {:?}", answer.body),
        }
    }
    assert!(answered >= 1, "the pool still works through its capacity");
    assert!(busy >= 1, "a burst over capacity is refused, not queued");
    // Once the burst is over, logins are served again.
    let body = serde_json::json!({"email": "nobody@example.com", "password": "correct horse battery staple"});
    assert_eq!(
        post_json(port, "/v1/auth/login", &body, None).await.status,
        401
    );
}

#[tokio::test]
async fn a_request_past_the_deadline_answers_503_timeout_and_the_server_goes_on() {
    // A hash far slower than the one-second deadline.
    let server = start_with(&[
        ("REQUEST_TIMEOUT", "1"),
        ("ARGON2_MEMORY_KIB", "65536"),
        ("ARGON2_ITERATIONS", "200"),
    ])
    .await;
    let body = serde_json::json!({"email": "slow@example.com", "password": "correct horse battery staple"});
    let slow = post_json(server.port, "/v1/auth/login", &body, None).await;
    assert_eq!(
        (slow.status, slow.body["error"].as_str()),
        (503, Some("timeout")),
        "{:?}",
        slow.body
    );
    assert!(slow.head.contains("retry-after: 1"), "{}", slow.head);
    assert!(slow.head.contains("x-request-id:"), "{}", slow.head);
    assert_eq!(request(server.port, "GET", "/health/liveness").await.0, 200);
}
