//! Browser sessions and CSRF protection, for services that render their own pages.
//!
//! - [`SessionLayer`] reads the session cookie (a session's own secret, handed out by
//!   `auth_core::flows::Tokens::session_secret` when it starts) and puts the session's
//!   principal and a [`BrowserSession`] in the request extensions. A browser session is an
//!   ordinary session: it is listed and ended like any other, and its cookie stops working
//!   the moment it ends.
//! - [`CsrfLayer`], inside it, refuses state-changing requests without the browser's token
//!   and hands pages the token to render ([`CsrfToken`]).
//! - [`CookieSpec`] writes the cookies: `__Host-` names, `Secure`, `HttpOnly`, `Path=/`,
//!   `SameSite=Lax` unless told otherwise.
//!
//! ```
//! use std::convert::Infallible;
//!
//! use auth_core::flows::Principal;
//! use auth_tower::browser::{CookieSpec, CsrfLayer, CsrfToken, SessionLayer};
//! use http::{Method, Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let authenticator = auth_core::testing::authenticator();
//! let app = ServiceBuilder::new()
//!     .layer(SessionLayer::new(authenticator, CookieSpec::new("__Host-session")))
//!     .layer(CsrfLayer::new([7; 32]))
//!     .service(service_fn(|request: Request<Full<bytes::Bytes>>| async move {
//!         let signed_in = request.extensions().get::<Principal>().is_some();
//!         let token = request.extensions().get::<CsrfToken>().expect("set by CsrfLayer");
//!         let page = format!("signed in: {signed_in}; form token: {}", token.as_str());
//!         Ok::<_, Infallible>(Response::new(Full::<bytes::Bytes>::from(page)))
//!     }));
//!
//! // A page: the pre-session cookie is set, and the token rendered is bound to it.
//! let page = app.clone().oneshot(Request::get("/").body(Full::default())?).await?;
//! assert!(page.headers()["set-cookie"].to_str()?.starts_with("__Host-auth_csrf="));
//! // A post without the token is refused.
//! let post = Request::builder().method(Method::POST).uri("/").body(Full::default())?;
//! assert_eq!(app.oneshot(post).await?.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```

mod cookie;
mod csrf;
mod session;

#[cfg(test)]
mod tests;

pub(crate) use cookie::values as cookie_values;
pub use cookie::{CookieSpec, MAX_VALUE_LEN, SameSite};
pub use csrf::{CSRF_FIELD, CSRF_HEADER, Csrf, CsrfLayer, CsrfToken, PRE_SESSION_COOKIE};
pub use session::{BrowserSession, SessionAuthenticator, SessionLayer, SessionService};
