use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use auth_core::event::{AuthEvent, AuthEventKind, EventSink, LoginFailure, MemoryEventSink};
use auth_core::flows::{Authenticator, LoginOutcome, Stores, Tokens};
use auth_core::id::{Amr, PasskeyKind};
use auth_core::secrecy::{ExposeSecret, SecretString};
use auth_core::testing;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{ServiceExt, service_fn};
use tower_layer::Layer;

use super::*;

/// A small OpenMetrics text checker: every line is a descriptor, a sample of a declared
/// family with a numeric value and well-formed labels, and the text ends with `# EOF`.
fn check_openmetrics(text: &str) -> Vec<(String, f64)> {
    let mut families: HashSet<String> = HashSet::new();
    let mut samples = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"# EOF"),
        "the exposition ends with # EOF"
    );
    let name_ok = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap();
            let name = parts.next().unwrap_or_default();
            assert!(matches!(kind, "HELP" | "TYPE" | "UNIT"), "{line}");
            assert!(name_ok(name), "{line}");
            if kind == "TYPE" {
                let metric_type = parts.next().unwrap_or_default();
                assert!(
                    matches!(
                        metric_type,
                        "counter" | "gauge" | "histogram" | "info" | "unknown"
                    ),
                    "{line}"
                );
                families.insert(name.to_owned());
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let name = series.split('{').next().unwrap();
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            for pair in labels[1..labels.len() - 1]
                .split("\",")
                .filter(|p| !p.is_empty())
            {
                let (key, quoted) = pair.split_once('=').unwrap_or_else(|| panic!("{line}"));
                assert!(name_ok(key) && quoted.starts_with('"'), "{line}");
            }
        }
        let family = ["_total", "_bucket", "_count", "_sum", "_created"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).filter(|f| families.contains(*f)))
            .unwrap_or(name);
        assert!(
            families.contains(family),
            "sample of an undeclared family: {line}"
        );
        samples.push((series.to_owned(), value));
    }
    samples
}

fn sample(samples: &[(String, f64)], series: &str) -> Option<f64> {
    samples.iter().find(|(s, _)| s == series).map(|(_, v)| *v)
}

async fn answer(status: StatusCode) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    Ok(response)
}

#[tokio::test]
async fn requests_are_counted_by_method_route_template_and_status_class() {
    let metrics = Metrics::new();
    let layer = metrics
        .layer()
        .routes(["/v1/auth/sessions/{id}", "/v1/auth/login"]);
    let ok = layer.layer(service_fn(|_: Request<Full<Bytes>>| {
        answer(StatusCode::NO_CONTENT)
    }));
    let missing = layer.layer(service_fn(|_: Request<Full<Bytes>>| {
        answer(StatusCode::NOT_FOUND)
    }));
    for id in ["a", "b", "c"] {
        let request = Request::delete(format!("/v1/auth/sessions/{id}"))
            .body(Full::default())
            .unwrap();
        ok.clone().oneshot(request).await.unwrap();
    }
    let request = Request::post("/v1/auth/login")
        .body(Full::default())
        .unwrap();
    missing.clone().oneshot(request).await.unwrap();
    let weird = Request::builder()
        .method("BREW")
        .uri("/coffee/pot")
        .body(Full::default())
        .unwrap();
    missing.oneshot(weird).await.unwrap();

    let samples = check_openmetrics(&metrics.encode().unwrap());
    let counted = |series: &str| sample(&samples, series);
    assert_eq!(
        counted(
            r#"http_requests_total{method="DELETE",route="/v1/auth/sessions/{id}",status="2xx"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        counted(r#"http_requests_total{method="POST",route="/v1/auth/login",status="4xx"}"#),
        Some(1.0)
    );
    assert_eq!(
        counted(r#"http_requests_total{method="other",route="unmatched",status="4xx"}"#),
        Some(1.0)
    );
    assert_eq!(
        counted(
            r#"http_request_duration_seconds_count{method="DELETE",route="/v1/auth/sessions/{id}",status="2xx"}"#
        ),
        Some(3.0)
    );
}

#[tokio::test]
async fn raw_paths_never_become_labels() {
    let metrics = Metrics::new();
    let service = metrics
        .layer()
        .routes(["/v1/items/{id}"])
        .layer(service_fn(|_: Request<Full<Bytes>>| answer(StatusCode::OK)));
    for i in 0..500 {
        let request = Request::get(format!("/random/{i}/path"))
            .body(Full::default())
            .unwrap();
        service.clone().oneshot(request).await.unwrap();
    }
    let text = metrics.encode().unwrap();
    let series = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .count();
    assert_eq!(series, 1, "{text}");
    assert!(!text.contains("/random/"));
}

#[tokio::test]
async fn the_metrics_service_serves_valid_openmetrics() {
    let metrics = Metrics::new();
    let measured = metrics
        .layer()
        .layer(service_fn(|_: Request<Full<Bytes>>| answer(StatusCode::OK)));
    measured
        .oneshot(Request::get("/").body(Full::default()).unwrap())
        .await
        .unwrap();
    let response = metrics
        .service()
        .oneshot(
            Request::get("/metrics")
                .body(Full::<Bytes>::default())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[http::header::CONTENT_TYPE],
        OPENMETRICS_CONTENT_TYPE
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let samples = check_openmetrics(&text);
    for family in [
        "# TYPE http_requests counter",
        "# TYPE http_request_duration_seconds histogram",
        "# TYPE auth_login counter",
        "# TYPE auth_refresh counter",
        "# TYPE auth_mfa_verify counter",
        "# TYPE auth_throttled counter",
        "# TYPE auth_second_factor_checks counter",
        "# TYPE auth_token_issue_duration_seconds histogram",
        "# TYPE auth_password_hash_duration_seconds histogram",
    ] {
        assert!(text.contains(family), "{family} missing from {text}");
    }
    // Known outcomes are there at zero before anything happened.
    assert_eq!(
        sample(&samples, r#"auth_refresh_total{outcome="reused"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &samples,
            r#"auth_login_total{outcome="failure",method="password"}"#
        ),
        Some(0.0)
    );
    if cfg!(target_os = "linux") {
        assert!(sample(&samples, "process_resident_memory_bytes").is_some_and(|v| v > 0.0));
        assert!(sample(&samples, "process_open_fds").is_some_and(|v| v > 0.0));
        assert!(text.contains("process_cpu_seconds_total"));
    }
}

#[tokio::test]
async fn audit_events_count_logins_second_factors_and_throttling_and_pass_on() {
    let metrics = Metrics::new();
    let audit = MemoryEventSink::new();
    let sink = metrics.event_sink(Arc::new(audit.clone()));
    let event = |kind| AuthEvent {
        at: std::time::SystemTime::UNIX_EPOCH,
        kind,
        user_id: None,
        session_id: None,
        client: None,
    };
    for kind in [
        AuthEventKind::LoginSucceeded { amr: Amr::Password },
        AuthEventKind::LoginSucceeded {
            amr: Amr::PasswordAndTotp,
        },
        AuthEventKind::LoginSucceeded {
            amr: Amr::Passkey(PasskeyKind::Synced),
        },
        AuthEventKind::LoginSucceeded {
            amr: Amr::PasswordAndPasskey(PasskeyKind::DeviceBound),
        },
        AuthEventKind::LoginFailed {
            reason: LoginFailure::WrongPassword,
        },
        AuthEventKind::LoginFailed {
            reason: LoginFailure::Throttled,
        },
        AuthEventKind::MfaChallenged,
        AuthEventKind::MfaFailed,
        AuthEventKind::RecoveryCodeUsed { remaining: 9 },
    ] {
        sink.record(event(kind)).await.unwrap();
    }
    assert_eq!(
        audit.events().len(),
        9,
        "every event reaches the audit sink"
    );
    let samples = check_openmetrics(&metrics.encode().unwrap());
    for (series, value) in [
        (
            r#"auth_login_total{outcome="success",method="password"}"#,
            1.0,
        ),
        (r#"auth_login_total{outcome="success",method="mfa"}"#, 2.0),
        (
            r#"auth_login_total{outcome="success",method="passkey"}"#,
            1.0,
        ),
        (
            r#"auth_login_total{outcome="failure",method="password"}"#,
            1.0,
        ),
        (
            r#"auth_login_total{outcome="throttled",method="password"}"#,
            1.0,
        ),
        (
            r#"auth_login_total{outcome="mfa_required",method="password"}"#,
            1.0,
        ),
        (r#"auth_mfa_verify_total{outcome="success"}"#, 2.0),
        (r#"auth_mfa_verify_total{outcome="failure"}"#, 1.0),
        (r#"auth_mfa_verify_total{outcome="recovery_code"}"#, 1.0),
        ("auth_throttled_total", 1.0),
    ] {
        assert_eq!(sample(&samples, series), Some(value), "{series}");
    }
}

/// Registers ada@example.com and logs in.
async fn signed_up(auth: &Authenticator) -> Tokens {
    let password = SecretString::from("correct horse battery staple");
    auth.register("ada@example.com", &password).await.unwrap();
    match auth
        .login("ada@example.com", &password, None)
        .await
        .unwrap()
    {
        LoginOutcome::Authenticated(tokens) => tokens,
        LoginOutcome::MfaRequired { .. } => panic!("no MFA enrolled"),
    }
}

#[tokio::test]
async fn every_code_checked_against_a_totp_secret_is_counted() {
    let metrics = Metrics::new();
    let auth = testing::authenticator_builder(testing::authenticator_config())
        .clock(testing::clock())
        .observer(Arc::new(metrics.clone()))
        .build()
        .unwrap();
    let tokens = signed_up(&auth).await;
    let principal = auth
        .authenticate(tokens.access_token.expose_secret())
        .await
        .unwrap();
    let enrollment = auth.enroll_totp(&principal).await.unwrap();
    let totp = auth_core::mfa::TotpSecret::from_base32(enrollment.secret.expose_secret()).unwrap();
    let now = auth_core::clock::unix_seconds(testing::now());
    let code_at = |at| auth_core::mfa::code_at(&totp, &auth.config().totp, at).unwrap();
    let code = code_at(now);
    // Not the code of this step, nor of one either side (all three verify).
    let near = [code_at(now - 30), code.clone(), code_at(now + 30)];
    let wrong = ["000000", "111111", "222222", "333333"]
        .into_iter()
        .find(|candidate| !near.iter().any(|c| c == candidate))
        .unwrap();
    assert!(auth.confirm_totp(&principal, wrong, None).await.is_err());
    auth.confirm_totp(&principal, &code, None).await.unwrap();
    let samples = check_openmetrics(&metrics.encode().unwrap());
    assert_eq!(
        sample(&samples, "auth_second_factor_checks_total"),
        Some(2.0)
    );
}

#[tokio::test]
async fn the_authenticator_feeds_refresh_hashing_and_issuing_metrics() {
    let metrics = Metrics::new();
    let stores = Stores::memory_with_events(Arc::new(
        metrics.event_sink(Arc::new(MemoryEventSink::new())),
    ));
    // No reuse grace: the second use of a token is reuse at once.
    let mut config = testing::authenticator_config();
    config.sessions.refresh_reuse_grace = Duration::ZERO;
    let auth = testing::authenticator_builder(config)
        .stores(stores)
        .observer(Arc::new(metrics.clone()))
        .build()
        .unwrap();
    let tokens = signed_up(&auth).await;
    auth.refresh(tokens.refresh_token.expose_secret(), None)
        .await
        .unwrap();
    let _ = auth
        .refresh(tokens.refresh_token.expose_secret(), None)
        .await;
    let samples = check_openmetrics(&metrics.encode().unwrap());
    assert_eq!(
        sample(&samples, r#"auth_refresh_total{outcome="rotated"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&samples, r#"auth_refresh_total{outcome="reused"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&samples, "auth_password_hash_duration_seconds_count"),
        Some(2.0)
    );
    assert_eq!(
        sample(&samples, "auth_token_issue_duration_seconds_count"),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &samples,
            r#"auth_login_total{outcome="success",method="password"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn readiness_results_set_the_health_gauge() {
    use crate::health::{HealthCheck, HealthService, StartupGate};
    let metrics = Metrics::new();
    let health = HealthService::new(StartupGate::new())
        .with_check(HealthCheck::from_fn("postgres", || async { Ok(()) }))
        .with_check(HealthCheck::from_fn("redis", || async {
            Err("down".to_owned())
        }))
        .timeout(Duration::from_secs(1))
        .reporter(metrics.health_reporter());
    let (healthy, _) = health.readiness().await;
    assert!(!healthy);
    let samples = check_openmetrics(&metrics.encode().unwrap());
    assert_eq!(
        sample(&samples, r#"auth_service_health{component="postgres"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&samples, r#"auth_service_health{component="redis"}"#),
        Some(0.0)
    );
}

#[test]
fn the_checker_refuses_malformed_expositions() {
    let bad = [
        "http_requests_total 1\n# EOF",
        "# TYPE x counter\nx_total one\n# EOF",
        "# TYPE x counter\nx_total 1",
    ];
    for text in bad {
        assert!(
            std::panic::catch_unwind(|| check_openmetrics(text)).is_err(),
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_hashing_pool_reports_occupancy_once_watched() {
    use auth_core::password::{PasswordConfig, PasswordService};

    let metrics = Metrics::new();
    let samples = check_openmetrics(&metrics.encode().unwrap());
    assert_eq!(sample(&samples, "auth_password_hash_capacity"), None);

    let passwords = PasswordService::new(PasswordConfig {
        max_concurrent_hashes: 1,
        max_queued_hashes: 2,
        ..PasswordConfig::default()
    })
    .unwrap();
    metrics.watch_password_pool(&passwords);
    let samples = check_openmetrics(&metrics.encode().unwrap());
    assert_eq!(sample(&samples, "auth_password_hash_in_flight"), Some(0.0));
    assert_eq!(sample(&samples, "auth_password_hash_capacity"), Some(3.0));
    assert_eq!(sample(&samples, "auth_password_hash_workers"), Some(1.0));
    assert_eq!(
        sample(&samples, "auth_password_hash_refused_total"),
        Some(0.0)
    );

    // A hash in progress shows while it runs and is gone when it ends.
    let hashing = tokio::spawn({
        let passwords = passwords.clone();
        async move {
            passwords
                .hash_new_password(&SecretString::from("correct horse battery staple"), &[])
                .await
        }
    });
    let mut seen = false;
    for _ in 0..10_000 {
        let samples = check_openmetrics(&metrics.encode().unwrap());
        if sample(&samples, "auth_password_hash_in_flight") == Some(1.0) {
            seen = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(seen, "the running hash never showed as in flight");
    // Fill the queue behind it, then one more is refused and counted.
    let queued: Vec<_> = (0..2)
        .map(|_| {
            let passwords = passwords.clone();
            tokio::spawn(async move {
                passwords
                    .hash_new_password(&SecretString::from("correct horse battery staple"), &[])
                    .await
            })
        })
        .collect();
    for _ in 0..10_000 {
        if passwords.hashes_in_flight() == 3 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(passwords.hashes_in_flight(), 3, "one running, two waiting");
    let refused = passwords
        .hash_new_password(&SecretString::from("correct horse battery staple"), &[])
        .await;
    assert!(
        matches!(refused, Err(auth_core::Error::Busy)),
        "{refused:?}"
    );
    let samples = check_openmetrics(&metrics.encode().unwrap());
    assert!(sample(&samples, "auth_password_hash_refused_total") >= Some(1.0));
    hashing.await.unwrap().unwrap();
    for job in queued {
        job.await.unwrap().unwrap();
    }
    let samples = check_openmetrics(&metrics.encode().unwrap());
    assert_eq!(sample(&samples, "auth_password_hash_in_flight"), Some(0.0));
    // Three hashes ran (the fourth was refused): each waited for its slot, the queued two
    // behind the first, and the waits form a histogram whose +Inf bucket holds them all.
    assert_eq!(
        sample(&samples, "auth_password_hash_wait_seconds_count"),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &samples,
            r#"auth_password_hash_wait_seconds_bucket{le="+Inf"}"#
        ),
        Some(3.0)
    );
    assert!(sample(&samples, "auth_password_hash_wait_seconds_sum") > Some(0.0));
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn the_postgres_pool_reports_once_watched() {
    use auth_core::store::postgres::{PostgresConfig, PostgresStore};

    let metrics = Metrics::new();
    let samples = check_openmetrics(&metrics.encode().unwrap());
    assert_eq!(sample(&samples, "auth_db_pool_max_connections"), None);
    // The pool connects lazily: watching it needs no server.
    let config = PostgresConfig {
        max_connections: 7,
        ..PostgresConfig::from_url("postgres://nobody@127.0.0.1:1/none")
    };
    let store = PostgresStore::connect(&config).unwrap();
    metrics.watch_postgres_pool(&store);
    let samples = check_openmetrics(&metrics.encode().unwrap());
    assert_eq!(sample(&samples, "auth_db_pool_max_connections"), Some(7.0));
    assert_eq!(sample(&samples, "auth_db_pool_open_connections"), Some(0.0));
    assert_eq!(sample(&samples, "auth_db_pool_busy_connections"), Some(0.0));
    assert_eq!(sample(&samples, "auth_db_pool_waiting"), Some(0.0));
    assert_eq!(sample(&samples, "auth_db_pool_timeouts_total"), Some(0.0));
}
