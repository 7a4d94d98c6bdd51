//! The `/v1/auth` HTTP API: JSON in, JSON out, every error as `{"error", "message"}` with the
//! status its code calls for.
//!
//! - [`table`] lists every operation once; [`routes`] builds both the router and the OpenAPI
//!   document (`GET /openapi.json`) from it, and `tests` checks that the two agree.
//! - `auth`, `mfa` and `sessions` hold the handlers of each route group; each handler's
//!   `#[utoipa::path]` is the one place its method, path and documentation are written.
//! - `extract` holds the extractors (JSON body, path parameter, client address), `types` the
//!   request and response bodies, `error` how a failure is answered.

mod auth;
pub(crate) mod email;
pub(crate) mod error;
pub(crate) mod extract;
mod mfa;
mod pages;
pub(crate) mod passkeys;
mod sessions;
mod types;

#[cfg(test)]
mod tests;

use auth_core::flows::{Authenticator, Principal};
use auth_tower::authn::AuthLayer;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

/// The realm of the API's `WWW-Authenticate` challenges, from `AuthLayer` and from handlers.
const REALM: &str = "auth";

/// Where the OpenAPI document is served; the document does not describe this route itself.
const OPENAPI_PATH: &str = "/openapi.json";

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone.
    Public,
    /// Only a caller with a valid access token: the route sits behind `AuthLayer`, which hands
    /// the handler the caller's `Principal`.
    Bearer,
}

/// The route table: every operation of the API, once, with who may call it. `routes!` reads
/// the method, path and documentation from the handler's `#[utoipa::path]`.
fn table() -> Vec<(Access, UtoipaMethodRouter<Authenticator>)> {
    use Access::{Bearer, Public};
    vec![
        (Public, routes!(auth::register)),
        (Public, routes!(auth::login)),
        (Public, routes!(auth::refresh)),
        (Public, routes!(mfa::verify_mfa)),
        (
            Public,
            routes!(email::verify_email, email::verify_email_page),
        ),
        (Public, routes!(email::resend_verification)),
        (Public, routes!(email::forgot_password)),
        (
            Public,
            routes!(email::reset_password, email::reset_password_page),
        ),
        (Public, routes!(email::login_email)),
        (
            Public,
            routes!(email::login_email_verify, email::login_email_page),
        ),
        (
            Public,
            routes!(email::confirm_email_change, email::change_email_page),
        ),
        (Bearer, routes!(email::change_email)),
        (Bearer, routes!(auth::logout)),
        (Bearer, routes!(auth::me)),
        (Bearer, routes!(auth::change_password)),
        (Bearer, routes!(auth::reauthenticate)),
        (Bearer, routes!(mfa::enroll_totp)),
        (Bearer, routes!(mfa::confirm_totp)),
        (Bearer, routes!(mfa::disable_totp)),
        (Bearer, routes!(sessions::sessions)),
        (Bearer, routes!(sessions::revoke_other_sessions)),
        (Bearer, routes!(sessions::revoke_session)),
        (Public, routes!(passkeys::login_options)),
        (Public, routes!(passkeys::login_finish)),
        (Public, routes!(passkeys::mfa_options)),
        (Public, routes!(passkeys::mfa_finish)),
        (Public, routes!(passkeys::reset_options)),
        (Public, routes!(passkeys::reset_finish)),
        (Bearer, routes!(passkeys::register_options)),
        (Bearer, routes!(passkeys::register_finish)),
        (Bearer, routes!(passkeys::list)),
        (Bearer, routes!(passkeys::rename, passkeys::remove)),
        (Bearer, routes!(passkeys::reauthenticate_options)),
    ]
}

/// The API's routes, ready to merge into the server's router.
pub(crate) struct Api {
    /// The `/v1/auth` routes (the bearer ones behind `AuthLayer`) and `GET /openapi.json`.
    pub(crate) router: Router,
    /// The path template of every route in `router`, for the metrics' labels.
    pub(crate) templates: Vec<String>,
}

/// Builds the router and the OpenAPI document from [`table`].
pub(crate) fn routes(auth: Authenticator, proxies: crate::proxies::ProxyPolicy) -> Api {
    let (router, doc) = split(auth.clone());
    let templates = doc
        .paths
        .paths
        .keys()
        .cloned()
        .chain([OPENAPI_PATH.to_owned()])
        .collect();
    let router = router
        .route(
            OPENAPI_PATH,
            get(move || {
                let doc = doc.clone();
                async move { Json(doc).into_response() }
            }),
        )
        .with_state(auth)
        .layer(Extension(proxies))
        .layer(middleware::map_response(no_store));
    Api { router, templates }
}

/// No cache keeps any answer of the API: tokens (RFC 6749 section 5.1), profiles and session
/// lists, and the errors about them. The one place the header is set.
async fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// The table's routes, the bearer ones behind `auth`'s `AuthLayer`, and the document that
/// describes exactly them.
fn split(auth: Authenticator) -> (Router<Authenticator>, OpenApi) {
    let mut public = OpenApiRouter::with_openapi(ApiDoc::openapi());
    let mut bearer = OpenApiRouter::default();
    for (access, route) in table() {
        match access {
            Access::Public => public = public.routes(route),
            Access::Bearer => bearer = bearer.routes(route),
        }
    }
    let bearer = bearer
        .route_layer(middleware::from_fn(record_user))
        .route_layer(AuthLayer::required(auth).realm(REALM));
    let (router, mut doc) = public.merge(bearer).split_for_parts();
    for operation in operations(&mut doc) {
        // The empty tag list the document has always shown: `routes!` leaves `tags` out
        // where `#[openapi(paths(...))]` wrote `[]`.
        operation.tags.get_or_insert_with(Vec::new);
        document_shared_answers(operation);
        document_links(operation);
    }
    (router, doc)
}

/// The links between operations (OpenAPI "links"): which value of one answer the next request
/// takes. Clients read them as documentation; tools follow them (schemathesis' stateful phase
/// chains a registration into a login, a login into refreshes and a session list into a
/// revocation). A login's challenge is not linked to its verification: no tool can compute
/// the TOTP code.
fn document_links(operation: &mut Operation) {
    use serde_json::json;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::link::LinkBuilder;

    /// One link: its name, the operation it leads to, and what it fills in there.
    struct LinkTo {
        name: &'static str,
        operation_id: &'static str,
        body: Option<serde_json::Value>,
        parameter: Option<(&'static str, &'static str)>,
    }
    let refresh = || LinkTo {
        name: "Refresh",
        operation_id: "refresh",
        body: Some(json!({"refresh_token": "$response.body#/refresh_token"})),
        parameter: None,
    };
    let (status, links) = match operation.operation_id.as_deref() {
        Some("register") => (
            "201",
            vec![LinkTo {
                name: "Login",
                operation_id: "login",
                body: Some(
                    json!({"email": "$request.body#/email", "password": "$request.body#/password"}),
                ),
                parameter: None,
            }],
        ),
        // A login that answers a challenge has no refresh token: the link resolves only for
        // the other answer.
        Some("login" | "refresh" | "verify_mfa" | "reauthenticate") => ("200", vec![refresh()]),
        Some("sessions") => (
            "200",
            vec![LinkTo {
                name: "RevokeSession",
                operation_id: "revoke_session",
                body: None,
                parameter: Some(("path.id", "$response.body#/sessions/0/id")),
            }],
        ),
        _ => return,
    };
    let Some(RefOr::T(answer)) = operation.responses.responses.get_mut(status) else {
        return;
    };
    for link in links {
        let mut built = LinkBuilder::new()
            .operation_id(link.operation_id)
            .request_body(link.body);
        if let Some((parameter, value)) = link.parameter {
            built = built.parameter(parameter, value);
        }
        answer
            .links
            .insert(link.name.to_owned(), RefOr::T(built.build()));
    }
}

/// Every operation of the document.
fn operations(doc: &mut OpenApi) -> impl Iterator<Item = &mut Operation> {
    doc.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
            &mut item.query,
        ]
        .into_iter()
        .flatten()
    })
}

/// Documents the answers an operation gives because of what it is, not because of what its
/// handler does, so no route's document can forget them:
/// - a JSON body: 400 (not JSON, or not of the shape), 413 (too large), 415 (not JSON);
/// - a path parameter: 400 (not a valid segment);
/// - a bearer route: 401 with its `WWW-Authenticate` challenge (`AuthLayer`);
/// - every route: 503 with `Retry-After` (the request timeout, a dependency down, the hashing
///   pool full).
///
/// A status the handler documents keeps the handler's description.
fn document_shared_answers(operation: &mut Operation) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::header::Header;
    use utoipa::openapi::path::ParameterIn;

    let body = operation.request_body.is_some();
    let path_parameter = operation.parameters.as_ref().is_some_and(|parameters| {
        parameters
            .iter()
            .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path))
    });
    let bearer = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let mut answers: Vec<(&str, &str, Option<&str>)> = Vec::new();
    if body {
        answers.extend([
            (
                "400",
                "bad_request: the body is not JSON of this operation's shape",
                None,
            ),
            ("413", "payload_too_large: the body is too large", None),
            (
                "415",
                "unsupported_media_type: the body is not application/json",
                None,
            ),
        ]);
    }
    if path_parameter {
        answers.push(("400", "bad_request: a path segment is not valid", None));
    }
    if bearer {
        answers.push((
            "401",
            "invalid_token: no access token, or one that is not valid",
            Some("WWW-Authenticate"),
        ));
    }
    answers.push((
        "503",
        "unavailable, busy or timeout: retry after the time given",
        Some("Retry-After"),
    ));
    for (status, description, header) in answers {
        let answer = operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_answer(description).into());
        if let (Some(name), RefOr::T(answer)) = (header, answer) {
            answer
                .headers
                .entry(name.to_owned())
                .or_insert_with(|| RefOr::T(Header::default()));
        }
    }
    // However a handler documents them: throttled answers say when to retry.
    if let Some(RefOr::T(throttled)) = operation.responses.responses.get_mut("429") {
        throttled
            .headers
            .entry("Retry-After".to_owned())
            .or_insert_with(|| RefOr::T(Header::default()));
    }
}

/// An error answer: `ErrorBody` as JSON.
fn error_answer(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .build()
}

/// Names the authenticated user in the request's span, so its log line says who asked.
async fn record_user(request: Request, next: Next) -> Response {
    if let Some(principal) = request.extensions().get::<Principal>() {
        tracing::Span::current().record("user_id", tracing::field::display(principal.user_id));
    }
    next.run(request).await
}

/// Declares the `bearer` security scheme the bearer routes name.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document's frame: its title and the security scheme; [`split`] adds the paths and the
/// types they read and write.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "auth-server", description = "Authentication API"),
    modifiers(&BearerScheme)
)]
struct ApiDoc;
