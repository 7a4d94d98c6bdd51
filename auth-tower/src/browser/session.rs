//! [`SessionLayer`]: the principal of the session whose secret the request's cookie holds.

use std::task::{Context, Poll};

use auth_core::Error;
use auth_core::id::SessionId;
use http::{Request, Response, header};
use tower_layer::Layer;
use tower_service::Service;

use super::cookie::CookieSpec;
use crate::BoxFuture;
use crate::answer::Answer;

/// Opens the session a browser's cookie names. Implemented by
/// `auth_core::flows::Authenticator` (through `authenticate_session`) and by any async
/// closure from the cookie's value to a `Result<Principal, auth_core::Error>`.
pub trait SessionAuthenticator: Clone + Send + Sync + 'static {
    /// What an open session yields; inserted into the request extensions.
    type Principal: Clone + Send + Sync + 'static;

    /// The principal of the session whose secret is `secret`. `Error::InvalidToken` (and
    /// `InvalidCredentials`) mean no live session: the request goes on without one and the
    /// cookie is cleared. Any other error refuses the request (`Unavailable`: 503).
    fn authenticate_session(&self, secret: String) -> BoxFuture<Result<Self::Principal, Error>>;
}

impl<F, Fut, P> SessionAuthenticator for F
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<P, Error>> + Send + 'static,
    P: Clone + Send + Sync + 'static,
{
    type Principal = P;

    fn authenticate_session(&self, secret: String) -> BoxFuture<Result<P, Error>> {
        Box::pin(self(secret))
    }
}

impl SessionAuthenticator for auth_core::flows::Authenticator {
    type Principal = auth_core::flows::Principal;

    fn authenticate_session(&self, secret: String) -> BoxFuture<Result<Self::Principal, Error>> {
        let authenticator = self.clone();
        Box::pin(async move { authenticator.authenticate_session(&secret).await })
    }
}

/// Put in the request extensions, beside the principal, when the cookie opened a session:
/// the session's public id (the digest of the cookie's secret), which [`CsrfLayer`] binds
/// its tokens to.
///
/// [`CsrfLayer`]: super::CsrfLayer
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    id: SessionId,
}

impl BrowserSession {
    /// The session's public id.
    pub fn id(&self) -> &SessionId {
        &self.id
    }
}

/// Authenticates requests by their session cookie; see the [module docs](super).
///
/// A request without the cookie, or whose cookie opens no live session, goes on without a
/// principal (the routes decide what an anonymous caller gets); a stale cookie is cleared on
/// the answer unless the handler set the cookie itself.
#[derive(Debug, Clone)]
pub struct SessionLayer<A> {
    authenticator: A,
    cookie: CookieSpec,
}

impl<A: SessionAuthenticator> SessionLayer<A> {
    /// Sessions opened by `authenticator` from the cookie `cookie`.
    pub fn new(authenticator: A, cookie: CookieSpec) -> Self {
        Self {
            authenticator,
            cookie,
        }
    }
}

impl<S, A: Clone> Layer<S> for SessionLayer<A> {
    type Service = SessionService<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct SessionService<S, A> {
    inner: S,
    layer: SessionLayer<A>,
}

impl<S, A> SessionService<S, A> {
    define_inner_service_accessors!();
}

impl<S, A, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S, A>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    A: SessionAuthenticator,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some(secret) = self.layer.cookie.read(request.headers()) else {
            return Box::pin(inner.call(request));
        };
        let opening = self
            .layer
            .authenticator
            .authenticate_session(secret.clone());
        let cookie = self.layer.cookie.clone();
        Box::pin(async move {
            match opening.await {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    request.extensions_mut().insert(BrowserSession {
                        id: SessionId::from_secret(secret.as_bytes()),
                    });
                    inner.call(request).await
                }
                Err(Error::InvalidToken(_) | Error::InvalidCredentials) => {
                    let mut response = inner.call(request).await?;
                    let prefix = format!("{}=", cookie.name());
                    let handler_set_it = response
                        .headers()
                        .get_all(header::SET_COOKIE)
                        .iter()
                        .any(|value| value.as_bytes().starts_with(prefix.as_bytes()));
                    if !handler_set_it {
                        response
                            .headers_mut()
                            .append(header::SET_COOKIE, cookie.clear());
                    }
                    Ok(response)
                }
                Err(error) => Ok(Answer::from_error(&error).into_response_for(request.headers())),
            }
        })
    }
}
