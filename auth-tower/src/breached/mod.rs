//! The Have I Been Pwned range API over HTTPS, as an [`auth_core`] [`RangeSource`].
//!
//! Only the first five hex digits of a password's SHA-1 are sent (`GET {base}/range/{prefix}`),
//! with `Add-Padding: true` so the response size does not hint at the suffix either. The base
//! URL is configuration, so a self-hosted mirror of the corpus can stand in for the public API.
//! Every request has a timeout; a slow, failing or odd answer is [`Error::Unavailable`], which
//! the password service turns into its configured policy (accept or refuse).
//!
//! ```no_run
//! use std::time::Duration;
//! use auth_tower::breached::HibpRangeSource;
//!
//! # fn main() -> Result<(), auth_core::Error> {
//! let mirror = HibpRangeSource::new("https://pwned.internal.example")?
//!     .with_timeout(Duration::from_secs(2));
//! # let _ = mirror;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use auth_core::Error;
use auth_core::password::RangeSource;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Uri};
use http_body_util::Empty;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Largest range body accepted. Real ranges are around 40 KB (padded: up to ~60 KB).
const MAX_RANGE_BODY: usize = 1024 * 1024;

/// An HTTP(S) client for `GET {base}/range/{prefix}`.
#[derive(Clone)]
pub struct HibpRangeSource {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    base: String,
    timeout: Duration,
}

impl fmt::Debug for HibpRangeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HibpRangeSource")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HibpRangeSource {
    /// The public Pwned Passwords API.
    pub const DEFAULT_BASE_URL: &'static str = "https://api.pwnedpasswords.com";
    /// How long one range request may take by default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

    /// A client for the range API under `base_url` (`http` or `https`, no query), trusting the
    /// operating system's root certificates.
    pub fn new(base_url: &str) -> Result<Self, Error> {
        let base = base_url.trim_end_matches('/');
        let uri: Uri = base
            .parse()
            .map_err(|e| Error::Config(format!("breached-password API URL {base_url:?}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https"))
            || uri.host().is_none()
            || uri.query().is_some()
        {
            return Err(Error::Config(format!(
                "breached-password API URL {base_url:?} must be an http(s) URL without a query"
            )));
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| Error::Config(format!("TLS root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            client,
            base: base.to_owned(),
            timeout: Self::DEFAULT_TIMEOUT,
        })
    }

    /// Sets how long one request (connect, answer and body) may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn get(&self, uri: Uri) -> Result<String, Error> {
        let padding = (
            HeaderName::from_static("add-padding"),
            HeaderValue::from_static("true"),
        );
        crate::fetch::get_text(&self.client, uri, &[padding], MAX_RANGE_BODY)
            .await
            .map_err(unavailable)
    }
}

fn unavailable(detail: String) -> Error {
    Error::Unavailable(format!("breached-password API {detail}"))
}

#[async_trait]
impl RangeSource for HibpRangeSource {
    async fn fetch_range(&self, prefix: &str) -> Result<String, Error> {
        if prefix.len() != 5 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Internal(format!("invalid range prefix {prefix:?}")));
        }
        let uri: Uri = format!("{}/range/{prefix}", self.base)
            .parse()
            .map_err(|e| Error::Internal(format!("range URL: {e}")))?;
        tokio::time::timeout(self.timeout, self.get(uri))
            .await
            .map_err(|_| unavailable(format!("did not answer within {:?}", self.timeout)))?
    }
}

#[cfg(test)]
mod tests;
