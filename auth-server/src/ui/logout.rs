//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at `/oauth2/logout`: a client
//! sends the browser here, naming itself by `client_id` or by the ID token it holds
//! (`id_token_hint`), to sign the user out of this server and end the session of its grant.
//!
//! The user is asked first whenever someone is signed in to the browser and the hint does
//! not name them (no hint, or another user's): a link from anywhere must not sign them out
//! unawares. The session the hint names is ended when the browser's user is the hint's, or
//! when nobody is signed in and the hint has not expired: an old ID token found in a log, or
//! someone else's clicked by another user, ends nothing of its user's. Afterwards the
//! browser goes to the `post_logout_redirect_uri`, with `state`,
//! only when the client registered that very URI; otherwise it stays on a page here. A
//! request that cannot be trusted (no client named, a hint that is not our ID token, a
//! `client_id` that is not the hint's, an unregistered URI) gets a page and no redirect.
//!
//! A client may also POST the request (the specification asks providers to take both): the
//! POST, which carries no CSRF token, only sends the browser on to the same request by GET.

use askama::Template;
use auth_core::flows::LogoutHint;
use auth_core::oauth::authorize::MAX_STATE_LEN;
use auth_core::oauth::{Client, ClientId};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use serde::Deserialize;

use super::authorize::policy_admitting;
use super::{Chrome, Ctx, MessagePage, UiState, error_page, html, see_other};

/// Where the confirmation page posts.
pub(crate) const CONFIRM: &str = "/oauth2/logout/confirm";

/// The parameters a logout request may carry (the others are dropped).
const PARAMETERS: [&str; 6] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "logout_hint",
    "ui_locales",
];

/// The longest logout request taken, in bytes of query.
const MAX_REQUEST_LEN: usize = 8192;

#[derive(Template)]
#[template(path = "ui/logout.html")]
struct ConfirmPage {
    c: Chrome,
    client: String,
    email: String,
    request: String,
}

#[derive(Deserialize)]
pub(super) struct ConfirmForm {
    /// The logout request's query, as the page got it.
    request: String,
}

/// A checked logout request.
struct Logout {
    client: Client,
    hint: Option<LogoutHint>,
    /// Where to send the browser afterwards: the registered URI with `state`.
    then: Option<String>,
}

pub(super) async fn page(
    State(state): State<UiState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Response {
    decide(&state, &ctx, query.as_deref().unwrap_or_default(), false).await
}

pub(super) async fn confirm(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<ConfirmForm>,
) -> Response {
    decide(&state, &ctx, &form.request, true).await
}

/// A client's POST: on to the same request by GET (the page's own form is the one that
/// carries a CSRF token).
pub(crate) async fn posted(body: Bytes) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(&body) {
        if PARAMETERS.contains(&name.as_ref()) {
            query.append_pair(&name, &value);
        }
    }
    let query = query.finish();
    if query.len() > MAX_REQUEST_LEN {
        // The GET would refuse it; a Location this long may not reach it.
        return (
            StatusCode::BAD_REQUEST,
            "the logout request is longer than 8192 bytes",
        )
            .into_response();
    }
    see_other(&format!("{}?{query}", crate::oauth::LOGOUT), Vec::new())
}

/// A page saying what is wrong with the request; no redirect.
fn refused(state: &UiState, ctx: &Ctx, why: &str) -> Response {
    let text = format!("{} ({why})", ctx.texts.get("logout.invalid"));
    error_page(state, ctx, StatusCode::BAD_REQUEST, text)
}

/// The request's parameters, checked; the page to show otherwise.
async fn checked(state: &UiState, ctx: &Ctx, query: &str) -> Result<Logout, Response> {
    if query.len() > MAX_REQUEST_LEN {
        return Err(refused(state, ctx, "the request is too long"));
    }
    let mut params = std::collections::BTreeMap::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if value.is_empty() || !PARAMETERS.contains(&name.as_ref()) {
            continue;
        }
        if params.insert(name.clone(), value).is_some() {
            return Err(refused(
                state,
                ctx,
                &format!("{name} is sent more than once"),
            ));
        }
    }
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(token) => match state.auth.logout_hint(token) {
            Ok(hint) => Some(hint),
            Err(_) => {
                return Err(refused(
                    state,
                    ctx,
                    "id_token_hint is not an ID token of this server",
                ));
            }
        },
    };
    let client_id = match (params.get("client_id"), &hint) {
        (None, None) => {
            return Err(refused(
                state,
                ctx,
                "id_token_hint or client_id is required",
            ));
        }
        (None, Some(hint)) => hint.client_id.clone(),
        (Some(id), hint) => {
            let Ok(id) = ClientId::parse(id) else {
                return Err(refused(state, ctx, "client_id is not a client id"));
            };
            if hint.as_ref().is_some_and(|hint| hint.client_id != id) {
                return Err(refused(
                    state,
                    ctx,
                    "client_id is not the client the ID token was issued to",
                ));
            }
            id
        }
    };
    let client = match state.auth.client(&client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(refused(state, ctx, "no client has this client_id")),
        Err(error) => {
            let (status, text) = ctx.error_text(&error);
            return Err(error_page(state, ctx, status, text));
        }
    };
    let then = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) if client.accepts_post_logout_redirect(uri) => {
            let state_param = params.get("state");
            if state_param.is_some_and(|value| value.len() > MAX_STATE_LEN) {
                return Err(refused(state, ctx, "state is too long"));
            }
            Some(with_state(uri, state_param.map(|value| value.as_ref())))
        }
        Some(_) => {
            return Err(refused(
                state,
                ctx,
                "post_logout_redirect_uri is not one the client registered",
            ));
        }
    };
    Ok(Logout { client, hint, then })
}

/// `uri` with `state` added to its query, when there is one.
fn with_state(uri: &str, state: Option<&str>) -> String {
    let Some(state) = state else {
        return uri.to_owned();
    };
    match url::Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().append_pair("state", state);
            url.into()
        }
        // Registered URIs parse; this is never reached.
        Err(_) => uri.to_owned(),
    }
}

async fn decide(state: &UiState, ctx: &Ctx, query: &str, confirmed: bool) -> Response {
    let logout = match checked(state, ctx, query).await {
        Ok(logout) => logout,
        Err(page) => return page,
    };
    let signed_in = ctx.principal.as_ref();
    let user = signed_in.map(|principal| principal.user_id);
    if LogoutHint::asks(logout.hint.as_ref(), user) && !confirmed {
        return confirm_page(state, ctx, &logout, query).await;
    }
    if let Some(hint) = logout
        .hint
        .as_ref()
        .filter(|hint| hint.ends_session_for(user))
        && let Err(error) = state.auth.end_hinted_session(hint, Some(ctx.client)).await
    {
        let (status, text) = ctx.error_text(&error);
        return error_page(state, ctx, status, text);
    }
    let mut cookies = Vec::new();
    if let Some(principal) = signed_in {
        if let Err(error) = state.auth.logout(principal, Some(ctx.client)).await {
            tracing::warn!(%error, "signing out did not end the browser's session");
        }
        cookies = vec![state.session.clear(), state.mfa.clear(), state.csrf.renew()];
    }
    match &logout.then {
        Some(location) => see_other(location, cookies),
        None => {
            let c = ctx.chrome(state, "logout.done", "message");
            let text = c.t("logout.done").to_owned();
            let mut response = html(
                StatusCode::OK,
                &MessagePage {
                    c,
                    text,
                    link: None,
                },
            );
            for cookie in cookies {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
    }
}

async fn confirm_page(state: &UiState, ctx: &Ctx, logout: &Logout, query: &str) -> Response {
    let email = match super::signed_in_email(state, ctx).await {
        Ok(email) => email,
        Err(page) => return page,
    };
    let mut response = html(
        StatusCode::OK,
        &ConfirmPage {
            c: ctx.chrome(state, "logout.title", "consent"),
            client: logout.client.name.clone(),
            email,
            request: query.to_owned(),
        },
    );
    // The form's answer redirects to the client's URI: form-action must admit its origin.
    if let Some(policy) = logout.then.as_deref().and_then(policy_admitting) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_added_to_the_registered_uri_as_it_came() {
        assert_eq!(
            with_state("https://app.example/bye", Some("a b&c")),
            "https://app.example/bye?state=a+b%26c"
        );
        assert_eq!(
            with_state("https://app.example/bye?x=1", Some("s")),
            "https://app.example/bye?x=1&state=s"
        );
        assert_eq!(
            with_state("https://app.example/bye", None),
            "https://app.example/bye"
        );
    }
}
