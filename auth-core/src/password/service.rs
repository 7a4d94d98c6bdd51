//! [`PasswordService`]: policy, breached-password check and bounded hashing in one place.

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use super::breached::BreachedPasswordCheck;
use super::common::{self, CommonPasswords};
use super::hash::{self, Argon2Params, Verification};
use super::policy::{NormalizedPassword, PasswordPolicy};
use super::pool::HashPool;
use crate::error::{Error, PasswordRejection, Result};

/// What to do with a new password when the breached-password check cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BreachCheckFailure {
    /// Accept the password and log a warning (the check is defence in depth).
    #[default]
    Allow,
    /// Refuse the password as [`PasswordRejection::BreachCheckUnavailable`].
    Refuse,
}

/// Configuration of a [`PasswordService`].
#[derive(Debug, Clone)]
pub struct PasswordConfig {
    /// Argon2id parameters for new hashes; stored hashes with others are upgraded on login.
    pub argon2: Argon2Params,
    /// Length limits for new passwords.
    pub policy: PasswordPolicy,
    /// Hashes that may run at once (default: the number of cores). Memory held by hashing
    /// is at most this times the Argon2 memory cost.
    pub max_concurrent_hashes: usize,
    /// Hashes that may wait for a free slot before further requests get [`Error::Busy`]
    /// (default: eight per concurrent slot).
    pub max_queued_hashes: usize,
    /// What to do when the breached-password check fails.
    pub on_breach_check_failure: BreachCheckFailure,
    /// Refuse the passwords of [`CommonPasswords::shipped`] (default: true).
    pub refuse_common_passwords: bool,
    /// Words no new password may be built on (see [`PasswordService::check_new_password`]),
    /// besides the ones each call gives: the product's name, say.
    pub context_words: Vec<String>,
    /// Niceness of the hashing threads, 0 to 19 (default 0: the process's own): on Linux each
    /// raises its own to this when it starts (never lowers it, so a service started with `nice`
    /// keeps its own), so that request handling and a local database get the CPU first.
    /// Ignored on other platforms.
    ///
    /// Measured on two cores before choosing the default (`benches/README.md`): at 10, a login
    /// storm's refresh p99 stayed about the same as at 0 once hashing stopped faulting in fresh
    /// memory, but with two logins at a time the kernel's load balancer left both niced
    /// threads on one core and logins fell from 97 to 36 per second. Raise it only where
    /// hashing shares cores with latency-critical work and the balance is measured.
    pub hash_thread_niceness: u8,
}

impl PasswordConfig {
    /// Largest [`PasswordConfig::hash_thread_niceness`]: the lowest priority there is.
    pub const MAX_HASH_THREAD_NICENESS: u8 = 19;
    /// Default [`PasswordConfig::hash_thread_niceness`].
    pub const DEFAULT_HASH_THREAD_NICENESS: u8 = 0;
}

impl Default for PasswordConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            argon2: Argon2Params::default(),
            policy: PasswordPolicy::default(),
            max_concurrent_hashes: cores,
            max_queued_hashes: cores * 8,
            on_breach_check_failure: BreachCheckFailure::default(),
            refuse_common_passwords: true,
            context_words: Vec::new(),
            hash_thread_niceness: Self::DEFAULT_HASH_THREAD_NICENESS,
        }
    }
}

/// Hashes and verifies passwords off the async runtime, behind a bounded pool, and applies
/// the password policy and breached-password check to new passwords.
///
/// Cheap to clone: clones share one pool.
#[derive(Clone)]
pub struct PasswordService {
    inner: Arc<Inner>,
}

struct Inner {
    config: PasswordConfig,
    pool: HashPool,
    breach_check: Option<Arc<dyn BreachedPasswordCheck>>,
    dummy_hash: OnceCell<String>,
}

impl fmt::Debug for PasswordService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordService")
            .field("config", &self.inner.config)
            .field("breach_check", &self.inner.breach_check)
            .field("in_flight", &self.inner.pool.in_flight())
            .finish()
    }
}

impl PasswordService {
    /// A service with `config` and no breached-password check.
    pub fn new(config: PasswordConfig) -> Result<Self> {
        Self::build(config, None)
    }

    /// A service with `config` that refuses passwords `check` reports as breached.
    pub fn with_breach_check(
        config: PasswordConfig,
        check: Arc<dyn BreachedPasswordCheck>,
    ) -> Result<Self> {
        Self::build(config, Some(check))
    }

    fn build(
        config: PasswordConfig,
        breach_check: Option<Arc<dyn BreachedPasswordCheck>>,
    ) -> Result<Self> {
        if config.max_concurrent_hashes == 0 {
            return Err(Error::Config(
                "max_concurrent_hashes must be at least 1".into(),
            ));
        }
        if config.hash_thread_niceness > PasswordConfig::MAX_HASH_THREAD_NICENESS {
            return Err(Error::Config(format!(
                "hash_thread_niceness {} is above {}",
                config.hash_thread_niceness,
                PasswordConfig::MAX_HASH_THREAD_NICENESS
            )));
        }
        let pool = HashPool::new(
            config.max_concurrent_hashes,
            config.max_queued_hashes,
            config.hash_thread_niceness,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                pool,
                breach_check,
                dummy_hash: OnceCell::new(),
            }),
        })
    }

    /// [`Error::Busy`] at once if every hashing slot and queue place is taken, so a caller
    /// can refuse before doing the work that leads to a hash (a login's account lookup, say)
    /// instead of after it. Counted in [`hashes_refused`](Self::hashes_refused). A later hash
    /// can still be refused: this is a snapshot, not a reservation.
    pub fn refuse_if_saturated(&self) -> Result<()> {
        self.inner.pool.refuse_if_full()
    }

    /// The configuration in force.
    pub fn config(&self) -> &PasswordConfig {
        &self.inner.config
    }

    /// Hashes that are running or waiting right now.
    pub fn hashes_in_flight(&self) -> usize {
        self.inner.pool.in_flight()
    }

    /// Hashes that may be running or waiting before requests get [`Error::Busy`].
    pub fn hash_capacity(&self) -> usize {
        self.inner.pool.capacity()
    }

    /// Hashes refused with [`Error::Busy`] because the pool was full, since the service was
    /// made: a counter for saturation alerts.
    pub fn hashes_refused(&self) -> u64 {
        self.inner.pool.refused()
    }

    /// How long hashes waited for a free slot before they ran, since the service was made:
    /// queueing, as opposed to the hashing itself.
    pub fn hash_waits(&self) -> super::HashWaits {
        self.inner.pool.waits()
    }

    /// Hashes that may run at once.
    pub fn max_concurrent_hashes(&self) -> usize {
        self.inner.pool.max_running()
    }

    /// Checks a new password without hashing it: its length, then the common passwords, then
    /// the words of its context (`context`, such as the email's local part, and the
    /// configured [`PasswordConfig::context_words`]: a password that is mostly one of them,
    /// what remains too short for the policy once it is taken out, is refused), then the
    /// breached-password check. Fails with [`Error::WeakPassword`].
    pub async fn check_new_password(
        &self,
        password: &SecretString,
        context: &[&str],
    ) -> Result<NormalizedPassword> {
        let config = &self.inner.config;
        let normalized = config.policy.check(password.expose_secret())?;
        if config.refuse_common_passwords && CommonPasswords::shipped().contains(&normalized) {
            return Err(PasswordRejection::Common.into());
        }
        let words = common::context_words(
            context
                .iter()
                .copied()
                .chain(config.context_words.iter().map(String::as_str)),
        );
        if common::built_on_context(&normalized, &words, config.policy.min_chars()) {
            return Err(PasswordRejection::ContextSpecific.into());
        }
        if let Some(check) = &self.inner.breach_check {
            match check.is_breached(&normalized).await {
                Ok(false) => {}
                Ok(true) => return Err(PasswordRejection::Breached.into()),
                Err(error) => match self.inner.config.on_breach_check_failure {
                    BreachCheckFailure::Allow => {
                        tracing::warn!(error = %error, "breached-password check failed; password accepted by policy");
                    }
                    BreachCheckFailure::Refuse => {
                        tracing::warn!(error = %error, "breached-password check failed; password refused by policy");
                        return Err(PasswordRejection::BreachCheckUnavailable.into());
                    }
                },
            }
        }
        Ok(normalized)
    }

    /// Checks a new password (as [`check_new_password`](Self::check_new_password) does) and
    /// hashes it: for registration and password changes. Returns the Argon2id PHC string to
    /// store.
    pub async fn hash_new_password(
        &self,
        password: &SecretString,
        context: &[&str],
    ) -> Result<String> {
        let normalized = self.check_new_password(password, context).await?;
        self.hash_normalized(normalized).await
    }

    /// Hashes a password that already verified, to replace a hash that
    /// [`Verification::Valid`] said needs a rehash. The policy is not applied again: the user
    /// proved they know this password, and a policy that tightened since must not lock them out.
    pub async fn rehash(&self, password: &SecretString) -> Result<String> {
        let normalized = NormalizedPassword::new(password.expose_secret());
        self.hash_normalized(normalized).await
    }

    async fn hash_normalized(&self, normalized: NormalizedPassword) -> Result<String> {
        let params = self.inner.config.argon2;
        self.inner
            .pool
            .run(move || hash::hash_password(params, &normalized))
            .await?
    }

    /// Checks `password` against a stored hash (Argon2 or a legacy scheme).
    pub async fn verify(&self, password: &SecretString, stored: &str) -> Result<Verification> {
        let params = self.inner.config.argon2;
        let password = Zeroizing::new(password.expose_secret().to_owned());
        let stored = stored.to_owned();
        self.inner
            .pool
            .run(move || hash::verify_password(params, &password, &stored))
            .await?
    }

    /// Spends the same work as [`PasswordService::verify`] against a hash at the configured
    /// parameters, for a login whose account does not exist, so its timing does not reveal
    /// that. Always [`Verification::Invalid`].
    pub async fn verify_unknown_account(&self, password: &SecretString) -> Result<Verification> {
        let dummy = self.dummy_hash().await?;
        let _ = self.verify(password, dummy).await?;
        Ok(Verification::Invalid)
    }

    async fn dummy_hash(&self) -> Result<&str> {
        let params = self.inner.config.argon2;
        let dummy = self
            .inner
            .dummy_hash
            .get_or_try_init(|| async {
                let mut secret = [0u8; 32];
                rand::Rng::fill(&mut rand::thread_rng(), &mut secret);
                let unguessable = NormalizedPassword::new(&base64_of(&secret));
                self.inner
                    .pool
                    .run(move || hash::hash_password(params, &unguessable))
                    .await?
            })
            .await?;
        Ok(dummy)
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests;
