//! Access and MFA challenge tokens: JWT (EdDSA, ES256, RS256, HS256) and PASETO v4
//! (`public`, `local`) behind one [`TokenIssuer`] / [`TokenVerifier`] surface.
//!
//! ```
//! use std::sync::Arc;
//! use auth_core::clock::SystemClock;
//! use auth_core::token::{
//!     Algorithm, Claims, Key, KeySet, NewToken, TokenConfig, TokenIssuer, TokenVerifier,
//! };
//! use secrecy::ExposeSecret;
//!
//! // One signing key (EdDSA JWTs by default), shared by the issuer and the verifier.
//! let keys = Arc::new(KeySet::new(Key::generate(Algorithm::default())?)?);
//! let config = TokenConfig::new("https://auth.example.com", "api");
//! let clock = Arc::new(SystemClock);
//! let issuer = TokenIssuer::new(keys.clone(), config.clone(), clock.clone())?;
//! let verifier = TokenVerifier::new(keys, config, clock)?;
//!
//! let issued = issuer.issue_access(NewToken::new("user-42").scope(["orders:read"]))?;
//! let claims: Claims = verifier.verify_access(issued.token.expose_secret())?;
//! assert_eq!(claims.sub, "user-42");
//! assert!(claims.has_scope("orders:read"));
//! # Ok::<(), auth_core::Error>(())
//! ```
//!
//! A [`KeySet`] holds one active signing key and older keys still accepted for verification,
//! each named by a [`KeyId`]. Access and challenge tokens are signed with the active key;
//! a token that must be in another algorithm (an OpenID Connect ID token, RS256 unless its
//! client registered another) with [`KeySet::signing_key`] for that algorithm, the first key
//! of the set in it that holds private material (so the set's order is the preference) (the JWT `kid` header, or the PASERK id in the PASETO footer). Each
//! key is fixed to one [`Algorithm`]: a token is verified with exactly the key its id names and
//! that key's algorithm, so `alg: none`, HS256 signed with a public key and the like are refused
//! before any cryptography, as are headers that carry keys (`jwk`, `jku`, `x5u`, `x5c`).
//!
//! Verification answers `Error::InvalidToken` with a [`TokenRejection`]
//! reason; time comes from the injected [`Clock`](crate::clock::Clock).

mod cache;
mod claims;
mod config;
#[cfg(feature = "jwt")]
mod jwks;
#[cfg(feature = "jwt")]
pub(crate) mod jwt;
mod key;
#[cfg(feature = "paseto")]
mod paseto;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
mod validation;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clock::SharedClock;
use crate::error::{Error, Result, TokenRejection};

pub use claims::{Audience, Claims, NewToken, NoCustomClaims, TokenKind};
pub use config::TokenConfig;
#[cfg(feature = "jwt")]
pub use jwks::{Jwk, Jwks};
pub use key::{Algorithm, Key, KeyId, KeySet};

use key::Material;

/// A freshly issued token and what the caller needs to hand it out.
pub struct IssuedToken {
    /// The token itself; expose it only to send it to its holder.
    pub token: SecretString,
    /// Its unique id (`jti`).
    pub jti: String,
    /// When it expires (`exp`).
    pub expires_at: SystemTime,
    /// The key that signed it.
    pub kid: KeyId,
    /// What it is for.
    pub kind: TokenKind,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("jti", &self.jti)
            .field("expires_at", &self.expires_at)
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .finish()
    }
}

/// Issues tokens with the active key of a [`KeySet`]; the key's algorithm picks the format.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    keys: Arc<KeySet>,
    config: Arc<TokenConfig>,
    clock: SharedClock,
}

impl TokenIssuer {
    /// An issuer signing with `keys`' active key. `Error::Config` if the configuration is out of
    /// range or the set has no active key.
    pub fn new(keys: Arc<KeySet>, config: TokenConfig, clock: SharedClock) -> Result<Self> {
        config.validate()?;
        if keys.active().is_none() {
            return Err(Error::Config(
                "the key set has no active signing key".into(),
            ));
        }
        Ok(Self {
            keys,
            config: Arc::new(config),
            clock,
        })
    }

    /// Issues an access token.
    pub fn issue_access<C: Serialize>(&self, token: NewToken<C>) -> Result<IssuedToken> {
        self.issue(TokenKind::Access, token)
    }

    /// Issues a token of `kind`, valid from now for the configured lifetime of that kind unless
    /// `token` sets its own.
    pub fn issue<C: Serialize>(&self, kind: TokenKind, token: NewToken<C>) -> Result<IssuedToken> {
        let key = self
            .keys
            .active()
            .ok_or_else(|| Error::Config("the key set has no active signing key".into()))?;
        self.issue_with(key, kind, token)
    }

    /// [`issue`](Self::issue), signed with the key set's signing key for `algorithm`
    /// ([`KeySet::signing_key`]) rather than the active key: an ID token in the algorithm its
    /// client registered. `Error::Config` if the set has no such key.
    pub fn issue_as<C: Serialize>(
        &self,
        algorithm: Algorithm,
        kind: TokenKind,
        token: NewToken<C>,
    ) -> Result<IssuedToken> {
        let key = self
            .keys
            .signing_key(algorithm)
            .ok_or_else(|| Error::Config(format!("the key set has no {algorithm} signing key")))?;
        self.issue_with(key, kind, token)
    }

    fn issue_with<C: Serialize>(
        &self,
        key: &Key,
        kind: TokenKind,
        token: NewToken<C>,
    ) -> Result<IssuedToken> {
        if token.subject.is_empty() {
            return Err(Error::Config("a token needs a subject".into()));
        }
        let ttl = token.ttl.unwrap_or(match kind {
            TokenKind::Access | TokenKind::IdToken => self.config.access_ttl,
            TokenKind::MfaChallenge => self.config.mfa_challenge_ttl,
        });
        let ttl = i64::try_from(ttl.as_secs())
            .ok()
            .filter(|seconds| *seconds > 0)
            .ok_or_else(|| Error::Config("token lifetime out of range".into()))?;
        let scope = token.scope_claim()?;
        let now = self.clock.unix_seconds();
        let exp = now
            .checked_add(ttl)
            .ok_or_else(|| Error::Config("token lifetime out of range".into()))?;
        let claims = Claims {
            iss: self.config.issuer.clone(),
            sub: token.subject,
            aud: token
                .audience
                .unwrap_or_else(|| Audience::from(self.config.audience.as_str())),
            exp,
            iat: now,
            nbf: Some(now),
            jti: new_jti(),
            sid: token.session_id,
            scope,
            amr: token.amr,
            auth_time: token.auth_time,
            client_id: token.client_id,
            custom: token.custom,
        };
        let encoded = match key.material() {
            #[cfg(feature = "jwt")]
            Material::Jwt(jwt) => jwt::sign(jwt, key.id(), kind, &claims_json(&claims)?)?,
            #[cfg(feature = "paseto")]
            Material::Paseto(paseto) => paseto::issue(
                paseto,
                key.id(),
                kind,
                claims_value(&claims)?,
                self.config.implicit_assertion.as_deref(),
            )?,
        };
        Ok(IssuedToken {
            token: SecretString::from(encoded),
            jti: claims.jti,
            expires_at: unix_time(exp),
            kid: key.id().clone(),
            kind,
        })
    }

    /// The keys this issuer signs with.
    pub fn keys(&self) -> &Arc<KeySet> {
        &self.keys
    }
}

/// Verifies tokens against a [`KeySet`], which may hold verification keys only.
///
/// Cheap to clone; clones share keys, configuration and the verified-token cache.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    keys: Arc<KeySet>,
    config: Arc<TokenConfig>,
    clock: SharedClock,
    cache: Option<Arc<cache::VerifiedTokenCache>>,
}

impl TokenVerifier {
    /// A verifier accepting tokens signed by any key of `keys`. `Error::Config` if the
    /// configuration is out of range.
    pub fn new(keys: Arc<KeySet>, config: TokenConfig, clock: SharedClock) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            keys,
            config: Arc::new(config),
            clock,
            cache: None,
        })
    }

    /// Remembers up to `capacity` verified access tokens, so that
    /// [`verify_access_cached`](Self::verify_access_cached) answers a repeat without checking
    /// its signature again (0 turns the cache off). Entries are keyed by the SHA-256 of the
    /// token, never the token itself, and hold its standard claims; when the cache is full it
    /// starts afresh. A hit re-checks the claims against the clock and configuration exactly as
    /// a first verification does (expiry, not-before and issue time with the leeway, issuer,
    /// audience), so a cached token stops working at the same second an uncached one would.
    ///
    /// The cache belongs to this verifier and its clones, so every entry was vouched for by
    /// this verifier's keys. It answers for the signature only: revocation (a session's `sid`)
    /// is the caller's to check on every request, hit or not, as
    /// `flows::Authenticator::authenticate` does.
    pub fn with_cache(mut self, capacity: usize) -> Self {
        self.cache = (capacity > 0).then(|| Arc::new(cache::VerifiedTokenCache::new(capacity)));
        self
    }

    /// How many verified tokens the cache holds (0 without a cache).
    pub fn cached_tokens(&self) -> usize {
        self.cache.as_ref().map_or(0, |cache| cache.len())
    }

    /// Verifies an access token with the standard claims, through the verified-token cache
    /// when this verifier has one ([`with_cache`](Self::with_cache)); without one, the same as
    /// [`verify_access`](Self::verify_access).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use auth_core::clock::SystemClock;
    /// # use auth_core::token::{Algorithm, Key, KeySet, NewToken, TokenConfig, TokenIssuer, TokenVerifier};
    /// # use secrecy::ExposeSecret;
    /// # let keys = Arc::new(KeySet::new(Key::generate(Algorithm::default())?)?);
    /// # let config = TokenConfig::new("https://auth.example.com", "api");
    /// # let issuer = TokenIssuer::new(keys.clone(), config.clone(), Arc::new(SystemClock))?;
    /// let verifier = TokenVerifier::new(keys, config, Arc::new(SystemClock))?.with_cache(10_000);
    /// let issued = issuer.issue_access(NewToken::new("user-42"))?;
    /// let first = verifier.verify_access_cached(issued.token.expose_secret())?; // signature checked
    /// let again = verifier.verify_access_cached(issued.token.expose_secret())?; // from the cache
    /// assert_eq!(first, again);
    /// assert_eq!(verifier.cached_tokens(), 1);
    /// # Ok::<(), auth_core::Error>(())
    /// ```
    pub fn verify_access_cached(&self, token: &str) -> Result<Claims> {
        self.verify_access_cached_for(token, &self.config.audience)
    }

    /// [`verify_access_cached`](Self::verify_access_cached), with `audience` in place of the
    /// configured one: for a resource server of its own audience asking about a token
    /// (introspection). The cache is shared: an entry vouches for the signature only, and the
    /// claims, the audience among them, are checked again on every hit.
    pub fn verify_access_cached_for(&self, token: &str, audience: &str) -> Result<Claims> {
        if token.len() > self.config.max_token_len {
            return Err(TokenRejection::TooLarge.into());
        }
        let now = self.clock.unix_seconds();
        let Some(cache) = &self.cache else {
            let claims: Claims = self.authenticate(token, TokenKind::Access)?;
            validation::validate_claims_for(&claims, now, &self.config, audience)?;
            return Ok(claims);
        };
        let key = crate::id::SecretHash::of(token.as_bytes());
        if let Some(claims) = cache.get(&key, now, self.config.leeway_seconds()) {
            validation::validate_claims_for(&claims, now, &self.config, audience)?;
            return Ok(Claims::clone(&claims));
        }
        let claims: Claims = self.authenticate(token, TokenKind::Access)?;
        validation::validate_claims_for(&claims, now, &self.config, audience)?;
        cache.put(key, Arc::new(claims.clone()));
        Ok(claims)
    }

    /// Verifies an access token and returns its claims.
    pub fn verify_access<C: DeserializeOwned>(&self, token: &str) -> Result<Claims<C>> {
        self.verify(token, TokenKind::Access)
    }

    /// Verifies a token that must be of `kind`: its size, key, algorithm, signature or tag, type,
    /// expiry, not-before and issue times (with the configured leeway), issuer and audience.
    pub fn verify<C: DeserializeOwned>(&self, token: &str, kind: TokenKind) -> Result<Claims<C>> {
        if token.len() > self.config.max_token_len {
            return Err(TokenRejection::TooLarge.into());
        }
        let claims = self.authenticate(token, kind)?;
        validation::validate_claims(&claims, self.clock.unix_seconds(), &self.config)?;
        Ok(claims)
    }

    /// Verifies an ID token this server issued, presented back as a hint (a logout
    /// request's `id_token_hint`): its size, key, algorithm, signature, type and issuer, but
    /// neither its times nor its audience (OpenID Connect RP-Initiated Logout 1.0 section 2:
    /// an expired ID token is still a hint; its audience is a client, not this server).
    pub fn verify_id_token_hint<C: DeserializeOwned>(&self, token: &str) -> Result<Claims<C>> {
        if token.len() > self.config.max_token_len {
            return Err(TokenRejection::TooLarge.into());
        }
        let claims: Claims<C> = self.authenticate(token, TokenKind::IdToken)?;
        if claims.iss != self.config.issuer {
            return Err(TokenRejection::WrongIssuer.into());
        }
        Ok(claims)
    }

    /// The keys this verifier accepts.
    pub fn keys(&self) -> &Arc<KeySet> {
        &self.keys
    }

    fn authenticate<C: DeserializeOwned>(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> std::result::Result<Claims<C>, TokenRejection> {
        let is_paseto = token.starts_with("v4.public.") || token.starts_with("v4.local.");
        match is_paseto {
            #[cfg(feature = "paseto")]
            true => paseto::verify(
                &self.keys,
                token,
                kind,
                self.config.implicit_assertion.as_deref(),
            ),
            #[cfg(feature = "jwt")]
            false => jwt::verify(&self.keys, token, kind),
            #[allow(unreachable_patterns)]
            _ => Err(TokenRejection::Malformed),
        }
    }
}

/// 128 random bits, base64url.
fn new_jti() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unix_time(seconds: i64) -> SystemTime {
    let offset = Duration::from_secs(seconds.unsigned_abs());
    if seconds >= 0 {
        UNIX_EPOCH + offset
    } else {
        UNIX_EPOCH - offset
    }
}

fn custom_claims_error(_: serde_json::Error) -> Error {
    Error::Config("custom claims must serialize as a JSON object of new names".into())
}

#[cfg(feature = "jwt")]
fn claims_json<C: Serialize>(claims: &Claims<C>) -> Result<Vec<u8>> {
    serde_json::to_vec(claims).map_err(custom_claims_error)
}

#[cfg(feature = "paseto")]
fn claims_value<C: Serialize>(claims: &Claims<C>) -> Result<serde_json::Value> {
    serde_json::to_value(claims).map_err(custom_claims_error)
}
