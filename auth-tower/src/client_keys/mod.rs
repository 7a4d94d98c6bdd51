//! The keys of `private_key_jwt` clients registered with a `jwks_uri`, fetched over HTTPS as an
//! [`auth_core`] [`ClientKeySource`], without letting a client point the server at its own
//! network (SSRF).
//!
//! - Only `https`, unless private addresses are allowed (development, tests).
//! - The host's addresses are judged when it is resolved, and the connection goes to an
//!   address judged so (no second lookup a rebinding name could answer differently): a
//!   private, loopback, link-local (the cloud metadata service at `169.254.169.254` among them),
//!   shared, unspecified, multicast, documentation or reserved address is refused, as is a name
//!   that resolves to nothing else, unless allowed. An IP literal in the URL is judged alike.
//! - No redirect is followed; only `200` is taken; the body is at most
//!   [`MAX_JWKS_LEN`] bytes; the whole fetch has a
//!   timeout ([`JwksFetcher::DEFAULT_TIMEOUT`]).
//!
//! Caching and checking what comes back are the library's ([`ClientKeySource`]'s caller).

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use auth_core::Error;
use auth_core::flows::ClientKeySource;
use auth_core::oauth::keys::MAX_JWKS_LEN;
use bytes::Bytes;
use http::{HeaderValue, Uri, header};
use http_body_util::Empty;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::rt::TokioExecutor;
use tower_service::Service;

/// Fetches client key sets under the rules of the [module](self).
#[derive(Clone)]
pub struct JwksFetcher {
    client: Client<HttpsConnector<HttpConnector<PublicOnly>>, Empty<Bytes>>,
    allow_private: bool,
    timeout: Duration,
}

impl fmt::Debug for JwksFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksFetcher")
            .field("allow_private", &self.allow_private)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl JwksFetcher {
    /// How long one fetch (resolving, connecting, the answer and its body) may take.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// A fetcher trusting the operating system's root certificates; `allow_private` lets
    /// `http` and every address through (never in production: a client could then have the
    /// server call its internal services).
    pub fn new(allow_private: bool) -> Result<Self, Error> {
        let mut http = HttpConnector::new_with_resolver(PublicOnly {
            inner: GaiResolver::new(),
            allow_private,
        });
        http.enforce_http(false);
        http.set_connect_timeout(Some(Self::DEFAULT_TIMEOUT));
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| Error::Config(format!("TLS root certificates: {e}")))?;
        let connector = if allow_private {
            builder.https_or_http().enable_http1().wrap_connector(http)
        } else {
            builder.https_only().enable_http1().wrap_connector(http)
        };
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            allow_private,
            timeout: Self::DEFAULT_TIMEOUT,
        })
    }

    /// Sets how long one fetch may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn get(&self, uri: Uri) -> Result<String, Error> {
        let accept = (
            header::ACCEPT,
            HeaderValue::from_static("application/jwk-set+json, application/json"),
        );
        crate::fetch::get_text(&self.client, uri, &[accept], MAX_JWKS_LEN)
            .await
            .map_err(|why| unavailable(&why))
    }
}

fn unavailable(detail: &str) -> Error {
    Error::Unavailable(format!("jwks_uri: {detail}"))
}

#[async_trait]
impl ClientKeySource for JwksFetcher {
    fn admits(&self, uri: &url::Url) -> Result<(), String> {
        if self.allow_private {
            return matches!(uri.scheme(), "https" | "http")
                .then_some(())
                .ok_or_else(|| "an http(s) URL".to_owned());
        }
        if uri.scheme() != "https" {
            return Err("https only".into());
        }
        let refused = match uri.host() {
            Some(url::Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.');
                name == "localhost" || name.ends_with(".localhost")
            }
            None => true,
        };
        if refused {
            return Err(
                "a private, loopback, link-local or metadata address is refused".to_owned(),
            );
        }
        Ok(())
    }

    async fn fetch(&self, uri: &url::Url) -> Result<String, Error> {
        self.admits(uri).map_err(|why| unavailable(&why))?;
        let parsed: Uri = uri
            .as_str()
            .parse()
            .map_err(|e| unavailable(&format!("not a URI: {e}")))?;
        tokio::time::timeout(self.timeout, self.get(parsed))
            .await
            .map_err(|_| unavailable(&format!("no answer within {:?}", self.timeout)))?
    }
}

/// A resolver that keeps public addresses only (all of them when private ones are allowed).
#[derive(Clone)]
struct PublicOnly {
    inner: GaiResolver,
    allow_private: bool,
}

impl Service<Name> for PublicOnly {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, io::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        let resolving = self.inner.call(name);
        let allow_private = self.allow_private;
        Box::pin(async move {
            let kept: Vec<SocketAddr> = resolving
                .await?
                .filter(|address| allow_private || is_public(address.ip()))
                .collect();
            if kept.is_empty() {
                return Err(io::Error::other(format!(
                    "{host} resolves to no public address (private, loopback, link-local and \
                     metadata addresses are refused)"
                )));
            }
            Ok(kept.into_iter())
        })
    }
}

/// Whether `ip` is an address of the public internet: not private, loopback, link-local
/// (cloud metadata services among them), shared (carrier-grade NAT, another metadata
/// service), unspecified, broadcast, multicast, documentation, benchmarking or reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(mapped) = ip.to_ipv4_mapped() {
                return is_public_v4(mapped);
            }
            let segments = ip.segments();
            // Global unicast (2000::/3) only, less what reaches IPv4 or is reserved within it:
            // 6to4 (2002::/16) and the IETF assignments of 2001::/23 (Teredo, benchmarking,
            // ORCHID), and documentation (2001:db8::/32). Loopback, unspecified, unique local
            // (fd00:ec2::254 among them), link-local, multicast, NAT64 (64:ff9b::/96 and
            // 64:ff9b:1::/48) and the IPv4-compatible ::/96 all lie outside 2000::/3.
            (segments[0] & 0xe000) == 0x2000
                && segments[0] != 0x2002
                && !(segments[0] == 0x2001 && segments[1] < 0x0200)
                && !(segments[0] == 0x2001 && segments[1] == 0x0db8)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64) // shared 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18/15
        || a >= 240)
}

#[cfg(test)]
mod tests;
