//! The JSON calls of the pages' script: each passkey ceremony's options and finish, as the
//! API's, but signed in by cookie (a finish sets the session cookie and answers where to go
//! next) and guarded by the CSRF header. A refusal is JSON `{"error", "message"}`; the
//! script shows the message.

use auth_core::error::TokenRejection;
use auth_core::flows::{FactorProof, PasskeyResponse};
use auth_core::secrecy::{ExposeSecret, SecretString};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ACCOUNT, Ctx, UiState, safe_return, session_cookies};
use crate::api::error::ApiError;
use crate::api::extract::ApiJson;
use crate::api::passkeys::options;

/// Where the page goes after a finish.
#[derive(Serialize)]
struct Next {
    redirect: String,
}

/// `{"redirect": to}`, with `cookies`.
fn next(to: String, cookies: Vec<axum::http::HeaderValue>) -> Response {
    let mut response = Json(Next { redirect: to }).into_response();
    for cookie in cookies {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct SignInOptions {
    #[serde(default)]
    mediation: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Finish {
    ceremony: String,
    credential: serde_json::Map<String, Value>,
    #[serde(default)]
    return_to: Option<String>,
}

impl Finish {
    fn credential(&self) -> Value {
        Value::Object(self.credential.clone())
    }
}

pub(super) async fn sign_in_options(
    State(state): State<UiState>,
    ctx: Ctx,
    ApiJson(request): ApiJson<SignInOptions>,
) -> Result<Response, ApiError> {
    let conditional = request.mediation.as_deref() == Some("conditional");
    let begun = state
        .auth
        .begin_passkey_sign_in(None, conditional, Some(ctx.client))
        .await?;
    Ok(options(begun))
}

pub(super) async fn sign_in_finish(
    State(state): State<UiState>,
    ctx: Ctx,
    ApiJson(request): ApiJson<Finish>,
) -> Result<Response, ApiError> {
    let credential = request.credential();
    let response = PasskeyResponse {
        ceremony: &request.ceremony,
        credential: &credential,
    };
    let tokens = state
        .auth
        .finish_passkey_sign_in(response, Some(ctx.client))
        .await?;
    let cookies = session_cookies(&state, &ctx, &tokens).await?;
    Ok(next(safe_return(request.return_to.as_deref()), cookies))
}

/// The sign-in's challenge, from its cookie.
fn challenge(state: &UiState, headers: &HeaderMap) -> Result<String, auth_core::Error> {
    state
        .mfa
        .read(headers)
        .ok_or(auth_core::Error::InvalidToken(TokenRejection::Expired))
}

pub(super) async fn second_factor_options(
    State(state): State<UiState>,
    ctx: Ctx,
    headers: HeaderMap,
    ApiJson(_): ApiJson<SignInOptions>,
) -> Result<Response, ApiError> {
    let challenge = challenge(&state, &headers)?;
    let begun = state
        .auth
        .begin_passkey_second_factor(&challenge, Some(ctx.client))
        .await?;
    Ok(options(begun))
}

pub(super) async fn second_factor_finish(
    State(state): State<UiState>,
    ctx: Ctx,
    headers: HeaderMap,
    ApiJson(request): ApiJson<Finish>,
) -> Result<Response, ApiError> {
    let challenge = challenge(&state, &headers)?;
    let credential = request.credential();
    let response = PasskeyResponse {
        ceremony: &request.ceremony,
        credential: &credential,
    };
    let tokens = state
        .auth
        .verify_mfa_passkey(&challenge, response, Some(ctx.client))
        .await?;
    let cookies = session_cookies(&state, &ctx, &tokens).await?;
    Ok(next(safe_return(request.return_to.as_deref()), cookies))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResetOptions {
    token: SecretString,
}

pub(super) async fn reset_options(
    State(state): State<UiState>,
    ctx: Ctx,
    ApiJson(request): ApiJson<ResetOptions>,
) -> Result<Response, ApiError> {
    let begun = state
        .auth
        .begin_passkey_reset(request.token.expose_secret(), Some(ctx.client))
        .await?;
    Ok(options(begun))
}

/// A reset's new password and its passkey answer (a `return_to` the script sends is not
/// used: a reset ends at the sign-in page).
#[derive(Deserialize)]
pub(super) struct ResetFinish {
    token: SecretString,
    new_password: SecretString,
    ceremony: String,
    credential: serde_json::Map<String, Value>,
}

pub(super) async fn reset_finish(
    State(state): State<UiState>,
    ctx: Ctx,
    ApiJson(request): ApiJson<ResetFinish>,
) -> Result<Response, ApiError> {
    let credential = Value::Object(request.credential);
    let response = PasskeyResponse {
        ceremony: &request.ceremony,
        credential: &credential,
    };
    state
        .auth
        .reset_password_with(
            request.token.expose_secret(),
            &request.new_password,
            Some(FactorProof::Passkey(response)),
            &ctx.origin(),
        )
        .await?;
    Ok(next("/ui/sign-in?password_reset=1".to_owned(), Vec::new()))
}

/// The caller, or `401`.
fn caller(ctx: &Ctx) -> Result<auth_core::flows::Principal, auth_core::Error> {
    ctx.principal
        .clone()
        .ok_or(auth_core::Error::InvalidToken(TokenRejection::Revoked))
}

pub(super) async fn register_options(
    State(state): State<UiState>,
    ctx: Ctx,
    ApiJson(_): ApiJson<SignInOptions>,
) -> Result<Response, ApiError> {
    let principal = caller(&ctx)?;
    let begun = state
        .auth
        .begin_passkey_registration(&principal, Some(ctx.client))
        .await?;
    Ok(options(begun))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RegisterFinish {
    ceremony: String,
    credential: serde_json::Map<String, Value>,
    #[serde(default)]
    name: Option<String>,
}

pub(super) async fn register_finish(
    State(state): State<UiState>,
    ctx: Ctx,
    ApiJson(request): ApiJson<RegisterFinish>,
) -> Result<Response, ApiError> {
    let principal = caller(&ctx)?;
    let credential = Value::Object(request.credential);
    let response = PasskeyResponse {
        ceremony: &request.ceremony,
        credential: &credential,
    };
    let name = request
        .name
        .as_deref()
        .filter(|name| !name.trim().is_empty());
    state
        .auth
        .finish_passkey_registration(&principal, response, name, Some(ctx.client))
        .await?;
    let mut answer = next(format!("{ACCOUNT}?done=passkey_added"), Vec::new());
    *answer.status_mut() = StatusCode::CREATED;
    Ok(answer)
}
