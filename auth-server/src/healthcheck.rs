//! `auth-server healthcheck`: GET a local endpoint, exit 0 on 200 and 1 otherwise.

use std::process::ExitCode;
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::cli::HealthcheckArgs;

pub(crate) fn main(args: &HealthcheckArgs) -> ExitCode {
    let timeout = Duration::from_secs(args.timeout);
    let probed = crate::cli::block_on("healthcheck", async {
        tokio::time::timeout(timeout, probe(args.port, &args.path)).await
    });
    match probed {
        None => ExitCode::FAILURE,
        Some(Ok(Ok(200))) => ExitCode::SUCCESS,
        Some(Ok(Ok(status))) => {
            eprintln!("healthcheck: {} answered {status}", args.path);
            ExitCode::FAILURE
        }
        Some(Ok(Err(error))) => {
            eprintln!("healthcheck: {error}");
            ExitCode::FAILURE
        }
        Some(Err(_)) => {
            eprintln!("healthcheck: no answer within {timeout:?}");
            ExitCode::FAILURE
        }
    }
}

/// Why the probe got no status.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    /// Nothing accepted the connection.
    #[error("connect to 127.0.0.1:{port}: {source}")]
    Connect { port: u16, source: std::io::Error },
    /// The connection did not speak HTTP/1.
    #[error("handshake: {0}")]
    Handshake(#[source] hyper::Error),
    /// `--path` is not a valid request target.
    #[error("request for {path:?}: {source}")]
    Request { path: String, source: http::Error },
    /// The request or its answer failed.
    #[error("GET {path}: {source}")]
    Send { path: String, source: hyper::Error },
}

/// `GET path` from the server on `port`; its status code.
async fn probe(port: u16, path: &str) -> Result<u16, ProbeError> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|source| ProbeError::Connect { port, source })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(ProbeError::Handshake)?;
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(http::header::HOST, format!("127.0.0.1:{port}"))
        .body(Empty::<Bytes>::new())
        .map_err(|source| ProbeError::Request {
            path: path.to_owned(),
            source,
        })?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|source| ProbeError::Send {
            path: path.to_owned(),
            source,
        })?;
    Ok(response.status().as_u16())
}
