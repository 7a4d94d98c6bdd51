//! [`ResponseFuture`] of [`Auth`](super::Auth).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use super::response::AuthBody;

type Authenticating<B, E> = Pin<Box<dyn Future<Output = Result<Response<AuthBody<B>>, E>> + Send>>;

pin_project! {
    /// The response future of [`Auth`](super::Auth).
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        state: State<F, B, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B, E> {
        /// No credential in optional mode: the inner service's future as it is.
        Inner { #[pin] future: F },
        /// Verifying the credential, then calling the inner service.
        Authenticating { future: Authenticating<B, E> },
        /// Refused by the layer.
        Refused { response: Option<Response<AuthBody<B>>> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(super) fn inner(future: F) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    pub(super) fn authenticating(future: Authenticating<B, E>) -> Self {
        Self {
            state: State::Authenticating { future },
        }
    }

    pub(super) fn refused(response: Response<AuthBody<B>>) -> Self {
        Self {
            state: State::Refused {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<AuthBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future
                .poll(cx)
                .map(|result| result.map(|response| response.map(AuthBody::inner))),
            StateProj::Authenticating { future } => future.as_mut().poll(cx),
            StateProj::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => panic!("ResponseFuture polled after completion"),
            },
        }
    }
}
