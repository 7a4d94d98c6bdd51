//! The provider's authorization endpoint (`/oauth2/authorize`) and its consent page: the
//! request checked (a page for what cannot go back to the client, a redirect with `state` and
//! `iss` for the rest), the user sent to sign in when they must, asked to consent when they
//! must, and the browser sent back to the client with a code.
//!
//! Chromium and Safari apply a page's CSP `form-action` to the redirects that follow a form's
//! submission, so the consent page admits the origin of the (validated) redirect URI it will
//! send the browser to. A sign-in page does not: when the browser comes back from one (the
//! request carries the signed `resume` marker this endpoint added), the answer is a page that
//! moves on by `Refresh` rather than a redirect that would continue the sign-in form's chain.

use askama::Template;
use auth_core::authz::ScopeSet;
use auth_core::flows::{Authorization, ConsentAnswer};
use auth_core::oauth::authorize::error_location;
use auth_core::oauth::{Client, ErrorCode, OAuthError, RawRequest, Refusal};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, Ctx, MessagePage, UiState, error_page, html, see_other};

/// The parameter this endpoint adds to its own address when it sends the user to sign in:
/// the library's signed marker of when and for which client ([`Authorization::SignIn`]).
const RESUME: &str = "resume";

/// The longest authorization request taken, in bytes of query. One that sends the user to
/// sign in must also come back whole through the sign-in pages' `return_to`
/// ([`super::MAX_RETURN_LEN`]), checked when that address is made.
const MAX_REQUEST_LEN: usize = super::MAX_RETURN_LEN;

#[derive(Template)]
#[template(path = "ui/consent.html")]
struct ConsentPage {
    c: Chrome,
    client: String,
    email: String,
    scopes: Vec<(String, String)>,
    scope: String,
    request: String,
}

#[derive(Deserialize)]
pub(super) struct ConsentForm {
    /// The authorization request's query, as the page got it.
    request: String,
    /// What the page showed, space-separated.
    scope: String,
    /// `allow` or `deny`.
    decision: String,
}

pub(super) async fn authorize(
    State(state): State<UiState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Response {
    decided(
        &state,
        &ctx,
        query.as_deref().unwrap_or_default(),
        ConsentAnswer::NotAsked,
        false,
    )
    .await
}

pub(super) async fn consent(
    State(state): State<UiState>,
    ctx: Ctx,
    axum::Form(form): axum::Form<ConsentForm>,
) -> Response {
    let answer = match form.decision.as_str() {
        "allow" => match ScopeSet::parse(&form.scope) {
            Ok(scope) => ConsentAnswer::Given(scope),
            Err(_) => ConsentAnswer::NotAsked,
        },
        "deny" => ConsentAnswer::Denied,
        _ => ConsentAnswer::NotAsked,
    };
    decided(&state, &ctx, &form.request, answer, true).await
}

/// A page saying what is wrong with a request that cannot go back to its client.
fn refused_page(state: &UiState, ctx: &Ctx, error: &OAuthError) -> Response {
    let text = format!(
        "{} ({})",
        ctx.texts.get("authorize.invalid"),
        error.description
    );
    error_page(state, ctx, StatusCode::BAD_REQUEST, text)
}

/// The outcome of a request refused on a page, for the metrics.
const PAGE: &str = "page";

/// The outcome a redirect back to the client carries: `code`, or the error it sends. The
/// answer's parameters come after any the registered URI holds, so the last `code` or
/// `error` is ours.
fn redirect_outcome(location: &str) -> &'static str {
    let last = url::Url::parse(location).ok().and_then(|url| {
        url.query_pairs()
            .filter(|(name, _)| name == "code" || name == "error")
            .last()
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
    });
    match last {
        Some((name, _)) if name == "code" => "code",
        Some((_, error)) => ErrorCode::ALL
            .into_iter()
            .find(|code| code.as_str() == error)
            .map_or("error", ErrorCode::as_str),
        None => "error",
    }
}

/// [`decide`], counted.
async fn decided(
    state: &UiState,
    ctx: &Ctx,
    query: &str,
    answer: ConsentAnswer,
    posted: bool,
) -> Response {
    let (outcome, response) = decide(state, ctx, query, answer, posted).await;
    state.metrics.oauth_authorize(outcome);
    response
}

async fn decide(
    state: &UiState,
    ctx: &Ctx,
    query: &str,
    answer: ConsentAnswer,
    posted: bool,
) -> (&'static str, Response) {
    if query.len() > MAX_REQUEST_LEN {
        return (
            PAGE,
            refused_page(
                state,
                ctx,
                &OAuthError::invalid_request(format!(
                    "the request is longer than {MAX_REQUEST_LEN} bytes"
                )),
            ),
        );
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let raw = match RawRequest::parse(
        pairs
            .iter()
            .filter(|(name, _)| name != RESUME)
            .map(|(n, v)| (n.as_str(), v.as_str())),
    ) {
        Ok(raw) => raw,
        Err(refusal) => return (PAGE, refused_page(state, ctx, refusal.error())),
    };
    // A pushed request (RFC 9126): its stored parameters stand for the query's.
    let raw = match state.auth.authorization_request(raw).await {
        Ok(Ok(raw)) => raw,
        Ok(Err(refusal)) => return (PAGE, refused_page(state, ctx, refusal.error())),
        Err(error) => {
            let (status, text) = ctx.error_text(&error);
            return (PAGE, error_page(state, ctx, status, text));
        }
    };
    let client = match state.auth.client(raw.client_id()).await {
        Ok(client) => client,
        Err(error) => {
            let (status, text) = ctx.error_text(&error);
            return (PAGE, error_page(state, ctx, status, text));
        }
    };
    let issuer = state.auth.config().tokens.issuer.clone();
    let request = match raw.validate(client.as_ref()) {
        Ok(request) => request,
        Err(Refusal::Page(error)) => return (PAGE, refused_page(state, ctx, &error)),
        Err(Refusal::Redirect {
            redirect_uri,
            state: client_state,
            error,
        }) => {
            return (
                error.code.as_str(),
                see_other(
                    &error_location(&redirect_uri, client_state.as_deref(), &error, &issuer),
                    Vec::new(),
                ),
            );
        }
    };
    let Some(client) = client else {
        // validate() refuses a request without its client.
        return (
            PAGE,
            refused_page(state, ctx, &OAuthError::invalid_request("unknown client")),
        );
    };
    let resume = pairs
        .iter()
        .find(|(name, _)| name == RESUME)
        .map(|(_, value)| value.as_str());
    let decision = state
        .auth
        .authorize(&request, &client, ctx.principal.as_ref(), resume, &answer)
        .await;
    match decision {
        Ok(Authorization::Redirect(location)) => {
            let outcome = redirect_outcome(&location);
            if resume.is_some() && !posted {
                (outcome, onward(state, ctx, &client, &location))
            } else {
                (outcome, see_other(&location, Vec::new()))
            }
        }
        Ok(Authorization::SignIn { login_hint, resume }) => {
            match sign_in(&pairs, login_hint.as_deref(), &resume) {
                Some(response) => ("sign_in", response),
                None => (
                    PAGE,
                    refused_page(
                        state,
                        ctx,
                        &OAuthError::invalid_request(format!(
                            "the request is too long to come back through the sign-in page \
                         ({} bytes at most)",
                            super::MAX_RETURN_LEN
                        )),
                    ),
                ),
            }
        }
        Ok(Authorization::Consent { client, scope }) => (
            "consent",
            consent_page(state, ctx, &client, &scope, query, &request.redirect_uri).await,
        ),
        Err(error) => {
            let code = match error {
                auth_core::Error::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
                auth_core::Error::InvalidCredentials => ErrorCode::AccessDenied,
                _ => ErrorCode::ServerError,
            };
            if code == ErrorCode::ServerError {
                tracing::error!(%error, "an authorization failed");
            }
            (
                code.as_str(),
                see_other(
                    &error_location(
                        &request.redirect_uri,
                        request.state.as_deref(),
                        &OAuthError::new(code, "the authorization could not be completed"),
                        &issuer,
                    ),
                    Vec::new(),
                ),
            )
        }
    }
}

/// To the sign-in page, to come back here with [`RESUME`] set; `None` if the way back is
/// longer than a `return_to` may be.
fn sign_in(pairs: &[(String, String)], login_hint: Option<&str>, resume: &str) -> Option<Response> {
    let mut back = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(name, _)| name != RESUME) {
        back.append_pair(name, value);
    }
    back.append_pair(RESUME, resume);
    let return_to = format!("{}?{}", crate::oauth::AUTHORIZE, back.finish());
    if return_to.len() > super::MAX_RETURN_LEN {
        return None;
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("return_to", &return_to);
    query.append_pair("again", "1");
    if let Some(hint) = login_hint {
        query.append_pair("login_hint", hint);
    }
    Some(see_other(
        &format!("/ui/sign-in?{}", query.finish()),
        Vec::new(),
    ))
}

/// The CSP source of the origin a redirect URI is on: `https://host:port`, or `scheme:` for
/// a private-use scheme.
fn origin_source(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

/// The pages' policy, with `form-action` also admitting `redirect_uri`'s origin.
pub(super) fn policy_admitting(redirect_uri: &str) -> Option<HeaderValue> {
    let origin = origin_source(redirect_uri)?;
    HeaderValue::from_str(&format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self' {origin}; frame-ancestors 'none'; \
         base-uri 'none'"
    ))
    .ok()
}

async fn consent_page(
    state: &UiState,
    ctx: &Ctx,
    client: &Client,
    scope: &ScopeSet,
    query: &str,
    redirect_uri: &str,
) -> Response {
    let email = match super::signed_in_email(state, ctx).await {
        Ok(email) => email,
        Err(page) => return page,
    };
    let scopes = scope
        .iter()
        .map(|scope| {
            let key = format!("consent.scope.{}", scope.as_str());
            let text = if ctx.texts.has(&key) {
                ctx.texts.get(&key).to_owned()
            } else {
                String::new()
            };
            (scope.as_str().to_owned(), text)
        })
        .collect();
    let mut response = html(
        StatusCode::OK,
        &ConsentPage {
            c: ctx.chrome(state, "consent.title", "consent"),
            client: client.name.clone(),
            email,
            scopes,
            scope: scope.to_string(),
            request: query.to_owned(),
        },
    );
    if let Some(policy) = policy_admitting(redirect_uri) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// A page that moves on to `location` by itself (`Refresh`), with a link for a browser that
/// does not: the end of a sign-in's chain of redirects.
fn onward(state: &UiState, ctx: &Ctx, client: &Client, location: &str) -> Response {
    let c = ctx.chrome(state, "authorize.returning", "message");
    let text = format!("{} {}", c.t("authorize.returning_to"), client.name);
    let label = c.t("authorize.continue").to_owned();
    let mut response = html(
        StatusCode::OK,
        &MessagePage {
            c,
            text,
            link: Some((location.to_owned(), label)),
        },
    );
    if let Ok(refresh) = HeaderValue::from_str(&format!("0; url={location}")) {
        response.headers_mut().insert(header::REFRESH, refresh);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_is_counted_by_the_answer_it_carries_not_the_registered_query() {
        for (location, outcome) in [
            ("https://app.example/cb?code=abc&state=s&iss=x", "code"),
            ("https://app.example/cb?error=x&code=abc&iss=x", "code"),
            (
                "https://app.example/cb?code=x&error=access_denied",
                "access_denied",
            ),
            (
                "https://app.example/cb?error=login_required",
                "login_required",
            ),
            ("https://app.example/cb?error=made_up", "error"),
            ("https://app.example/cb", "error"),
        ] {
            assert_eq!(redirect_outcome(location), outcome, "{location}");
        }
    }

    #[test]
    fn the_consent_page_admits_the_redirect_uris_origin_only() {
        assert_eq!(
            origin_source("https://app.example:8443/cb?x=1").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(
            origin_source("http://127.0.0.1:51000/cb").as_deref(),
            Some("http://127.0.0.1:51000")
        );
        assert_eq!(
            origin_source("com.example.app:/cb").as_deref(),
            Some("com.example.app:")
        );
        let policy = policy_admitting("https://app.example/cb").unwrap();
        assert!(
            policy
                .to_str()
                .unwrap()
                .contains("form-action 'self' https://app.example;")
        );
    }
}
