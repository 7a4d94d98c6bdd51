//! [`RequireScopeLayer`] and its service [`RequireScope`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{ResponseFuture, ScopedPrincipal};
use crate::answer::Answer;
use crate::authn::{AuthBody, refusal};

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
    define_inner_service_accessors!();
}

impl<S, P, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S, P>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    P: Clone + Send + Sync + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let realm = || self.layer.realm.to_string();
        match request.extensions().get::<P>() {
            None => ResponseFuture::refused(refusal(
                Answer::missing_credential().with_realm(realm()),
                request.headers(),
            )),
            Some(principal) if !(self.layer.predicate)(principal) => {
                ResponseFuture::refused(refusal(
                    Answer::insufficient_scope(&self.layer.required).with_realm(realm()),
                    request.headers(),
                ))
            }
            Some(_) => ResponseFuture::inner(self.inner.call(request)),
        }
    }
}
