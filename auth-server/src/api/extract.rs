//! Extractors whose rejections are [`ApiError`]s: a JSON body, a path parameter, the client's
//! address. (The bearer token is checked by `AuthLayer`, which hands handlers a `Principal`.)

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `Json<T>` whose rejections are API errors (400, 413, 415) in our JSON shape.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// A body sent as JSON (by an application) or as a form (by the button of a page this server
/// showed): the same fields either way; the answer is JSON to the one, a page to the other.
pub(crate) enum Submitted<T> {
    /// `application/json`.
    Json(T),
    /// `application/x-www-form-urlencoded`.
    Form(T),
}

impl<T> Submitted<T> {
    /// What was sent.
    pub(crate) fn value(&self) -> &T {
        match self {
            Self::Json(value) | Self::Form(value) => value,
        }
    }

    /// Whether a page's form sent it.
    pub(crate) fn by_page(&self) -> bool {
        matches!(self, Self::Form(_))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Submitted<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
        if form {
            let axum::Form(value) = axum::Form::<T>::from_request(request, state).await?;
            Ok(Self::Form(value))
        } else {
            let ApiJson(value) = ApiJson::<T>::from_request(request, state).await?;
            Ok(Self::Json(value))
        }
    }
}

/// `Path<T>` whose rejections (a segment that is not UTF-8 once percent-decoded, say) are API
/// errors in our JSON shape.
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// The client's address for throttling, as the [`ProxyPolicy`](crate::proxies::ProxyPolicy)
/// in the request's extensions finds it (the socket's peer without one).
pub(crate) struct ClientIp(pub(crate) IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let policy = parts.extensions.get::<crate::proxies::ProxyPolicy>();
        peer.map(|peer| match policy {
            Some(policy) => policy.client(peer, &parts.headers),
            None => peer.to_canonical(),
        })
        .map(ClientIp)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "no client address",
            )
        })
    }
}
