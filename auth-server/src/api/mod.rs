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
mod error;
mod extract;
mod mfa;
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
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

pub(crate) use extract::TrustedProxyHeader;

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
pub(crate) fn routes(auth: Authenticator, proxy_header: TrustedProxyHeader) -> Api {
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
        .layer(Extension(proxy_header))
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
    untagged(&mut doc);
    (router, doc)
}

/// Gives every operation the empty tag list the document has always shown: `routes!` leaves
/// `tags` out where `#[openapi(paths(...))]` wrote `[]`.
fn untagged(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
            &mut item.query,
        ];
        for operation in operations.into_iter().flatten() {
            operation.tags.get_or_insert_with(Vec::new);
        }
    }
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
