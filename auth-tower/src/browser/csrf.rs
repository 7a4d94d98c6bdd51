//! [`CsrfLayer`]: a token on every state-changing request, bound to the browser's session or,
//! before there is one, to a pre-session cookie (login CSRF).

use std::sync::Arc;
use std::task::{Context, Poll};

use auth_core::id::OpaqueSecret;
use auth_core::secrecy::ExposeSecret;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tower_layer::Layer;
use tower_service::Service;
use zeroize::Zeroizing;

use super::cookie::CookieSpec;
use super::session::BrowserSession;
use crate::BoxFuture;
use crate::answer::Answer;

/// The header a script sends the token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field a page sends the token in.
pub const CSRF_FIELD: &str = "csrf_token";
/// The pre-session cookie's default name.
pub const PRE_SESSION_COOKIE: &str = "__Host-auth_csrf";
/// The largest form body read for its token (the API's own body limit is the same).
const DEFAULT_FORM_LIMIT: usize = 64 * 1024;

/// The token a page must send back, put in the request extensions for the page to render:
/// in a hidden [`CSRF_FIELD`] of each form and in a `<meta>` the script reads for the
/// [`CSRF_HEADER`]. Bound to the session when the request has one ([`BrowserSession`]), to
/// the pre-session cookie otherwise.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfToken(..)")
    }
}

/// Refuses every state-changing request (any method but `GET`, `HEAD`, `OPTIONS` and
/// `TRACE`) that does not carry the token of its browser, in the [`CSRF_HEADER`] header or,
/// for an `application/x-www-form-urlencoded` body, in the [`CSRF_FIELD`] field. No other
/// body type can carry it, so a cross-site `text/plain` post is refused whatever it holds.
///
/// Tokens are HMAC-SHA-256 under the layer's key of the session id ([`BrowserSession`],
/// put there by [`SessionLayer`](super::SessionLayer), which must sit outside this layer)
/// or, without a session, of the pre-session cookie's random value, which the layer sets on
/// the first answer that finds none. A token of another browser, of a session that ended, or
/// from before sign-in once there is a session, does not match. Set a new pre-session
/// cookie ([`CsrfLayer::renew`]) at sign-in and sign-out, so one person's token does not
/// outlive their use of a shared browser.
/// Refusals are `403 csrf_failed` (`413` for a form too large to read).
#[derive(Clone)]
pub struct CsrfLayer {
    key: Arc<Zeroizing<[u8; 32]>>,
    cookie: CookieSpec,
    form_limit: usize,
}

impl std::fmt::Debug for CsrfLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrfLayer")
            .field("cookie", &self.cookie)
            .finish_non_exhaustive()
    }
}

impl CsrfLayer {
    /// Tokens under `key` (32 secret bytes, the same on every instance), the pre-session
    /// cookie [`PRE_SESSION_COOKIE`] with `SameSite=Lax`.
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            key: Arc::new(Zeroizing::new(key)),
            cookie: CookieSpec::new(PRE_SESSION_COOKIE),
            form_limit: DEFAULT_FORM_LIMIT,
        }
    }

    /// The pre-session cookie.
    pub fn cookie(mut self, cookie: CookieSpec) -> Self {
        self.cookie = cookie;
        self
    }

    /// A `Set-Cookie` value with a new pre-session value, for an answer that signs in or
    /// out: the tokens of the pages seen before stop working.
    pub fn renew(&self) -> http::HeaderValue {
        let fresh = OpaqueSecret::generate().into_secret();
        self.cookie.set(fresh.expose_secret(), None)
    }

    fn token(&self, label: &[u8], binding: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_slice())
            .expect("HMAC takes keys of any length");
        mac.update(label);
        mac.update(&[0]);
        mac.update(binding);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The token this request must carry: its session's when it has one (a pre-session
    /// token seen before sign-in authorises nothing after it), its pre-session cookie's
    /// otherwise.
    fn expected(&self, session: Option<&BrowserSession>, pre: Option<&str>) -> Option<String> {
        match (session, pre) {
            (Some(session), _) => Some(self.token(b"session", session.id().as_str().as_bytes())),
            (None, Some(pre)) => Some(self.token(b"pre-session", pre.as_bytes())),
            (None, None) => None,
        }
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = Csrf<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Csrf {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`CsrfLayer`] wraps around an inner service.
#[derive(Debug, Clone)]
pub struct Csrf<S> {
    inner: S,
    layer: CsrfLayer,
}

impl<S> Csrf<S> {
    define_inner_service_accessors!();
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|value| {
            value
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Whether `submitted` is `expected`, in constant time.
fn matches(submitted: &str, expected: Option<&String>) -> bool {
    expected.is_some_and(|token| bool::from(token.as_bytes().ct_eq(submitted.as_bytes())))
}

fn refused<B: From<String>>(headers: &HeaderMap) -> Response<B> {
    Answer::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "the request does not carry this browser's CSRF token: reload the page and try again",
    )
    .into_response_for(headers)
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Csrf<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Body<Data = Bytes> + From<Bytes> + Send + 'static,
    ReqBody::Error: std::error::Error + Send + Sync + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let pre = layer.cookie.read(&parts.headers);
            let session = parts.extensions.get::<BrowserSession>().cloned();
            let expected = layer.expected(session.as_ref(), pre.as_deref());
            let mut body = Some(body);
            if !is_safe(&parts.method) {
                let header = parts
                    .headers
                    .get(CSRF_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned);
                let submitted = match header {
                    Some(token) => Some(token),
                    None if is_form(&parts.headers) => {
                        let limited = Limited::new(body.take().expect("unread"), layer.form_limit);
                        let bytes = match limited.collect().await {
                            Ok(collected) => collected.to_bytes(),
                            Err(_) => {
                                return Ok(Answer::new(
                                    StatusCode::PAYLOAD_TOO_LARGE,
                                    "payload_too_large",
                                    "the form is too large or could not be read",
                                )
                                .into_response_for(&parts.headers));
                            }
                        };
                        let field = form_urlencoded::parse(&bytes)
                            .find(|(name, _)| name == CSRF_FIELD)
                            .map(|(_, value)| value.into_owned());
                        body = Some(ReqBody::from(bytes));
                        field
                    }
                    None => None,
                };
                let valid = submitted.is_some_and(|token| matches(&token, expected.as_ref()));
                if !valid {
                    tracing::info!(
                        method = %parts.method,
                        session = session.is_some(),
                        "a request without its CSRF token was refused"
                    );
                    return Ok(refused(&parts.headers));
                }
            }
            // The page's token: the session's when there is one.
            let (token, new_pre) = match (session.as_ref(), pre) {
                (Some(session), _) => (
                    layer.token(b"session", session.id().as_str().as_bytes()),
                    None,
                ),
                (None, Some(pre)) => (layer.token(b"pre-session", pre.as_bytes()), None),
                (None, None) => {
                    let fresh = OpaqueSecret::generate().into_secret();
                    let fresh = fresh.expose_secret().to_owned();
                    (layer.token(b"pre-session", fresh.as_bytes()), Some(fresh))
                }
            };
            parts.extensions.insert(CsrfToken(token));
            let request = Request::from_parts(parts, body.expect("body restored"));
            let mut response = inner.call(request).await?;
            if let Some(fresh) = new_pre {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, layer.cookie.set(&fresh, None));
            }
            Ok(response)
        })
    }
}
