//! The orders API of the axum example on plain hyper 1 + hyper-util, no framework: each
//! protected route is a `tower::ServiceBuilder` stack (`AuthLayer`, then `RequireScopeLayer`,
//! then the handler), a small hand-written path match picks the route, and every connection
//! is served through `TowerToHyperService` by hyper-util's HTTP/1 + HTTP/2 (`auto`) builder.
//!
//! Routes: `POST /login`, `GET /me` (bearer token), `GET /orders` (bearer token and
//! `orders:read`), `GET /health/{liveness,readiness,startup}`.
//!
//! Run: `cargo run -p auth-examples --bin hyper_server` (listens on 127.0.0.1, `PORT` or
//! 3001); try it with the `curl` lines of the axum example.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use auth_core::flows::{Authenticator, Principal};
use auth_tower::health::HealthService;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::util::BoxCloneService;
use tower::{Service, ServiceBuilder, ServiceExt};

use crate::answers::{self, LoginRequest};
use crate::demo::{DRAIN_DEADLINE, Demo, ORDERS_READ};

/// The response body of every route. The routes' own bodies differ (`AuthBody<..>` around
/// protected handlers, `Full` from the probes), so each is boxed to this one type.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

type Route = BoxCloneService<Request<Incoming>, Response<Body>, Infallible>;

/// Larger login bodies are refused before they are read.
const LOGIN_BODY_LIMIT: usize = 16 * 1024;

/// The client's address, put in the request extensions per connection by [`serve`].
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

/// The application: every route, behind one hand-written path match.
#[derive(Clone)]
pub struct App {
    auth: Authenticator,
    me: Route,
    orders: Route,
    health: HealthService,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// Boxes any route's response body into [`Body`].
fn boxed<B>(response: Response<B>) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    response.map(BodyExt::boxed_unsync)
}

impl App {
    /// Builds the route stacks.
    pub fn new(demo: &Demo) -> Self {
        let auth = demo.auth.clone();
        let me = ServiceBuilder::new()
            .map_response(boxed)
            .layer(demo.auth_layer())
            .service_fn(move |request: Request<Incoming>| {
                let auth = auth.clone();
                async move {
                    let answer = match request.extensions().get::<Principal>() {
                        Some(principal) => answers::me(&auth, principal).await,
                        // Unreachable behind a required `AuthLayer`; a 500, not a panic.
                        None => answers::error_response(&auth_core::Error::Internal(
                            "no principal".into(),
                        )),
                    };
                    Ok::<_, Infallible>(answer.map(Full::from))
                }
            });
        // Layers run top to bottom: authenticate, then check the scope, then the handler.
        let orders = ServiceBuilder::new()
            .map_response(boxed)
            .layer(demo.auth_layer())
            .layer(demo.require(ORDERS_READ))
            .service_fn(|request: Request<Incoming>| async move {
                let answer = match request.extensions().get::<Principal>() {
                    Some(principal) => answers::orders(principal),
                    None => {
                        answers::error_response(&auth_core::Error::Internal("no principal".into()))
                    }
                };
                Ok::<_, Infallible>(answer.map(Full::from))
            });
        Self {
            auth: demo.auth.clone(),
            me: BoxCloneService::new(me),
            orders: BoxCloneService::new(orders),
            health: demo.health.clone(),
        }
    }

    /// Routes one request.
    pub async fn handle(self, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        if path.starts_with("/health/") {
            return self.health.oneshot(request).await.map(boxed);
        }
        match (path.as_str(), method) {
            ("/login", Method::POST) => Ok(boxed(login(&self.auth, request).await.map(Full::from))),
            ("/me", Method::GET | Method::HEAD) => self.me.oneshot(request).await,
            ("/orders", Method::GET | Method::HEAD) => self.orders.oneshot(request).await,
            ("/login", _) => Ok(boxed(answers::method_not_allowed("POST").map(Full::from))),
            ("/me" | "/orders", _) => Ok(boxed(
                answers::method_not_allowed("GET, HEAD").map(Full::from),
            )),
            _ => Ok(boxed(answers::not_found().map(Full::from))),
        }
    }
}

impl Service<Request<Incoming>> for App {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = auth_tower::BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        // Every route is ready at all times (`oneshot` waits for each one anyway).
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        Box::pin(self.clone().handle(request))
    }
}

async fn login(auth: &Authenticator, request: Request<Incoming>) -> Response<String> {
    let client = request.extensions().get::<Peer>().map(|peer| peer.0.ip());
    let body = match Limited::new(request.into_body(), LOGIN_BODY_LIMIT)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            let mut answer = answers::malformed_body("the body is too large");
            *answer.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return answer;
        }
        Err(_) => return answers::malformed_body("the body could not be read"),
    };
    match serde_json::from_slice::<LoginRequest>(&body) {
        Ok(login) => answers::login(auth, login, client).await,
        Err(error) => answers::malformed_body(&format!("expected {{email, password}}: {error}")),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests for at most [`DRAIN_DEADLINE`].
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let builder = auto::Builder::new(TokioExecutor::new());
    let connections = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    eprintln!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // One stack per connection: it knows the client's address.
        let service = ServiceBuilder::new()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(Peer(peer));
                request
            })
            .service(app.clone());
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                eprintln!("connection from {peer}: {error}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_DEADLINE, connections.shutdown())
        .await
        .is_err()
    {
        eprintln!("connections still open after {DRAIN_DEADLINE:?}; stopping anyway");
    }
    Ok(())
}
