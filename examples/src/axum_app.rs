//! An axum application on `auth-core` and `auth-tower`:
//!
//! | route | needs | answers |
//! |---|---|---|
//! | `POST /login` `{email,password}` | nothing | tokens from the `Authenticator` |
//! | `GET /me` | a bearer token (`AuthLayer`) | the caller's account |
//! | `GET /orders` | a bearer token and the `orders:read` scope (`RequireScopeLayer`) | orders |
//! | `GET /health/{liveness,readiness,startup}` | nothing | `HealthService` probes |
//!
//! Run: `cargo run -p auth-examples --bin axum_app` (listens on 127.0.0.1, `PORT` or 3000),
//! then:
//!
//! ```text
//! TOKEN=$(curl -s localhost:3000/login -H 'content-type: application/json' \
//!   -d '{"email":"ada@example.com","password":"correct horse battery staple"}' | jq -r .access_token)
//! curl -i localhost:3000/orders                                # 401, WWW-Authenticate: Bearer
//! curl -i localhost:3000/orders -H "authorization: Bearer $TOKEN"
//! curl -i localhost:3000/health/readiness
//! ```

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;

use auth_core::flows::{Authenticator, Principal};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Json, State};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::Response;
use tokio::net::TcpListener;

use crate::answers::{self, LoginRequest};
use crate::demo::{DRAIN_DEADLINE, Demo, ORDERS_READ};

/// The application's routes. Serve them with [`serve`] (which supplies the client address
/// that login throttling uses), or call them in process with `tower::ServiceExt::oneshot`.
pub fn router(demo: &Demo) -> Router {
    // Layers added with `route_layer` run only for requests that matched a route, so an
    // unknown path stays a 404 instead of becoming a 401. The `AuthLayer` is added last, so
    // it runs first: `RequireScopeLayer` finds the verified `Principal` in the extensions.
    let orders = Router::new()
        .route("/orders", get(orders))
        .route_layer(demo.require(ORDERS_READ));
    let signed_in = Router::new()
        .route("/me", get(me))
        .merge(orders)
        .route_layer(demo.auth_layer());
    Router::new()
        .route("/login", post(login))
        .merge(signed_in)
        // `nest_service` strips the prefix; the probes answer by their last path segment.
        .nest_service("/health", demo.health.clone())
        .with_state(demo.auth.clone())
}

async fn login(
    State(auth): State<Authenticator>,
    // Present when served with connect info (as `serve` does); the per-address throttle
    // then counts this client's failures too.
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Response<String> {
    match body {
        Ok(Json(request)) => {
            let client = client.map(|Extension(ConnectInfo(address))| address.ip());
            answers::login(&auth, request, client).await
        }
        Err(rejection) => answers::malformed_body(&rejection.body_text()),
    }
}

async fn me(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
) -> Response<String> {
    answers::me(&auth, &principal).await
}

async fn orders(Extension(principal): Extension<Principal>) -> Response<String> {
    answers::orders(&principal)
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish for at most [`DRAIN_DEADLINE`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (draining, drain_started) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = draining.send(());
    };
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result,
        Ok(()) = drain_started => match tokio::time::timeout(DRAIN_DEADLINE, server).await {
            Ok(result) => result,
            Err(_) => {
                eprintln!("requests still running after {DRAIN_DEADLINE:?}; stopping anyway");
                Ok(())
            }
        },
    }
}
