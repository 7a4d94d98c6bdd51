//! The axum and the plain-hyper example, started in process on 127.0.0.1 (port 0) and spoken
//! to over HTTP/1.1 on loopback: the same checks against both, since they serve the same API.
//! Every wait is bounded; every server is stopped through its graceful shutdown.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use auth_core::event::Actor;
use auth_core::secrecy::SecretString;
use auth_examples::demo::{DEMO_EMAIL, DEMO_PASSWORD, Demo, orders_reader};
use auth_examples::{axum_app, hyper_server};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// The longest any single step may take.
const WAIT: Duration = Duration::from_secs(10);

/// A server running in this process.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Starts `serve(listener, shutdown)` on an ephemeral loopback port.
    async fn start<F, S>(serve: S) -> Self
    where
        S: FnOnce(TcpListener, std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> F,
        F: Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = Box::pin(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(serve(listener, shutdown));
        Self { addr, stop, task }
    }

    /// Asks for a graceful shutdown and waits (bounded) for the server to return.
    async fn stop(self) {
        let _ = self.stop.send(());
        timeout(WAIT, self.task)
            .await
            .expect("the server did not stop in time")
            .unwrap()
            .unwrap();
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn challenge(&self) -> &str {
        self.headers
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
}

/// One request on a fresh HTTP/1.1 connection.
async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Answer {
    let exchange = async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        let driver = tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, addr.to_string());
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if !body.is_empty() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        drop(sender);
        driver.abort();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    };
    timeout(WAIT, exchange)
        .await
        .unwrap_or_else(|_| panic!("no answer to {path} within {WAIT:?}"))
}

async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Answer {
    send(addr, Method::GET, path, token, "").await
}

async fn login(addr: SocketAddr, email: &str, password: &str) -> Answer {
    let body = serde_json::json!({ "email": email, "password": password }).to_string();
    send(addr, Method::POST, "/login", None, &body).await
}

async fn access_token(addr: SocketAddr, email: &str, password: &str) -> String {
    let answer = login(addr, email, password).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let tokens = answer.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// What both servers must answer.
async fn check_the_orders_api(addr: SocketAddr, demo: &Demo) {
    // Probes need no token.
    let live = get(addr, "/health/liveness", None).await;
    assert_eq!(live.status, StatusCode::OK, "{}", live.body);
    assert_eq!(live.json()["status"], "ok");
    let ready = get(addr, "/health/readiness", None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.json()["info"]["user_store"]["status"], "up");
    assert_eq!(
        get(addr, "/health/startup", None).await.status,
        StatusCode::OK
    );

    // No token: 401 with an RFC 6750 challenge and no error code.
    for path in ["/orders", "/me"] {
        let anonymous = get(addr, path, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(anonymous.challenge(), "Bearer realm=\"orders\"", "{path}");
        assert_eq!(anonymous.json()["error"], "unauthorized");
    }
    // A token that does not verify: 401 invalid_token.
    let forged = get(addr, "/orders", Some("not.a.token")).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert!(
        forged.challenge().contains("error=\"invalid_token\""),
        "{}",
        forged.challenge()
    );

    // The demo user logs in and holds orders:read.
    let ada = access_token(addr, DEMO_EMAIL, DEMO_PASSWORD).await;
    let me = get(addr, "/me", Some(&ada)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["email"], DEMO_EMAIL);
    assert_eq!(me.json()["user_id"], demo.demo_user.to_string());
    let orders = get(addr, "/orders", Some(&ada)).await;
    assert_eq!(orders.status, StatusCode::OK, "{}", orders.body);
    assert_eq!(orders.json()["orders"][0]["id"], "ord-1001");

    // Another user is signed in but lacks the scope: 403 insufficient_scope.
    let password = "another long passphrase";
    let bob_user = demo
        .auth
        .register("bob@example.com", &SecretString::from(password))
        .await
        .unwrap();
    let bob = access_token(addr, "bob@example.com", password).await;
    assert_eq!(get(addr, "/me", Some(&bob)).await.status, StatusCode::OK);
    let refused = get(addr, "/orders", Some(&bob)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(
        refused.challenge(),
        "Bearer realm=\"orders\", error=\"insufficient_scope\", scope=\"orders:read\""
    );
    assert_eq!(refused.json()["error"], "insufficient_scope");

    // Granted the role, Bob's next token carries the scope.
    let ops = Actor::operator("test");
    demo.auth
        .grant_role(&bob_user.id, &orders_reader(), &ops)
        .await
        .unwrap();
    let bob = access_token(addr, "bob@example.com", password).await;
    assert_eq!(
        get(addr, "/orders", Some(&bob)).await.status,
        StatusCode::OK
    );

    // Taking the role away ends Ada's sessions at once: the same token is refused, and her
    // next one lacks the scope.
    demo.auth
        .revoke_role(&demo.demo_user, &orders_reader(), &ops)
        .await
        .unwrap();
    let revoked = get(addr, "/orders", Some(&ada)).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED, "{}", revoked.body);
    assert!(revoked.challenge().contains("error=\"invalid_token\""));
    let ada = access_token(addr, DEMO_EMAIL, DEMO_PASSWORD).await;
    assert_eq!(
        get(addr, "/orders", Some(&ada)).await.status,
        StatusCode::FORBIDDEN
    );

    // Bad logins.
    let wrong = login(addr, DEMO_EMAIL, "wrong horse battery staple").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    assert_eq!(wrong.json()["error"], "invalid_credentials");
    let malformed = send(addr, Method::POST, "/login", None, "{\"email\":").await;
    assert_eq!(
        malformed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        malformed.body
    );
    assert_eq!(malformed.json()["error"], "invalid_request");

    // Routing.
    assert_eq!(
        get(addr, "/login", None).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        get(addr, "/nowhere", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_app_refuses_without_token_or_scope_and_serves_with_them() {
    let demo = Demo::start().await.unwrap();
    let router = axum_app::router(&demo);
    let server =
        Running::start(|listener, shutdown| axum_app::serve(listener, router, shutdown)).await;
    check_the_orders_api(server.addr, &demo).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_server_refuses_without_token_or_scope_and_serves_with_them() {
    let demo = Demo::start().await.unwrap();
    let app = hyper_server::App::new(&demo);
    let server =
        Running::start(|listener, shutdown| hyper_server::serve(listener, app, shutdown)).await;
    check_the_orders_api(server.addr, &demo).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_server_refuses_oversized_login_bodies() {
    let demo = Demo::start().await.unwrap();
    let app = hyper_server::App::new(&demo);
    let server =
        Running::start(|listener, shutdown| hyper_server::serve(listener, app, shutdown)).await;
    let huge = format!("{{\"email\":\"{}\"}}", "a".repeat(64 * 1024));
    let answer = send(server.addr, Method::POST, "/login", None, &huge).await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.body
    );
    server.stop().await;
}
