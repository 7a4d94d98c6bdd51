//! The pages mailed links open, and asking for a reset link. Opening a link's page never
//! uses its token (mail scanners open links): the page's button posts it back.

use askama::Template;
use auth_core::intent::Purpose;
use auth_core::secrecy::SecretString;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{ACCOUNT, Chrome, Ctx, MessagePage, UiState, after_first_factor, error_page, html};

#[derive(Deserialize, Default)]
pub(super) struct TokenQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct TokenForm {
    token: String,
}

#[derive(Template)]
#[template(path = "ui/link.html")]
struct LinkPage {
    c: Chrome,
    text: String,
    action: &'static str,
    token: String,
    button: String,
}

/// A page saying something, with a link to `href` labelled with the text of `label`.
fn message(
    state: &UiState,
    ctx: &Ctx,
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let c = ctx.chrome(state, title, "message");
    let text = c.t(text).to_owned();
    let link = link.map(|(href, label)| (href.to_owned(), c.t(label).to_owned()));
    html(status, &MessagePage { c, text, link })
}

/// The page of a refused link or form.
fn refused(state: &UiState, ctx: &Ctx, error: &auth_core::Error) -> Response {
    if matches!(error, auth_core::Error::IntentInvalid) {
        return message(
            state,
            ctx,
            StatusCode::GONE,
            "link.invalid_title",
            "link.invalid",
            Some(("/ui/sign-in", "common.back_to_sign_in")),
        );
    }
    let (status, text) = ctx.error_text(error);
    error_page(state, ctx, status, text)
}

/// What a kind of link's page says and where its button posts.
struct Kind {
    purposes: &'static [Purpose],
    action: &'static str,
    title: &'static str,
    text: &'static str,
    button: &'static str,
}

const VERIFY: Kind = Kind {
    purposes: &[Purpose::VerifyEmail],
    action: "/ui/verify-email",
    title: "link.verify_title",
    text: "link.verify_text",
    button: "link.verify_button",
};

const LOGIN: Kind = Kind {
    purposes: &[Purpose::LoginLink],
    action: "/ui/sign-in/link",
    title: "link.sign_in_title",
    text: "link.sign_in_text",
    button: "link.sign_in_button",
};

const CHANGE: Kind = Kind {
    purposes: &[Purpose::ChangeEmail, Purpose::UndoEmailChange],
    action: "/ui/change-email",
    title: "link.change_title",
    text: "link.change_text",
    button: "link.change_button",
};

/// The page of a link, if its token works for one of the kind's purposes.
async fn link_page(
    state: &UiState,
    ctx: &Ctx,
    query: Option<Query<TokenQuery>>,
    kind: &Kind,
) -> Response {
    let Some(token) = query.and_then(|Query(q)| q.token) else {
        return message(
            state,
            ctx,
            StatusCode::BAD_REQUEST,
            "link.missing_title",
            "link.missing",
            None,
        );
    };
    let mut last = auth_core::Error::IntentInvalid;
    for purpose in kind.purposes {
        match state.auth.check_link(*purpose, &token).await {
            Ok(()) => {
                let c = ctx.chrome(state, kind.title, "link");
                let text = c.t(kind.text).to_owned();
                let button = c.t(kind.button).to_owned();
                return html(
                    StatusCode::OK,
                    &LinkPage {
                        c,
                        text,
                        action: kind.action,
                        token,
                        button,
                    },
                );
            }
            Err(error) => last = error,
        }
    }
    refused(state, ctx, &last)
}

pub(super) async fn verify_page(
    State(state): State<UiState>,
    ctx: Ctx,
    q: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let q = q.ok();
    link_page(&state, &ctx, q, &VERIFY).await
}

pub(super) async fn verify(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<TokenForm>,
) -> Response {
    match state.auth.verify_email(&form.token, &ctx.origin()).await {
        Ok(()) => message(
            &state,
            &ctx,
            StatusCode::OK,
            "link.verified_title",
            "link.verified",
            Some(("/ui/sign-in", "sign_in.title")),
        ),
        Err(error) => refused(&state, &ctx, &error),
    }
}

pub(super) async fn login_page(
    State(state): State<UiState>,
    ctx: Ctx,
    q: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let q = q.ok();
    link_page(&state, &ctx, q, &LOGIN).await
}

pub(super) async fn login(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<TokenForm>,
) -> Response {
    match state.auth.login_with_link(&form.token, &ctx.origin()).await {
        Ok(outcome) => after_first_factor(&state, &ctx, &outcome, ACCOUNT).await,
        Err(error) => refused(&state, &ctx, &error),
    }
}

pub(super) async fn change_page(
    State(state): State<UiState>,
    ctx: Ctx,
    q: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let q = q.ok();
    link_page(&state, &ctx, q, &CHANGE).await
}

pub(super) async fn change(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<TokenForm>,
) -> Response {
    match state
        .auth
        .confirm_email_change(&form.token, &ctx.origin())
        .await
    {
        Ok(()) => message(
            &state,
            &ctx,
            StatusCode::OK,
            "link.changed_title",
            "link.changed",
            Some(("/ui/account", "common.back_to_account")),
        ),
        Err(error) => refused(&state, &ctx, &error),
    }
}

#[derive(Template)]
#[template(path = "ui/forgot.html")]
struct ForgotPage {
    c: Chrome,
}

pub(super) async fn forgot_page(State(state): State<UiState>, ctx: Ctx) -> Response {
    let c = ctx.chrome(&state, "forgot.title", "forgot");
    html(StatusCode::OK, &ForgotPage { c })
}

#[derive(Deserialize)]
pub(super) struct EmailForm {
    email: String,
}

pub(super) async fn forgot(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<EmailForm>,
) -> Response {
    match state.auth.forgot_password(&form.email, &ctx.origin()).await {
        Ok(()) => message(
            &state,
            &ctx,
            StatusCode::OK,
            "forgot.sent_title",
            "forgot.sent",
            Some(("/ui/sign-in", "common.back_to_sign_in")),
        ),
        Err(error) => {
            let (status, text) = ctx.error_text(&error);
            let c = ctx.chrome(&state, "forgot.title", "forgot").error(text);
            html(status, &ForgotPage { c })
        }
    }
}

#[derive(Template)]
#[template(path = "ui/reset.html")]
struct ResetPage {
    c: Chrome,
    token: String,
}

pub(super) async fn reset_page(
    State(state): State<UiState>,
    ctx: Ctx,
    q: Result<Query<TokenQuery>, QueryRejection>,
) -> Response {
    let q = q.ok();
    let Some(token) = q.and_then(|Query(q)| q.token) else {
        return message(
            &state,
            &ctx,
            StatusCode::BAD_REQUEST,
            "link.missing_title",
            "link.missing",
            None,
        );
    };
    if let Err(error) = state.auth.check_link(Purpose::ResetPassword, &token).await {
        return refused(&state, &ctx, &error);
    }
    let c = ctx.chrome(&state, "reset.title", "reset");
    html(StatusCode::OK, &ResetPage { c, token })
}

#[derive(Deserialize)]
pub(super) struct ResetForm {
    token: String,
    new_password: SecretString,
    #[serde(default)]
    code: Option<String>,
}

pub(super) async fn reset(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<ResetForm>,
) -> Response {
    let code = form
        .code
        .as_deref()
        .map(str::trim)
        .filter(|code| !code.is_empty());
    match state
        .auth
        .reset_password(&form.token, &form.new_password, code, &ctx.origin())
        .await
    {
        Ok(()) => message(
            &state,
            &ctx,
            StatusCode::OK,
            "reset.done_title",
            "reset.done",
            Some(("/ui/sign-in", "sign_in.title")),
        ),
        Err(auth_core::Error::IntentInvalid) => {
            refused(&state, &ctx, &auth_core::Error::IntentInvalid)
        }
        Err(error) => {
            // The link still works: the form again, with what went wrong.
            let (status, text) = ctx.error_text(&error);
            let c = ctx.chrome(&state, "reset.title", "reset").error(text);
            html(
                status,
                &ResetPage {
                    c,
                    token: form.token,
                },
            )
        }
    }
}
