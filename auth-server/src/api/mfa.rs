//! The second factor: completing a login with a code, and enrolling, confirming and disabling
//! TOTP.

use auth_core::flows::{Authenticator, Principal};
use auth_core::secrecy::ExposeSecret;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ClientIp};
use super::types::{
    CodeRequest, EnrollmentBody, MfaVerifyRequest, Proof, ProofRequest, RecoveryCodesBody,
    TokenBody,
};

#[utoipa::path(post, path = "/v1/auth/mfa/verify", request_body = MfaVerifyRequest, responses((status = 200, body = TokenBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn verify_mfa(
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
    Ok(Json(TokenBody::from(&tokens)).into_response())
}

#[utoipa::path(post, path = "/v1/auth/mfa/totp/enroll", responses((status = 200, body = EnrollmentBody), (status = 401, body = ErrorBody, description = "invalid_token, or reauth_required: authenticate again first (POST /v1/auth/reauthenticate)"), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn enroll_totp(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let enrollment = auth.enroll_totp(&principal).await?;
    Ok(Json(EnrollmentBody {
        secret: enrollment.secret.expose_secret().to_owned(),
        otpauth_uri: enrollment.otpauth_uri.expose_secret().to_owned(),
    })
    .into_response())
}

#[utoipa::path(post, path = "/v1/auth/mfa/totp/confirm", request_body = CodeRequest, responses((status = 200, body = RecoveryCodesBody), (status = 401, body = ErrorBody, description = "invalid_token, or invalid_credentials: the code is wrong"), (status = 409, body = ErrorBody, description = "no enrolment is pending"), (status = 429, body = ErrorBody, description = "too many wrong codes")), security(("bearer" = [])))]
pub(crate) async fn confirm_totp(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<Response, ApiError> {
    let codes = auth
        .confirm_totp(&principal, request.code.expose_secret(), Some(client))
        .await?;
    let recovery_codes = codes
        .iter()
        .map(|code| code.expose_secret().to_owned())
        .collect();
    Ok(Json(RecoveryCodesBody { recovery_codes }).into_response())
}

#[utoipa::path(delete, path = "/v1/auth/mfa/totp", request_body = Proof, responses((status = 204, description = "disabled"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "invalid_token, or invalid_credentials: the password or code is wrong"), (status = 409, body = ErrorBody, description = "TOTP is not enabled"), (status = 429, body = ErrorBody, description = "too many wrong passwords or codes")), security(("bearer" = [])))]
pub(crate) async fn disable_totp(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<ProofRequest>,
) -> Result<StatusCode, ApiError> {
    auth.disable_totp(&principal, request.proof()?, Some(client))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
