//! The `/v1/auth` HTTP API: JSON in, JSON out, every error as `{"error", "message"}` with the
//! status its code calls for.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use auth_core::Error;
use auth_core::flows::{Authenticator, DisableTotp, LoginOutcome, Principal, Tokens};
use auth_core::id::SessionId;
use auth_core::secrecy::{ExposeSecret, SecretString};
use auth_tower::authn::AuthLayer;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An API failure, answered as JSON with the right status.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<Duration>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = match &error {
            Error::InvalidCredentials | Error::InvalidToken(_) | Error::TokenReused => {
                StatusCode::UNAUTHORIZED
            }
            Error::MfaRequired => StatusCode::FORBIDDEN,
            Error::WeakPassword(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Busy | Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry_after = match &error {
            Error::Throttled { retry_after } => Some(*retry_after),
            Error::Busy => Some(Duration::from_secs(1)),
            // A lost dependency usually comes back within a failover or a restart.
            Error::Unavailable(_) => Some(Duration::from_secs(5)),
            _ => None,
        };
        let message = match &error {
            // Details of internal failures go to the log, not to the client.
            _ if status == StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %error, "request failed");
                "internal error".to_owned()
            }
            Error::Unavailable(detail) => {
                tracing::warn!(detail = %detail, "a dependency is unavailable");
                "a dependency is unavailable, retry later".to_owned()
            }
            Error::InvalidToken(_) => "the token is invalid".to_owned(),
            _ => error.to_string(),
        };
        Self {
            status,
            code: error.code(),
            message,
            retry_after,
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send a JSON body with Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(_) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            ),
            other => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                other.body_text(),
            ),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                rejection.body_text(),
            ),
            other => {
                tracing::error!(rejection = %other.body_text(), "path parameters missing");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_millis().div_ceil(1000).max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// `Json<T>` whose rejections are API errors (400, 413, 415) in our JSON shape.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// `Path<T>` whose rejections (a segment that is not UTF-8 once percent-decoded, say) are API
/// errors in our JSON shape.
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// The header a trusted reverse proxy puts the client's address in (`TRUSTED_PROXY_HEADER`).
#[derive(Debug, Clone)]
pub(crate) struct TrustedProxyHeader(pub(crate) Option<axum::http::HeaderName>);

/// The client's address for throttling: the socket's peer, or, when a trusted proxy header is
/// configured, the last address in that header (the one the proxy itself appended; earlier
/// entries came from the client and prove nothing).
pub(crate) struct ClientIp(pub(crate) IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded = parts
            .extensions
            .get::<TrustedProxyHeader>()
            .and_then(|TrustedProxyHeader(name)| name.as_ref())
            .and_then(|name| parts.headers.get_all(name).iter().next_back())
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| last.trim().parse::<IpAddr>().ok());
        forwarded.or(peer).map(ClientIp).ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "no client address",
            )
        })
    }
}

#[derive(Deserialize, ToSchema)]
struct Credentials {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[derive(Deserialize, ToSchema)]
struct RefreshRequest {
    #[schema(value_type = String)]
    refresh_token: SecretString,
}

#[derive(Deserialize, ToSchema)]
struct MfaVerifyRequest {
    #[schema(value_type = String)]
    mfa_token: SecretString,
    #[schema(value_type = String)]
    code: SecretString,
}

#[derive(Deserialize, ToSchema)]
struct PasswordChange {
    #[schema(value_type = String)]
    current_password: SecretString,
    #[schema(value_type = String)]
    new_password: SecretString,
}

#[derive(Deserialize, ToSchema)]
struct CodeRequest {
    #[schema(value_type = String)]
    code: SecretString,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DisableTotpRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    code: Option<SecretString>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
}

/// The error body every failure answers with.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// A stable, documented code (`invalid_credentials`, `token_reused`, `weak_password`, ...).
    error: String,
    /// A human-readable explanation; never reveals whether an account exists.
    message: String,
}

/// Tokens handed out by login, MFA verification and refresh.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenBody {
    /// The access token (JWT or PASETO).
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// The refresh token: opaque and single use.
    refresh_token: String,
}

impl From<&Tokens> for TokenBody {
    fn from(tokens: &Tokens) -> Self {
        Self {
            access_token: tokens.access_token.expose_secret().to_owned(),
            token_type: tokens.token_type,
            expires_in: tokens.expires_in,
            refresh_token: tokens.refresh_token.expose_secret().to_owned(),
        }
    }
}

/// The password was right and a second factor is needed.
#[derive(Serialize, ToSchema)]
pub(crate) struct MfaChallengeBody {
    /// Always true.
    mfa_required: bool,
    /// Send it with a code to `/v1/auth/mfa/verify`.
    mfa_token: String,
    /// Seconds until the challenge expires.
    expires_in: u64,
}

/// What a login answers.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum LoginBody {
    /// No second factor enrolled.
    Tokens(TokenBody),
    /// A second factor is enrolled.
    Challenge(MfaChallengeBody),
}

/// A new account.
#[derive(Serialize, ToSchema)]
pub(crate) struct UserBody {
    /// Its id.
    #[schema(value_type = String)]
    user_id: auth_core::id::UserId,
    /// Its normalised email.
    email: String,
}

/// The caller's account.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProfileBody {
    #[schema(value_type = String)]
    user_id: auth_core::id::UserId,
    email: String,
    mfa_enabled: bool,
    #[schema(value_type = Option<String>)]
    session_id: Option<SessionId>,
}

/// What an authenticator app needs. Shown once.
#[derive(Serialize, ToSchema)]
pub(crate) struct EnrollmentBody {
    /// The secret in base32.
    secret: String,
    /// The `otpauth://` URI, usually shown as a QR code.
    otpauth_uri: String,
}

/// Recovery codes, shown once.
#[derive(Serialize, ToSchema)]
pub(crate) struct RecoveryCodesBody {
    recovery_codes: Vec<String>,
}

/// One of the caller's sessions.
#[derive(Serialize, ToSchema)]
pub(crate) struct SessionBody {
    #[schema(value_type = String)]
    id: SessionId,
    /// Seconds since the Unix epoch.
    created_at: u64,
    /// Seconds since the Unix epoch.
    last_used_at: u64,
    /// Whether it is the session of the token that asked.
    current: bool,
}

/// The caller's sessions.
#[derive(Serialize, ToSchema)]
pub(crate) struct SessionsBody {
    sessions: Vec<SessionBody>,
}

/// Token responses must never be cached (RFC 6749 section 5.1).
fn no_store<T: Serialize>(body: T) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

#[utoipa::path(post, path = "/v1/auth/register", request_body = Credentials, responses((status = 201, body = UserBody), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn register(
    State(auth): State<Authenticator>,
    ApiJson(request): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let user = auth.register(&request.email, &request.password).await?;
    let body = UserBody {
        user_id: user.id,
        email: user.email,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(post, path = "/v1/auth/login", request_body = Credentials, responses((status = 200, body = LoginBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn login(
    State(auth): State<Authenticator>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    match auth
        .login(&request.email, &request.password, Some(client))
        .await?
    {
        LoginOutcome::Authenticated(tokens) => {
            Ok(no_store(LoginBody::Tokens(TokenBody::from(&tokens))))
        }
        LoginOutcome::MfaRequired {
            mfa_token,
            expires_in,
        } => Ok(no_store(LoginBody::Challenge(MfaChallengeBody {
            mfa_required: true,
            mfa_token: mfa_token.expose_secret().to_owned(),
            expires_in,
        }))),
    }
}

#[utoipa::path(post, path = "/v1/auth/refresh", request_body = RefreshRequest, responses((status = 200, body = TokenBody), (status = 401, body = ErrorBody, description = "invalid_token, or token_reused: the family is revoked")))]
async fn refresh(
    State(auth): State<Authenticator>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    let tokens = auth.refresh(request.refresh_token.expose_secret()).await?;
    Ok(no_store(TokenBody::from(&tokens)))
}

#[utoipa::path(post, path = "/v1/auth/logout", responses((status = 204, description = "the session and its tokens are revoked"), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn logout(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
) -> Result<StatusCode, ApiError> {
    auth.logout(&principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/auth/me", responses((status = 200, body = ProfileBody), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn me(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let profile = auth.me(&principal).await?;
    Ok(Json(ProfileBody {
        user_id: profile.user_id,
        email: profile.email,
        mfa_enabled: profile.mfa_enabled,
        session_id: profile.session_id,
    })
    .into_response())
}

#[utoipa::path(post, path = "/v1/auth/mfa/verify", request_body = MfaVerifyRequest, responses((status = 200, body = TokenBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify_mfa(
    State(auth): State<Authenticator>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<MfaVerifyRequest>,
) -> Result<Response, ApiError> {
    let tokens = auth
        .verify_mfa(
            request.mfa_token.expose_secret(),
            request.code.expose_secret(),
            Some(client),
        )
        .await?;
    Ok(no_store(TokenBody::from(&tokens)))
}

#[utoipa::path(post, path = "/v1/auth/password", request_body = PasswordChange, responses((status = 204, description = "changed; other sessions ended"), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn change_password(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ApiJson(request): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    auth.change_password(&principal, &request.current_password, &request.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/auth/mfa/totp/enroll", responses((status = 200, body = EnrollmentBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn enroll_totp(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let enrollment = auth.enroll_totp(&principal).await?;
    Ok(no_store(EnrollmentBody {
        secret: enrollment.secret.expose_secret().to_owned(),
        otpauth_uri: enrollment.otpauth_uri.expose_secret().to_owned(),
    }))
}

#[utoipa::path(post, path = "/v1/auth/mfa/totp/confirm", request_body = CodeRequest, responses((status = 200, body = RecoveryCodesBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn confirm_totp(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<Response, ApiError> {
    let codes = auth
        .confirm_totp(&principal, request.code.expose_secret())
        .await?;
    let recovery_codes = codes
        .iter()
        .map(|code| code.expose_secret().to_owned())
        .collect();
    Ok(no_store(RecoveryCodesBody { recovery_codes }))
}

#[utoipa::path(delete, path = "/v1/auth/mfa/totp", request_body = DisableTotpRequest, responses((status = 204, description = "disabled"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn disable_totp(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ApiJson(request): ApiJson<DisableTotpRequest>,
) -> Result<StatusCode, ApiError> {
    let proof = match (&request.code, &request.password) {
        (Some(code), None) => DisableTotp::Code(code.expose_secret()),
        (None, Some(password)) => DisableTotp::Password(password),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send either a code or the password",
            ));
        }
    };
    auth.disable_totp(&principal, proof).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn timestamp(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[utoipa::path(get, path = "/v1/auth/sessions", responses((status = 200, body = SessionsBody), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn sessions(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let sessions = auth
        .sessions(&principal)
        .await?
        .into_iter()
        .map(|session| SessionBody {
            id: session.id,
            created_at: timestamp(session.created_at),
            last_used_at: timestamp(session.last_used_at),
            current: session.current,
        })
        .collect();
    Ok(Json(SessionsBody { sessions }).into_response())
}

#[utoipa::path(delete, path = "/v1/auth/sessions/{id}", params(("id" = String, Path, description = "a session id from the list")), responses((status = 204, description = "ended"), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn revoke_session(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = SessionId::parse(&id)?;
    auth.revoke_session(&principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/auth/sessions", responses((status = 204, description = "every other session ended"), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn revoke_other_sessions(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
) -> Result<StatusCode, ApiError> {
    auth.revoke_other_sessions(&principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Names the authenticated user in the request's span, so its log line says who asked.
async fn record_user(request: Request, next: axum::middleware::Next) -> Response {
    if let Some(principal) = request.extensions().get::<Principal>() {
        tracing::Span::current().record("user_id", tracing::field::display(principal.user_id));
    }
    next.run(request).await
}

/// The `/v1/auth` routes; the bearer ones behind `AuthLayer`.
pub(crate) fn routes(auth: Authenticator, proxy_header: TrustedProxyHeader) -> Router {
    let bearer = Router::new()
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/me", get(me))
        .route("/v1/auth/password", post(change_password))
        .route("/v1/auth/mfa/totp/enroll", post(enroll_totp))
        .route("/v1/auth/mfa/totp/confirm", post(confirm_totp))
        .route("/v1/auth/mfa/totp", delete(disable_totp))
        .route(
            "/v1/auth/sessions",
            get(sessions).delete(revoke_other_sessions),
        )
        .route("/v1/auth/sessions/{id}", delete(revoke_session))
        .route_layer(axum::middleware::from_fn(record_user))
        .route_layer(AuthLayer::required(auth.clone()).realm("auth"));
    Router::new()
        .route("/v1/auth/register", post(register))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/mfa/verify", post(verify_mfa))
        .route("/openapi.json", get(openapi))
        .merge(bearer)
        .with_state(auth)
        .layer(Extension(proxy_header))
}

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document, generated from the handlers and the types they read and write.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "auth-server", description = "Authentication API"),
    paths(
        register,
        login,
        refresh,
        verify_mfa,
        logout,
        me,
        change_password,
        enroll_totp,
        confirm_totp,
        disable_totp,
        sessions,
        revoke_other_sessions,
        revoke_session
    ),
    modifiers(&BearerScheme)
)]
pub(crate) struct ApiDoc;

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Response {
    Json(<ApiDoc as utoipa::OpenApi>::openapi()).into_response()
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::body::Body;
    use axum::http::Method;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn send(
        router: &Router,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let mut request = request.body(Body::from(body.to_owned())).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 40_000))));
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{status} with a non-JSON body: {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, json)
    }

    /// Found by the `api_bodies` fuzz target: axum's own plain-text rejection answered a
    /// session id that percent-decodes to invalid UTF-8.
    #[tokio::test]
    async fn a_session_id_that_is_not_utf8_is_answered_400_in_our_json_shape() {
        let router = crate::development_router().unwrap();
        let credentials =
            r#"{"email":"ada@example.com","password":"correct horse battery staple"}"#;
        let (status, _) = send(
            &router,
            Method::POST,
            "/v1/auth/register",
            None,
            credentials,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, tokens) =
            send(&router, Method::POST, "/v1/auth/login", None, credentials).await;
        assert_eq!(status, StatusCode::OK);
        let token = tokens["access_token"].as_str().unwrap();

        let (status, body) = send(
            &router,
            Method::DELETE,
            "/v1/auth/sessions/%9A",
            Some(token),
            "",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_request");
        assert!(body["message"].is_string());
    }
}
