//! The account page: where the user is signed in, passkeys, two-step sign-in, password and
//! address; and the forms it posts.

use std::time::SystemTime;

use askama::Template;
use auth_core::flows::{DisableTotp, Principal};
use auth_core::id::SessionId;
use auth_core::secrecy::{ExposeSecret, SecretString};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{
    ACCOUNT, Chrome, Ctx, UiState, account_error, error_page, html, see_other, to_sign_in,
};

/// A session's row.
struct SessionRow {
    id: String,
    device: String,
    address: String,
    created: String,
    last_used: String,
    current: bool,
    flagged: bool,
}

/// An application the user consented to.
struct AppRow {
    id: String,
    name: String,
    scope: String,
    granted: String,
}

/// A passkey's row.
struct PasskeyRow {
    id: String,
    name: String,
    created: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "ui/account.html")]
struct AccountPage {
    c: Chrome,
    email: String,
    sessions: Vec<SessionRow>,
    apps: Vec<AppRow>,
    passkeys_on: bool,
    passkeys: Vec<PasskeyRow>,
    totp: bool,
}

/// `at` as `2026-11-30 07:31 UTC`.
fn when(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// The notices the page shows after an action, by the `done` of its address.
const NOTICES: [(&str, &str); 7] = [
    ("session_ended", "account.session_ended"),
    ("app_removed", "account.app_removed"),
    ("passkey_added", "account.passkey_added"),
    ("passkey_removed", "account.passkey_removed"),
    ("totp_disabled", "account.totp_disabled"),
    ("password_changed", "account.password_changed"),
    ("email_change_sent", "account.email_change_sent"),
];

#[derive(Deserialize, Default)]
pub(super) struct AccountQuery {
    done: Option<String>,
}

/// The account page of the signed-in caller (the sign-in page for anyone else), with an
/// error or a notice.
pub(super) async fn render(
    state: &UiState,
    ctx: &Ctx,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
) -> Response {
    let Some(principal) = ctx.principal.clone() else {
        return to_sign_in(ACCOUNT);
    };
    let auth = &state.auth;
    let passkeys_on = auth.config().passkeys.is_some();
    let gathered = async {
        let profile = auth.me(&principal).await?;
        let sessions = auth.sessions(&principal).await?;
        let apps = auth.consents(&principal.user_id).await?;
        let passkeys = if passkeys_on {
            auth.passkeys(&principal).await?
        } else {
            Vec::new()
        };
        Ok::<_, auth_core::Error>((profile, sessions, apps, passkeys))
    };
    let (profile, sessions, apps, passkeys) = match gathered.await {
        Ok(gathered) => gathered,
        Err(error) => {
            let (status, text) = ctx.error_text(&error);
            return error_page(state, ctx, status, text);
        }
    };
    let mut c = ctx.chrome(state, "account.title", "account").notice(notice);
    c.wide = true;
    if let Some(error) = error {
        c = c.error(error);
    }
    let never = c.t("account.never").to_owned();
    let unknown = c.t("account.unknown_device").to_owned();
    let page = AccountPage {
        email: profile.email,
        sessions: sessions
            .iter()
            .rev()
            .map(|session| SessionRow {
                id: session.id.as_str().to_owned(),
                device: session
                    .user_agent
                    .as_deref()
                    .map_or_else(|| unknown.clone(), describe_agent),
                address: session
                    .client
                    .map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
                created: when(session.created_at),
                last_used: when(session.last_used_at),
                current: session.current,
                flagged: session.flagged,
            })
            .collect(),
        apps: apps
            .into_iter()
            .filter_map(|(consent, client)| {
                client.map(|client| AppRow {
                    id: client.id.to_string(),
                    name: client.name,
                    scope: consent.scope.to_string(),
                    granted: when(consent.granted_at),
                })
            })
            .collect(),
        passkeys_on,
        passkeys: passkeys
            .iter()
            .map(|passkey| PasskeyRow {
                id: passkey.id.to_string(),
                name: passkey.name.clone(),
                created: when(passkey.created_at),
                last_used: passkey.last_used_at.map_or_else(|| never.clone(), when),
            })
            .collect(),
        totp: profile.mfa_enabled,
        c,
    };
    html(status, &page)
}

/// A short name for a browser from its `User-Agent`: the browser and the system, or the
/// header itself cut short.
pub(super) fn describe_agent(agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map(|(_, name)| name);
    let headless = agent.contains("HeadlessChrome");
    match (browser, system) {
        (Some(browser), Some(system)) if headless => format!("{browser} (headless) on {system}"),
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        _ => agent.chars().take(60).collect(),
    }
}

pub(super) async fn page(
    State(state): State<UiState>,
    ctx: Ctx,
    q: Result<Query<AccountQuery>, QueryRejection>,
) -> Response {
    let q = q.ok();
    let done = q.and_then(|Query(q)| q.done);
    let notice = NOTICES
        .iter()
        .find(|(name, _)| Some(*name) == done.as_deref())
        .map(|(_, key)| *key);
    render(&state, &ctx, StatusCode::OK, None, notice).await
}

/// Runs `action` for the signed-in caller (anyone else is sent to sign in): back to the
/// account page saying `done`, or the answer to its error.
async fn act<F, Fut>(state: &UiState, ctx: &Ctx, done: &str, action: F) -> Response
where
    F: FnOnce(Principal) -> Fut,
    Fut: Future<Output = auth_core::Result<()>>,
{
    let Some(principal) = ctx.principal.clone() else {
        return to_sign_in(ACCOUNT);
    };
    match action(principal).await {
        Ok(()) => see_other(&format!("{ACCOUNT}?done={done}"), Vec::new()),
        Err(error) => account_error(state, ctx, &error).await,
    }
}

#[derive(Deserialize)]
pub(super) struct IdForm {
    id: String,
}

pub(super) async fn end_session(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<IdForm>,
) -> Response {
    let (auth, client) = (&state.auth, ctx.client);
    act(&state, &ctx, "session_ended", |principal| async move {
        let id = SessionId::parse(&form.id)?;
        auth.revoke_session(&principal, &id, Some(client)).await
    })
    .await
}

pub(super) async fn remove_app(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<IdForm>,
) -> Response {
    let (auth, client) = (&state.auth, ctx.client);
    act(&state, &ctx, "app_removed", |principal| async move {
        let id = auth_core::oauth::ClientId::parse(&form.id)?;
        auth.withdraw_consent(&principal.user_id, &id, Some(client))
            .await
            .map(|_| ())
    })
    .await
}

pub(super) async fn delete_passkey(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<IdForm>,
) -> Response {
    let (auth, client) = (&state.auth, ctx.client);
    act(&state, &ctx, "passkey_removed", |principal| async move {
        auth.delete_passkey(&principal, &form.id, Some(client))
            .await
    })
    .await
}

#[derive(Template)]
#[template(path = "ui/totp_setup.html")]
struct TotpSetupPage {
    c: Chrome,
    secret: String,
    uri: String,
}

pub(super) async fn enroll_totp(State(state): State<UiState>, ctx: Ctx) -> Response {
    let Some(principal) = ctx.principal.clone() else {
        return to_sign_in(ACCOUNT);
    };
    match state.auth.enroll_totp(&principal).await {
        Ok(enrollment) => {
            let c = ctx.chrome(&state, "totp.setup_title", "totp");
            html(
                StatusCode::OK,
                &TotpSetupPage {
                    c,
                    secret: enrollment.secret.expose_secret().to_owned(),
                    uri: enrollment.otpauth_uri.expose_secret().to_owned(),
                },
            )
        }
        Err(error) => account_error(&state, &ctx, &error).await,
    }
}

#[derive(Deserialize)]
pub(super) struct CodeForm {
    code: String,
}

#[derive(Template)]
#[template(path = "ui/recovery_codes.html")]
struct RecoveryCodesPage {
    c: Chrome,
    codes: Vec<String>,
}

pub(super) async fn confirm_totp(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<CodeForm>,
) -> Response {
    let Some(principal) = ctx.principal.clone() else {
        return to_sign_in(ACCOUNT);
    };
    match state
        .auth
        .confirm_totp(&principal, form.code.trim(), Some(ctx.client))
        .await
    {
        Ok(codes) => {
            let c = ctx.chrome(&state, "totp.codes_title", "recovery-codes");
            html(
                StatusCode::OK,
                &RecoveryCodesPage {
                    c,
                    codes: codes
                        .iter()
                        .map(|code| code.expose_secret().to_owned())
                        .collect(),
                },
            )
        }
        Err(error) => account_error(&state, &ctx, &error).await,
    }
}

pub(super) async fn disable_totp(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<CodeForm>,
) -> Response {
    let (auth, client) = (&state.auth, ctx.client);
    act(&state, &ctx, "totp_disabled", |principal| async move {
        let proof = DisableTotp::Code(form.code.trim());
        auth.disable_totp(&principal, proof, Some(client)).await
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct PasswordChangeForm {
    current_password: SecretString,
    new_password: SecretString,
}

pub(super) async fn change_password(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<PasswordChangeForm>,
) -> Response {
    let (auth, client) = (&state.auth, ctx.client);
    act(&state, &ctx, "password_changed", |principal| async move {
        let (current, new) = (&form.current_password, &form.new_password);
        auth.change_password(&principal, current, new, Some(client))
            .await
    })
    .await
}

#[derive(Deserialize)]
pub(super) struct EmailChangeForm {
    new_email: String,
}

pub(super) async fn change_email(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<EmailChangeForm>,
) -> Response {
    let (auth, origin) = (&state.auth, ctx.origin());
    act(&state, &ctx, "email_change_sent", |principal| async move {
        auth.request_email_change(&principal, &form.new_email, &origin)
            .await
    })
    .await
}
