//! The hosted pages under `/ui`: sign-in (password, passkey with autofill, email link or
//! code), the second factor, registration, password recovery, the landing pages of mailed
//! links and the account page. Server-rendered from compiled templates (`templates/ui`),
//! one stylesheet and one script (`assets/`), nothing from another origin.
//!
//! A browser session is an ordinary session whose secret sits in the `__Host-auth_session`
//! cookie (auth-tower's `SessionLayer`): it is listed and ended like any other. Every
//! state-changing request carries the CSRF token of its session, or before sign-in of its
//! pre-session cookie (auth-tower's `CsrfLayer`); a form answered by a refusal gets a page
//! that says so. A sign-in `POST` answers `303 See Other`, to a `return_to` that must be a
//! path on this server.

mod account;
mod authorize;
mod links;
mod logout;
mod passkeys;
mod sign_in;
pub(crate) mod strings;

#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::time::Duration;

use askama::Template;
use auth_core::flows::{Authenticator, LoginOutcome, MfaFactor, Principal, Tokens};
use auth_core::secrecy::ExposeSecret;
use auth_tower::answer::Answer;
use auth_tower::browser::{CookieSpec, CsrfLayer, CsrfToken, SameSite, SessionLayer};
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use self::strings::{Catalogue, Texts};
use crate::api::extract::ClientIp;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "__Host-auth_session";
/// The cookie that holds a sign-in's second-factor challenge between its two pages.
const MFA_COOKIE: &str = "__Host-auth_mfa";
/// Where a sign-in goes when it was not sent from elsewhere.
const ACCOUNT: &str = "/ui/account";

/// What the pages are configured with.
#[derive(Debug, Clone)]
pub(crate) struct UiSettings {
    /// Whether the pages are served at all (`UI_ENABLED`).
    pub(crate) enabled: bool,
    /// Their text in every language (`UI_LOCALES_DIR`).
    pub(crate) catalogue: Catalogue,
    /// The cookies' `SameSite` (`UI_COOKIE_SAMESITE`; `none` only outside production, to
    /// show that the CSRF check holds on its own).
    pub(crate) same_site: SameSite,
}

impl Default for UiSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            catalogue: Catalogue::english(),
            same_site: SameSite::Lax,
        }
    }
}

/// What every handler reads.
#[derive(Clone)]
pub(crate) struct UiState {
    auth: Authenticator,
    catalogue: Catalogue,
    session: CookieSpec,
    mfa: CookieSpec,
    /// The CSRF layer, for the new pre-session cookie of a sign-in or a sign-out.
    csrf: CsrfLayer,
    /// Counts authorization requests by outcome.
    metrics: auth_tower::metrics::Metrics,
}

/// Where mailed links point when the pages are on: the pages that show their buttons.
pub(crate) fn link_paths() -> auth_core::flows::LinkPaths {
    auth_core::flows::LinkPaths {
        verify_email: "/ui/verify-email".into(),
        reset_password: "/ui/reset-password".into(),
        login: "/ui/sign-in/link".into(),
        change_email: "/ui/change-email".into(),
    }
}

/// The route templates of the pages, for the metrics' labels.
pub(crate) const ROUTES: &[&str] = &[
    "/ui",
    "/ui/assets/ui.css",
    "/ui/assets/ui.js",
    "/ui/sign-in",
    "/ui/sign-in/second-factor",
    "/ui/sign-in/email",
    "/ui/sign-in/email/code",
    "/ui/sign-in/link",
    "/ui/register",
    "/ui/sign-out",
    "/ui/forgot-password",
    "/ui/reset-password",
    "/ui/verify-email",
    "/ui/change-email",
    "/ui/reauthenticate",
    "/ui/account",
    "/ui/account/sessions/end",
    "/ui/account/apps/remove",
    "/ui/account/passkeys/delete",
    "/ui/account/totp",
    "/ui/account/totp/confirm",
    "/ui/account/totp/disable",
    "/ui/account/password",
    "/ui/account/email",
    "/ui/passkeys/sign-in/options",
    "/ui/passkeys/sign-in/finish",
    "/ui/passkeys/second-factor/options",
    "/ui/passkeys/second-factor/finish",
    "/ui/passkeys/reset/options",
    "/ui/passkeys/reset/finish",
    "/ui/passkeys/register/options",
    "/ui/passkeys/register/finish",
    crate::oauth::AUTHORIZE,
    crate::oauth::LOGOUT,
    logout::CONFIRM,
];

/// The pages, inside the session and CSRF layers; `csrf_key` must be the same on every
/// instance (it is derived from the MFA keyring).
pub(crate) fn routes(
    auth: Authenticator,
    settings: &UiSettings,
    csrf_key: [u8; 32],
    metrics: auth_tower::metrics::Metrics,
) -> Router {
    let session = CookieSpec::new(SESSION_COOKIE).same_site(settings.same_site);
    let pre_session =
        CookieSpec::new(auth_tower::browser::PRE_SESSION_COOKIE).same_site(settings.same_site);
    let csrf = CsrfLayer::new(csrf_key).cookie(pre_session);
    let state = UiState {
        metrics,
        auth: auth.clone(),
        catalogue: settings.catalogue.clone(),
        session: session.clone(),
        mfa: CookieSpec::new(MFA_COOKIE).same_site(settings.same_site),
        csrf: csrf.clone(),
    };
    // The stylesheet and the script are the same for everyone and cached: no session, no
    // pre-session cookie (a shared cache would hand one browser's to all).
    let assets = Router::new()
        .route("/ui/assets/ui.css", get(stylesheet))
        .route("/ui/assets/ui.js", get(script));
    let pages = Router::new()
        .route("/ui", get(|| async { see_other(ACCOUNT, Vec::new()) }))
        .route("/ui/sign-in", get(sign_in::page).post(sign_in::submit))
        .route(
            "/ui/sign-in/second-factor",
            get(sign_in::second_factor_page).post(sign_in::second_factor),
        )
        .route(
            "/ui/sign-in/email",
            get(sign_in::email_page).post(sign_in::email_request),
        )
        .route("/ui/sign-in/email/code", post(sign_in::email_code))
        .route(
            "/ui/sign-in/link",
            get(links::login_page).post(links::login),
        )
        .route(
            "/ui/register",
            get(sign_in::register_page).post(sign_in::register),
        )
        .route("/ui/sign-out", post(sign_in::sign_out))
        .route(
            "/ui/reauthenticate",
            get(sign_in::reauthenticate_page).post(sign_in::reauthenticate),
        )
        .route(
            "/ui/forgot-password",
            get(links::forgot_page).post(links::forgot),
        )
        .route(
            "/ui/reset-password",
            get(links::reset_page).post(links::reset),
        )
        .route(
            "/ui/verify-email",
            get(links::verify_page).post(links::verify),
        )
        .route(
            "/ui/change-email",
            get(links::change_page).post(links::change),
        )
        .route(
            crate::oauth::AUTHORIZE,
            get(authorize::authorize).post(authorize::consent),
        )
        .route(crate::oauth::LOGOUT, get(logout::page))
        .route(logout::CONFIRM, post(logout::confirm))
        .route("/ui/account", get(account::page))
        .route("/ui/account/sessions/end", post(account::end_session))
        .route("/ui/account/apps/remove", post(account::remove_app))
        .route("/ui/account/passkeys/delete", post(account::delete_passkey))
        .route("/ui/account/totp", post(account::enroll_totp))
        .route("/ui/account/totp/confirm", post(account::confirm_totp))
        .route("/ui/account/totp/disable", post(account::disable_totp))
        .route("/ui/account/password", post(account::change_password))
        .route("/ui/account/email", post(account::change_email))
        .route(
            "/ui/passkeys/sign-in/options",
            post(passkeys::sign_in_options),
        )
        .route(
            "/ui/passkeys/sign-in/finish",
            post(passkeys::sign_in_finish),
        )
        .route(
            "/ui/passkeys/second-factor/options",
            post(passkeys::second_factor_options),
        )
        .route(
            "/ui/passkeys/second-factor/finish",
            post(passkeys::second_factor_finish),
        )
        .route("/ui/passkeys/reset/options", post(passkeys::reset_options))
        .route("/ui/passkeys/reset/finish", post(passkeys::reset_finish))
        .route(
            "/ui/passkeys/register/options",
            post(passkeys::register_options),
        )
        .route(
            "/ui/passkeys/register/finish",
            post(passkeys::register_finish),
        )
        .layer(csrf)
        .layer(SessionLayer::new(auth, session))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refusals_as_pages,
        ));
    // A client's POST of a logout request carries no CSRF token: it only moves the browser on
    // to the same request by GET, outside the layers that would refuse it.
    let logout_post = Router::new().route(crate::oauth::LOGOUT, post(logout::posted));
    pages
        .merge(logout_post)
        .merge(assets)
        .layer(middleware::map_response(page_headers))
        .with_state(state)
}

/// Every page: no framing, no referrer (a link's token is in its address), no caching, no
/// script or style but this server's files, forms posting here only.
async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    // A page may widen its own form-action (the consent page, for its redirect URI).
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A refusal before the handler (the CSRF check, a body too large, a session store that
/// cannot answer) gets a page when a form posted or a browser asked for a page, instead of
/// the JSON a script gets.
async fn refusals_as_pages(State(state): State<UiState>, request: Request, next: Next) -> Response {
    let form = header_has(
        request.headers(),
        &header::CONTENT_TYPE,
        "application/x-www-form-urlencoded",
    ) || (request.method() == axum::http::Method::GET
        && header_has(request.headers(), &header::ACCEPT, "text/html"));
    if !form {
        return next.run(request).await;
    }
    let language = request.headers().get(header::ACCEPT_LANGUAGE).cloned();
    let response = next.run(request).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !json || response.status().is_success() {
        return response;
    }
    let texts = state
        .catalogue
        .pick(language.as_ref().and_then(|v| v.to_str().ok()));
    let status = response.status();
    let text = match status {
        StatusCode::FORBIDDEN => texts.get("error.csrf").to_owned(),
        StatusCode::SERVICE_UNAVAILABLE => texts.get("error.unavailable").to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let chrome = Chrome::new(&state, texts, "errors.title", "message", String::new());
    let mut page = html(
        status,
        &MessagePage {
            c: chrome,
            text,
            link: Some(("/ui/sign-in".to_owned(), String::new())),
        }
        .with_link_label("common.back_to_sign_in"),
    );
    if let Some(retry_after) = retry_after {
        page.headers_mut().insert(header::RETRY_AFTER, retry_after);
    }
    page
}

/// Whether the header `name` holds `wanted`.
fn header_has(headers: &HeaderMap, name: &header::HeaderName, wanted: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(wanted))
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/ui.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/ui.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// What every page's frame shows; the templates' `c`.
pub(crate) struct Chrome {
    texts: Texts,
    lang: String,
    title: String,
    product: String,
    csrf: String,
    page: &'static str,
    wide: bool,
    errors: Vec<String>,
    notice: Option<String>,
    return_to: String,
}

impl Chrome {
    fn new(
        state: &UiState,
        texts: Texts,
        title_key: &str,
        page: &'static str,
        csrf: String,
    ) -> Self {
        Self {
            lang: texts.lang().to_owned(),
            title: texts.get(title_key).to_owned(),
            product: state.auth.config().email.product_name.clone(),
            texts,
            csrf,
            page,
            wide: false,
            errors: Vec::new(),
            notice: None,
            return_to: String::new(),
        }
    }

    /// The text of `key` in the page's language.
    pub(crate) fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.texts.get(key)
    }

    fn error(mut self, text: String) -> Self {
        self.errors.push(text);
        self
    }

    fn notice(mut self, key: Option<&str>) -> Self {
        self.notice = key.map(|key| self.texts.get(key).to_owned());
        self
    }

    fn return_to(mut self, return_to: &str) -> Self {
        return_to.clone_into(&mut self.return_to);
        self
    }
}

#[derive(Template)]
#[template(path = "ui/message.html")]
pub(crate) struct MessagePage {
    c: Chrome,
    text: String,
    link: Option<(String, String)>,
}

impl MessagePage {
    /// The page's link labelled with the text of `key`.
    fn with_link_label(mut self, key: &str) -> Self {
        if let Some((_, label)) = &mut self.link {
            *label = self.c.t(key).to_owned();
        }
        self
    }
}

/// A page that says what went wrong (`text`), answered with `status`.
fn error_page(state: &UiState, ctx: &Ctx, status: StatusCode, text: String) -> Response {
    let c = ctx.chrome(state, "errors.title", "message").error(text);
    html(
        status,
        &MessagePage {
            c,
            text: String::new(),
            link: None,
        },
    )
}

/// The address of the user signed in to the browser, for a page that says who it acts for;
/// the sign-in page when nobody is, an error page when the account cannot be read.
async fn signed_in_email(state: &UiState, ctx: &Ctx) -> Result<String, Response> {
    let Some(principal) = &ctx.principal else {
        return Err(to_sign_in("/ui/account"));
    };
    match state.auth.me(principal).await {
        Ok(profile) => Ok(profile.email),
        Err(error) => {
            let (status, text) = ctx.error_text(&error);
            Err(error_page(state, ctx, status, text))
        }
    }
}

/// A rendered template answered with `status`.
fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// `303 See Other` to `location`, setting `cookies`.
fn see_other(location: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    } else {
        headers.insert(header::LOCATION, HeaderValue::from_static(ACCOUNT));
    }
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// The longest `return_to`, in bytes: an OAuth authorization request comes back through it.
pub(crate) const MAX_RETURN_LEN: usize = 4096;

/// `raw` if it is a path on this server (`/` then anything but a second `/` or `\`, no
/// control character or space, at most 4096 bytes: an OAuth authorization request comes back
/// whole); the account page otherwise. Never an
/// absolute or scheme-relative URL: no open redirect.
pub(crate) fn safe_return(raw: Option<&str>) -> String {
    let safe = |path: &str| {
        path.len() <= MAX_RETURN_LEN
            && path.starts_with('/')
            && !path.starts_with("//")
            && !path.contains('\\')
            && !path.chars().any(|c| c.is_control() || c.is_whitespace())
    };
    match raw {
        Some(path) if safe(path) => path.to_owned(),
        _ => ACCOUNT.to_owned(),
    }
}

/// `path?return_to=...` (just `path` for the default).
fn with_return(path: &str, return_to: &str) -> String {
    if return_to == ACCOUNT {
        return path.to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    format!("{path}?{query}")
}

/// What a request to a page brings: its language, its CSRF token, who is signed in, from
/// where.
pub(crate) struct Ctx {
    texts: Texts,
    csrf: String,
    principal: Option<Principal>,
    client: IpAddr,
    accept_language: Option<String>,
    user_agent: Option<String>,
}

impl FromRequestParts<UiState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> Result<Self, Response> {
        let ClientIp(client) = ClientIp::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let accept_language = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.chars().take(256).collect::<String>());
        Ok(Self {
            texts: state.catalogue.pick(accept_language.as_deref()),
            csrf: parts
                .extensions
                .get::<CsrfToken>()
                .map(|token| token.as_str().to_owned())
                .unwrap_or_default(),
            principal: parts.extensions.get::<Principal>().cloned(),
            client,
            accept_language,
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        })
    }
}

impl Ctx {
    fn chrome(&self, state: &UiState, title_key: &str, page: &'static str) -> Chrome {
        Chrome::new(
            state,
            self.texts.clone(),
            title_key,
            page,
            self.csrf.clone(),
        )
    }

    fn origin(&self) -> auth_core::flows::Origin {
        auth_core::flows::Origin {
            client: Some(self.client),
            locale: self.accept_language.clone(),
        }
    }

    /// The status and the text of the page that shows `error`.
    fn error_text(&self, error: &auth_core::Error) -> (StatusCode, String) {
        let answer = Answer::from_error(error);
        let key = format!("error.{}", answer.code());
        let text = if self.texts.has(&key) {
            self.texts.get(&key).to_owned()
        } else {
            answer.message().to_owned()
        };
        (answer.status(), text)
    }
}

/// A page asking the user to sign in, then come back to `return_to`.
fn to_sign_in(return_to: &str) -> Response {
    see_other(&with_return("/ui/sign-in", return_to), Vec::new())
}

/// The cookies of a session just opened: its secret, and the challenge cookie gone. The
/// session is described by the request's `User-Agent` first, for its owner's list.
async fn session_cookies(
    state: &UiState,
    ctx: &Ctx,
    tokens: &Tokens,
) -> Result<Vec<HeaderValue>, auth_core::Error> {
    let secret = tokens.session_secret.as_ref().ok_or_else(|| {
        auth_core::Error::Internal("a sign-in's tokens carry no session secret".into())
    })?;
    if let Some(agent) = &ctx.user_agent
        && let Err(error) = state.auth.describe_session(&tokens.session_id, agent).await
    {
        // The list shows an unknown device; the sign-in stands.
        tracing::warn!(%error, "the new session could not be described");
    }
    // A browser signing in again leaves no session behind in the cookie it replaces.
    if let Some(previous) = &ctx.principal
        && let Err(error) = state.auth.logout(previous, Some(ctx.client)).await
    {
        tracing::warn!(%error, "the session the new one replaces did not end");
    }
    let lifetime = state.auth.config().sessions.absolute;
    Ok(vec![
        state.session.set(secret.expose_secret(), Some(lifetime)),
        state.mfa.clear(),
        state.csrf.renew(),
    ])
}

/// The answer to a sign-in that succeeded: the session's cookies and `303` to `return_to`.
async fn signed_in(state: &UiState, ctx: &Ctx, tokens: &Tokens, return_to: &str) -> Response {
    match session_cookies(state, ctx, tokens).await {
        Ok(cookies) => see_other(return_to, cookies),
        Err(error) => {
            tracing::error!(%error, "a sign-in could not set its session");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The answer to a first factor: signed in, or on to the second factor with the challenge
/// in its cookie (the factors the account has in the address, for the page to offer).
async fn after_first_factor(
    state: &UiState,
    ctx: &Ctx,
    outcome: &LoginOutcome,
    return_to: &str,
) -> Response {
    match outcome {
        LoginOutcome::Authenticated(tokens) => signed_in(state, ctx, tokens, return_to).await,
        LoginOutcome::MfaRequired {
            mfa_token,
            expires_in,
            factors,
        } => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            let names: Vec<&str> = factors.iter().map(|f| MfaFactor::as_str(*f)).collect();
            query.append_pair("factors", &names.join(","));
            if return_to != ACCOUNT {
                query.append_pair("return_to", return_to);
            }
            see_other(
                &format!("/ui/sign-in/second-factor?{}", query.finish()),
                vec![state.mfa.set(
                    mfa_token.expose_secret(),
                    Some(Duration::from_secs(*expires_in)),
                )],
            )
        }
    }
}

/// The answer to a failed account action: a fresh authentication first when that is what
/// is missing, the account page with the error otherwise.
async fn account_error(state: &UiState, ctx: &Ctx, error: &auth_core::Error) -> Response {
    if matches!(error, auth_core::Error::ReauthRequired { .. }) {
        return see_other(&with_return("/ui/reauthenticate", ACCOUNT), Vec::new());
    }
    let (status, text) = ctx.error_text(error);
    account::render(state, ctx, status, Some(text), None).await
}
