//! The pages in process: what they answer and set, with a browser's cookie jar kept by hand
//! and time from a manual clock. (`tests/ui.rs` walks them in a real browser.)

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use auth_core::clock::ManualClock;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;

const PASSWORD: &str = "correct horse battery staple";

/// The pages over an in-memory authenticator whose time is `clock`'s.
fn pages_with(settings: &UiSettings) -> (Router, Arc<ManualClock>) {
    let clock = auth_core::testing::clock();
    let auth =
        auth_core::testing::authenticator_builder(auth_core::testing::authenticator_config())
            .clock(clock.clone())
            .build()
            .unwrap();
    (
        routes(auth, settings, [7; 32], auth_tower::metrics::Metrics::new()),
        clock,
    )
}

fn pages() -> (Router, Arc<ManualClock>) {
    pages_with(&UiSettings::default())
}

/// A browser: its cookies, and the pages' answers.
struct Browser {
    router: Router,
    cookies: BTreeMap<String, String>,
    language: Option<&'static str>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn csrf(&self) -> String {
        let marker = "name=\"csrf-token\" content=\"";
        let start = self.body.find(marker).unwrap() + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }

    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }
}

impl Browser {
    fn new(router: &Router) -> Self {
        Self {
            router: router.clone(),
            cookies: BTreeMap::new(),
            language: None,
        }
    }

    async fn request(&mut self, method: Method, path: &str, form: &[(&str, &str)]) -> Page {
        let mut request = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(language) = self.language {
            request = request.header(header::ACCEPT_LANGUAGE, language);
        }
        let body = if form.is_empty() {
            Body::empty()
        } else {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            let mut encoded = form_urlencoded::Serializer::new(String::new());
            for (name, value) in form {
                encoded.append_pair(name, value);
            }
            Body::from(encoded.finish())
        };
        let mut request = request.body(body).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40_000))));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        for value in parts.headers.get_all(header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let (name, cookie) = pair.split_once('=').unwrap();
            if cookie.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), cookie.to_owned());
            }
        }
        let body = body.collect().await.unwrap().to_bytes();
        Page {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.request(Method::GET, path, &[]).await
    }

    /// Posts `form` with the token of the page at `page`, as the page's button would.
    async fn submit(&mut self, page: &str, action: &str, form: &[(&str, &str)]) -> Page {
        let token = self.get(page).await.csrf();
        let mut fields = vec![("csrf_token", token.as_str())];
        fields.extend_from_slice(form);
        self.request(Method::POST, action, &fields).await
    }

    async fn register(&mut self, email: &str) -> Page {
        self.submit(
            "/ui/register",
            "/ui/register",
            &[("email", email), ("password", PASSWORD)],
        )
        .await
    }
}

#[test]
fn return_to_takes_paths_on_this_server_only() {
    for fine in ["/ui/account", "/ui/account?done=x", "/app/settings#top"] {
        assert_eq!(safe_return(Some(fine)), fine);
    }
    for hostile in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        "ui/account",
        "",
    ] {
        assert_eq!(safe_return(Some(hostile)), ACCOUNT, "{hostile:?}");
    }
    assert_eq!(
        safe_return(Some(&format!("/{}", "a".repeat(4096)))),
        ACCOUNT
    );
    assert_eq!(safe_return(None), ACCOUNT);
}

#[tokio::test]
async fn every_page_forbids_framing_inline_script_and_caching() {
    let (router, _) = pages();
    let mut browser = Browser::new(&router);
    for path in [
        "/ui/sign-in",
        "/ui/register",
        "/ui/forgot-password",
        "/ui/sign-in/email",
        "/ui/reset-password",
    ] {
        let page = browser.get(path).await;
        assert!(
            page.status == StatusCode::OK || page.status == StatusCode::BAD_REQUEST,
            "{path}"
        );
        let policy = page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(policy.contains("default-src 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer");
        assert!(
            !page.body.contains("<script>"),
            "no inline script on {path}"
        );
        assert!(!page.body.contains("style="), "no inline style on {path}");
    }
    let css = browser.get("/ui/assets/ui.css").await;
    assert!(
        css.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let js = browser.get("/ui/assets/ui.js").await;
    assert!(js.body.contains("navigator.credentials"));
}

#[tokio::test]
async fn forms_name_their_fields_for_assistive_technology_and_password_managers() {
    let (router, _) = pages();
    let mut browser = Browser::new(&router);
    let sign_in = browser.get("/ui/sign-in").await.body;
    for expected in [
        "<label for=\"email\">",
        "id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username webauthn\"",
        "<label for=\"password\">",
        "autocomplete=\"current-password\"",
        "<html lang=\"en\">",
    ] {
        assert!(sign_in.contains(expected), "{expected} in {sign_in}");
    }
    let register = browser.get("/ui/register").await.body;
    assert!(register.contains("autocomplete=\"new-password\""));
    assert!(register.contains("aria-describedby=\"password-hint\""));

    // A refused sign-in: the same page, an error summary first, the address kept.
    browser.register("ada@example.com").await;
    browser.cookies.remove(SESSION_COOKIE);
    let refused = browser
        .submit(
            "/ui/sign-in",
            "/ui/sign-in",
            &[
                ("email", "ada@example.com"),
                ("password", "not the password at all"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("role=\"alert\""), "{}", refused.body);
    assert!(
        refused
            .body
            .contains("The email address or password is not right.")
    );
    assert!(refused.body.contains("value=\"ada@example.com\""));
}

#[tokio::test]
async fn signing_in_answers_303_with_a_new_host_only_session_cookie() {
    let (router, _) = pages();
    let mut browser = Browser::new(&router);
    let registered = browser.register("ada@example.com").await;
    assert_eq!(registered.status, StatusCode::SEE_OTHER);
    assert_eq!(registered.location(), ACCOUNT);
    let cookie = registered.set_cookie(SESSION_COOKIE).unwrap();
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    let first = browser.cookies[SESSION_COOKIE].clone();

    // Signing in again (a cookie planted by someone else is no different) gives a new
    // session: nothing a browser held before sign-in is ever adopted.
    // (Signed in, the sign-in page sends the browser on: the account page's token serves.)
    let again = browser
        .submit(
            "/ui/account",
            "/ui/sign-in",
            &[
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("return_to", "/ui/account?done=x"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.location(), "/ui/account?done=x");
    assert_ne!(browser.cookies[SESSION_COOKIE], first);

    let hostile = browser
        .submit(
            "/ui/account",
            "/ui/sign-in",
            &[
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("return_to", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(hostile.location(), ACCOUNT, "no open redirect");
}

#[tokio::test]
async fn the_account_page_needs_a_session_and_sensitive_actions_a_fresh_one() {
    let (router, clock) = pages();
    let mut browser = Browser::new(&router);
    let anonymous = browser.get("/ui/account").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.location(), "/ui/sign-in");

    browser.register("ada@example.com").await;
    let account = browser.get("/ui/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("ada@example.com"));
    assert!(account.body.contains("192.0.2.1"), "the session's address");

    // Ten minutes on, turning TOTP on asks for the password again first.
    clock.advance(Duration::from_secs(600));
    let stale = browser.submit("/ui/account", "/ui/account/totp", &[]).await;
    assert_eq!(stale.status, StatusCode::SEE_OTHER);
    assert_eq!(stale.location(), "/ui/reauthenticate");
    let before = browser.cookies[SESSION_COOKIE].clone();
    let confirmed = browser
        .submit(
            "/ui/reauthenticate",
            "/ui/reauthenticate",
            &[("password", PASSWORD), ("return_to", "/ui/account")],
        )
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.body
    );
    let after = browser.cookies[SESSION_COOKIE].clone();
    assert_ne!(
        before, after,
        "the session moved to a new cookie with its new assurance"
    );

    // The old cookie opens nothing now.
    let mut old = Browser::new(&router);
    old.cookies.insert(SESSION_COOKIE.to_owned(), before);
    let refused = old.get("/ui/account").await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    assert!(
        refused
            .set_cookie(SESSION_COOKIE)
            .unwrap()
            .contains("Max-Age=0")
    );

    let enrolled = browser.submit("/ui/account", "/ui/account/totp", &[]).await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.body);
    assert!(enrolled.body.contains("id=\"totp-secret\""));
    assert!(enrolled.body.contains("otpauth://totp/"));
}

#[tokio::test]
async fn a_session_ended_elsewhere_signs_the_browser_out() {
    let (router, _) = pages();
    let mut laptop = Browser::new(&router);
    laptop.register("ada@example.com").await;
    let mut phone = Browser::new(&router);
    let signed_in = phone
        .submit(
            "/ui/sign-in",
            "/ui/sign-in",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);

    // The laptop's account page lists both; it ends the phone's session.
    let account = laptop.get("/ui/account").await;
    assert_eq!(account.body.matches("class=\"session\"").count(), 2);
    let marker = "name=\"id\" value=\"";
    let start = account.body.find(marker).unwrap() + marker.len();
    let id = account.body[start..].split('"').next().unwrap().to_owned();
    let ended = laptop
        .submit("/ui/account", "/ui/account/sessions/end", &[("id", &id)])
        .await;
    assert_eq!(
        ended.location(),
        "/ui/account?done=session_ended",
        "{}",
        ended.body
    );

    let gone = phone.get("/ui/account").await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert!(
        !phone.cookies.contains_key(SESSION_COOKIE),
        "the dead cookie is cleared"
    );
}

#[tokio::test]
async fn a_form_without_its_token_gets_a_page_saying_so() {
    let (router, _) = pages();
    let mut browser = Browser::new(&router);
    browser.get("/ui/sign-in").await;
    let refused = browser
        .request(
            Method::POST,
            "/ui/sign-in",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        refused.body.contains("This form expired"),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn pages_speak_the_browsers_language_from_a_locale_folder() {
    let dir = std::env::temp_dir().join(format!("ui-pages-de-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("de.txt"),
        "sign_in.title = Anmelden\nfield.password = Passwort\n",
    )
    .unwrap();
    let settings = UiSettings {
        catalogue: Catalogue::with_dir(&dir).unwrap(),
        ..UiSettings::default()
    };
    std::fs::remove_dir_all(&dir).unwrap();
    let (router, _) = pages_with(&settings);
    let mut browser = Browser::new(&router);
    browser.language = Some("de-DE,de;q=0.9,en;q=0.5");
    let page = browser.get("/ui/sign-in").await.body;
    assert!(page.contains("<html lang=\"de\">"), "{page}");
    assert!(page.contains("<h1>Anmelden</h1>"));
    assert!(page.contains(">Passwort</label>"));
    assert!(
        page.contains("Email address"),
        "English where German has no text"
    );
}

#[tokio::test]
async fn without_the_pages_ui_routes_are_not_found() {
    let router = crate::development_router_with(&[("UI_ENABLED", "false")]).unwrap();
    let mut browser = Browser::new(&router);
    let page = browser.get("/ui/sign-in").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let router = crate::development_router().unwrap();
    let mut browser = Browser::new(&router);
    assert_eq!(browser.get("/ui/sign-in").await.status, StatusCode::OK);
}

#[tokio::test]
async fn no_other_origin_may_read_a_page_though_the_api_allows_it() {
    let router =
        crate::development_router_with(&[("CORS_ORIGINS", "https://app.example.com")]).unwrap();
    let ask = |path: &'static str| {
        let router = router.clone();
        async move {
            let mut request = Request::builder()
                .uri(path)
                .header(header::ORIGIN, "https://app.example.com")
                .body(Body::empty())
                .unwrap();
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40_000))));
            router.oneshot(request).await.unwrap()
        }
    };
    let api = ask("/.well-known/jwks.json").await;
    assert_eq!(
        api.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    let page = ask("/ui/sign-in").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        !page
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
    // The shared files carry no cookie (a cache would hand it to everyone).
    let script = ask("/ui/assets/ui.js").await;
    assert!(!script.headers().contains_key(header::SET_COOKIE));
    assert!(
        script.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
}

#[tokio::test]
async fn signing_out_renews_the_pre_session_cookie_and_signing_in_again_ends_the_old_session() {
    let (router, _) = pages();
    let mut browser = Browser::new(&router);
    browser.get("/ui/sign-in").await;
    let pre = browser.cookies["__Host-auth_csrf"].clone();
    browser.register("ada@example.com").await;
    let after_sign_in = browser.cookies["__Host-auth_csrf"].clone();
    assert_ne!(pre, after_sign_in, "a new pre-session cookie at sign-in");
    let first = browser.cookies[SESSION_COOKIE].clone();

    // Signing in again in the same browser ends the session the cookie held.
    browser
        .submit(
            "/ui/account",
            "/ui/sign-in",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    let account = browser.get("/ui/account").await;
    assert_eq!(account.body.matches("class=\"session\"").count(), 1);
    let mut old = Browser::new(&router);
    old.cookies.insert(SESSION_COOKIE.to_owned(), first);
    assert_eq!(old.get("/ui/account").await.status, StatusCode::SEE_OTHER);

    let signed_out = browser.submit("/ui/account", "/ui/sign-out", &[]).await;
    assert_eq!(signed_out.location(), "/ui/sign-in?signed_out=1");
    assert!(!browser.cookies.contains_key(SESSION_COOKIE));
    assert_ne!(browser.cookies["__Host-auth_csrf"], after_sign_in);
}
