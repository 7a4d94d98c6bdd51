//! [`AuthLayer`] and its service [`Auth`].

use std::task::{Context, Poll};

use http::{HeaderMap, Request, Response, header};
use tower_layer::Layer;
use tower_service::Service;

use super::authenticator::BearerAuthenticator;
use super::future::ResponseFuture;
use super::response::{AuthBody, refusal};
use crate::answer::Answer;

/// Whether requests without a credential may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A credential is required: requests without one get `401`.
    Required,
    /// Requests without a credential pass through unauthenticated; a credential that is there
    /// must still be valid.
    Optional,
}

/// Authenticates requests by their bearer credential; see the [module docs](super).
#[derive(Debug, Clone)]
pub struct AuthLayer<A> {
    authenticator: A,
    mode: Mode,
    realm: String,
    cookie: Option<String>,
}

impl<A: BearerAuthenticator> AuthLayer<A> {
    /// Every request must carry a valid credential.
    pub fn required(authenticator: A) -> Self {
        Self::new(authenticator, Mode::Required)
    }

    /// Requests without a credential pass through unauthenticated.
    pub fn optional(authenticator: A) -> Self {
        Self::new(authenticator, Mode::Optional)
    }

    fn new(authenticator: A, mode: Mode) -> Self {
        Self {
            authenticator,
            mode,
            realm: "api".to_owned(),
            cookie: None,
        }
    }

    /// The realm named in `WWW-Authenticate` challenges (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Also reads the credential from this cookie when there is no `Authorization` header
    /// (for browser clients; use a `__Host-` cookie name).
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into());
        self
    }
}

impl<S, A: Clone> Layer<S> for AuthLayer<A> {
    type Service = Auth<S, A>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct Auth<S, A> {
    inner: S,
    layer: AuthLayer<A>,
}

impl<S, A> Auth<S, A> {
    define_inner_service_accessors!();
}

/// What the request offers as a credential.
enum Credential {
    None,
    Malformed,
    Bearer(String),
}

/// RFC 6750 `b64token` characters.
fn is_token68(token: &str) -> bool {
    !token.is_empty()
        && token.trim_end_matches('=').bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

fn credential(headers: &HeaderMap, cookie: Option<&str>) -> Credential {
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    match (authorization.next(), authorization.next()) {
        (Some(_), Some(_)) => return Credential::Malformed,
        (Some(value), None) => {
            let Ok(value) = value.to_str() else {
                return Credential::Malformed;
            };
            let Some((scheme, token)) = value.split_once(' ') else {
                return Credential::Malformed;
            };
            let token = token.trim_start_matches(' ');
            return if scheme.eq_ignore_ascii_case("bearer") && is_token68(token) {
                Credential::Bearer(token.to_owned())
            } else {
                Credential::Malformed
            };
        }
        (None, _) => {}
    }
    let Some(name) = cookie else {
        return Credential::None;
    };
    crate::browser::cookie_values(headers, name)
        .find(|token| is_token68(token))
        .map_or(Credential::None, |token| {
            Credential::Bearer(token.to_owned())
        })
}

impl<S, A, ReqBody, ResBody> Service<Request<ReqBody>> for Auth<S, A>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    A: BearerAuthenticator,
    ReqBody: Send + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The ready inner service serves this request; a fresh clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let realm = self.layer.realm.clone();
        // Whatever logs headers downstream must not print the credential.
        if let Some(value) = request.headers_mut().get_mut(header::AUTHORIZATION) {
            value.set_sensitive(true);
        }
        match credential(request.headers(), self.layer.cookie.as_deref()) {
            Credential::Malformed => ResponseFuture::refused(refusal(
                Answer::malformed_credential().with_realm(realm),
                request.headers(),
            )),
            Credential::None => match self.layer.mode {
                Mode::Required => ResponseFuture::refused(refusal(
                    Answer::missing_credential().with_realm(realm),
                    request.headers(),
                )),
                Mode::Optional => ResponseFuture::inner(inner.call(request)),
            },
            Credential::Bearer(token) => {
                let verification = self.layer.authenticator.authenticate(token);
                ResponseFuture::authenticating(Box::pin(async move {
                    match verification.await {
                        Ok(principal) => {
                            request.extensions_mut().insert(principal);
                            inner.call(request).await.map(|r| r.map(AuthBody::inner))
                        }
                        Err(error) => Ok(refusal(
                            Answer::from_error(&error).with_realm(realm),
                            request.headers(),
                        )),
                    }
                }))
            }
        }
    }
}

#[cfg(test)]
mod credential_tests {
    use super::*;

    fn from(authorization: &[&str]) -> Credential {
        let mut headers = HeaderMap::new();
        for value in authorization {
            headers.append(header::AUTHORIZATION, value.parse().unwrap());
        }
        credential(&headers, None)
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for value in [
            "Bearer abc.def-ghi_jkl",
            "bearer abc.def-ghi_jkl",
            "BEARER abc.def-ghi_jkl",
        ] {
            assert!(matches!(from(&[value]), Credential::Bearer(t) if t == "abc.def-ghi_jkl"));
        }
    }

    #[test]
    fn other_schemes_and_garbage_are_malformed() {
        for value in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a\"b",
            "token",
        ] {
            assert!(matches!(from(&[value]), Credential::Malformed), "{value}");
        }
        assert!(matches!(
            from(&["Bearer a", "Bearer b"]),
            Credential::Malformed
        ));
    }

    #[test]
    fn a_cookie_is_read_only_when_configured_and_without_a_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "theme=dark; __Host-access=tok.en".parse().unwrap(),
        );
        assert!(matches!(credential(&headers, None), Credential::None));
        assert!(
            matches!(credential(&headers, Some("__Host-access")), Credential::Bearer(t) if t == "tok.en")
        );
        headers.insert(header::AUTHORIZATION, "Bearer header".parse().unwrap());
        assert!(
            matches!(credential(&headers, Some("__Host-access")), Credential::Bearer(t) if t == "header")
        );
    }
}
