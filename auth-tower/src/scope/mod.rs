//! Scope checks: [`RequireScopeLayer`] answers `403 insufficient_scope` when the verified
//! principal (put in the extensions by [`AuthLayer`](crate::authn::AuthLayer)) lacks what a
//! route needs.
//!
//! ```
//! use std::convert::Infallible;
//!
//! use auth_core::token::Claims;
//! use auth_tower::scope::RequireScopeLayer;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let handler = service_fn(|_: Request<Full<bytes::Bytes>>| async {
//!     Ok::<_, Infallible>(Response::new(Full::<bytes::Bytes>::from("orders")))
//! });
//! let service = RequireScopeLayer::<Claims>::all(["orders:read"]).layer(handler);
//!
//! // A request whose verified claims grant another scope only.
//! let claims: Claims = serde_json::from_value(serde_json::json!({
//!     "iss": "i", "sub": "user-1", "aud": "api", "exp": 0, "iat": 0, "jti": "j",
//!     "scope": "profile",
//! }))?;
//! let mut request = Request::new(Full::default());
//! request.extensions_mut().insert(claims);
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert!(response.headers()["www-authenticate"].to_str()?.contains("insufficient_scope"));
//! # Ok(())
//! # }
//! ```

mod future;
mod layer;

pub use future::ResponseFuture;
pub use layer::{RequireScope, RequireScopeLayer};

/// A verified principal that carries scopes.
pub trait ScopedPrincipal: Clone + Send + Sync + 'static {
    /// Whether `scope` is granted.
    fn has_scope(&self, scope: &str) -> bool;
}

impl<C: Clone + Send + Sync + 'static> ScopedPrincipal for auth_core::token::Claims<C> {
    fn has_scope(&self, scope: &str) -> bool {
        auth_core::token::Claims::has_scope(self, scope)
    }
}

impl ScopedPrincipal for auth_core::flows::Principal {
    fn has_scope(&self, scope: &str) -> bool {
        self.claims.has_scope(scope)
    }
}

#[cfg(test)]
mod tests;
