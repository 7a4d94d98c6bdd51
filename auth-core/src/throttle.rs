//! Brute-force protection: failure counters per account and per client address, answered
//! with a progressive delay and then a temporary lockout (ASVS 2.2.1).
//!
//! The rules are pure functions of time: a [`ThrottlePolicy`] looks at a [`ThrottleRecord`]
//! (what a [`ThrottleStore`] counted) and the current time and says how long the next attempt
//! must wait. [`Throttle`] applies two policies, one per account and a more lenient one per
//! client address, over a store and an injected clock.
//!
//! With the per-account defaults the first five failures in an hour cost nothing; from the
//! sixth on, the next attempt waits 1 s, then 2 s, 4 s, ... up to 15 minutes; the twentieth
//! failure locks the account until the hour that began with the first failure is over.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use auth_core::store::ThrottleRecord;
//! use auth_core::throttle::{ThrottlePolicy, account_key};
//!
//! let policy = ThrottlePolicy::per_account();
//! let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let last = start + Duration::from_secs(60);
//! let record = ThrottleRecord { failures: 7, window_started_at: start, last_failure_at: last };
//!
//! // Seven failures: the next attempt waits 2 s after the last one.
//! assert_eq!(policy.retry_after(Some(&record), last), Some(Duration::from_secs(2)));
//! assert_eq!(policy.retry_after(Some(&record), last + Duration::from_secs(2)), None);
//! // No failures, no wait.
//! assert_eq!(policy.retry_after(None, last), None);
//!
//! // Case and whitespace do not make another account.
//! assert_eq!(account_key(" Alice@Example.COM "), account_key("alice@example.com"));
//! ```

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use unicode_normalization::UnicodeNormalization;

use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::id::UserId;
use crate::store::{ThrottleRecord, ThrottleStore};

const HOUR: Duration = Duration::from_secs(60 * 60);

/// When and how hard failed attempts are throttled: free failures, then a delay doubling with
/// each failure, then a lockout until the window ends. Windows start at the first failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    window: Duration,
    free_failures: u32,
    base_delay: Duration,
    max_delay: Duration,
    lockout_after: u32,
}

impl ThrottlePolicy {
    /// ASVS 2.2.1: no more than 100 failed attempts per hour on one account.
    pub const MAX_FAILURES_PER_HOUR: u32 = 100;

    /// A policy counting failures over `window`: the first `free_failures` cost nothing; after
    /// each further one the next attempt waits `base_delay`, doubled per failure, at most
    /// `max_delay`; `lockout_after` failures lock until the window ends.
    ///
    /// Refused with [`Error::Config`] unless the window is not zero, `free_failures <
    /// lockout_after`, `base_delay <= max_delay <= window`, and the lockout comes within
    /// [`MAX_FAILURES_PER_HOUR`](Self::MAX_FAILURES_PER_HOUR) failures per hour (scaled down
    /// for windows shorter than an hour; never more than that per window).
    pub fn new(
        window: Duration,
        free_failures: u32,
        base_delay: Duration,
        max_delay: Duration,
        lockout_after: u32,
    ) -> Result<Self> {
        if window.is_zero() {
            return Err(Error::Config("throttle window must not be zero".into()));
        }
        if free_failures >= lockout_after {
            return Err(Error::Config(format!(
                "throttle free failures ({free_failures}) must be fewer than the lockout \
                 threshold ({lockout_after})"
            )));
        }
        if base_delay > max_delay {
            return Err(Error::Config(format!(
                "throttle base delay ({base_delay:?}) exceeds the maximum delay ({max_delay:?})"
            )));
        }
        if max_delay > window {
            return Err(Error::Config(format!(
                "throttle maximum delay ({max_delay:?}) exceeds the window ({window:?})"
            )));
        }
        let allowed = Self::max_lockout_threshold(window);
        if u128::from(lockout_after) > allowed {
            return Err(Error::Config(format!(
                "throttle lockout after {lockout_after} failures in {window:?} allows more than \
                 {} failures per hour (at most {allowed} in this window)",
                Self::MAX_FAILURES_PER_HOUR
            )));
        }
        Ok(Self {
            window,
            free_failures,
            base_delay,
            max_delay,
            lockout_after,
        })
    }

    /// The largest lockout threshold within the ASVS bound for `window`: 100 per hour, scaled
    /// down for shorter windows and not raised for longer ones.
    fn max_lockout_threshold(window: Duration) -> u128 {
        u128::from(Self::MAX_FAILURES_PER_HOUR) * window.min(HOUR).as_nanos() / HOUR.as_nanos()
    }

    /// Per account: a one-hour window, five free failures, then 1 s doubling up to 15
    /// minutes, and a lockout at 20 failures.
    pub fn per_account() -> Self {
        Self {
            window: HOUR,
            free_failures: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            lockout_after: 20,
        }
    }

    /// Per client address, more lenient because many users can share one (NAT, offices): a
    /// one-hour window, 20 free failures, then 1 s doubling up to one minute, and a lockout
    /// at 100 failures.
    pub fn per_address() -> Self {
        Self {
            window: HOUR,
            free_failures: 20,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            lockout_after: Self::MAX_FAILURES_PER_HOUR,
        }
    }

    /// How long failures are counted, from the first failure of a window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// How many failures in a window cost no delay.
    pub fn free_failures(&self) -> u32 {
        self.free_failures
    }

    /// The delay after the first failure that is not free.
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The longest progressive delay.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// How many failures in a window lock until the window ends.
    pub fn lockout_after(&self) -> u32 {
        self.lockout_after
    }

    /// How long the next attempt must wait at `now`, given what was counted; `None` when it
    /// is allowed. A record whose window has ended counts as no record.
    ///
    /// The answer never exceeds what the policy could ask for (the current delay, or the
    /// window for a lockout), even when the clock has gone backwards.
    pub fn retry_after(
        &self,
        record: Option<&ThrottleRecord>,
        now: SystemTime,
    ) -> Option<Duration> {
        let record = record?;
        // A window end past what `SystemTime` can hold never comes.
        let window_end = record.window_started_at.checked_add(self.window);
        if window_end.is_some_and(|end| now >= end) {
            return None;
        }
        let (allowed_at, longest) = if record.failures >= self.lockout_after {
            (window_end, self.window)
        } else {
            let delay = self.delay_after(record.failures)?;
            let allowed_at = record.last_failure_at.checked_add(delay);
            (earliest(allowed_at, window_end), delay)
        };
        let wait = match allowed_at {
            Some(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
            None => longest,
        };
        Some(wait.min(longest)).filter(|wait| !wait.is_zero())
    }

    /// The progressive delay after `failures` failures below the lockout threshold; `None`
    /// while they are free.
    fn delay_after(&self, failures: u32) -> Option<Duration> {
        let doublings = failures.checked_sub(self.free_failures)?.checked_sub(1)?;
        let delay = match 2_u32.checked_pow(doublings) {
            Some(factor) => self.base_delay.saturating_mul(factor).min(self.max_delay),
            None => self.max_delay,
        };
        Some(delay)
    }
}

impl Default for ThrottlePolicy {
    /// [`ThrottlePolicy::per_account`].
    fn default() -> Self {
        Self::per_account()
    }
}

/// The earlier of two instants, where `None` is an instant too far to represent.
fn earliest(a: Option<SystemTime>, b: Option<SystemTime>) -> Option<SystemTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The throttle key of an account identifier (an email address): `acct:` and the identifier
/// in NFKC form, lower case, without any whitespace, so that variants of case, width and
/// spacing that reach the same account share one counter.
pub fn account_key(identifier: &str) -> String {
    let folded: String = identifier
        .nfkc()
        .flat_map(char::to_lowercase)
        // Final sigma lower-cases by context; fold it so no spelling escapes the counter.
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .filter(|c| !c.is_whitespace())
        .nfkc()
        .collect();
    format!("acct:{folded}")
}

/// The throttle key of a client address: `addr:` and the IPv4 address, or the IPv6 /64
/// network (one client usually holds a whole /64). IPv4-mapped IPv6 addresses
/// (`::ffff:a.b.c.d`) count as the IPv4 address.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("addr:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("addr:{v4}"),
            None => {
                let network = u128::from(v6) & !u128::from(u64::MAX);
                format!("addr:{}/64", std::net::Ipv6Addr::from(network))
            }
        },
    }
}

/// The throttle key counting wrong second-factor codes of a user: `mfa:` and the user id.
pub fn mfa_key(user: &UserId) -> String {
    format!("mfa:{user}")
}

/// Brute-force protection over a [`ThrottleStore`]: failures count per account and per
/// client address, each under its own [`ThrottlePolicy`].
///
/// Callers [`check`](Self::check) before verifying a credential, so a locked account gets
/// the same answer whether or not the credential is right, then record the outcome.
/// Cheap to clone: clones share the store and the clock.
#[derive(Debug, Clone)]
pub struct Throttle {
    store: Arc<dyn ThrottleStore>,
    clock: SharedClock,
    account_policy: ThrottlePolicy,
    address_policy: ThrottlePolicy,
}

impl Throttle {
    /// A throttle with [`ThrottlePolicy::per_account`] and [`ThrottlePolicy::per_address`].
    pub fn new(store: Arc<dyn ThrottleStore>, clock: SharedClock) -> Self {
        Self {
            store,
            clock,
            account_policy: ThrottlePolicy::per_account(),
            address_policy: ThrottlePolicy::per_address(),
        }
    }

    /// Replaces the policy for accounts (and raw keys such as [`mfa_key`]).
    pub fn with_account_policy(mut self, policy: ThrottlePolicy) -> Self {
        self.account_policy = policy;
        self
    }

    /// Replaces the policy for client addresses.
    pub fn with_address_policy(mut self, policy: ThrottlePolicy) -> Self {
        self.address_policy = policy;
        self
    }

    /// The policy for accounts and raw keys.
    pub fn account_policy(&self) -> ThrottlePolicy {
        self.account_policy
    }

    /// The policy for client addresses.
    pub fn address_policy(&self) -> ThrottlePolicy {
        self.address_policy
    }

    /// Whether an attempt on `account` from `client` may go ahead now:
    /// [`Error::Throttled`] with the longer of the account's and the address's waits if not.
    pub async fn check(&self, account: &str, client: Option<IpAddr>) -> Result<()> {
        let now = self.clock.now();
        let account_wait = self
            .wait(&account_key(account), self.account_policy, now)
            .await?;
        let address_wait = match client {
            Some(ip) => {
                self.wait(&address_key(ip), self.address_policy, now)
                    .await?
            }
            None => None,
        };
        throttled(account_wait.max(address_wait))
    }

    /// Counts a failed attempt on `account` from `client` against both.
    pub async fn record_failure(&self, account: &str, client: Option<IpAddr>) -> Result<()> {
        let now = self.clock.now();
        self.store
            .record_failure(&account_key(account), now, self.account_policy.window)
            .await?;
        if let Some(ip) = client {
            self.store
                .record_failure(&address_key(ip), now, self.address_policy.window)
                .await?;
        }
        Ok(())
    }

    /// Forgets the failures of `account` after a successful attempt. The client address keeps
    /// its count: one valid account must not reset an address's attempts on others.
    pub async fn record_success(&self, account: &str) -> Result<()> {
        self.record_success_key(&account_key(account)).await
    }

    /// [`check`](Self::check) for a raw key (such as [`mfa_key`]), under the account policy.
    pub async fn check_key(&self, key: &str) -> Result<()> {
        let now = self.clock.now();
        throttled(self.wait(key, self.account_policy, now).await?)
    }

    /// Counts a failure against a raw key (such as [`mfa_key`]), under the account policy.
    pub async fn record_failure_key(&self, key: &str) -> Result<()> {
        let now = self.clock.now();
        self.store
            .record_failure(key, now, self.account_policy.window)
            .await?;
        Ok(())
    }

    /// Forgets the failures of a raw key.
    pub async fn record_success_key(&self, key: &str) -> Result<()> {
        self.store.clear_failures(key).await
    }

    async fn wait(
        &self,
        key: &str,
        policy: ThrottlePolicy,
        now: SystemTime,
    ) -> Result<Option<Duration>> {
        let record = self.store.throttle_record(key, now, policy.window).await?;
        Ok(policy.retry_after(record.as_ref(), now))
    }
}

fn throttled(wait: Option<Duration>) -> Result<()> {
    match wait {
        Some(retry_after) => Err(Error::Throttled { retry_after }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
