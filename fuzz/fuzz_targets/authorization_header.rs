//! Any `Authorization` and `Cookie` header values reach the real `AuthLayer` (required mode,
//! cookie fallback configured) and are answered 200 with verified claims or 401 with an RFC 6750
//! challenge and the `{"error", "message"}` body: never a panic, never another status.
//!
//! Input: one flag byte, then up to three header values separated by newlines. The flag's low
//! three bits say which headers the values go to, in this order: bit 0 an `Authorization`
//! header, bit 1 a second `Authorization` header, bit 2 a `Cookie` header (so the ASCII digits
//! `0` to `7` are readable flags). Values that are not valid header values skip the input.
#![no_main]

use std::convert::Infallible;
use std::sync::OnceLock;

use auth_core::token::Claims;
use auth_tower::authn::{AuthLayer, TokenAuthentication};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use libfuzzer_sys::fuzz_target;
use tower::{Layer, ServiceExt, service_fn};

const COOKIE: &str = "__Host-access";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn layer() -> &'static AuthLayer<TokenAuthentication> {
    static LAYER: OnceLock<AuthLayer<TokenAuthentication>> = OnceLock::new();
    LAYER.get_or_init(|| {
        AuthLayer::required(TokenAuthentication::new(auth_fuzz::verifier()))
            .realm("api")
            .cookie(COOKIE)
    })
}

/// 200 when the layer let the request through with claims; 500 (a finding) without.
async fn inner(
    request: Request<Empty<bytes::Bytes>>,
) -> Result<Response<Full<bytes::Bytes>>, Infallible> {
    let mut response = Response::new(Full::default());
    if request.extensions().get::<Claims>().is_none() {
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    }
    Ok(response)
}

async fn check(request: Request<Empty<bytes::Bytes>>) {
    let service = layer().layer(service_fn(inner));
    let response = service.oneshot(request).await.expect("infallible");
    let status = response.status();
    let challenge = response.headers().get(header::WWW_AUTHENTICATE).cloned();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    match status {
        StatusCode::OK => {}
        StatusCode::UNAUTHORIZED => {
            let challenge = challenge.expect("a 401 carries a challenge");
            assert!(challenge.as_bytes().starts_with(b"Bearer realm=\"api\""));
            let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
            let object = json.as_object().expect("a JSON object");
            assert_eq!(object.len(), 2, "{json}");
            assert!(
                object
                    .get("error")
                    .is_some_and(serde_json::Value::is_string)
            );
            assert!(
                object
                    .get("message")
                    .is_some_and(serde_json::Value::is_string)
            );
        }
        other => panic!("answered {other}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut values = rest.split(|&b| b == b'\n');
    let mut request = Request::get("/");
    for (bit, name) in [
        (1, header::AUTHORIZATION),
        (2, header::AUTHORIZATION),
        (4, header::COOKIE),
    ] {
        if flags & bit != 0 {
            let Ok(value) = HeaderValue::from_bytes(values.next().unwrap_or_default()) else {
                return;
            };
            request = request.header(name, value);
        }
    }
    let request = request.body(Empty::new()).expect("a request");
    runtime().block_on(check(request));
});
