//! What turns a bearer credential into a verified principal.

use std::future::Future;

use auth_core::Error;
use auth_core::session::SidRevocationCheck;
use auth_core::token::{Claims, TokenVerifier};

use crate::BoxFuture;

/// Verifies a bearer credential. Implemented by [`TokenAuthentication`], by
/// `auth_core::flows::Authenticator`, and by any async closure from the token to a
/// `Result<Principal, auth_core::Error>`; implement it for anything else that can vouch for a
/// token.
///
/// ```
/// use std::sync::Arc;
///
/// use auth_core::clock::SystemClock;
/// use auth_core::token::{Algorithm, Claims, Key, KeySet, TokenConfig, TokenVerifier};
/// use auth_core::Error;
/// use auth_tower::authn::AuthLayer;
///
/// /// What the routes of this service know about their caller.
/// #[derive(Clone)]
/// struct Staff {
///     user_id: String,
/// }
///
/// # fn main() -> Result<(), Error> {
/// # let keys = Arc::new(KeySet::new(Key::generate(Algorithm::EdDsa)?)?);
/// # let config = TokenConfig::new("https://auth.example.com", "api");
/// let verifier = TokenVerifier::new(keys, config, Arc::new(SystemClock))?;
/// // Only staff accounts' tokens are accepted here.
/// let layer = AuthLayer::required(move |token: String| {
///     let verifier = verifier.clone();
///     async move {
///         let claims: Claims = verifier.verify_access(&token)?;
///         match claims.sub.strip_prefix("staff-") {
///             Some(_) => Ok(Staff { user_id: claims.sub }),
///             None => Err(Error::InvalidCredentials),
///         }
///     }
/// });
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
pub trait BearerAuthenticator: Clone + Send + Sync + 'static {
    /// What a verified credential yields; inserted into the request extensions.
    type Principal: Clone + Send + Sync + 'static;

    /// Verifies `token`. `Error::InvalidToken` (and `InvalidCredentials`) answer 401,
    /// `Error::Unavailable` 503, `Error::Throttled` 429; anything else 500.
    fn authenticate(&self, token: String) -> BoxFuture<Result<Self::Principal, Error>>;
}

/// Any async closure (or function) from the token to the principal: `Fn(String) -> impl
/// Future<Output = Result<P, Error>>`.
impl<F, Fut, P> BearerAuthenticator for F
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<P, Error>> + Send + 'static,
    P: Clone + Send + Sync + 'static,
{
    type Principal = P;

    fn authenticate(&self, token: String) -> BoxFuture<Result<P, Error>> {
        Box::pin(self(token))
    }
}

impl BearerAuthenticator for auth_core::flows::Authenticator {
    type Principal = auth_core::flows::Principal;

    fn authenticate(&self, token: String) -> BoxFuture<Result<Self::Principal, Error>> {
        let authenticator = self.clone();
        Box::pin(async move { authenticator.authenticate(&token).await })
    }
}

/// Access-token verification for services that only check tokens: the signature and claims
/// (through a [`TokenVerifier`], optionally with its verified-token cache) and optionally the
/// `sid` revocation check. Yields the token's [`Claims`].
#[derive(Debug, Clone)]
pub struct TokenAuthentication {
    verifier: TokenVerifier,
    sid_check: Option<SidRevocationCheck>,
}

impl TokenAuthentication {
    /// Verification by `verifier` alone.
    pub fn new(verifier: TokenVerifier) -> Self {
        Self {
            verifier,
            sid_check: None,
        }
    }

    /// Remembers up to `capacity` verified tokens, so repeated requests skip the signature
    /// check; see [`TokenVerifier::with_cache`] for what a hit still checks.
    pub fn with_cache(mut self, capacity: usize) -> Self {
        self.verifier = self.verifier.with_cache(capacity);
        self
    }

    /// The verifier in use (with its cache, if any).
    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    /// Refuses tokens whose session (`sid`) was revoked. Checked on every request, cache hit
    /// or not.
    pub fn with_sid_check(mut self, check: SidRevocationCheck) -> Self {
        self.sid_check = Some(check);
        self
    }

    /// Verifies `token` and its session.
    pub async fn verify(&self, token: &str) -> Result<Claims, Error> {
        let claims = self.verifier.verify_access_cached(token)?;
        if let Some(check) = &self.sid_check {
            check.check_sid(claims.sid.as_deref()).await?;
        }
        Ok(claims)
    }
}

impl BearerAuthenticator for TokenAuthentication {
    type Principal = Claims;

    fn authenticate(&self, token: String) -> BoxFuture<Result<Claims, Error>> {
        let this = self.clone();
        Box::pin(async move { this.verify(&token).await })
    }
}
