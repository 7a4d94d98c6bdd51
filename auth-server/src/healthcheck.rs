//! `auth-server healthcheck`: GET a local endpoint, exit 0 on 200 and 1 otherwise.

use std::process::ExitCode;
use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::cli::HealthcheckArgs;

pub(crate) fn main(args: &HealthcheckArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("healthcheck: {error}");
            return ExitCode::FAILURE;
        }
    };
    let timeout = Duration::from_secs(args.timeout);
    match runtime
        .block_on(async { tokio::time::timeout(timeout, probe(args.port, &args.path)).await })
    {
        Ok(Ok(200)) => ExitCode::SUCCESS,
        Ok(Ok(status)) => {
            eprintln!("healthcheck: {} answered {status}", args.path);
            ExitCode::FAILURE
        }
        Ok(Err(error)) => {
            eprintln!("healthcheck: {error}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("healthcheck: no answer within {timeout:?}");
            ExitCode::FAILURE
        }
    }
}

async fn probe(port: u16, path: &str) -> Result<u16, String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect to 127.0.0.1:{port}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(http::header::HOST, format!("127.0.0.1:{port}"))
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("request for {path:?}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    Ok(response.status().as_u16())
}
