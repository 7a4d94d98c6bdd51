//! Client authentication by `private_key_jwt` (see [`crate::oauth::keys`]): the client's keys
//! read (inline, or fetched from its `jwks_uri` and cached), the assertion verified, its `jti`
//! used once.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::Authenticator;
use crate::error::{Error, Result};
use crate::oauth::keys::{AssertionRefusal, asserted_client};
use crate::oauth::{Client, ClientAuthMethod, ClientId, ClientKeys, ErrorCode, OAuthError};

/// Where the keys of a client registered with a `jwks_uri` come from: an HTTP client under
/// the deployment's rules (auth-tower's `JwksFetcher`: https only, no private, loopback,
/// link-local or metadata address unless allowed, timeouts, a size limit).
#[async_trait]
pub trait ClientKeySource: Send + Sync + fmt::Debug {
    /// Whether `uri` may be registered as a client's `jwks_uri`, judged from the address as
    /// written (its scheme, an IP literal); why not otherwise. Every fetch is judged again by
    /// where the name resolves.
    fn admits(&self, uri: &url::Url) -> std::result::Result<(), String>;

    /// The JWK Set at `uri`, as text; [`Error::Unavailable`] saying why it could not be read.
    async fn fetch(&self, uri: &url::Url) -> Result<String>;
}

/// How long fetched keys are used before they are fetched again.
const KEYS_FRESH_FOR: Duration = Duration::from_secs(300);
/// How soon an address is fetched again after any fetch: for keys that verify nothing (a
/// new `kid`), and after a failed fetch (which answers from memory until then).
const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// How long keys fetched last are still used while their address fails.
const STALE_FOR: Duration = Duration::from_secs(3600);
/// The most addresses remembered; past it the cache starts afresh.
const MAX_CACHED_SETS: usize = 1000;

/// What is known of one address.
#[derive(Default)]
struct Entry {
    /// The keys it served last, and when.
    keys: Option<(Arc<str>, SystemTime)>,
    /// When it was last fetched (or tried), and why that failed, if it did.
    tried: Option<(SystemTime, Option<String>)>,
}

/// The [`ClientKeySource`], and what it fetched, by address: one fetch at a time per address,
/// at most one every [`REFETCH_AFTER`], the last good keys kept through failures for
/// [`STALE_FOR`].
pub(super) struct KeyCache {
    source: Option<Arc<dyn ClientKeySource>>,
    entries: Mutex<HashMap<String, Entry>>,
    /// Held while an address is fetched.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    clock: crate::clock::SharedClock,
}

fn age(now: SystemTime, at: SystemTime) -> Duration {
    now.duration_since(at).unwrap_or_default()
}

impl KeyCache {
    pub(super) fn new(
        source: Option<Arc<dyn ClientKeySource>>,
        clock: crate::clock::SharedClock,
    ) -> Self {
        Self {
            source,
            entries: Mutex::default(),
            fetching: Mutex::default(),
            clock,
        }
    }

    /// The answer memory gives for `uri` without a fetch, if it gives one: fresh keys (with
    /// `again`, keys fetched within [`REFETCH_AFTER`]); after a fetch within
    /// [`REFETCH_AFTER`], the keys kept or that fetch's failure.
    fn remembered(&self, uri: &str, again: bool) -> Option<std::result::Result<Arc<str>, String>> {
        let now = self.clock.now();
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(uri)?;
        let fresh_for = if again { REFETCH_AFTER } else { KEYS_FRESH_FOR };
        if let Some((keys, at)) = &entry.keys
            && age(now, *at) < fresh_for
        {
            return Some(Ok(keys.clone()));
        }
        match &entry.tried {
            Some((at, failure)) if age(now, *at) < REFETCH_AFTER => match (&entry.keys, failure) {
                (Some((keys, kept)), _) if age(now, *kept) < STALE_FOR => Some(Ok(keys.clone())),
                (_, Some(why)) => Some(Err(why.clone())),
                (_, None) => None,
            },
            _ => None,
        }
    }

    /// The keys at `uri` (see [`Self::remembered`]), fetched when memory has no answer;
    /// the reason when there are none to be had.
    async fn keys(&self, uri: &str, again: bool) -> std::result::Result<Arc<str>, String> {
        if let Some(answer) = self.remembered(uri, again) {
            return answer;
        }
        let Some(source) = &self.source else {
            return Err("this server fetches no client keys".into());
        };
        let lock = self
            .fetching
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(uri.to_owned())
            .or_default()
            .clone();
        let _fetching = lock.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(answer) = self.remembered(uri, again) {
            return answer;
        }
        let fetched = self.fetch(source.as_ref(), uri).await;
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_CACHED_SETS && !entries.contains_key(uri) {
            entries.clear();
            self.fetching
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        let entry = entries.entry(uri.to_owned()).or_default();
        match fetched {
            Ok(keys) => {
                entry.keys = Some((keys.clone(), now));
                entry.tried = Some((now, None));
                Ok(keys)
            }
            Err(why) => {
                entry.tried = Some((now, Some(why.clone())));
                match &entry.keys {
                    Some((keys, kept)) if age(now, *kept) < STALE_FOR => {
                        tracing::warn!(
                            uri,
                            why,
                            "a client's keys could not be fetched again; the last ones are used"
                        );
                        Ok(keys.clone())
                    }
                    _ => Err(why),
                }
            }
        }
    }

    async fn fetch(
        &self,
        source: &dyn ClientKeySource,
        uri: &str,
    ) -> std::result::Result<Arc<str>, String> {
        let parsed = url::Url::parse(uri).map_err(|_| "jwks_uri: not a URL".to_owned())?;
        source
            .admits(&parsed)
            .map_err(|why| format!("jwks_uri: {why}"))?;
        let text = source.fetch(&parsed).await.map_err(|error| match error {
            Error::Unavailable(why) => why,
            other => other.to_string(),
        })?;
        let keys = crate::oauth::keys::usable_jwks(&text)
            .map_err(|error| format!("the jwks_uri answered no usable JWK Set ({error})"))?;
        Ok(keys.into())
    }

    /// Whether `uri` may be registered: the source's judgement; refused without a source.
    pub(super) fn admits(&self, uri: &str) -> Result<()> {
        let refuse = |why: String| Err(Error::InvalidRequest(format!("jwks_uri: {why}")));
        let Some(source) = &self.source else {
            return refuse(
                "this server fetches no client keys; register them inline (jwks)".into(),
            );
        };
        let parsed = url::Url::parse(uri)
            .map_err(|_| Error::InvalidRequest("jwks_uri: not an absolute URL".into()))?;
        source.admits(&parsed).or_else(refuse)
    }
}

/// `401 invalid_client`, saying `why`.
fn refused(why: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClient, why)
}

impl Authenticator {
    /// Authenticates a client by `assertion` (a `client_assertion` of
    /// [`ASSERTION_TYPE`](crate::oauth::keys::ASSERTION_TYPE)) from the client address
    /// `from`, `client_id` being the form's when it sent one. Attempts are counted as those
    /// with a secret are ([`Authenticator::authenticate_client`]); outer errors are
    /// [`Error::Throttled`] and a store that cannot answer. The refusal says why once the
    /// assertion is verified by one of the client's keys (a wrong `aud`, a `jti` used
    /// already); before that, only that authentication failed (or that the client's keys
    /// could not be fetched; the log says why).
    pub async fn authenticate_client_assertion(
        &self,
        client_id: Option<&str>,
        assertion: &str,
        from: Option<IpAddr>,
    ) -> Result<std::result::Result<Client, OAuthError>> {
        let asserted = asserted_client(assertion);
        if let (Some(sent), Some(asserted)) = (client_id, &asserted)
            && sent != asserted
        {
            return Ok(Err(refused("client_id differs from the assertion's sub")));
        }
        let id = asserted
            .as_deref()
            .or(client_id)
            .and_then(|id| ClientId::parse(id).ok());
        let (attempt, found) = self.client_attempt(id.as_ref(), from).await?;
        let client = match found {
            Some(client) if client.auth_method == ClientAuthMethod::PrivateKeyJwt => client,
            _ => {
                tracing::debug!(?id, "client assertion from no client of private_key_jwt");
                attempt.failed().await?;
                return Ok(Err(refused("client authentication failed")));
            }
        };
        let verdict = self.verify_client_assertion(&client, assertion).await;
        let assertion = match verdict {
            Ok(assertion) => assertion,
            Err(Unverified::KeysUnreadable(why)) => {
                // Counted all the same: no caller makes the server fetch without end. What
                // went wrong is for the operator's log, not for whoever asked.
                tracing::warn!(client = %client.id, why, "a client's keys could not be fetched");
                attempt.failed().await?;
                return Ok(Err(refused("the client's keys could not be fetched")));
            }
            Err(Unverified::Refused(why)) => {
                attempt.failed().await?;
                return Ok(Err(refused(why)));
            }
        };
        let now = self.now();
        let leeway = self.inner.config.tokens.leeway;
        let until = std::time::UNIX_EPOCH
            + Duration::from_secs(u64::try_from(assertion.exp).unwrap_or(0))
            + leeway;
        let first_use = self
            .inner
            .stores
            .revocations
            .use_once(
                &format!(
                    "client-assertion:{}:{}",
                    client.id,
                    crate::id::SecretHash::of(assertion.jti.as_bytes()).to_base64url()
                ),
                now,
                until,
            )
            .await;
        match first_use {
            Ok(true) => Ok(Ok(client)),
            Ok(false) => {
                attempt.failed().await?;
                Ok(Err(refused("the client assertion's jti was used already")))
            }
            Err(error) => Err(error),
        }
    }

    /// `assertion` checked against `client`'s keys, fetched once more when none verifies it.
    async fn verify_client_assertion(
        &self,
        client: &Client,
        assertion: &str,
    ) -> std::result::Result<crate::oauth::keys::Assertion, Unverified> {
        let mut again = false;
        loop {
            let keys: Arc<str> = match &client.keys {
                Some(ClientKeys::Inline(jwks)) => jwks.as_str().into(),
                Some(ClientKeys::Uri(uri)) => self
                    .inner
                    .client_keys
                    .keys(uri, again)
                    .await
                    .map_err(Unverified::KeysUnreadable)?,
                None => return Err(Unverified::Refused("client authentication failed")),
            };
            match self.check_client_assertion(client, assertion, &keys) {
                Err(AssertionRefusal::NoKey)
                    if !again && matches!(client.keys, Some(ClientKeys::Uri(_))) =>
                {
                    again = true;
                }
                Err(AssertionRefusal::NoKey) => {
                    tracing::debug!(client = %client.id, "no key of the client verifies the assertion");
                    return Err(Unverified::Refused("client authentication failed"));
                }
                Err(AssertionRefusal::Unverified(why)) => {
                    // Said only once a key of the client vouches for the assertion.
                    tracing::debug!(client = %client.id, why, "client assertion refused");
                    return Err(Unverified::Refused("client authentication failed"));
                }
                Err(AssertionRefusal::Refused(why)) => return Err(Unverified::Refused(why)),
                Ok(assertion) => return Ok(assertion),
            }
        }
    }

    #[cfg(feature = "jwt")]
    fn check_client_assertion(
        &self,
        client: &Client,
        assertion: &str,
        keys: &str,
    ) -> std::result::Result<crate::oauth::keys::Assertion, AssertionRefusal> {
        let tokens = &self.inner.config.tokens;
        crate::oauth::keys::verify_assertion(
            assertion,
            client.id.as_str(),
            keys,
            &tokens.issuer,
            self.inner.clock.unix_seconds(),
            i64::try_from(tokens.leeway.as_secs()).unwrap_or(i64::MAX),
        )
    }

    #[cfg(not(feature = "jwt"))]
    fn check_client_assertion(
        &self,
        _: &Client,
        _: &str,
        _: &str,
    ) -> std::result::Result<crate::oauth::keys::Assertion, AssertionRefusal> {
        Err(AssertionRefusal::Refused(
            "this build verifies no JWTs (the jwt feature is off)",
        ))
    }
}

/// Why an assertion was not verified.
enum Unverified {
    /// The keys at the client's `jwks_uri` could not be had.
    KeysUnreadable(String),
    /// Refused, for the reason given.
    Refused(&'static str),
}
