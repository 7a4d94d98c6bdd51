//! The OpenID provider's machine endpoints: discovery, the token endpoint (the code,
//! refresh and client credentials grants), userinfo, introspection (RFC 7662) and revocation
//! (RFC 7009). The authorization endpoint and the consent page are hosted pages
//! (`ui::authorize`).
//!
//! Errors are RFC 6749's `{"error", "error_description"}` JSON: `400` for a bad request or
//! grant, `401` with `WWW-Authenticate` for a client that failed to authenticate (or a bad
//! bearer token at userinfo), `429` with `Retry-After` for a throttled client, `503` when a
//! store cannot answer. No answer is ever cached.

use auth_core::Error;
use auth_core::authz::ScopeSet;
use auth_core::flows::{Authenticator, ClientTokens, IDENTITY_SCOPES};
use auth_core::oauth::client::ID_TOKEN_ALGORITHMS;
use auth_core::oauth::keys::{ASSERTION_ALGORITHMS, ASSERTION_TYPE};
use auth_core::oauth::{Client, ClientAuthMethod, ErrorCode, GrantType, OAuthError};
use auth_core::secrecy::ExposeSecret;
use auth_tower::metrics::Metrics;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::api::extract::ClientIp;

/// The discovery document.
pub(crate) const DISCOVERY: &str = "/.well-known/openid-configuration";
/// The authorization endpoint (a hosted page).
pub(crate) const AUTHORIZE: &str = "/oauth2/authorize";
/// The token endpoint.
pub(crate) const TOKEN: &str = "/oauth2/token";
/// The userinfo endpoint.
pub(crate) const USERINFO: &str = "/oauth2/userinfo";
/// Token introspection (RFC 7662).
pub(crate) const INTROSPECT: &str = "/oauth2/introspect";
/// Token revocation (RFC 7009).
pub(crate) const REVOKE: &str = "/oauth2/revoke";
/// Pushed authorization requests (RFC 9126).
pub(crate) const PAR: &str = "/oauth2/par";
/// RP-initiated logout (a hosted page).
pub(crate) const LOGOUT: &str = "/oauth2/logout";
/// The public keys.
const JWKS: &str = "/.well-known/jwks.json";

/// The route templates, for the metrics' labels.
pub(crate) const ROUTES: &[&str] = &[DISCOVERY, TOKEN, USERINFO, INTROSPECT, REVOKE, PAR];

/// The machine endpoints.
pub(crate) fn routes(
    auth: Authenticator,
    proxies: crate::proxies::ProxyPolicy,
    metrics: Metrics,
    cors: CorsLayer,
) -> Router {
    Router::new()
        .route(DISCOVERY, get(discovery))
        .route(TOKEN, post(token))
        .route(USERINFO, get(userinfo).post(userinfo))
        .route(INTROSPECT, post(introspect))
        .route(REVOKE, post(revoke))
        .route(PAR, post(push))
        .with_state(auth)
        .layer(axum::Extension(proxies))
        .layer(axum::Extension(metrics))
        .layer(cors)
        .layer(axum::middleware::map_response(no_store))
}

/// CORS for the provider's endpoints (and the JWKS): the origins of [`BrowserOrigins`], no
/// credentials, the headers a browser app reads exposed, preflights remembered for an hour.
pub(crate) fn cors(auth: Authenticator, configured: &[String]) -> CorsLayer {
    let origins = BrowserOrigins::new(auth, configured);
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(
            move |origin: HeaderValue, _: &axum::http::request::Parts| {
                let origins = origins.clone();
                async move {
                    match origin.to_str() {
                        Ok(origin) => origins.allow(origin).await,
                        Err(_) => false,
                    }
                }
            },
        ))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(3600))
}

/// The origins a browser may call the provider from: those configured (`CORS_ORIGINS`), and
/// the https origins of public clients' redirect URIs (apps running in a browser; a native
/// app's loopback URI is not one). The clients are read at most every [`Self::TTL`], by one
/// request at a time; the others, and every request while the store fails, go on with the
/// origins read last.
#[derive(Clone)]
struct BrowserOrigins {
    auth: Authenticator,
    configured: Arc<Vec<String>>,
    known: Arc<std::sync::Mutex<Known>>,
    /// Held by the request reading the clients.
    reading: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct Known {
    /// When the origins were last read, or a read last failed; `None` before the first.
    read_at: Option<Instant>,
    origins: Arc<HashSet<String>>,
}

impl BrowserOrigins {
    /// How long the clients' origins are taken as read (and how long after a failed read the
    /// next is tried).
    const TTL: Duration = Duration::from_secs(30);

    fn new(auth: Authenticator, configured: &[String]) -> Self {
        Self {
            auth,
            configured: Arc::new(configured.to_vec()),
            known: Arc::default(),
            reading: Arc::default(),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The origins read, and whether they are fresh.
    fn snapshot(&self) -> (Option<Instant>, Arc<HashSet<String>>) {
        let known = self.known();
        (known.read_at, known.origins.clone())
    }

    async fn allow(&self, origin: &str) -> bool {
        if self.configured.iter().any(|o| o == "*" || o == origin) {
            return true;
        }
        let fresh = |read_at: Option<Instant>| read_at.is_some_and(|at| at.elapsed() < Self::TTL);
        let (read_at, origins) = self.snapshot();
        if fresh(read_at) {
            return origins.contains(origin);
        }
        // The first read is waited for; a later one is done by whoever gets there first.
        let reading = match read_at {
            None => Some(self.reading.lock().await),
            Some(_) => self.reading.try_lock().ok(),
        };
        let Some(_reading) = reading else {
            return origins.contains(origin);
        };
        // Another request may have read them while this one waited.
        let (read_at, origins) = self.snapshot();
        if fresh(read_at) {
            return origins.contains(origin);
        }
        let read = self.auth.clients().await;
        let mut known = self.known();
        known.read_at = Some(Instant::now());
        match read {
            Ok(clients) => known.origins = Arc::new(client_origins(&clients)),
            Err(error) => tracing::warn!(%error, "the clients' origins could not be read"),
        }
        known.origins.contains(origin)
    }
}

/// The https origins of public clients' redirect URIs.
fn client_origins(clients: &[Client]) -> HashSet<String> {
    clients
        .iter()
        .filter(|client| client.is_public())
        .flat_map(|client| client.redirect_uris.iter())
        .filter(|uri| uri.is_https())
        .filter_map(|uri| {
            Some(
                url::Url::parse(uri.as_str())
                    .ok()?
                    .origin()
                    .ascii_serialization(),
            )
        })
        .collect()
}

/// No cache keeps a token, a user's claims, or an error about them (RFC 6749 section 5.1).
async fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// What the provider offers, at `issuer`.
fn metadata(auth: &Authenticator) -> serde_json::Value {
    let issuer = auth.config().tokens.issuer.trim_end_matches('/').to_owned();
    // The ID token algorithms this server holds a signing key for.
    let signing: Vec<&str> = ID_TOKEN_ALGORITHMS
        .into_iter()
        .filter(|name| {
            name.parse()
                .is_ok_and(|algorithm| auth.verifier().keys().signing_key(algorithm).is_some())
        })
        .collect();
    json!({
        "issuer": auth.config().tokens.issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE}"),
        "token_endpoint": format!("{issuer}{TOKEN}"),
        "userinfo_endpoint": format!("{issuer}{USERINFO}"),
        "jwks_uri": format!("{issuer}{JWKS}"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "introspection_endpoint": format!("{issuer}{INTROSPECT}"),
        "revocation_endpoint": format!("{issuer}{REVOKE}"),
        "pushed_authorization_request_endpoint": format!("{issuer}{PAR}"),
        "require_pushed_authorization_requests": false,
        "end_session_endpoint": format!("{issuer}{LOGOUT}"),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": signing,
        "scopes_supported": IDENTITY_SCOPES,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp",
            "at_hash", "sid", "email", "email_verified", "locale"
        ],
        "acr_values_supported": ["1", "2"],
        "prompt_values_supported": ["none", "login", "consent"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
        ],
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt"
        ],
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
        ],
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    })
}

async fn discovery(State(auth): State<Authenticator>) -> Response {
    axum::Json(metadata(&auth)).into_response()
}

/// The error code an answer carries, for the metrics.
#[derive(Debug, Clone, Copy)]
struct Answered(&'static str);

/// An OAuth error answer.
fn refuse(status: StatusCode, error: &OAuthError) -> Response {
    let mut response = (
        status,
        axum::Json(json!({
            "error": error.code.as_str(),
            "error_description": error.description,
        })),
    )
        .into_response();
    response
        .extensions_mut()
        .insert(Answered(error.code.as_str()));
    response
}

/// The status an error of the token endpoint is answered with.
fn status_of(error: &OAuthError) -> StatusCode {
    match error.code {
        ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A refusal before any grant is looked at.
#[derive(Debug)]
struct Refused {
    status: StatusCode,
    error: OAuthError,
    /// Whether to challenge for Basic credentials (the client tried them).
    basic: bool,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut response = refuse(self.status, &self.error);
        if self.basic {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"token\""),
            );
        }
        response
    }
}

fn bad_request(description: &str) -> Refused {
    Refused {
        status: StatusCode::BAD_REQUEST,
        error: OAuthError::invalid_request(description),
        basic: false,
    }
}

/// How the client authenticated: its id, its secret or assertion if any, and the method it
/// used. A `private_key_jwt` client's id may come from its assertion alone (empty here).
struct Credentials {
    id: String,
    secret: Option<String>,
    method: ClientAuthMethod,
}

/// The client's credentials: HTTP Basic (RFC 6749 section 2.3.1, each part form-encoded),
/// the form's `client_secret`, or a public client's bare `client_id`; two at once is refused.
fn credentials(
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<Credentials, Refused> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let encoded = value
                .to_str()
                .ok()
                .and_then(|value| {
                    value
                        .split_once(' ')
                        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
                })
                .map(|(_, encoded)| encoded.trim());
            let decoded = encoded
                .and_then(|encoded| STANDARD.decode(encoded).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok());
            let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                return Err(invalid_client("malformed Basic credentials", true));
            };
            let unescape = |part: &str| {
                form_urlencoded::parse(format!("x={part}").as_bytes())
                    .next()
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default()
            };
            Some((unescape(id), unescape(secret)))
        }
    };
    let form_id = form.get("client_id");
    let form_secret = form.get("client_secret");
    match (
        form.get("client_assertion_type"),
        form.get("client_assertion"),
    ) {
        (None, None) => {}
        (Some(kind), Some(assertion)) => {
            if basic.is_some() || form_secret.is_some() {
                return Err(bad_request(
                    "the client authenticated twice (an assertion and a secret); use one",
                ));
            }
            if kind != ASSERTION_TYPE {
                return Err(bad_request(&format!(
                    "client_assertion_type is {ASSERTION_TYPE}"
                )));
            }
            return Ok(Credentials {
                id: form_id.cloned().unwrap_or_default(),
                secret: Some(assertion.clone()),
                method: ClientAuthMethod::PrivateKeyJwt,
            });
        }
        _ => {
            return Err(bad_request(
                "client_assertion and client_assertion_type come together",
            ));
        }
    }
    match (basic, form_id, form_secret) {
        (Some(_), _, Some(_)) => Err(bad_request(
            "the client authenticated twice (Basic and client_secret); use one",
        )),
        (Some((id, _)), Some(form_id), None) if *form_id != id => Err(bad_request(
            "client_id differs from the Basic credentials' client",
        )),
        (Some((id, secret)), _, None) => Ok(Credentials {
            id,
            secret: Some(secret),
            method: ClientAuthMethod::ClientSecretBasic,
        }),
        (None, Some(id), Some(secret)) => Ok(Credentials {
            id: id.clone(),
            secret: Some(secret.clone()),
            method: ClientAuthMethod::ClientSecretPost,
        }),
        (None, Some(id), None) => Ok(Credentials {
            id: id.clone(),
            secret: None,
            method: ClientAuthMethod::None,
        }),
        (None, None, _) => Err(invalid_client("no client authentication", false)),
    }
}

/// `401 invalid_client`, with a Basic challenge when the client tried Basic (RFC 6749
/// section 5.2).
fn invalid_client(description: &str, basic: bool) -> Refused {
    Refused {
        status: StatusCode::UNAUTHORIZED,
        error: OAuthError::new(ErrorCode::InvalidClient, description),
        basic,
    }
}

/// A form's parameters; a parameter sent twice is refused (RFC 6749 section 3.2).
fn form_of(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<std::collections::BTreeMap<String, String>, Refused> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(bad_request(
            "the token request is a form (application/x-www-form-urlencoded)",
        ));
    }
    let mut form = std::collections::BTreeMap::new();
    for (name, value) in form_urlencoded::parse(body) {
        if value.is_empty() {
            continue;
        }
        if form
            .insert(name.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return Err(bad_request(&format!("{name} is sent more than once")));
        }
    }
    Ok(form)
}

/// The client a request's form and headers authenticate (`public`: whether a public client,
/// with its bare `client_id`, is accepted); the answer to send otherwise.
async fn authenticated(
    auth: &Authenticator,
    from: std::net::IpAddr,
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
    public: bool,
) -> Result<Client, Response> {
    let credentials = credentials(headers, form).map_err(IntoResponse::into_response)?;
    if credentials.method == ClientAuthMethod::PrivateKeyJwt {
        let id = Some(credentials.id.as_str()).filter(|id| !id.is_empty());
        let assertion = credentials.secret.as_deref().unwrap_or_default();
        return match auth
            .authenticate_client_assertion(id, assertion, Some(from))
            .await
        {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(error)) => Err(refuse(StatusCode::UNAUTHORIZED, &error)),
            Err(Error::Throttled { retry_after }) => Err(throttled(retry_after)),
            Err(error) => Err(store_failure(&error)),
        };
    }
    let basic = credentials.method == ClientAuthMethod::ClientSecretBasic;
    if credentials.method == ClientAuthMethod::None && !public {
        return Err(
            invalid_client("a confidential client's credentials are required", basic)
                .into_response(),
        );
    }
    match auth
        .authenticate_client(
            &credentials.id,
            credentials.secret.as_deref(),
            credentials.method,
            Some(from),
        )
        .await
    {
        Ok(client) => Ok(client),
        Err(Error::InvalidCredentials) => {
            Err(invalid_client("client authentication failed", basic).into_response())
        }
        Err(Error::Throttled { retry_after }) => Err(throttled(retry_after)),
        Err(error) => Err(store_failure(&error)),
    }
}

/// `429` for a client that failed too often, with `Retry-After`.
fn throttled(retry_after: Duration) -> Response {
    let mut response = refuse(
        StatusCode::TOO_MANY_REQUESTS,
        &OAuthError::new(ErrorCode::InvalidClient, "too many failed attempts; wait"),
    );
    if let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// A request's `scope`: `None` when absent; `invalid_scope` when malformed.
fn requested_scope(
    form: &std::collections::BTreeMap<String, String>,
) -> Result<Option<ScopeSet>, Refused> {
    match form.get("scope").map(|scope| ScopeSet::parse(scope)) {
        None => Ok(None),
        Some(Ok(scope)) => Ok(Some(scope)),
        Some(Err(_)) => Err(Refused {
            status: StatusCode::BAD_REQUEST,
            error: OAuthError::new(ErrorCode::InvalidScope, "scope is malformed"),
            basic: false,
        }),
    }
}

async fn token(
    State(auth): State<Authenticator>,
    axum::Extension(metrics): axum::Extension<Metrics>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = form_of(&headers, &body);
    let grant = form
        .as_ref()
        .ok()
        .and_then(|form| GrantType::parse(form.get("grant_type")?).ok());
    let response = match form {
        Ok(form) => token_answer(&auth, from, &headers, &form).await,
        Err(refused) => refused.into_response(),
    };
    let outcome = response
        .extensions()
        .get::<Answered>()
        .map_or("success", |answered| answered.0);
    metrics.oauth_token(grant.map_or("unknown", GrantType::as_str), outcome);
    response
}

async fn token_answer(
    auth: &Authenticator,
    from: std::net::IpAddr,
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Response {
    // Read before the client authenticates: an unknown grant costs no attempt.
    let grant = match form.get("grant_type").map(String::as_str) {
        None => return bad_request("grant_type is missing").into_response(),
        Some(name) => match GrantType::parse(name) {
            Ok(grant) => grant,
            Err(_) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    &OAuthError::new(
                        ErrorCode::UnsupportedGrantType,
                        "grant_type is authorization_code, refresh_token or client_credentials",
                    ),
                );
            }
        },
    };
    let client = match authenticated(auth, from, headers, form, true).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    if !client.allows(grant) {
        return refuse(
            StatusCode::BAD_REQUEST,
            &OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "the client may not use this grant",
            ),
        );
    }
    let issued = match grant {
        GrantType::AuthorizationCode => {
            let Some(code) = form.get("code") else {
                return bad_request("code is missing").into_response();
            };
            auth.exchange_code(
                &client,
                code,
                form.get("redirect_uri").map(String::as_str),
                form.get("code_verifier").map(String::as_str),
                Some(from),
            )
            .await
        }
        GrantType::RefreshToken => {
            let Some(refresh_token) = form.get("refresh_token") else {
                return bad_request("refresh_token is missing").into_response();
            };
            let scope = match requested_scope(form) {
                Ok(scope) => scope,
                Err(refused) => return refused.into_response(),
            };
            auth.refresh_client(&client, refresh_token, scope.as_ref(), Some(from))
                .await
        }
        GrantType::ClientCredentials => {
            let scope = match requested_scope(form) {
                Ok(scope) => scope,
                Err(refused) => return refused.into_response(),
            };
            auth.client_credentials(&client, scope.as_ref())
        }
    };
    match issued {
        Ok(tokens) => answer(&tokens),
        Err(error) => oauth_failure(&error),
    }
}

/// A client's request about one token (introspection, revocation): the client it
/// authenticated as and the `token`; the answer to send otherwise.
async fn about_token(
    auth: &Authenticator,
    from: std::net::IpAddr,
    headers: &HeaderMap,
    body: &[u8],
    public: bool,
) -> Result<(Client, String), Response> {
    let form = form_of(headers, body).map_err(IntoResponse::into_response)?;
    let client = authenticated(auth, from, headers, &form, public).await?;
    match form.get("token") {
        Some(token) => Ok((client, token.clone())),
        None => Err(bad_request("token is missing").into_response()),
    }
}

/// Token introspection (RFC 7662): a confidential client asks about `token`. `200` with
/// `{"active": false}` for anything it may not know about.
async fn introspect(
    State(auth): State<Authenticator>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, token) = match about_token(&auth, from, &headers, &body, false).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    match auth.introspect(&client, &token).await {
        Ok(introspection) => axum::Json(introspection).into_response(),
        Err(error) => store_failure(&error),
    }
}

/// Token revocation (RFC 7009): a client gives back one of its tokens; `200` with an empty
/// body, also for a token that is unknown or over already.
async fn revoke(
    State(auth): State<Authenticator>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, token) = match about_token(&auth, from, &headers, &body, true).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    match auth.revoke_token(&client, &token, Some(from)).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => oauth_failure(&error),
    }
}

/// A pushed authorization request (RFC 9126): a client, authenticated as at the token
/// endpoint (a public one by its `client_id`), sends its authorization request; `201` with
/// the `request_uri` the browser is to bring instead.
async fn push(
    State(auth): State<Authenticator>,
    ClientIp(from): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut form = match form_of(&headers, &body) {
        Ok(form) => form,
        Err(refused) => return refused.into_response(),
    };
    let client = match authenticated(&auth, from, &headers, &form, true).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    for credential in ["client_secret", "client_assertion", "client_assertion_type"] {
        form.remove(credential);
    }
    match auth.push_authorization_request(&client, &form).await {
        Ok(pushed) => (
            StatusCode::CREATED,
            axum::Json(json!({
                "request_uri": pushed.request_uri,
                "expires_in": pushed.expires_in,
            })),
        )
            .into_response(),
        Err(error) => oauth_failure(&error),
    }
}

/// A flow's refusal, with `Retry-After` when the store could not answer (`503`).
fn oauth_failure(error: &OAuthError) -> Response {
    let mut response = refuse(status_of(error), error);
    if error.code == ErrorCode::TemporarilyUnavailable {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// A store that could not answer: `503` with `Retry-After`, anything else `500`.
fn store_failure(error: &Error) -> Response {
    if matches!(error, Error::Unavailable(_)) {
        return oauth_failure(&OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "try again shortly",
        ));
    }
    tracing::error!(%error, "the token endpoint failed");
    oauth_failure(&OAuthError::new(
        ErrorCode::ServerError,
        "the server failed; try again",
    ))
}

/// The token response (RFC 6749 section 5.1, OpenID Connect Core section 3.1.3.3).
fn answer(tokens: &ClientTokens) -> Response {
    let mut body = json!({
        "access_token": tokens.access_token.expose_secret(),
        "token_type": tokens.token_type,
        "expires_in": tokens.expires_in,
        "scope": tokens.scope.to_string(),
    });
    if let Some(refresh) = &tokens.refresh_token {
        body["refresh_token"] = json!(refresh.expose_secret());
    }
    if let Some(id_token) = &tokens.id_token {
        body["id_token"] = json!(id_token.expose_secret());
    }
    axum::Json(body).into_response()
}

/// The bearer token of `Authorization` (RFC 6750 section 2.1).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

async fn userinfo(State(auth): State<Authenticator>, headers: HeaderMap) -> Response {
    let challenge = |error: &str| {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": error, "error_description": "a client's access token with the openid scope is required"})),
        )
            .into_response();
        let value = if error.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer error=\"{error}\"")
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    };
    let Some(token) = bearer(&headers) else {
        return challenge("invalid_request");
    };
    match auth.userinfo(token).await {
        Ok(info) => axum::Json(info).into_response(),
        Err(Error::InvalidScope(_)) => {
            // RFC 6750 section 3.1: a valid token short of a scope.
            let mut response = (
                StatusCode::FORBIDDEN,
                axum::Json(json!({
                    "error": "insufficient_scope",
                    "error_description": "the token lacks the openid scope",
                })),
            )
                .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"insufficient_scope\", scope=\"openid\""),
            );
            response
        }
        Err(Error::InvalidToken(_) | Error::InvalidCredentials) => challenge("invalid_token"),
        Err(error) => store_failure(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn form(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn client_credentials_come_one_way_only() {
        // Basic: each part form-encoded (a `:` or `%` in a secret survives).
        let basic = format!("Basic {}", STANDARD.encode("app%3A1:s%25cret"));
        let found = credentials(&headers(Some(&basic)), &form(&[])).unwrap();
        assert_eq!(
            (found.id.as_str(), found.secret.as_deref()),
            ("app:1", Some("s%cret"))
        );
        assert_eq!(found.method, ClientAuthMethod::ClientSecretBasic);
        let posted = credentials(
            &headers(None),
            &form(&[("client_id", "a"), ("client_secret", "s")]),
        )
        .unwrap();
        assert_eq!(posted.method, ClientAuthMethod::ClientSecretPost);
        let public = credentials(&headers(None), &form(&[("client_id", "a")])).unwrap();
        assert_eq!(
            (public.method, public.secret),
            (ClientAuthMethod::None, None)
        );
        // Two methods, a different id in the form, nothing, or garbage: refused.
        let basic_a = format!("Basic {}", STANDARD.encode("a:s"));
        let refusals = [
            (
                Some(basic_a.as_str()),
                form(&[("client_secret", "s")]),
                StatusCode::BAD_REQUEST,
            ),
            (
                Some(basic_a.as_str()),
                form(&[("client_id", "b")]),
                StatusCode::BAD_REQUEST,
            ),
            (None, form(&[]), StatusCode::UNAUTHORIZED),
            (Some("Basic !!!"), form(&[]), StatusCode::UNAUTHORIZED),
            (Some("Basic YWJj"), form(&[]), StatusCode::UNAUTHORIZED),
        ];
        for (authorization, form, status) in refusals {
            let refused = credentials(&headers(authorization), &form).err().unwrap();
            assert_eq!(refused.status, status, "{authorization:?}");
        }
    }

    #[test]
    fn the_token_request_is_a_form_without_repeats() {
        let mut headers = HeaderMap::new();
        assert!(form_of(&headers, b"grant_type=x").is_err());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
        );
        let form = form_of(&headers, b"grant_type=x&code=&scope=a+b").unwrap();
        assert_eq!(form.get("scope").map(String::as_str), Some("a b"));
        assert!(!form.contains_key("code"), "empty parameters are absent");
        assert!(form_of(&headers, b"code=1&code=2").is_err());
    }

    #[test]
    fn bearer_tokens_are_read_from_authorization_only() {
        assert_eq!(bearer(&headers(Some("Bearer abc"))), Some("abc"));
        assert_eq!(bearer(&headers(Some("bearer abc"))), Some("abc"));
        assert_eq!(bearer(&headers(Some("Basic abc"))), None);
        assert_eq!(bearer(&headers(None)), None);
    }
}
