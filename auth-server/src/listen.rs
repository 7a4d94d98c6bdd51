//! The HTTP/1.1 accept loop: hyper over connections that keep time, instead of `axum::serve`,
//! which sets no timer. Each connection is in one of two phases:
//! - waiting for a request (just accepted, or after an answer was written): the first byte of
//!   the next request must come within `idle_timeout` (`header_read_timeout` for the first
//!   request of a new connection, so connecting and saying nothing does not hold a slot long);
//! - reading a request head: from its first byte, the head must be complete (its blank line
//!   seen) within `header_read_timeout`; the body and the answer are then the request
//!   timeout's business.
//!
//! A connection past its deadline is closed: a slowly sent head (slowloris) and a kept-alive
//! connection left idle alike. At most `max_connections` are open at once; beyond that the loop
//! stops accepting, so new connections wait in the kernel's backlog until one closes, and the
//! process never runs out of descriptors. A failed `accept` (out of descriptors after all, say)
//! is logged and retried, never fatal.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

/// What the loop allows a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// How long a request head may take to arrive from its first byte (and the first request
    /// of a connection from the accept).
    pub(crate) header_read_timeout: Duration,
    /// How long a connection may wait for its next request after an answer.
    pub(crate) idle_timeout: Duration,
    /// How many connections may be open at once.
    pub(crate) max_connections: usize,
}

/// Serves `app` on `listener` until `stop` completes, then stops accepting and lets every open
/// connection finish its request in flight before returning (the caller bounds how long).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    // Our connections keep the time; hyper's own header timer would also cut idle ones.
    http.header_read_timeout(None);
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // The client address, where the handlers' extractor looks for it.
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().call(request)
        });
        let stream = Timed::new(stream, limits);
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection closed with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Where a connection stands, for its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the first byte of a request.
    Waiting,
    /// Reading a request head: the last bytes seen, to find its blank line across reads.
    Head([u8; 3]),
    /// The head is in; the body and the answer are the request timeout's business.
    Busy,
}

/// A connection with a deadline: see the module's phases. The timer is moved as rarely as
/// possible (it takes the runtime's timer lock): a later deadline only updates `deadline`, and
/// a timer that fires before it is set again then; only an earlier one resets the timer.
struct Timed {
    stream: TcpStream,
    limits: ConnectionLimits,
    phase: Phase,
    /// When the connection is cut, unless busy.
    deadline: Instant,
    timer: Pin<Box<Sleep>>,
}

impl Timed {
    fn new(stream: TcpStream, limits: ConnectionLimits) -> Self {
        let deadline = Instant::now() + limits.header_read_timeout;
        Self {
            stream,
            limits,
            phase: Phase::Waiting,
            deadline,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    fn expire_in(&mut self, after: Duration) {
        self.deadline = Instant::now() + after;
        if self.timer.deadline() > self.deadline {
            let deadline = self.deadline;
            self.timer.as_mut().reset(deadline);
        }
    }

    /// Follows the bytes just read: a request begins, or its head ends (`\r\n\r\n`). A head
    /// that comes whole in one read never touches the deadline.
    fn saw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let (mut tail, begun) = match self.phase {
            Phase::Busy => return,
            Phase::Waiting => ([0; 3], true),
            Phase::Head(tail) => (tail, false),
        };
        for &byte in bytes {
            if tail == *b"\r\n\r" && byte == b'\n' {
                self.phase = Phase::Busy;
                return;
            }
            tail = [tail[1], tail[2], byte];
        }
        self.phase = Phase::Head(tail);
        if begun {
            // A request begins, not whole: it has the header timeout to arrive.
            let after = self.limits.header_read_timeout;
            self.expire_in(after);
        }
    }

    /// With the read pending: the error once past the deadline (unless busy); otherwise
    /// `Pending`, with the timer armed to wake the task.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            if self.phase != Phase::Busy && now >= self.deadline {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request, or not all of its head, in time",
                )));
            }
            // Fired early (the deadline moved on), or busy: wait for the next check.
            let next = if self.phase == Phase::Busy {
                now + self.limits.idle_timeout
            } else {
                self.deadline
            };
            self.timer.as_mut().reset(next);
        }
        Poll::Pending
    }
}

impl AsyncRead for Timed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                self.saw(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => self.poll_deadline(cx),
        }
    }
}

impl AsyncWrite for Timed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(_)) = written {
            // An answer is going out: the next request may take the idle timeout to begin.
            self.phase = Phase::Waiting;
            let after = self.limits.idle_timeout;
            self.expire_in(after);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_head_is_found_across_reads_and_only_in_the_head() {
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: 1,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = TcpStream::connect(listener.local_addr().unwrap());
            let (client, accepted) = tokio::join!(client, listener.accept());
            let _client = client.unwrap();
            let mut timed = Timed::new(accepted.unwrap().0, limits);
            assert_eq!(timed.phase, Phase::Waiting);
            timed.saw(b"GET / HTTP/1.1\r\nHost: a\r");
            assert_eq!(timed.phase, Phase::Head(*b" a\r"));
            timed.saw(b"\n\r");
            assert!(matches!(timed.phase, Phase::Head(_)));
            timed.saw(b"\nbody\r\n\r\n");
            assert_eq!(
                timed.phase,
                Phase::Busy,
                "the blank line across three reads"
            );
            timed.saw(b"more body");
            assert_eq!(timed.phase, Phase::Busy);
        });
    }
}
