use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};

use auth_core::Error;
use auth_core::flows::{Authenticator, LoginOutcome, Principal};
use auth_core::secrecy::{ExposeSecret, SecretString};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use tower::{ServiceBuilder, ServiceExt, service_fn};

use super::*;

const CLIENT: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
const SESSION: &str = "__Host-session";

/// The handler behind the layers: echoes who is signed in, the page's token and the body.
async fn echo(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let user = request
        .extensions()
        .get::<Principal>()
        .map(|p| p.user_id.to_string())
        .unwrap_or_default();
    let token = request
        .extensions()
        .get::<CsrfToken>()
        .map(|t| t.as_str().to_owned())
        .unwrap_or_default();
    let body = request.into_body().collect().await?.to_bytes();
    let text = format!("{user}\n{token}\n{}", String::from_utf8_lossy(&body));
    Ok(Response::new(Full::from(text)))
}

type App = tower::util::BoxCloneService<Request<Full<Bytes>>, Response<Full<Bytes>>, Infallible>;

fn app(auth: Authenticator) -> App {
    tower::util::BoxCloneService::new(
        ServiceBuilder::new()
            .layer(SessionLayer::new(auth, CookieSpec::new(SESSION)))
            .layer(CsrfLayer::new([9; 32]))
            .service(service_fn(echo)),
    )
}

struct Answered {
    status: StatusCode,
    headers: HeaderMap,
    user: String,
    token: String,
    body: String,
}

async fn call(
    app: &App,
    method: Method,
    cookies: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: &str,
) -> Answered {
    let mut request = Request::builder().method(method).uri("/ui/x");
    if !cookies.is_empty() {
        let cookie = cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        request = request.header(header::COOKIE, cookie);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Full::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let text = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let mut lines = text.splitn(3, '\n');
    let user = lines.next().unwrap_or_default().to_owned();
    let token = lines.next().unwrap_or_default().to_owned();
    let rest = lines.next().unwrap_or_default().to_owned();
    Answered {
        status: parts.status,
        headers: parts.headers,
        user,
        token,
        body: if parts.status.is_success() {
            rest
        } else {
            text
        },
    }
}

fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// A signed-in session's cookie secret.
async fn session_secret(auth: &Authenticator, email: &str) -> String {
    let password = SecretString::from("correct horse battery staple");
    if auth.register(email, &password).await.is_err() {
        // Registered already: log in again.
    }
    match auth.login(email, &password, CLIENT).await.unwrap() {
        LoginOutcome::Authenticated(tokens) => {
            tokens.session_secret.unwrap().expose_secret().to_owned()
        }
        LoginOutcome::MfaRequired { .. } => panic!("no second factor here"),
    }
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

#[test]
fn cookies_carry_the_host_prefix_attributes_and_read_back_only_once() {
    let spec = CookieSpec::new("__Host-s");
    let set = spec.set("abc-_", Some(std::time::Duration::from_secs(60)));
    assert_eq!(
        set,
        "__Host-s=abc-_; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=60"
    );
    assert!(set.is_sensitive());
    assert_eq!(
        spec.clone().same_site(SameSite::Strict).clear(),
        "__Host-s=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"
    );
    let read = |cookie: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, cookie.parse().unwrap());
        spec.read(&headers)
    };
    assert_eq!(read("a=1; __Host-s=xyz; b=2").as_deref(), Some("xyz"));
    assert_eq!(
        read("__Host-s=one; __Host-s=two"),
        None,
        "a tossed duplicate"
    );
    assert_eq!(read("__Host-s=<script>"), None);
    assert_eq!(read("__Host-s="), None);
    assert_eq!(read("other=1"), None);
}

#[tokio::test]
async fn a_session_cookie_opens_its_session_and_a_dead_one_is_cleared() {
    let auth = auth_core::testing::authenticator();
    let app = app(auth.clone());
    let secret = session_secret(&auth, "ada@example.com").await;

    let page = call(&app, Method::GET, &[(SESSION, &secret)], &[], "").await;
    assert_eq!(page.status, StatusCode::OK);
    let principal = auth.authenticate_session(&secret).await.unwrap();
    assert_eq!(page.user, principal.user_id.to_string());
    assert!(set_cookie(&page.headers, SESSION).is_none());

    let anonymous = call(&app, Method::GET, &[], &[], "").await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert!(anonymous.user.is_empty());

    auth.logout(&principal, CLIENT).await.unwrap();
    let ended = call(&app, Method::GET, &[(SESSION, &secret)], &[], "").await;
    assert_eq!(ended.status, StatusCode::OK, "the page shows, signed out");
    assert!(ended.user.is_empty());
    let cleared = set_cookie(&ended.headers, SESSION).expect("the dead cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
}

#[tokio::test]
async fn a_store_that_cannot_answer_refuses_with_503_rather_than_signing_out() {
    let failing =
        |_secret: String| async { Err::<Principal, _>(Error::Unavailable("down".into())) };
    let app = tower::util::BoxCloneService::new(
        ServiceBuilder::new()
            .layer(SessionLayer::new(failing, CookieSpec::new(SESSION)))
            .service(service_fn(echo)),
    );
    let secret = auth_core::id::OpaqueSecret::generate().into_secret();
    let answer = call(
        &app,
        Method::GET,
        &[(SESSION, secret.expose_secret())],
        &[],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers.contains_key(header::RETRY_AFTER));
    assert!(
        set_cookie(&answer.headers, SESSION).is_none(),
        "the cookie stays"
    );
}

#[tokio::test]
async fn the_pre_session_token_guards_forms_before_sign_in() {
    let app = app(auth_core::testing::authenticator());
    let first = call(&app, Method::GET, &[], &[], "").await;
    let cookie = set_cookie(&first.headers, PRE_SESSION_COOKIE).expect("a pre-session cookie");
    assert!(
        cookie.contains("Secure; HttpOnly; SameSite=Lax"),
        "{cookie}"
    );
    let pre = cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .unwrap();
    // The page shown with the cookie renders the same token, and sets no new cookie.
    let page = call(&app, Method::GET, &[(PRE_SESSION_COOKIE, &pre)], &[], "").await;
    assert!(set_cookie(&page.headers, PRE_SESSION_COOKIE).is_none());
    let token = page.token;
    assert_eq!(token, first.token);

    let form = format!("email=a%40example.com&{CSRF_FIELD}={token}&x=1");
    let posted = call(
        &app,
        Method::POST,
        &[(PRE_SESSION_COOKIE, &pre)],
        &[FORM],
        &form,
    )
    .await;
    assert_eq!(posted.status, StatusCode::OK);
    assert_eq!(posted.body, form, "the handler reads the whole form");

    let none = call(
        &app,
        Method::POST,
        &[(PRE_SESSION_COOKIE, &pre)],
        &[FORM],
        "x=1",
    )
    .await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    assert!(none.body.contains("csrf_failed"), "{}", none.body);

    // Another browser's cookie with this browser's token: refused.
    let other = auth_core::id::OpaqueSecret::generate().into_secret();
    let stolen = call(
        &app,
        Method::POST,
        &[(PRE_SESSION_COOKIE, other.expose_secret())],
        &[FORM],
        &form,
    )
    .await;
    assert_eq!(stolen.status, StatusCode::FORBIDDEN);
    // No cookie at all: refused, whatever the form says.
    let bare = call(&app, Method::POST, &[], &[FORM], &form).await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN);
    // Every state-changing method is checked.
    for method in [Method::PUT, Method::PATCH, Method::DELETE] {
        let answer = call(&app, method, &[(PRE_SESSION_COOKIE, &pre)], &[], "").await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
    }
    // A form too large to read for its token.
    let huge = format!("{CSRF_FIELD}={token}&pad={}", "a".repeat(70 * 1024));
    let answer = call(
        &app,
        Method::POST,
        &[(PRE_SESSION_COOKIE, &pre)],
        &[FORM],
        &huge,
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_session_token_is_refused_in_another_session_and_text_plain_carries_none() {
    let auth = auth_core::testing::authenticator();
    let app = app(auth.clone());
    let ada = session_secret(&auth, "ada@example.com").await;
    let bob = session_secret(&auth, "bob@example.com").await;
    let ada_page = call(&app, Method::GET, &[(SESSION, &ada)], &[], "").await;
    let bob_page = call(&app, Method::GET, &[(SESSION, &bob)], &[], "").await;
    assert_ne!(ada_page.token, bob_page.token);

    let json = ("content-type", "application/json");
    let ok = call(
        &app,
        Method::POST,
        &[(SESSION, &ada)],
        &[json, (CSRF_HEADER, &ada_page.token)],
        "{}",
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body, "{}");

    let crossed = call(
        &app,
        Method::POST,
        &[(SESSION, &ada)],
        &[json, (CSRF_HEADER, &bob_page.token)],
        "{}",
    )
    .await;
    assert_eq!(crossed.status, StatusCode::FORBIDDEN);

    // A cross-site form can send text/plain without a preflight; it cannot set the header,
    // and a token in its body is not read.
    let plain = call(
        &app,
        Method::POST,
        &[(SESSION, &ada)],
        &[("content-type", "text/plain")],
        &format!("{CSRF_FIELD}={}", ada_page.token),
    )
    .await;
    assert_eq!(plain.status, StatusCode::FORBIDDEN);

    // The session's token stops working with the session.
    let principal = auth.authenticate_session(&ada).await.unwrap();
    auth.logout(&principal, CLIENT).await.unwrap();
    let after = call(
        &app,
        Method::POST,
        &[(SESSION, &ada)],
        &[json, (CSRF_HEADER, &ada_page.token)],
        "{}",
    )
    .await;
    assert_eq!(after.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn once_signed_in_only_the_sessions_token_counts_and_renewal_voids_the_old_one() {
    let auth = auth_core::testing::authenticator();
    let layer = CsrfLayer::new([9; 32]);
    let app = app(auth.clone());
    let first = call(&app, Method::GET, &[], &[], "").await;
    let pre = set_cookie(&first.headers, PRE_SESSION_COOKIE)
        .unwrap()
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .unwrap();
    let secret = session_secret(&auth, "ada@example.com").await;
    // The token of the page seen before sign-in, sent with the session: refused.
    let form = format!("{CSRF_FIELD}={}", first.token);
    let stale = call(
        &app,
        Method::POST,
        &[(PRE_SESSION_COOKIE, &pre), (SESSION, &secret)],
        &[FORM],
        &form,
    )
    .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);

    // A renewed pre-session cookie is a new value: tokens of the old one do not match it.
    let renewed = layer.renew();
    let renewed = renewed.to_str().unwrap();
    assert!(renewed.starts_with(PRE_SESSION_COOKIE), "{renewed}");
    let value = renewed
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .unwrap();
    assert_ne!(value, pre);
    let old_token = call(
        &app,
        Method::POST,
        &[(PRE_SESSION_COOKIE, &value)],
        &[FORM],
        &form,
    )
    .await;
    assert_eq!(old_token.status, StatusCode::FORBIDDEN);
}
