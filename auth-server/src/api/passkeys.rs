//! Passkeys for applications that bring their own pages: each ceremony is an `options` call,
//! whose `publicKey` goes to the browser's `navigator.credentials.create()` or `.get()`
//! (through `PublicKeyCredential.parseCreationOptionsFromJSON` or
//! `parseRequestOptionsFromJSON`), and a `finish` call with the ceremony id and the
//! credential's `toJSON()`. A reauthentication's answer goes to `/v1/auth/reauthenticate` as
//! `{"passkey": {"ceremony", "credential"}}`. Without `PASSKEY_RP_ID` the ceremonies answer
//! `404 not_found`.

use std::time::{Duration, UNIX_EPOCH};

use auth_core::flows::{
    Authenticator, FactorProof, PasskeyInfo, PasskeyOptions, PasskeyResponse, Principal,
};
use auth_core::secrecy::{ExposeSecret, SecretString};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::email::Requester;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ClientIp};
use super::types::{DoneBody, TokenBody};

/// A ceremony begun: what the browser needs, and the id to finish it with.
#[derive(Serialize, ToSchema)]
pub(crate) struct OptionsBody {
    /// Send it back with the browser's answer.
    #[schema(example = "q5Tg0pDuHCVtNUc0qAhy0w")]
    ceremony: String,
    /// `{"publicKey": {...}}` (and `"mediation": "conditional"` for autofill): give
    /// `publicKey` to `PublicKeyCredential.parseCreationOptionsFromJSON` (registration) or
    /// `parseRequestOptionsFromJSON` (sign-in).
    #[schema(value_type = Object)]
    options: Value,
    /// Seconds until the ceremony expires.
    expires_in: u64,
}

impl From<PasskeyOptions> for OptionsBody {
    fn from(options: PasskeyOptions) -> Self {
        Self {
            ceremony: options.ceremony.to_string(),
            options: options.options,
            expires_in: options.expires_in,
        }
    }
}

/// A ceremony's options as JSON (the hosted pages' script reads the same shape).
pub(crate) fn options(options: PasskeyOptions) -> Response {
    Json(OptionsBody::from(options)).into_response()
}

/// A passkey as its owner sees it.
#[derive(Serialize, ToSchema)]
pub(crate) struct PasskeyBody {
    /// The credential id (base64url): the `{id}` of the routes below.
    id: String,
    /// The owner's name for it.
    name: String,
    /// May be synced to other devices (`swk` in `amr`); otherwise bound to one (`hwk`).
    backup_eligible: bool,
    /// Synced now.
    backup_state: bool,
    /// How the browser reaches it: `internal`, `hybrid`, `usb`, `nfc`, `ble`, `smart-card`.
    transports: Vec<String>,
    /// The authenticator model (all zero when it does not say).
    aaguid: String,
    /// Unix seconds.
    created_at: u64,
    /// Unix seconds; absent until it is first used.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_at: Option<u64>,
}

impl From<&PasskeyInfo> for PasskeyBody {
    fn from(info: &PasskeyInfo) -> Self {
        let seconds = |at: std::time::SystemTime| {
            at.duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_secs()
        };
        Self {
            id: info.id.to_string(),
            name: info.name.clone(),
            backup_eligible: info.backup_eligible,
            backup_state: info.backup_state,
            transports: info.transports.clone(),
            aaguid: info.aaguid.to_string(),
            created_at: seconds(info.created_at),
            last_used_at: info.last_used_at.map(seconds),
        }
    }
}

/// The caller's passkeys.
#[derive(Serialize, ToSchema)]
pub(crate) struct PasskeysBody {
    /// Oldest first.
    passkeys: Vec<PasskeyBody>,
}

/// The browser's answer to a ceremony.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FinishRequest {
    /// The id from the options.
    #[schema(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    ceremony: String,
    /// `PublicKeyCredential.toJSON()` of what the browser returned.
    #[schema(value_type = Object)]
    credential: serde_json::Map<String, Value>,
}

impl FinishRequest {
    /// The ceremony id and the credential as the flows read it.
    fn into_parts(self) -> (String, Value) {
        (self.ceremony, Value::Object(self.credential))
    }
}

/// A registration's answer, and the name to give the passkey.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterFinishRequest {
    /// The id from the options.
    #[schema(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    ceremony: String,
    /// `PublicKeyCredential.toJSON()` of what the browser created.
    #[schema(value_type = Object)]
    credential: serde_json::Map<String, Value>,
    /// What the owner calls it: at most 64 characters, none of them a control character;
    /// absent or empty, a name after its kind.
    #[serde(default)]
    #[schema(max_length = 64, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    name: Option<String>,
}

/// A new name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameRequest {
    /// 1 to 64 characters, none of them a control character.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    name: String,
}

/// How a passwordless sign-in starts. An object (every member may be left out, but the
/// body is `{}` at least, never an array).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields, try_from = "serde_json::Map<String, Value>")]
pub(crate) struct SignInOptionsRequest {
    /// The account's email, for username-first sign-in; absent for a discoverable passkey.
    #[serde(default)]
    username: Option<String>,
    /// `conditional`: the options are for the username field's autofill (no username).
    #[serde(default)]
    mediation: Option<Mediation>,
}

/// The members of [`SignInOptionsRequest`], read from an object only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInOptionsMembers {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    mediation: Option<Mediation>,
}

impl TryFrom<serde_json::Map<String, Value>> for SignInOptionsRequest {
    type Error = serde_json::Error;

    fn try_from(members: serde_json::Map<String, Value>) -> Result<Self, Self::Error> {
        let SignInOptionsMembers {
            username,
            mediation,
        } = serde_json::from_value(Value::Object(members))?;
        Ok(Self {
            username,
            mediation,
        })
    }
}

/// How the browser shows a discoverable sign-in.
#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mediation {
    /// In the autofill of the username field.
    Conditional,
    /// In a dialog, when the user asks for it.
    Optional,
}

/// The challenge of a login that asked for a second factor.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MfaOptionsRequest {
    /// From the login's answer.
    #[schema(value_type = String)]
    mfa_token: SecretString,
}

/// The second factor of a login: the challenge and the passkey's answer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MfaFinishRequest {
    /// From the login's answer.
    #[schema(value_type = String)]
    mfa_token: SecretString,
    /// The id from the options.
    #[schema(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    ceremony: String,
    /// `PublicKeyCredential.toJSON()` of what the browser returned.
    #[schema(value_type = Object)]
    credential: serde_json::Map<String, Value>,
}

/// A reset link's token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetOptionsRequest {
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    token: SecretString,
}

/// A new password with a reset link's token, the second factor a passkey.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetFinishRequest {
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")]
    token: SecretString,
    /// As a registration's password.
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 128)]
    new_password: SecretString,
    /// The id from the options.
    #[schema(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    ceremony: String,
    /// `PublicKeyCredential.toJSON()` of what the browser returned.
    #[schema(value_type = Object)]
    credential: serde_json::Map<String, Value>,
}

#[utoipa::path(post, path = "/v1/auth/passkeys/register/options", responses((status = 200, body = OptionsBody), (status = 401, body = ErrorBody, description = "invalid_token, or reauth_required: adding a factor needs a fresh authentication"), (status = 404, body = ErrorBody, description = "passkeys are not enabled"), (status = 429, body = ErrorBody, description = "too many ceremonies from this address")), security(("bearer" = [])))]
pub(crate) async fn register_options(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ClientIp(client): ClientIp,
) -> Result<Response, ApiError> {
    Ok(options(
        auth.begin_passkey_registration(&principal, Some(client))
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/auth/passkeys/register/finish", request_body = RegisterFinishRequest, responses((status = 201, body = PasskeyBody, description = "registered; every other session ended"), (status = 400, body = ErrorBody, description = "a malformed credential or name"), (status = 401, body = ErrorBody, description = "invalid_token, or invalid_credentials: the credential does not verify (origin, relying party, user verification, challenge)"), (status = 404, body = ErrorBody, description = "passkeys are not enabled"), (status = 409, body = ErrorBody, description = "the passkey is registered already"), (status = 410, body = ErrorBody, description = "ceremony_invalid: unknown, finished or expired")), security(("bearer" = [])))]
pub(crate) async fn register_finish(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<RegisterFinishRequest>,
) -> Result<Response, ApiError> {
    let credential = Value::Object(request.credential);
    let response = PasskeyResponse {
        ceremony: &request.ceremony,
        credential: &credential,
    };
    let info = auth
        .finish_passkey_registration(&principal, response, request.name.as_deref(), Some(client))
        .await?;
    Ok((StatusCode::CREATED, Json(PasskeyBody::from(&info))).into_response())
}

#[utoipa::path(get, path = "/v1/auth/passkeys", responses((status = 200, body = PasskeysBody), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let passkeys = auth.passkeys(&principal).await?;
    Ok(Json(PasskeysBody {
        passkeys: passkeys.iter().map(PasskeyBody::from).collect(),
    })
    .into_response())
}

#[utoipa::path(patch, path = "/v1/auth/passkeys/{id}", params(("id" = String, Path, description = "the credential id (base64url)")), request_body = RenameRequest, responses((status = 204, description = "renamed"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "the caller has no such passkey")), security(("bearer" = [])))]
pub(crate) async fn rename(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<RenameRequest>,
) -> Result<StatusCode, ApiError> {
    auth.rename_passkey(&principal, &id, &request.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/v1/auth/passkeys/{id}", params(("id" = String, Path, description = "the credential id (base64url)")), responses((status = 204, description = "removed; every other session ended"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "invalid_token, or reauth_required: removing a factor needs a fresh authentication"), (status = 404, body = ErrorBody, description = "the caller has no such passkey")), security(("bearer" = [])))]
pub(crate) async fn remove(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ClientIp(client): ClientIp,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.delete_passkey(&principal, &id, Some(client)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/auth/passkeys/login/options", request_body = SignInOptionsRequest, responses((status = 200, body = OptionsBody, description = "for a username, its passkeys; for an unknown account or one without passkeys, a list that looks the same"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody, description = "passkeys are not enabled"), (status = 429, body = ErrorBody, description = "too many ceremonies from this address")))]
pub(crate) async fn login_options(
    State(auth): State<Authenticator>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<SignInOptionsRequest>,
) -> Result<Response, ApiError> {
    let conditional = request.mediation == Some(Mediation::Conditional);
    let begun = auth
        .begin_passkey_sign_in(request.username.as_deref(), conditional, Some(client))
        .await?;
    Ok(options(begun))
}

#[utoipa::path(post, path = "/v1/auth/passkeys/login/finish", request_body = FinishRequest, responses((status = 200, body = TokenBody, description = "signed in: amr is hwk or swk with user"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "invalid_credentials: the passkey is unknown or its answer does not verify"), (status = 403, body = ErrorBody, description = "email_unverified"), (status = 404, body = ErrorBody, description = "passkeys are not enabled"), (status = 410, body = ErrorBody, description = "ceremony_invalid"), (status = 429, body = ErrorBody)))]
pub(crate) async fn login_finish(
    State(auth): State<Authenticator>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<FinishRequest>,
) -> Result<Response, ApiError> {
    let (ceremony, credential) = request.into_parts();
    let response = PasskeyResponse {
        ceremony: &ceremony,
        credential: &credential,
    };
    let tokens = auth.finish_passkey_sign_in(response, Some(client)).await?;
    Ok(Json(TokenBody::from(&tokens)).into_response())
}

#[utoipa::path(post, path = "/v1/auth/passkeys/mfa/options", request_body = MfaOptionsRequest, responses((status = 200, body = OptionsBody), (status = 401, body = ErrorBody, description = "invalid_token: the challenge is not valid"), (status = 404, body = ErrorBody, description = "passkeys are not enabled"), (status = 409, body = ErrorBody, description = "the account has no passkey"), (status = 429, body = ErrorBody, description = "too many ceremonies from this address")))]
pub(crate) async fn mfa_options(
    State(auth): State<Authenticator>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<MfaOptionsRequest>,
) -> Result<Response, ApiError> {
    let begun = auth
        .begin_passkey_second_factor(request.mfa_token.expose_secret(), Some(client))
        .await?;
    Ok(options(begun))
}

#[utoipa::path(post, path = "/v1/auth/passkeys/mfa/finish", request_body = MfaFinishRequest, responses((status = 200, body = TokenBody, description = "signed in: amr adds hwk or swk, user and mfa"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "invalid_token, or invalid_credentials"), (status = 404, body = ErrorBody, description = "passkeys are not enabled"), (status = 410, body = ErrorBody, description = "ceremony_invalid"), (status = 429, body = ErrorBody, description = "too many failed second factors")))]
pub(crate) async fn mfa_finish(
    State(auth): State<Authenticator>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<MfaFinishRequest>,
) -> Result<Response, ApiError> {
    let credential = Value::Object(request.credential);
    let response = PasskeyResponse {
        ceremony: &request.ceremony,
        credential: &credential,
    };
    let tokens = auth
        .verify_mfa_passkey(request.mfa_token.expose_secret(), response, Some(client))
        .await?;
    Ok(Json(TokenBody::from(&tokens)).into_response())
}

#[utoipa::path(post, path = "/v1/auth/passkeys/reauthenticate/options", responses((status = 200, body = OptionsBody), (status = 400, body = ErrorBody, description = "the token has no session"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "passkeys are not enabled"), (status = 409, body = ErrorBody, description = "no passkey is registered"), (status = 429, body = ErrorBody, description = "too many ceremonies from this address")), security(("bearer" = [])))]
pub(crate) async fn reauthenticate_options(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    ClientIp(client): ClientIp,
) -> Result<Response, ApiError> {
    let begun = auth
        .begin_passkey_reauthentication(&principal, Some(client))
        .await?;
    Ok(options(begun))
}

#[utoipa::path(post, path = "/v1/auth/passkeys/reset/options", request_body = ResetOptionsRequest, responses((status = 200, body = OptionsBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody, description = "passkeys are not enabled"), (status = 409, body = ErrorBody, description = "the account has no passkey"), (status = 410, body = ErrorBody, description = "intent_invalid: the link is used, expired or voided"), (status = 429, body = ErrorBody, description = "too many ceremonies from this address")))]
pub(crate) async fn reset_options(
    State(auth): State<Authenticator>,
    ClientIp(client): ClientIp,
    ApiJson(request): ApiJson<ResetOptionsRequest>,
) -> Result<Response, ApiError> {
    let begun = auth
        .begin_passkey_reset(request.token.expose_secret(), Some(client))
        .await?;
    Ok(options(begun))
}

#[utoipa::path(post, path = "/v1/auth/passkeys/reset/finish", request_body = ResetFinishRequest, responses((status = 200, body = DoneBody, description = "the password is set; every session ended"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "invalid_credentials: the passkey's answer does not verify"), (status = 404, body = ErrorBody, description = "passkeys are not enabled"), (status = 410, body = ErrorBody, description = "intent_invalid, or ceremony_invalid"), (status = 422, body = ErrorBody, description = "weak_password (the link still works)"), (status = 429, body = ErrorBody)))]
pub(crate) async fn reset_finish(
    State(auth): State<Authenticator>,
    Requester(origin): Requester,
    ApiJson(request): ApiJson<ResetFinishRequest>,
) -> Result<Response, ApiError> {
    let credential = Value::Object(request.credential);
    let response = PasskeyResponse {
        ceremony: &request.ceremony,
        credential: &credential,
    };
    auth.reset_password_with(
        request.token.expose_secret(),
        &request.new_password,
        Some(FactorProof::Passkey(response)),
        &origin,
    )
    .await?;
    Ok(Json(DoneBody {
        status: "password_reset",
    })
    .into_response())
}
