//! Any bytes, sent as the JSON body of any POST or DELETE route of the real auth-server router
//! (in-process, in-memory stores, a valid bearer token on the routes that need one), are
//! answered without a 500, and every answer that is not 2xx carries the `{"error", "message"}`
//! JSON body.
//!
//! Input: one byte choosing the route (`a` register, `b` login, `c` refresh, `d` MFA verify,
//! `e` logout, `f` password change, `g` TOTP enroll, `h` TOTP confirm, `i` TOTP disable,
//! `j` end the other sessions, `k` end one session, whose id is the body, percent-encoded into
//! the path; further letters wrap around), then the body. With the byte's high bit set the
//! request has no `Content-Type`. In the body, `$ACCESS` and `$REFRESH` are replaced by the
//! fixture user's current tokens, so refresh and the token checks are reached.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

/// The routes, with whether they need a bearer token.
const ROUTES: [(Method, &str, bool); 11] = [
    (Method::POST, "/v1/auth/register", false),
    (Method::POST, "/v1/auth/login", false),
    (Method::POST, "/v1/auth/refresh", false),
    (Method::POST, "/v1/auth/mfa/verify", false),
    (Method::POST, "/v1/auth/logout", true),
    (Method::POST, "/v1/auth/password", true),
    (Method::POST, "/v1/auth/mfa/totp/enroll", true),
    (Method::POST, "/v1/auth/mfa/totp/confirm", true),
    (Method::DELETE, "/v1/auth/mfa/totp", true),
    (Method::DELETE, "/v1/auth/sessions", true),
    (Method::DELETE, "/v1/auth/sessions/", true),
];

const FIXTURE_PASSWORD: &str = "fuzz fixture passphrase 7Qz";

/// Where fixture logins come from; fuzzed requests come from another address, so their
/// throttling never locks the fixture out.
const FIXTURE_PEER: [u8; 4] = [192, 0, 2, 1];
const FUZZ_PEER: [u8; 4] = [198, 51, 100, 1];

struct Tokens {
    access: String,
    refresh: String,
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    router: Router,
    /// The fixture user's tokens; `None` once a request may have ended their session.
    tokens: Mutex<Option<Tokens>>,
    users: Mutex<u64>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // The fixture registers an account whenever it needs fresh tokens, all from one
        // address: far more than the default registration limits allow.
        let router = runtime
            .block_on(async {
                auth_server::development_router_with(&[
                    ("REGISTRATIONS_PER_ADDRESS_HOUR", "100000"),
                    ("REGISTRATIONS_PER_MINUTE", "1000000"),
                ])
            })
            .expect("the development router builds");
        Fixture {
            runtime,
            router,
            tokens: Mutex::new(None),
            users: Mutex::new(0),
        }
    })
}

struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

async fn send(
    router: &Router,
    method: Method,
    path: &str,
    peer: [u8; 4],
    bearer: Option<&str>,
    json: bool,
    body: Vec<u8>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if json {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = request.body(Body::from(body)).expect("a request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 40_000))));
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes()
        .to_vec();
    Answer { status, body }
}

fn json(answer: &Answer) -> serde_json::Value {
    serde_json::from_slice(&answer.body).expect("a JSON body")
}

/// A new user, logged in.
async fn fresh_tokens(fixture: &Fixture) -> Tokens {
    let n = {
        let mut users = fixture.users.lock().expect("not poisoned");
        *users += 1;
        *users
    };
    let credentials = serde_json::to_vec(&serde_json::json!({
        "email": format!("fixture-{n}@example.com"),
        "password": FIXTURE_PASSWORD,
    }))
    .expect("JSON");
    let register = "/v1/auth/register";
    let answer = send(
        &fixture.router,
        Method::POST,
        register,
        FIXTURE_PEER,
        None,
        true,
        credentials.clone(),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let login = "/v1/auth/login";
    let answer = send(
        &fixture.router,
        Method::POST,
        login,
        FIXTURE_PEER,
        None,
        true,
        credentials,
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    tokens_of(&json(&answer)).expect("tokens")
}

fn tokens_of(body: &serde_json::Value) -> Option<Tokens> {
    Some(Tokens {
        access: body["access_token"].as_str()?.to_owned(),
        refresh: body["refresh_token"].as_str()?.to_owned(),
    })
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(needle) {
            out.extend_from_slice(with);
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Not 500; outside 2xx, exactly `{"error": string, "message": string}`; inside, JSON or empty.
fn check(route: &str, answer: &Answer) {
    let text = String::from_utf8_lossy(&answer.body);
    assert_ne!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{route}: {text}"
    );
    if answer.status.is_success() {
        if !answer.body.is_empty() {
            json(answer);
        }
        return;
    }
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_else(|_| {
        panic!(
            "{route} answered {} with a non-JSON body: {text}",
            answer.status
        )
    });
    let object = body.as_object().expect("a JSON object");
    assert_eq!(object.len(), 2, "{route}: {text}");
    assert!(
        object
            .get("error")
            .is_some_and(serde_json::Value::is_string),
        "{route}: {text}"
    );
    assert!(
        object
            .get("message")
            .is_some_and(serde_json::Value::is_string),
        "{route}: {text}"
    );
}

async fn run(fixture: &Fixture, selector: u8, body: &[u8]) {
    let (method, route, bearer) =
        &ROUTES[usize::from(selector.wrapping_sub(b'a') & 0x7f) % ROUTES.len()];
    let json_type = selector & 0x80 == 0;
    let kept = fixture.tokens.lock().expect("not poisoned").take();
    let current = match kept {
        Some(tokens) => tokens,
        None => fresh_tokens(fixture).await,
    };
    let body = replace(body, b"$ACCESS", current.access.as_bytes());
    let body = replace(&body, b"$REFRESH", current.refresh.as_bytes());
    let path = if route.ends_with('/') {
        format!("{route}{}", percent_encode(&body))
    } else {
        (*route).to_owned()
    };
    let token = bearer.then_some(current.access.as_str());
    let answer = send(
        &fixture.router,
        method.clone(),
        &path,
        FUZZ_PEER,
        token,
        json_type,
        body,
    )
    .await;
    check(route, &answer);
    // Keep the fixture user's tokens current, or drop them when their session may be over.
    let refresh = *route == "/v1/auth/refresh";
    let ended = (answer.status == StatusCode::UNAUTHORIZED && (*bearer || refresh))
        || (answer.status.is_success()
            && matches!(*route, "/v1/auth/logout" | "/v1/auth/password"));
    let next = if ended {
        None
    } else if answer.status.is_success() && refresh {
        // Fresh tokens of some session: if the body held the fixture's refresh token, its
        // session's next ones, which the fixture must use from now on.
        tokens_of(&json(&answer))
    } else {
        Some(current)
    };
    *fixture.tokens.lock().expect("not poisoned") = next;
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    fixture.runtime.block_on(run(fixture, selector, body));
});
