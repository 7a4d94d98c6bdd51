//! A web application that signs its users in through an OpenID provider (`auth-server`, or
//! any other), with the `openidconnect` crate doing the protocol:
//!
//! | route | does |
//! |---|---|
//! | `GET /` | says who is signed in, or links to `/login` |
//! | `GET /login` | starts the code flow (`state`, `nonce`, PKCE `S256`) and sends the browser to the provider |
//! | `GET /callback` | the redirect URI: checks `iss` and `state`, redeems the code, verifies the ID token and reads userinfo, then signs the browser in here |
//! | `POST /logout` | forgets this application's session |
//!
//! Run it beside a server that has a database and an issuer (the README's "Signing users in
//! to other applications" section registers the client):
//!
//! ```text
//! OIDC_ISSUER=http://127.0.0.1:18080 OIDC_CLIENT_ID=... OIDC_CLIENT_SECRET=... \
//!   cargo run -p auth-examples --bin oidc_relying_party      # http://127.0.0.1:3001
//! ```
//!
//! What the callback checks, in order, and why:
//! - the browser holds the cookie `/login` set, with the attempt's `state`, `nonce` and PKCE
//!   verifier: a callback this browser did not start is refused, and the cookie is cleared by
//!   whatever the callback answers, so an attempt is completed once;
//! - `iss` names the issuer (RFC 9207): a response from another provider the application also
//!   uses cannot be passed off as this one's (mix-up attacks). A response without `iss` is
//!   refused when discovery says the provider sends it, as this server's does;
//! - `state` matches, compared in constant time (CSRF on the redirect URI);
//! - the code is redeemed with the PKCE verifier (a stolen code is useless alone);
//! - the ID token's signature (RS256 only, the algorithm the client registered, with keys from
//!   discovery), issuer, audience, expiry and `nonce`, and `at_hash` against the access token
//!   it came with;
//! - userinfo answers for the same subject.
//!
//! Only `https` reaches the provider, except on loopback (`127.0.0.1`, `[::1]`, `localhost`),
//! where a development server listens. On `https` the cookies are `__Host-` cookies: `Secure`,
//! for this host only, never set by a sibling subdomain.
//!
//! Kept simple on purpose: a sign-in started in a second tab replaces the first one's cookie;
//! the provider's keys are read once, at start (restart after the provider rotates its ID
//! token key; a long-running application refreshes them on an unknown `kid`); sessions live
//! in memory, one process, gone on restart (an application with several instances keeps them
//! in its own store).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use auth_core::mail::templates::escape_html as escape;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AdditionalProviderMetadata, AsyncHttpClient, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadata, RedirectUrl, Scope, TokenResponse as _,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

/// How long a browser has between `/login` and `/callback`.
pub const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a session here lasts (the provider's session is its own).
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);
/// Sessions at once; more sign-ins are refused until some expire.
const MAX_SESSIONS: usize = 100_000;
/// The cookie that ties a callback to the browser that started the sign-in (`__Host-` on
/// https).
const LOGIN_COOKIE: &str = "rp_login";
/// The cookie of a signed-in browser.
const SESSION_COOKIE: &str = "rp_session";

/// What the application is told about its provider and itself.
#[derive(Clone, Debug)]
pub struct Config {
    /// The provider's issuer, as its discovery document names it.
    pub issuer: String,
    /// The client id the provider registered.
    pub client_id: String,
    /// The client secret, or `None` for a public client (PKCE alone).
    pub client_secret: Option<String>,
    /// This application's `/callback` as the browser reaches it, registered with the provider.
    pub redirect_uri: String,
}

/// Why the application could not start.
#[derive(Debug)]
pub struct StartError(String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// The discovery field RFC 9207 adds, which `openidconnect`'s core metadata does not hold.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct IssParameter {
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for IssParameter {}

type Metadata = ProviderMetadata<
    IssParameter,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// A client built from discovery: the authorization endpoint is known; the token and
/// userinfo endpoints are checked when used.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The application: its client, its HTTP client and its in-memory state.
#[derive(Clone)]
pub struct RelyingParty(Arc<Inner>);

struct Inner {
    client: Client,
    http: HttpClient,
    issuer: String,
    /// Whether the provider promises `iss` in its authorization responses (then it is required).
    iss_required: bool,
    /// `__Host-` cookies, `Secure`, when the redirect URI is HTTPS.
    secure: bool,
    sessions: Mutex<HashMap<String, Account>>,
}

/// A sign-in under way: what the callback must find again, kept in the browser's
/// `HttpOnly` cookie (so no number of sign-ins started fills this application's memory).
struct Login {
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

impl Login {
    /// `state.nonce.verifier`: all three are base64url, so `.` separates them.
    fn to_cookie(&self) -> String {
        format!(
            "{}.{}.{}",
            self.state.secret(),
            self.nonce.secret(),
            self.verifier.secret()
        )
    }

    fn from_cookie(value: &str) -> Option<Self> {
        let mut parts = value.split('.');
        let (state, nonce, verifier) = (parts.next()?, parts.next()?, parts.next()?);
        let base64url = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if parts.next().is_some() || ![state, nonce, verifier].into_iter().all(base64url) {
            return None;
        }
        Some(Self {
            state: CsrfToken::new(state.to_owned()),
            nonce: Nonce::new(nonce.to_owned()),
            verifier: PkceCodeVerifier::new(verifier.to_owned()),
        })
    }
}

/// A signed-in browser.
#[derive(Clone)]
struct Account {
    subject: String,
    email: Option<String>,
    signed_in: Instant,
}

impl RelyingParty {
    /// Reads the provider's discovery document and JWKS, and builds the client.
    pub async fn discover(config: Config) -> Result<Self, StartError> {
        let http = HttpClient::new()?;
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|error| StartError(format!("the issuer is not a URL: {error}")))?;
        if !HttpClient::allowed(issuer.url()) {
            return Err(StartError(
                "the issuer must be https (http only on loopback, for development)".to_owned(),
            ));
        }
        let redirect = RedirectUrl::new(config.redirect_uri.clone())
            .map_err(|error| StartError(format!("the redirect URI is not a URL: {error}")))?;
        let secure = redirect.url().scheme() == "https";
        // Checks that the document names this issuer, then fetches its JWKS.
        let metadata = Metadata::discover_async(issuer, &http)
            .await
            .map_err(|error| StartError(format!("discovery failed: {}", chain(&error))))?;
        let iss_required = metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id),
            config.client_secret.map(ClientSecret::new),
        )
        .set_redirect_uri(redirect);
        Ok(Self(Arc::new(Inner {
            client,
            http,
            issuer: config.issuer,
            iss_required,
            secure,
            sessions: Mutex::new(HashMap::new()),
        })))
    }
}

/// The application's routes.
pub fn router(rp: RelyingParty) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", post(logout))
        .with_state(rp)
}

async fn home(State(rp): State<RelyingParty>, headers: HeaderMap) -> Html<String> {
    let account = cookie(&headers, &rp.cookie_name(SESSION_COOKIE)).and_then(|id| {
        let sessions = rp.0.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions
            .get(id)
            .filter(|account| account.signed_in.elapsed() < SESSION_TTL)
            .cloned()
    });
    Html(match account {
        Some(account) => page(&format!(
            "<p>Signed in as <strong>{}</strong> (subject {}).</p>\n\
             <form method=\"post\" action=\"/logout\"><button>Sign out</button></form>",
            escape(account.email.as_deref().unwrap_or("(no email released)")),
            escape(&account.subject),
        )),
        None => page("<p>Not signed in.</p>\n<p><a href=\"/login\">Sign in</a></p>"),
    })
}

async fn login(State(rp): State<RelyingParty>) -> Response {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) =
        rp.0.client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
    let login = Login {
        state,
        nonce,
        verifier,
    };
    let mut response = Redirect::to(url.as_str()).into_response();
    set_cookie(
        &mut response,
        &rp,
        LOGIN_COOKIE,
        &login.to_cookie(),
        LOGIN_TTL,
    );
    response
}

/// The authorization response: a code, or an error, with `state` and `iss`.
#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(rp): State<RelyingParty>,
    headers: HeaderMap,
    Query(answer): Query<Callback>,
) -> Response {
    let login = cookie(&headers, &rp.cookie_name(LOGIN_COOKIE)).and_then(Login::from_cookie);
    let mut response = match finish(&rp, login, answer).await {
        Ok(session) => {
            let mut response = Redirect::to("/").into_response();
            set_cookie(&mut response, &rp, SESSION_COOKIE, &session, SESSION_TTL);
            response
        }
        Err(refusal) => refusal.into_response(),
    };
    // Cleared whatever the answer: each sign-in attempt is answered once.
    set_cookie(&mut response, &rp, LOGIN_COOKIE, "", Duration::ZERO);
    response
}

/// The checks of the module docs, in their order; the new session's id.
async fn finish(
    rp: &RelyingParty,
    login: Option<Login>,
    answer: Callback,
) -> Result<String, Refusal> {
    let Some(login) = login else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "No sign-in is under way in this browser (or it took too long). Start again.",
        ));
    };
    match answer.iss.as_deref() {
        Some(iss) if iss == rp.0.issuer => {}
        None if !rp.0.iss_required => {}
        _ => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "The answer does not come from this application's provider.",
            ));
        }
    }
    let state_matches = answer
        .state
        .as_deref()
        .is_some_and(|state| bool::from(state.as_bytes().ct_eq(login.state.secret().as_bytes())));
    if !state_matches {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "The answer does not belong to the sign-in this browser started.",
        ));
    }
    if let Some(error) = answer.error {
        // `access_denied` is the user saying no on the consent page.
        let description = answer.error_description.unwrap_or_default();
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            &format!("The provider did not sign you in: {error} {description}"),
        ));
    }
    let Some(code) = answer.code else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "The answer holds neither a code nor an error.",
        ));
    };
    let account = redeem(rp, code, login).await?;
    let mut sessions = rp.0.sessions.lock().unwrap_or_else(PoisonError::into_inner);
    sessions.retain(|_, account| account.signed_in.elapsed() < SESSION_TTL);
    if sessions.len() >= MAX_SESSIONS {
        return Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many sessions; try again later.",
        ));
    }
    // A new id for every sign-in: nothing the browser held before names the session.
    let id = CsrfToken::new_random().secret().clone();
    sessions.insert(id.clone(), account);
    Ok(id)
}

/// The back channel: the code for tokens, the ID token verified, userinfo read.
async fn redeem(rp: &RelyingParty, code: String, login: Login) -> Result<Account, Refusal> {
    let client = &rp.0.client;
    let http = &rp.0.http;
    let failed = |what: &str, error: &dyn std::error::Error| {
        eprintln!("sign-in failed: {what}: {}", chain(error));
        Refusal::new(
            StatusCode::BAD_GATEWAY,
            "The provider's answer could not be verified; you are not signed in.",
        )
    };
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|error| failed("no token endpoint", &error))?
        .set_pkce_verifier(login.verifier)
        .request_async(http)
        .await
        .map_err(|error| failed("the code exchange", &error))?;
    let id_token = tokens.id_token().ok_or_else(|| {
        failed(
            "the token response",
            &StartError("no ID token in it".to_owned()),
        )
    })?;
    // RS256, what the client registered (the provider may offer more).
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    let claims = id_token
        .claims(&verifier, &login.nonce)
        .map_err(|error| failed("the ID token", &error))?;
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(|error| failed("the ID token's algorithm", &error))?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|error| failed("the ID token's key", &error))?;
        let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
            .map_err(|error| failed("at_hash", &error))?;
        if actual != *expected {
            return Err(failed(
                "at_hash",
                &StartError("it does not match the access token".to_owned()),
            ));
        }
    }
    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .map_err(|error| failed("no userinfo endpoint", &error))?
        .request_async(http)
        .await
        .map_err(|error| failed("userinfo", &error))?;
    let email = info
        .email()
        .or_else(|| claims.email())
        .map(|email| email.as_str().to_owned());
    Ok(Account {
        subject: claims.subject().as_str().to_owned(),
        email,
        signed_in: Instant::now(),
    })
}

async fn logout(State(rp): State<RelyingParty>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, &rp.cookie_name(SESSION_COOKIE)) {
        let mut sessions = rp.0.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.remove(id);
    }
    let mut response = Redirect::to("/").into_response();
    set_cookie(&mut response, &rp, SESSION_COOKIE, "", Duration::ZERO);
    response
}

/// A page saying why a sign-in did not happen, with a way to start again.
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            message: message.to_owned(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = format!(
            "<p>{}</p>\n<p><a href=\"/login\">Sign in</a></p>",
            escape(&self.message)
        );
        (self.status, Html(page(&body))).into_response()
    }
}

fn page(body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Example relying party</title></head>\n<body>\n{body}\n</body></html>\n"
    )
}

/// The value of the cookie `name` the browser sent.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

impl RelyingParty {
    /// `name`, with the `__Host-` prefix on https.
    fn cookie_name(&self, name: &str) -> String {
        if self.0.secure {
            format!("__Host-{name}")
        } else {
            name.to_owned()
        }
    }
}

/// `HttpOnly`, `SameSite=Lax` (sent on the provider's top-level redirect back here, not on
/// other sites' posts), and on HTTPS `Secure` with the `__Host-` prefix.
fn set_cookie(response: &mut Response, rp: &RelyingParty, name: &str, value: &str, ttl: Duration) {
    let secure = if rp.0.secure { "; Secure" } else { "" };
    let line = format!(
        "{}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        rp.cookie_name(name),
        ttl.as_secs()
    );
    if let Ok(value) = HeaderValue::from_str(&line) {
        response.headers_mut().append(SET_COOKIE, value);
    }
}

/// An error and its sources, on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The HTTP client `openidconnect` sends its requests with: hyper over rustls (the system's
/// roots), HTTPS, or HTTP to a loopback host only. It never follows redirects (a provider's endpoints answer directly;
/// following one would let an answer send the client's credentials elsewhere), gives up after
/// [`HttpClient::TIMEOUT`] and refuses bodies over [`HttpClient::MAX_BODY`].
#[derive(Clone)]
pub struct HttpClient(HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>);

impl HttpClient {
    /// The whole exchange, body included.
    pub const TIMEOUT: Duration = Duration::from_secs(10);
    /// Discovery documents, JWKS and token responses are a few kilobytes.
    pub const MAX_BODY: usize = 1 << 20;

    /// A client trusting the system's certificate roots.
    pub fn new() -> Result<Self, StartError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|error| StartError(format!("no certificate roots: {error}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self(
            HyperClient::builder(TokioExecutor::new()).build(connector),
        ))
    }

    /// Whether requests may go to `url`: https, or http to a loopback host.
    pub fn allowed(url: &openidconnect::url::Url) -> bool {
        use openidconnect::url::Host;
        match (url.scheme(), url.host()) {
            ("https", Some(_)) => true,
            ("http", Some(Host::Domain(domain))) => domain == "localhost",
            ("http", Some(Host::Ipv4(ip))) => ip.is_loopback(),
            ("http", Some(Host::Ipv6(ip))) => ip.is_loopback(),
            _ => false,
        }
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let allowed = openidconnect::url::Url::parse(&request.uri().to_string())
            .is_ok_and(|url| Self::allowed(&url));
        if !allowed {
            return Err(HttpError(format!(
                "{} is neither https nor loopback: the client's secret and tokens would travel \
                 in clear",
                request.uri()
            )));
        }
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let response = self.0.request(request).await.map_err(HttpError::new)?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, Self::MAX_BODY)
            .collect()
            .await
            .map_err(|error| HttpError(error.to_string()))?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body.to_vec()))
    }
}

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            tokio::time::timeout(Self::TIMEOUT, self.send(request))
                .await
                .map_err(|_| HttpError(format!("no answer within {:?}", Self::TIMEOUT)))?
        })
    }
}

/// Why a request to the provider failed.
#[derive(Debug)]
pub struct HttpError(String);

impl HttpError {
    fn new(error: impl std::error::Error) -> Self {
        Self(chain(&error))
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}
