//! Accounts and their tokens: register, login, refresh, reauthentication (a step-up), logout,
//! the caller's profile and password change.

use auth_core::authz::ScopeSet;
use auth_core::flows::{Authenticator, LoginOutcome, Principal, SignUp};
use auth_core::secrecy::ExposeSecret;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::email::Requester;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ClientIp};
use super::types::{
    AcceptedBody, Credentials, LoginBody, MfaChallengeBody, PasswordChange, ProfileBody,
    ReauthProof, ReauthRequest, RefreshRequest, Registration, TokenBody, UserBody,
};

#[utoipa::path(post, path = "/v1/auth/register", request_body = Registration, responses((status = 201, body = UserBody, description = "the account (EMAIL_VERIFICATION off or optional; optional also mails a verification link)"), (status = 202, body = AcceptedBody, description = "verification_sent (EMAIL_VERIFICATION required): a link went to a new address, a note to a taken one; one answer"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody, description = "the address is taken (EMAIL_VERIFICATION off or optional)"), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "too many registrations from this address, or overall, or mails to the address; Retry-After says when"), (status = 503, body = ErrorBody)))]
pub(crate) async fn register(
    State(auth): State<Authenticator>,
    Requester(origin): Requester,
    ApiJson(request): ApiJson<Registration>,
) -> Result<Response, ApiError> {
    match auth
        .sign_up(&request.email, &request.password, &origin)
        .await?
    {
        SignUp::Created(user) => {
            let body = UserBody {
                user_id: user.id,
                email: user.email,
            };
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        SignUp::VerificationSent => Ok((
            StatusCode::ACCEPTED,
            Json(AcceptedBody {
                status: "verification_sent",
            }),
        )
            .into_response()),
    }
}

#[utoipa::path(post, path = "/v1/auth/login", request_body = Credentials, responses((status = 200, body = LoginBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "email_unverified: the password is right and the address is not verified yet (EMAIL_VERIFICATION required)"), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn login(
    State(auth): State<Authenticator>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let outcome = auth
        .login(&request.email, &request.password, Some(client))
        .await?;
    Ok(login_answer(outcome))
}

/// The answer to a completed first factor: tokens, or the second-factor challenge.
pub(super) fn login_answer(outcome: LoginOutcome) -> Response {
    match outcome {
        LoginOutcome::Authenticated(tokens) => {
            Json(LoginBody::Tokens(TokenBody::from(&tokens))).into_response()
        }
        LoginOutcome::MfaRequired {
            mfa_token,
            expires_in,
            factors,
        } => Json(LoginBody::Challenge(MfaChallengeBody {
            mfa_required: true,
            mfa_token: mfa_token.expose_secret().to_owned(),
            expires_in,
            factors: factors.iter().map(|factor| factor.as_str()).collect(),
        }))
        .into_response(),
    }
}

#[utoipa::path(post, path = "/v1/auth/refresh", request_body = RefreshRequest, responses((status = 200, body = TokenBody), (status = 400, body = ErrorBody, description = "invalid_scope: a scope the session does not hold was asked for (the refresh token stays unspent)"), (status = 401, body = ErrorBody, description = "invalid_token, or token_reused: the family is revoked")))]
pub(crate) async fn refresh(
    State(auth): State<Authenticator>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    let requested = request.scope.as_deref().map(ScopeSet::parse).transpose()?;
    let tokens = auth
        .refresh_scoped(
            request.refresh_token.expose_secret(),
            requested.as_ref(),
            Some(client),
        )
        .await?;
    Ok(Json(TokenBody::from(&tokens)).into_response())
}

#[utoipa::path(post, path = "/v1/auth/reauthenticate", request_body = ReauthProof, responses((status = 200, body = TokenBody, description = "the same session, new tokens with a fresh auth_time; the previous refresh token stops working"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "a passkey's answer was sent and passkeys are not enabled"), (status = 409, body = ErrorBody, description = "a code was sent and no second factor is enrolled"), (status = 410, body = ErrorBody, description = "ceremony_invalid: the passkey ceremony is unknown, finished or expired"), (status = 429, body = ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn reauthenticate(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<ReauthRequest>,
) -> Result<Response, ApiError> {
    let tokens = auth
        .reauthenticate(&principal, request.proof()?, Some(client))
        .await?;
    Ok(Json(TokenBody::from(&tokens)).into_response())
}

#[utoipa::path(post, path = "/v1/auth/logout", responses((status = 204, description = "the session and its tokens are revoked"), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn logout(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ClientIp(client): ClientIp,
) -> Result<StatusCode, ApiError> {
    auth.logout(&principal, Some(client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/auth/me", responses((status = 200, body = ProfileBody), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn me(
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

#[utoipa::path(post, path = "/v1/auth/password", request_body = PasswordChange, responses((status = 204, description = "changed; other sessions ended"), (status = 401, body = ErrorBody, description = "invalid_token, or invalid_credentials: the current password is wrong"), (status = 422, body = ErrorBody, description = "weak_password: the new password is refused"), (status = 429, body = ErrorBody, description = "too many wrong current passwords")), security(("bearer" = [])))]
pub(crate) async fn change_password(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    auth.change_password(
        &principal,
        &request.current_password,
        &request.new_password,
        Some(client),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
