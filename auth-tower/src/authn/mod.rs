//! Bearer authentication: [`AuthLayer`] verifies the credential of every request and puts the
//! verified principal in the request extensions.
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//!
//! use auth_core::clock::SystemClock;
//! use auth_core::secrecy::ExposeSecret;
//! use auth_core::token::{Algorithm, Claims, Key, KeySet, NewToken, TokenConfig, TokenIssuer, TokenVerifier};
//! use auth_tower::authn::{AuthLayer, TokenAuthentication};
//! use http::{Request, Response, StatusCode, header};
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = Arc::new(KeySet::new(Key::generate(Algorithm::EdDsa)?)?);
//! let config = TokenConfig::new("https://auth.example.com", "api");
//! let issuer = TokenIssuer::new(keys.clone(), config.clone(), Arc::new(SystemClock))?;
//! let verifier = TokenVerifier::new(keys, config, Arc::new(SystemClock))?;
//!
//! let app = ServiceBuilder::new()
//!     .layer(AuthLayer::required(TokenAuthentication::new(verifier)))
//!     .service(service_fn(|request: Request<Full<bytes::Bytes>>| async move {
//!         let claims = request.extensions().get::<Claims>().expect("set by AuthLayer");
//!         let body = Full::<bytes::Bytes>::from(format!("hello {}", claims.sub));
//!         Ok::<_, Infallible>(Response::new(body))
//!     }));
//!
//! let token = issuer.issue_access(NewToken::new("user-42"))?;
//! let request = Request::get("/")
//!     .header(header::AUTHORIZATION, format!("Bearer {}", token.token.expose_secret()))
//!     .body(Full::default())?;
//! assert_eq!(app.clone().oneshot(request).await?.status(), StatusCode::OK);
//!
//! let anonymous = Request::get("/").body(Full::default())?;
//! let refused = app.oneshot(anonymous).await?;
//! assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(refused.headers()[header::WWW_AUTHENTICATE], "Bearer realm=\"api\"");
//! # Ok(())
//! # }
//! ```
//!
//! In [required](AuthLayer::required) mode a request without a credential gets `401` with an
//! RFC 6750 `WWW-Authenticate: Bearer` challenge, and a bad credential `401` with
//! `error="invalid_token"`; both with a JSON body `{"error", "message"}`. In
//! [optional](AuthLayer::optional) mode requests without a credential pass through
//! unauthenticated (a bad credential is still refused). What "verified" means is up to the
//! [`BearerAuthenticator`]: [`TokenAuthentication`] checks the token (with an optional
//! verified-token cache and `sid` revocation check); `auth_core::flows::Authenticator` does
//! the same and yields its `Principal`.

mod authenticator;
mod future;
mod layer;
mod response;

pub use authenticator::{BearerAuthenticator, TokenAuthentication};
pub use future::ResponseFuture;
pub use layer::{Auth, AuthLayer, Mode};
pub use response::AuthBody;
pub(crate) use response::refusal;

#[cfg(test)]
mod tests;
