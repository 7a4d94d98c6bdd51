use std::sync::Mutex;
use std::time::Duration;

use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::ServiceExt;

use super::*;

async fn probe(service: &HealthService, path: &str) -> (StatusCode, Value) {
    let request = Request::get(path).body(Full::<Bytes>::default()).unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    let status = response.status();
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

fn up(name: &str) -> HealthCheck {
    HealthCheck::from_fn(name, || async { Ok(()) })
}

fn down(name: &str) -> HealthCheck {
    HealthCheck::from_fn(name, || async { Err("connection refused".to_owned()) })
}

fn hanging(name: &str) -> HealthCheck {
    HealthCheck::from_fn(name, std::future::pending)
}

#[tokio::test]
async fn liveness_never_runs_a_dependency_check() {
    let service = HealthService::new(StartupGate::new()).with_check(hanging("db"));
    let (status, body) = probe(&service, "/health/liveness").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status":"ok","info":{"process":{"status":"up"}},"error":{},"details":{"process":{"status":"up"}}})
    );
}

#[tokio::test]
async fn readiness_is_ok_when_every_check_is_up() {
    let service = HealthService::new(StartupGate::new())
        .with_check(up("postgres"))
        .with_check(up("redis"));
    let (status, body) = probe(&service, "/health/readiness").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["info"]["redis"]["status"], "up");
    assert_eq!(body["details"]["postgres"]["status"], "up");
}

#[tokio::test]
async fn one_check_down_makes_readiness_503_with_the_reason() {
    let service = HealthService::new(StartupGate::new())
        .with_check(up("postgres"))
        .with_check(down("redis"));
    let (status, body) = probe(&service, "/health/readiness").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "error");
    assert_eq!(
        body["error"]["redis"],
        json!({"status":"down","error":"connection refused"})
    );
    assert_eq!(body["info"]["postgres"]["status"], "up");
}

#[tokio::test]
async fn a_hanging_check_times_out_as_down() {
    let service = HealthService::new(StartupGate::new())
        .with_check(hanging("redis"))
        .timeout(Duration::from_millis(50));
    let (status, body) = probe(&service, "/health/readiness").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["error"]["redis"]["error"]
            .as_str()
            .unwrap()
            .contains("no answer")
    );
}

#[tokio::test]
async fn checks_run_concurrently() {
    // Two checks that each wait for the other: only concurrent runs finish.
    let (a_tx, a_rx) = tokio::sync::watch::channel(false);
    let (b_tx, b_rx) = tokio::sync::watch::channel(false);
    let a = HealthCheck::from_fn("a", move || {
        let (tx, mut rx) = (a_tx.clone(), b_rx.clone());
        async move {
            let _ = tx.send(true);
            rx.wait_for(|seen| *seen)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    });
    let b = HealthCheck::from_fn("b", move || {
        let (tx, mut rx) = (b_tx.clone(), a_rx.clone());
        async move {
            let _ = tx.send(true);
            rx.wait_for(|seen| *seen)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    });
    let service = HealthService::new(StartupGate::new())
        .with_check(a)
        .with_check(b)
        .timeout(Duration::from_secs(5));
    let (status, _) = probe(&service, "/health/readiness").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn startup_turns_ready_once_marked() {
    let gate = StartupGate::new();
    let service = HealthService::new(gate.clone());
    assert_eq!(
        probe(&service, "/health/startup").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    gate.mark_started();
    assert_eq!(probe(&service, "/health/startup").await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_reporter_sees_each_component_state() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let service = HealthService::new(StartupGate::new())
        .with_check(up("postgres"))
        .with_check(down("redis"))
        .reporter(Arc::new(move |name, up| {
            sink.lock().unwrap().push((name.to_owned(), up))
        }));
    probe(&service, "/health/readiness").await;
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        vec![("postgres".to_owned(), true), ("redis".to_owned(), false)]
    );
}

#[tokio::test]
async fn unknown_probes_and_methods_are_refused() {
    let service = HealthService::new(StartupGate::new());
    assert_eq!(
        probe(&service, "/health/nope").await.0,
        StatusCode::NOT_FOUND
    );
    let post = Request::post("/health/liveness")
        .body(Full::<Bytes>::default())
        .unwrap();
    let response = service.oneshot(post).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[cfg(any(feature = "postgres", feature = "redis"))]
use auth_core::testing::needs;

#[cfg(any(feature = "postgres", feature = "redis"))]
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn the_postgres_check_is_up_against_the_database_and_down_without_it() {
    use auth_core::store::postgres::{PostgresConfig, PostgresStore};
    let Some(url) = needs::postgres_url() else {
        return;
    };
    let live = PostgresStore::connect(&PostgresConfig::from_url(url)).unwrap();
    let port = closed_port();
    let dead = PostgresStore::connect(&PostgresConfig::from_url(format!(
        "postgres://postgres@127.0.0.1:{port}/test"
    )))
    .unwrap();
    let up_service = HealthService::new(StartupGate::new())
        .with_check(HealthCheck::postgres(live, Duration::from_secs(2)));
    assert_eq!(
        probe(&up_service, "/health/readiness").await.0,
        StatusCode::OK
    );
    let down_service = HealthService::new(StartupGate::new())
        .with_check(HealthCheck::postgres(dead, Duration::from_secs(2)));
    let (status, body) = probe(&down_service, "/health/readiness").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["postgres"]["status"], "down");
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn the_redis_check_is_up_against_the_server() {
    use auth_core::store::redis::{RedisConfig, RedisStore};
    let Some(url) = needs::redis_url() else {
        return;
    };
    let store = RedisStore::connect(RedisConfig::from_url(url))
        .await
        .unwrap();
    let service = HealthService::new(StartupGate::new())
        .with_check(HealthCheck::redis(store, Duration::from_secs(2)));
    let (status, body) = probe(&service, "/health/readiness").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["info"]["redis"]["status"], "up");
}

struct Flaky {
    up: bool,
}

impl HealthProbe for Flaky {
    fn name(&self) -> &str {
        "queue"
    }

    fn check(&self) -> BoxFuture<Result<(), String>> {
        let up = self.up;
        Box::pin(async move {
            if up {
                Ok(())
            } else {
                Err("queue unreachable".to_owned())
            }
        })
    }
}

#[tokio::test]
async fn custom_probes_plug_in_through_the_trait() {
    let service =
        HealthService::new(StartupGate::new()).with_check(HealthCheck::new(Flaky { up: false }));
    let (status, body) = probe(&service, "/health/readiness").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["queue"]["error"], "queue unreachable");
    let service =
        HealthService::new(StartupGate::new()).with_check(HealthCheck::new(Flaky { up: true }));
    assert_eq!(probe(&service, "/health/readiness").await.0, StatusCode::OK);
}

#[tokio::test]
async fn readiness_turns_503_once_draining_while_liveness_stays_up() {
    let drain = DrainGate::new();
    let service = HealthService::new(StartupGate::new())
        .with_check(up("postgres"))
        .drain_gate(drain.clone());
    assert_eq!(probe(&service, "/health/readiness").await.0, StatusCode::OK);
    drain.start_draining();
    let (status, body) = probe(&service, "/health/readiness").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["shutdown"]["status"], "down");
    assert_eq!(probe(&service, "/health/liveness").await.0, StatusCode::OK);
}

#[tokio::test]
async fn status_only_answers_the_same_codes_without_names_or_reasons() {
    let startup = StartupGate::new();
    let full = HealthService::new(startup.clone())
        .with_check(up("postgres"))
        .with_check(down("redis"));
    let public = full.clone().status_only();
    let (status, body) = probe(&public, "/health/readiness").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, json!({"status": "error"}));
    let (status, body) = probe(&full, "/health/readiness").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["redis"]["error"], "connection refused");

    assert_eq!(
        probe(&public, "/health/startup").await,
        (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "error"}))
    );
    startup.mark_started();
    assert_eq!(
        probe(&public, "/health/startup").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    assert_eq!(
        probe(&public, "/health/liveness").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let healthy = HealthService::new(startup)
        .with_check(up("postgres"))
        .status_only();
    assert_eq!(
        probe(&healthy, "/health/readiness").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
}
