//! What `AuthLayer` adds to one request: a trivial handler called bare, behind the layer with
//! the verified-token cache (every request after the first a hit), and behind the layer
//! without it (a signature check per request). The throughput target (the layer with its cache
//! keeps >= 90% of a trivial handler's requests per second) is measured over HTTP by the load
//! harness (`benches/load/run.sh auth-layer`); this bench isolates the layer's own cost.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::hint::black_box;

use auth_core::secrecy::ExposeSecret as _;
use auth_core::testing;
use auth_core::token::NewToken;
use auth_tower::authn::{AuthLayer, TokenAuthentication};
use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use http::{Request, Response, header};
use http_body_util::Full;
use tokio::runtime::Runtime;
use tower::{Layer as _, Service, ServiceExt as _, service_fn};

async fn handler(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        if request.extensions().is_empty() {
            b"anonymous"
        } else {
            b"ok"
        },
    ))))
}

fn auth_layer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (issuer, verifier) = testing::issuer_and_verifier(testing::keys());
    let issued = issuer
        .issue_access(
            NewToken::new("user-42")
                .session_id("session-1")
                .scope(["orders:read"]),
        )
        .unwrap();
    let bearer = format!("Bearer {}", issued.token.expose_secret());
    let request = || {
        Request::get("/orders")
            .header(header::AUTHORIZATION, bearer.as_str())
            .body(Full::default())
            .unwrap()
    };

    let bare = service_fn(handler);
    let cached = AuthLayer::required(TokenAuthentication::new(verifier.clone()).with_cache(10_000))
        .layer(service_fn(handler));
    let uncached =
        AuthLayer::required(TokenAuthentication::new(verifier)).layer(service_fn(handler));
    let mut group = c.benchmark_group("auth_layer/EdDSA");
    measure(&mut group, &runtime, "bare_handler", bare, &request);
    measure(&mut group, &runtime, "layer_cache_hit", cached, &request);
    measure(&mut group, &runtime, "layer_no_cache", uncached, &request);
    group.finish();
}

/// Benches one request through `service`, after checking that it answers 200.
fn measure<S, B>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &Runtime,
    name: &str,
    service: S,
    request: &dyn Fn() -> Request<Full<Bytes>>,
) where
    S: Service<Request<Full<Bytes>>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
{
    let status = runtime
        .block_on(service.clone().oneshot(request()))
        .unwrap()
        .status();
    assert!(status.is_success(), "{name}: {status}");
    group.bench_function(name, |b| {
        b.to_async(runtime)
            .iter(|| service.clone().oneshot(black_box(request())))
    });
}

criterion_group!(benches, auth_layer);
criterion_main!(benches);
