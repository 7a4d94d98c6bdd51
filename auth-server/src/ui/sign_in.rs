//! Signing in and out: password, second factor, email link or code, registration, and the
//! fresh authentication sensitive account actions ask for.

use askama::Template;
use auth_core::flows::{Reauthentication, SignUp};
use auth_core::secrecy::SecretString;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{
    ACCOUNT, Chrome, Ctx, MessagePage, UiState, after_first_factor, html, safe_return, see_other,
    signed_in, to_sign_in, with_return,
};

/// What the pages' addresses may carry.
#[derive(Deserialize, Default)]
pub(super) struct PageQuery {
    return_to: Option<String>,
    /// The second factors the account has (`passkey,totp,recovery_code`).
    factors: Option<String>,
    /// Set after signing out.
    signed_out: Option<String>,
    /// The sign-in took too long.
    expired: Option<String>,
    /// The password was just reset.
    password_reset: Option<String>,
    /// Sign in again even with a session (an OAuth client's `prompt=login` or `max_age`).
    again: Option<String>,
    /// The address to fill in (an OAuth client's `login_hint`).
    login_hint: Option<String>,
}

fn query(query: Option<Query<PageQuery>>) -> PageQuery {
    query.map(|Query(query)| query).unwrap_or_default()
}

#[derive(Template)]
#[template(path = "ui/sign_in.html")]
struct SignInPage {
    c: Chrome,
    email: String,
}

fn sign_in_page(
    state: &UiState,
    ctx: &Ctx,
    status: StatusCode,
    email: &str,
    error: Option<String>,
    notice: Option<&str>,
    return_to: &str,
) -> Response {
    let mut c = ctx
        .chrome(state, "sign_in.title", "sign-in")
        .notice(notice)
        .return_to(return_to);
    if let Some(error) = error {
        c = c.error(error);
    }
    html(
        status,
        &SignInPage {
            c,
            email: email.to_owned(),
        },
    )
}

pub(super) async fn page(
    State(state): State<UiState>,
    ctx: Ctx,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let q = q.ok();
    let q = query(q);
    let return_to = safe_return(q.return_to.as_deref());
    if ctx.principal.is_some() && q.again.is_none() {
        return see_other(&return_to, Vec::new());
    }
    let notice = if q.signed_out.is_some() {
        Some("sign_in.signed_out")
    } else if q.expired.is_some() {
        Some("second_factor.expired")
    } else if q.password_reset.is_some() {
        Some("reset.done")
    } else {
        None
    };
    let email = q.login_hint.as_deref().unwrap_or_default();
    sign_in_page(
        &state,
        &ctx,
        StatusCode::OK,
        email,
        None,
        notice,
        &return_to,
    )
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    email: String,
    password: SecretString,
    #[serde(default)]
    return_to: Option<String>,
}

/// Signs in with the form's address and password: on to `return_to` or the second factor,
/// or the sign-in page again with what went wrong.
async fn password_sign_in(
    state: &UiState,
    ctx: &Ctx,
    form: &SignInForm,
    return_to: &str,
) -> Response {
    let login = state
        .auth
        .login(&form.email, &form.password, Some(ctx.client));
    match login.await {
        Ok(outcome) => after_first_factor(state, ctx, &outcome, return_to).await,
        Err(error) => {
            let (status, text) = ctx.error_text(&error);
            let email = &form.email;
            sign_in_page(state, ctx, status, email, Some(text), None, return_to)
        }
    }
}

pub(super) async fn submit(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<SignInForm>,
) -> Response {
    let return_to = safe_return(form.return_to.as_deref());
    password_sign_in(&state, &ctx, &form, &return_to).await
}

#[derive(Template)]
#[template(path = "ui/second_factor.html")]
struct SecondFactorPage {
    c: Chrome,
    codes: bool,
    passkey: bool,
}

fn second_factor_page_for(
    state: &UiState,
    ctx: &Ctx,
    status: StatusCode,
    factors: Option<&str>,
    error: Option<String>,
    return_to: &str,
) -> Response {
    let factors: Vec<&str> = factors.unwrap_or("totp").split(',').collect();
    let passkey = factors.contains(&"passkey") && state.auth.config().passkeys.is_some();
    let codes = factors.contains(&"totp") || factors.contains(&"recovery_code") || !passkey;
    let mut c = ctx
        .chrome(state, "second_factor.title", "second-factor")
        .return_to(return_to);
    if let Some(error) = error {
        c = c.error(error);
    }
    html(status, &SecondFactorPage { c, codes, passkey })
}

pub(super) async fn second_factor_page(
    State(state): State<UiState>,
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let q = q.ok();
    let q = query(q);
    let return_to = safe_return(q.return_to.as_deref());
    if state.mfa.read(&headers).is_none() {
        return see_other("/ui/sign-in?expired=1", Vec::new());
    }
    second_factor_page_for(
        &state,
        &ctx,
        StatusCode::OK,
        q.factors.as_deref(),
        None,
        &return_to,
    )
}

#[derive(Deserialize)]
pub(super) struct CodeForm {
    code: String,
    #[serde(default)]
    return_to: Option<String>,
}

pub(super) async fn second_factor(
    State(state): State<UiState>,
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<CodeForm>,
) -> Response {
    let return_to = safe_return(form.return_to.as_deref());
    let Some(challenge) = state.mfa.read(&headers) else {
        return see_other("/ui/sign-in?expired=1", Vec::new());
    };
    match state
        .auth
        .verify_mfa(&challenge, form.code.trim(), Some(ctx.client))
        .await
    {
        Ok(tokens) => signed_in(&state, &ctx, &tokens, &return_to).await,
        Err(auth_core::Error::InvalidToken(_)) => {
            see_other("/ui/sign-in?expired=1", vec![state.mfa.clear()])
        }
        Err(error) => {
            let (status, mut text) = ctx.error_text(&error);
            if matches!(error, auth_core::Error::InvalidCredentials) {
                // Here only the code can be wrong.
                text = ctx.texts.get("error.mfa_invalid").to_owned();
            }
            second_factor_page_for(&state, &ctx, status, None, Some(text), &return_to)
        }
    }
}

#[derive(Template)]
#[template(path = "ui/email_sign_in.html")]
struct EmailSignInPage {
    c: Chrome,
    request: Option<String>,
}

pub(super) async fn email_page(
    State(state): State<UiState>,
    ctx: Ctx,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let q = q.ok();
    let return_to = safe_return(query(q).return_to.as_deref());
    let c = ctx
        .chrome(&state, "email_sign_in.title", "email-sign-in")
        .return_to(&return_to);
    html(StatusCode::OK, &EmailSignInPage { c, request: None })
}

#[derive(Deserialize)]
pub(super) struct EmailForm {
    email: String,
    #[serde(default)]
    return_to: Option<String>,
}

pub(super) async fn email_request(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<EmailForm>,
) -> Response {
    let return_to = safe_return(form.return_to.as_deref());
    let c = ctx
        .chrome(&state, "email_sign_in.title", "email-sign-in")
        .return_to(&return_to);
    match state
        .auth
        .request_login_email(&form.email, &ctx.origin())
        .await
    {
        Ok(request) => html(
            StatusCode::OK,
            &EmailSignInPage {
                c,
                request: Some(request.to_string()),
            },
        ),
        Err(error) => {
            let (status, text) = ctx.error_text(&error);
            html(
                status,
                &EmailSignInPage {
                    c: c.error(text),
                    request: None,
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub(super) struct EmailCodeForm {
    request: String,
    code: String,
    #[serde(default)]
    return_to: Option<String>,
}

pub(super) async fn email_code(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<EmailCodeForm>,
) -> Response {
    let return_to = safe_return(form.return_to.as_deref());
    match state
        .auth
        .login_with_code(&form.request, form.code.trim(), &ctx.origin())
        .await
    {
        Ok(outcome) => after_first_factor(&state, &ctx, &outcome, &return_to).await,
        Err(error) => {
            let (status, text) = ctx.error_text(&error);
            let c = ctx
                .chrome(&state, "email_sign_in.title", "email-sign-in")
                .return_to(&return_to)
                .error(text);
            // A code that no longer works cannot be retried: ask for a new one.
            let request = (status != StatusCode::GONE).then_some(form.request);
            html(status, &EmailSignInPage { c, request })
        }
    }
}

#[derive(Template)]
#[template(path = "ui/register.html")]
struct RegisterPage {
    c: Chrome,
    email: String,
}

pub(super) async fn register_page(
    State(state): State<UiState>,
    ctx: Ctx,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let q = q.ok();
    let return_to = safe_return(query(q).return_to.as_deref());
    let c = ctx
        .chrome(&state, "register.title", "register")
        .return_to(&return_to);
    html(
        StatusCode::OK,
        &RegisterPage {
            c,
            email: String::new(),
        },
    )
}

pub(super) async fn register(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<SignInForm>,
) -> Response {
    let return_to = safe_return(form.return_to.as_deref());
    let refused = |error: &auth_core::Error| {
        let (status, text) = ctx.error_text(error);
        let c = ctx
            .chrome(&state, "register.title", "register")
            .return_to(&return_to)
            .error(text);
        html(
            status,
            &RegisterPage {
                c,
                email: form.email.clone(),
            },
        )
    };
    match state
        .auth
        .sign_up(&form.email, &form.password, &ctx.origin())
        .await
    {
        Ok(SignUp::Created(_)) => {}
        Ok(SignUp::VerificationSent) => {
            let c = ctx.chrome(&state, "register.check_mail_title", "message");
            let text = c.t("register.check_mail").to_owned();
            return html(
                StatusCode::OK,
                &MessagePage {
                    c,
                    text,
                    link: None,
                },
            );
        }
        Err(error) => return refused(&error),
    }
    // The account exists: sign in with what was just typed.
    password_sign_in(&state, &ctx, &form, &return_to).await
}

pub(super) async fn sign_out(State(state): State<UiState>, ctx: Ctx) -> Response {
    if let Some(principal) = &ctx.principal
        && let Err(error) = state.auth.logout(principal, Some(ctx.client)).await
    {
        tracing::warn!(%error, "signing out did not end the session");
    }
    see_other(
        "/ui/sign-in?signed_out=1",
        vec![state.session.clear(), state.mfa.clear(), state.csrf.renew()],
    )
}

#[derive(Template)]
#[template(path = "ui/reauthenticate.html")]
struct ReauthenticatePage {
    c: Chrome,
}

pub(super) async fn reauthenticate_page(
    State(state): State<UiState>,
    ctx: Ctx,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let q = q.ok();
    let return_to = safe_return(query(q).return_to.as_deref());
    if ctx.principal.is_none() {
        return to_sign_in(&with_return("/ui/reauthenticate", &return_to));
    }
    let c = ctx
        .chrome(&state, "reauth.title", "reauthenticate")
        .return_to(&return_to);
    html(StatusCode::OK, &ReauthenticatePage { c })
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    password: SecretString,
    #[serde(default)]
    return_to: Option<String>,
}

/// The password again: the session's authentication time becomes now, and the session moves
/// to a new cookie (its assurance changed), the old one ending.
pub(super) async fn reauthenticate(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<PasswordForm>,
) -> Response {
    let return_to = safe_return(form.return_to.as_deref());
    let Some(principal) = ctx.principal.clone() else {
        return to_sign_in(ACCOUNT);
    };
    let proof = Reauthentication::Password(&form.password);
    let rotated = match state
        .auth
        .reauthenticate(&principal, proof, Some(ctx.client))
        .await
    {
        Ok(_) => {
            state
                .auth
                .rotate_session(&principal, Some(ctx.client))
                .await
        }
        Err(error) => Err(error),
    };
    match rotated {
        Ok(secret) => {
            use auth_core::secrecy::ExposeSecret;
            let lifetime = state.auth.config().sessions.absolute;
            see_other(
                &return_to,
                vec![state.session.set(secret.expose_secret(), Some(lifetime))],
            )
        }
        Err(error) => {
            let (status, text) = ctx.error_text(&error);
            let c = ctx
                .chrome(&state, "reauth.title", "reauthenticate")
                .return_to(&return_to)
                .error(text);
            html(status, &ReauthenticatePage { c })
        }
    }
}
