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

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use tower_layer::Layer;
use tower_service::Service;

use crate::authn::{AuthBody, ResponseFuture};

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

type Predicate<P> = Arc<dyn Fn(&P) -> bool + Send + Sync>;

/// Lets a request through only if its principal `P` satisfies the requirement.
pub struct RequireScopeLayer<P> {
    required: Arc<str>,
    predicate: Predicate<P>,
    realm: Arc<str>,
    _principal: PhantomData<fn() -> P>,
}

impl<P> Clone for RequireScopeLayer<P> {
    fn clone(&self) -> Self {
        Self {
            required: self.required.clone(),
            predicate: self.predicate.clone(),
            realm: self.realm.clone(),
            _principal: PhantomData,
        }
    }
}

impl<P> fmt::Debug for RequireScopeLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopeLayer")
            .field("required", &self.required)
            .field("realm", &self.realm)
            .finish()
    }
}

impl<P: ScopedPrincipal> RequireScopeLayer<P> {
    /// Requires every one of `scopes`.
    pub fn all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let required = scopes.join(" ");
        Self::predicate(required, move |principal: &P| {
            scopes.iter().all(|scope| principal.has_scope(scope))
        })
    }

    /// Requires at least one of `scopes`.
    pub fn any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let required = scopes.join(" ");
        Self::predicate(required, move |principal: &P| {
            scopes.iter().any(|scope| principal.has_scope(scope))
        })
    }
}

impl<P: Clone + Send + Sync + 'static> RequireScopeLayer<P> {
    /// Requires whatever `predicate` says; `required` names it in the `scope` parameter of the
    /// `403` challenge.
    pub fn predicate(
        required: impl Into<String>,
        predicate: impl Fn(&P) -> bool + Send + Sync + 'static,
    ) -> Self {
        Self {
            required: required.into().into(),
            predicate: Arc::new(predicate),
            realm: Arc::from("api"),
            _principal: PhantomData,
        }
    }

    /// The realm named in challenges (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into().into();
        self
    }
}

impl<S, P> Layer<S> for RequireScopeLayer<P> {
    type Service = RequireScope<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`RequireScopeLayer`] wraps around an inner service.
pub struct RequireScope<S, P> {
    inner: S,
    layer: RequireScopeLayer<P>,
}

impl<S: Clone, P> Clone for RequireScope<S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, P> fmt::Debug for RequireScope<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScope")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, P> RequireScope<S, P> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, P, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S, P>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    P: Clone + Send + Sync + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match request.extensions().get::<P>() {
            None => ResponseFuture::refused(crate::authn::missing_credential(&self.layer.realm)),
            Some(principal) if !(self.layer.predicate)(principal) => {
                ResponseFuture::refused(crate::authn::insufficient_scope(
                    &self.layer.realm,
                    &self.layer.required,
                    StatusCode::FORBIDDEN,
                ))
            }
            Some(_) => ResponseFuture::inner(self.inner.call(request)),
        }
    }
}

#[cfg(test)]
mod tests;
