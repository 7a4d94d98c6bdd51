//! The flows by email: verification, password reset, sign-in by link or code, change of
//! address. The routes that take an address answer `202` the same whether an account has it
//! or not. A mailed link opens a page here (`GET`), which never uses its token; the page's
//! button posts it back as a form (answered with a page), as an application posts it as JSON
//! (answered with JSON). Used, expired or voided links and codes answer `410 intent_invalid`.

use auth_core::flows::{Authenticator, LinkPaths, Origin, Principal};
use auth_core::intent::Purpose;
use auth_core::secrecy::ExposeSecret;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::auth::login_answer;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ClientIp, Submitted};
use super::pages;
use super::types::{
    AcceptedBody, DoneBody, EmailChangeRequest, EmailLogin, EmailLoginBody, EmailLoginRequest,
    EmailRequest, LoginBody, ResetRequest, TokenQuery, TokenRequest,
};

/// Who asked: the client's address and the languages it reads (`Accept-Language`).
pub(crate) struct Requester(pub(crate) Origin);

impl<S: Send + Sync> FromRequestParts<S> for Requester {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ClientIp(client) = ClientIp::from_request_parts(parts, state).await?;
        let locale = parts
            .headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.chars().take(256).collect());
        Ok(Self(Origin {
            client: Some(client),
            locale,
        }))
    }
}

fn accepted(status: &'static str) -> Response {
    (StatusCode::ACCEPTED, Json(AcceptedBody { status })).into_response()
}

/// Where a page's button posts: the page's own route under `APP_URL`, so a server behind a
/// path prefix gets the post where the link came in. Always this API's route, also while
/// mailed links open the hosted pages (a link mailed before they were on still works).
fn link_target(auth: &Authenticator, path: &str) -> String {
    format!("{}{path}", auth.config().email.app_url)
}

fn product(auth: &Authenticator) -> &str {
    &auth.config().email.product_name
}

/// The answer to a link's token posted by `submitted`: `done` as JSON `{"status": done}` or
/// as a page saying `page_text`; a refusal as JSON or as a page.
fn link_answer<T>(
    auth: &Authenticator,
    submitted: &Submitted<T>,
    outcome: Result<(), auth_core::Error>,
    done: &'static str,
    page_title: &str,
    page_text: &str,
) -> Response {
    match (outcome, submitted.by_page()) {
        (Ok(()), false) => Json(DoneBody { status: done }).into_response(),
        (Ok(()), true) => pages::done(product(auth), page_title, page_text),
        (Err(error), false) => ApiError::from(error).into_response(),
        (Err(error), true) => pages::refused(product(auth), &ApiError::from(error)),
    }
}

/// The page of a link, if its token works for one of `purposes`: a form that posts it back.
async fn link_page(
    auth: &Authenticator,
    query: Result<Query<TokenQuery>, QueryRejection>,
    purposes: &[Purpose],
    form: impl FnOnce(&str) -> Response,
) -> Response {
    let Some(token) = query.ok().and_then(|Query(query)| query.token) else {
        return pages::no_token(product(auth));
    };
    let mut last = auth_core::Error::IntentInvalid;
    for purpose in purposes {
        match auth.check_link(*purpose, &token).await {
            Ok(()) => return form(&token),
            Err(error) => last = error,
        }
    }
    pages::refused(product(auth), &ApiError::from(last))
}

#[utoipa::path(post, path = "/v1/auth/email/verify", request_body(content((TokenRequest = "application/json"), (TokenRequest = "application/x-www-form-urlencoded"))), responses((status = 200, description = "verified; a form post gets a page", content((DoneBody = "application/json"), (String = "text/html"))), (status = 400, description = "not a link token", content((ErrorBody = "application/json"), (String = "text/html"))), (status = 410, description = "intent_invalid: used, expired or voided", content((ErrorBody = "application/json"), (String = "text/html")))))]
pub(crate) async fn verify_email(
    State(auth): State<Authenticator>,
    Requester(origin): Requester,
    submitted: Submitted<TokenRequest>,
) -> Response {
    let token = submitted.value().token.expose_secret();
    let outcome = auth.verify_email(token, &origin).await;
    link_answer(
        &auth,
        &submitted,
        outcome,
        "verified",
        "Address verified",
        "Your address is verified. You can sign in now.",
    )
}

#[utoipa::path(get, path = "/v1/auth/email/verify", params(("token" = String, Query, description = "the link's token", pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")), responses((status = 200, description = "a page with the button that verifies (opening it verifies nothing)", content_type = "text/html"), (status = 400, description = "no token", content_type = "text/html"), (status = 410, description = "used, expired or voided", content_type = "text/html")))]
pub(crate) async fn verify_email_page(
    State(auth): State<Authenticator>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let action = link_target(&auth, &LinkPaths::default().verify_email);
    link_page(&auth, query, &[Purpose::VerifyEmail], |token| {
        pages::form(
            product(&auth),
            "Verify your address",
            "Press the button to confirm that this address is yours.",
            &action,
            token,
            "",
            "Verify my address",
        )
    })
    .await
}

#[utoipa::path(post, path = "/v1/auth/email/verify/resend", request_body = EmailRequest, responses((status = 202, body = AcceptedBody, description = "a new link went out if an unverified account has the address; the same answer otherwise"), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody, description = "too many mails to this address or from this client")))]
pub(crate) async fn resend_verification(
    State(auth): State<Authenticator>,
    Requester(origin): Requester,
    ApiJson(request): ApiJson<EmailRequest>,
) -> Result<Response, ApiError> {
    auth.resend_verification(&request.email, &origin).await?;
    Ok(accepted("accepted"))
}

#[utoipa::path(post, path = "/v1/auth/password/forgot", request_body = EmailRequest, responses((status = 202, body = AcceptedBody, description = "a reset link went out if an account has the address, a note that none does otherwise: one answer"), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody, description = "too many mails to this address or from this client")))]
pub(crate) async fn forgot_password(
    State(auth): State<Authenticator>,
    Requester(origin): Requester,
    ApiJson(request): ApiJson<EmailRequest>,
) -> Result<Response, ApiError> {
    auth.forgot_password(&request.email, &origin).await?;
    Ok(accepted("accepted"))
}

#[utoipa::path(post, path = "/v1/auth/password/reset", request_body(content((ResetRequest = "application/json"), (ResetRequest = "application/x-www-form-urlencoded"))), responses((status = 200, description = "the password is set; every session ended; a form post gets a page", content((DoneBody = "application/json"), (String = "text/html"))), (status = 400, content((ErrorBody = "application/json"), (String = "text/html"))), (status = 401, description = "invalid_credentials: a wrong second factor", content((ErrorBody = "application/json"), (String = "text/html"))), (status = 403, description = "mfa_required: the account has a second factor; send its code (the link still works)", content((ErrorBody = "application/json"), (String = "text/html"))), (status = 410, description = "intent_invalid", content((ErrorBody = "application/json"), (String = "text/html"))), (status = 422, description = "weak_password (the link still works)", content((ErrorBody = "application/json"), (String = "text/html"))), (status = 429, content((ErrorBody = "application/json"), (String = "text/html")))))]
pub(crate) async fn reset_password(
    State(auth): State<Authenticator>,
    Requester(origin): Requester,
    submitted: Submitted<ResetRequest>,
) -> Response {
    let request = submitted.value();
    let outcome = auth
        .reset_password(
            request.token.expose_secret(),
            &request.new_password,
            request.code.as_ref().map(|code| code.expose_secret()),
            &origin,
        )
        .await;
    link_answer(
        &auth,
        &submitted,
        outcome,
        "password_reset",
        "Password changed",
        "Your password is changed and every device was signed out. Sign in with the new password.",
    )
}

#[utoipa::path(get, path = "/v1/auth/password/reset", params(("token" = String, Query, description = "the link's token", pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")), responses((status = 200, description = "a page asking for the new password", content_type = "text/html"), (status = 400, description = "no token", content_type = "text/html"), (status = 410, description = "used, expired or voided", content_type = "text/html")))]
pub(crate) async fn reset_password_page(
    State(auth): State<Authenticator>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let action = link_target(&auth, &LinkPaths::default().reset_password);
    link_page(&auth, query, &[Purpose::ResetPassword], |token| {
        pages::form(
            product(&auth),
            "Choose a new password",
            "Enter a new password of at least 12 characters.",
            &action,
            token,
            pages::RESET_FIELDS,
            "Set the password",
        )
    })
    .await
}

#[utoipa::path(post, path = "/v1/auth/login/email", request_body = EmailRequest, responses((status = 202, body = EmailLoginBody, description = "a sign-in link and code went out if an account has the address, a note that none does otherwise: one answer, a request id either way"), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn login_email(
    State(auth): State<Authenticator>,
    Requester(origin): Requester,
    ApiJson(request): ApiJson<EmailRequest>,
) -> Result<Response, ApiError> {
    let id = auth.request_login_email(&request.email, &origin).await?;
    let body = EmailLoginBody {
        status: "accepted",
        request_id: id.to_string(),
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

#[utoipa::path(post, path = "/v1/auth/login/email/verify", request_body(content((EmailLogin = "application/json"), (EmailLogin = "application/x-www-form-urlencoded"))), responses((status = 200, body = LoginBody, description = "tokens, or a second-factor challenge"), (status = 400, body = ErrorBody, description = "neither a token nor a request id and code"), (status = 401, body = ErrorBody, description = "invalid_credentials: a wrong code"), (status = 410, body = ErrorBody, description = "intent_invalid: used, expired, voided, or too many wrong codes"), (status = 429, body = ErrorBody)))]
pub(crate) async fn login_email_verify(
    State(auth): State<Authenticator>,
    Requester(origin): Requester,
    submitted: Submitted<EmailLoginRequest>,
) -> Result<Response, ApiError> {
    let request = submitted.value();
    let outcome = match (&request.token, &request.request_id, &request.code) {
        (Some(token), None, None) => auth.login_with_link(token.expose_secret(), &origin).await?,
        (None, Some(id), Some(code)) => {
            auth.login_with_code(id, code.expose_secret(), &origin)
                .await?
        }
        _ => {
            return Err(auth_core::Error::InvalidRequest(
                "send either the link's token, or the request id and the code".into(),
            )
            .into());
        }
    };
    // A page's form gets the tokens too: the sign-in completes in the browser that opened
    // the link.
    Ok(login_answer(outcome))
}

#[utoipa::path(get, path = "/v1/auth/login/email/verify", params(("token" = String, Query, description = "the link's token", pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")), responses((status = 200, description = "a page with the button that signs in (opening it signs no one in)", content_type = "text/html"), (status = 400, description = "no token", content_type = "text/html"), (status = 410, description = "used, expired or voided", content_type = "text/html")))]
pub(crate) async fn login_email_page(
    State(auth): State<Authenticator>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let action = link_target(&auth, &LinkPaths::default().login);
    link_page(&auth, query, &[Purpose::LoginLink], |token| {
        pages::form(
            product(&auth),
            "Sign in",
            "Press the button to sign in in this browser.",
            &action,
            token,
            "",
            "Sign in",
        )
    })
    .await
}

#[utoipa::path(post, path = "/v1/auth/email/change", request_body = EmailChangeRequest, responses((status = 202, body = AcceptedBody, description = "a confirmation link went to the new address (a note instead if an account has it: one answer)"), (status = 400, body = ErrorBody, description = "not an address, or the account's own"), (status = 401, body = ErrorBody, description = "invalid_token, or reauth_required: authenticate again first"), (status = 429, body = ErrorBody)), security(("bearer" = [])))]
pub(crate) async fn change_email(
    State(auth): State<Authenticator>,
    Extension(principal): Extension<Principal>,
    Requester(origin): Requester,
    ApiJson(request): ApiJson<EmailChangeRequest>,
) -> Result<Response, ApiError> {
    auth.request_email_change(&principal, &request.new_email, &origin)
        .await?;
    Ok(accepted("accepted"))
}

#[utoipa::path(post, path = "/v1/auth/email/change/confirm", request_body(content((TokenRequest = "application/json"), (TokenRequest = "application/x-www-form-urlencoded"))), responses((status = 200, description = "email_changed: the account moved to the new address, or (an undo link) back to the old one with every session ended; a form post gets a page", content((DoneBody = "application/json"), (String = "text/html"))), (status = 400, content((ErrorBody = "application/json"), (String = "text/html"))), (status = 409, description = "another account took the address meanwhile", content((ErrorBody = "application/json"), (String = "text/html"))), (status = 410, description = "intent_invalid", content((ErrorBody = "application/json"), (String = "text/html")))))]
pub(crate) async fn confirm_email_change(
    State(auth): State<Authenticator>,
    Requester(origin): Requester,
    submitted: Submitted<TokenRequest>,
) -> Response {
    let token = submitted.value().token.expose_secret();
    let outcome = auth.confirm_email_change(token, &origin).await;
    link_answer(
        &auth,
        &submitted,
        outcome,
        "email_changed",
        "Address changed",
        "The account's address is changed.",
    )
}

#[utoipa::path(get, path = "/v1/auth/email/change/confirm", params(("token" = String, Query, description = "the link's token", pattern = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$")), responses((status = 200, description = "a page with the button that confirms (or undoes) the change", content_type = "text/html"), (status = 400, description = "no token", content_type = "text/html"), (status = 410, description = "used, expired or voided", content_type = "text/html")))]
pub(crate) async fn change_email_page(
    State(auth): State<Authenticator>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let action = link_target(&auth, &LinkPaths::default().change_email);
    let purposes = [Purpose::ChangeEmail, Purpose::UndoEmailChange];
    link_page(&auth, query, &purposes, |token| {
        pages::form(
            product(&auth),
            "Change of address",
            "Press the button to apply the change of address this link was sent for.",
            &action,
            token,
            "",
            "Confirm",
        )
    })
    .await
}
