//! A GET whose answer is text: `200` only, the body capped, as the outbound clients need
//! ([`crate::breached`], [`crate::client_keys`]).

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::Connect;

/// `GET uri` with `headers` (and our `User-Agent`) through `client`: the body of a `200`
/// answer of at most `limit` bytes, as UTF-8; otherwise what went wrong, in words.
pub(crate) async fn get_text<C>(
    client: &Client<C, Empty<Bytes>>,
    uri: Uri,
    headers: &[(HeaderName, HeaderValue)],
    limit: usize,
) -> Result<String, String>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let mut request = Request::get(uri)
        .header(
            header::USER_AGENT,
            concat!("auth-tower/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::new())
        .map_err(|e| format!("request: {e}"))?;
    for (name, value) in headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    let response = client
        .request(request)
        .await
        .map_err(|e| format!("request failed: {}", chain(&e)))?;
    if response.status() != StatusCode::OK {
        return Err(format!("answered {}", response.status()));
    }
    let body = Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    String::from_utf8(body.to_vec()).map_err(|_| "the body is not UTF-8".to_owned())
}

/// An error and its sources, as one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// A local HTTP server for the clients' tests: every request is answered, after `delay`, with
/// `status` and `body`; the request heads it read are reported.
#[cfg(test)]
pub(crate) async fn answering(
    status: &'static str,
    body: String,
    delay: std::time::Duration,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (heads_tx, heads_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let heads_tx = heads_tx.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = heads_tx.send(String::from_utf8_lossy(&head).into_owned());
                tokio::time::sleep(delay).await;
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (base, heads_rx)
}
