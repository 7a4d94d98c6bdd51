//! The tonic example, started in process on 127.0.0.1 (port 0) and called over loopback with
//! `tonic-health`'s generated client: a health `Check` without a bearer token is refused,
//! with one it answers `SERVING`. Every wait is bounded; the server is stopped gracefully.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use auth_core::secrecy::ExposeSecret;
use auth_examples::demo::{DEMO_EMAIL, DEMO_PASSWORD, Demo};
use auth_examples::tonic_server;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::timeout;
use tonic::transport::Endpoint;
use tonic::{Code, Request};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const WAIT: Duration = Duration::from_secs(10);

fn check(token: Option<&str>) -> Request<HealthCheckRequest> {
    let mut request = Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_is_refused_without_a_bearer_token_and_serving_with_one() {
    let demo = Demo::start().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(tonic_server::serve(listener, demo.auth.clone(), async {
        let _ = stopped.await;
    }));

    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(WAIT)
        .timeout(WAIT);
    let channel = timeout(WAIT, channel.connect()).await.unwrap().unwrap();
    let mut client = HealthClient::new(channel);

    // No token: UNAUTHENTICATED, with the RFC 6750 challenge as metadata.
    let refused = client.check(check(None)).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert_eq!(
        refused.metadata().get("www-authenticate").unwrap(),
        "Bearer realm=\"orders\""
    );
    eprintln!("without a token: {refused:?}");

    // A token that does not verify.
    let forged = client.check(check(Some("not.a.token"))).await.unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated, "{forged:?}");
    assert!(
        forged
            .metadata()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\""),
        "{forged:?}"
    );
    assert_eq!(forged.message(), "the token is invalid", "{forged:?}");

    // A valid token.
    let token = demo.access_token(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let answer = client
        .check(check(Some(token.expose_secret())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.status(), ServingStatus::Serving);

    drop(client);
    let _ = stop.send(());
    timeout(WAIT, server)
        .await
        .expect("the server did not stop in time")
        .unwrap()
        .unwrap();
}
