//! Brute-force protection: attempt counters per account, per account and client address, per
//! client address and per challenge, answered with a progressive delay and then a temporary
//! lockout (ASVS 2.2.1).
//!
//! # Reserve first, then check
//!
//! An attempt is counted before its secret is checked: [`Throttle::reserve_password`] (and its
//! siblings) count it atomically in every counter it belongs to, one store call each, and
//! decide from the counts those calls return. Concurrent attempts therefore each see their own
//! count, and a burst of any size gets no more checks than the policies allow: with the
//! defaults, six of a thousand wrong passwords sent at once reach the hasher. The [`Attempt`]
//! the reservation returns is settled with the outcome of the check: [`Attempt::failed`],
//! [`Attempt::succeeded`] or, when the check could not be made, [`Attempt::release`]. An
//! attempt refused by a policy is given back at once (its count, not its time).
//!
//! Beyond the free attempts, the reservation also moves the counter's last failure to now:
//! such an attempt counts as failed until it is settled, so attempts arriving together wait
//! out each other's delays instead of all finding the last delay over (after a pause, a
//! burst gets one check, not one per delay that has run out). Asking again before the delay
//! is over therefore starts it again, on that counter.
//!
//! # Whose attempts count where
//!
//! "N failures lock the account" lets anyone lock anyone out, so the strict limit is keyed on
//! the account *and* the client address ([`account_address_key`], policy
//! [`ThrottlePolicy::per_account`]): an attacker at one address is slowed after five
//! failures and locked after twenty, while the owner, signing in from elsewhere, is not. An
//! account-wide ceiling ([`account_key`], policy [`ThrottlePolicy::account_ceiling`]) catches
//! attackers spread over many addresses, and a per-address counter ([`address_key`], policy
//! [`ThrottlePolicy::per_address`]) catches one address trying many accounts. This follows
//! OWASP's Authentication Cheat Sheet, which warns that account lockout invites denial of
//! service and recommends limits per account and per source.
//!
//! A success clears the counters of the account (the owner proved who they are) but only
//! gives back its own reservation on the address counter: an attacker holding an account of
//! their own must not reset their address's count between guesses at others.
//!
//! Registrations count per client address and overall, each attempt whatever its outcome
//! ([`Throttle::reserve_registration`], plain rates: [`ThrottlePolicy::rate`]).
//!
//! A second factor counts per user ([`mfa_key`], strict: the attacker already has the
//! password), per client address and per challenge ([`challenge_key`], a budget of five,
//! after which the challenge is spent and the user logs in again).
//!
//! # The policies
//!
//! The rules are pure functions of time: a [`ThrottlePolicy`] looks at a [`ThrottleRecord`]
//! (what a [`ThrottleStore`] counted) and the current time and says how long the next attempt
//! must wait. With the per-account defaults the first five failures in an hour cost nothing;
//! from the sixth on, the next attempt waits 1 s, then 2 s, 4 s, ... up to 15 minutes; the
//! twentieth failure locks until the hour that began with the first attempt is over.
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

use crate::email::{nfkc_casefold, normalize_email};

use crate::clock::SharedClock;
use crate::error::{Error, Result, TokenRejection};
use crate::id::UserId;
use crate::intent::IntentId;
use crate::store::{ThrottleRecord, ThrottleStore};

const HOUR: Duration = Duration::from_secs(60 * 60);

/// When and how hard failed attempts are throttled: free failures, then a delay doubling with
/// each failure, then a lockout until the window ends. A window starts at the first attempt
/// counted in it.
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

    /// The account-wide ceiling over every client address, looser than
    /// [`per_account`](Self::per_account) (which is keyed on the account and the address): a
    /// one-hour window, 50 free failures, then 1 s doubling up to one minute, and a lockout at
    /// 100 failures, the ASVS bound.
    pub fn account_ceiling() -> Self {
        Self {
            window: HOUR,
            free_failures: 50,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            lockout_after: Self::MAX_FAILURES_PER_HOUR,
        }
    }

    /// A plain rate: at most `max` attempts in each `window` (from the first of them), then
    /// none until the window ends; no progressive delay. For counting what is not a failure,
    /// such as registrations, so the ASVS bound on failures does not apply. Refused with
    /// [`Error::Config`] for a zero window or a zero `max`.
    pub fn rate(window: Duration, max: u32) -> Result<Self> {
        if window.is_zero() || max == 0 {
            return Err(Error::Config(
                "a rate needs a window and at least one attempt in it".into(),
            ));
        }
        let delay = window.min(Duration::from_secs(1));
        Ok(Self {
            window,
            free_failures: max - 1,
            base_delay: delay,
            max_delay: delay,
            lockout_after: max,
        })
    }

    /// Registrations per client address: 20 an hour.
    pub fn registrations_per_address() -> Self {
        Self {
            window: HOUR,
            free_failures: 19,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(1),
            lockout_after: 20,
        }
    }

    /// Passkey ceremonies begun by one client address (the options of a registration, a
    /// sign-in, a second factor, a reauthentication or a reset): 60 a minute. Each stores state
    /// until it is finished or expires.
    pub fn passkey_ceremonies_per_address() -> Self {
        Self {
            window: Duration::from_secs(60),
            free_failures: 59,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(1),
            lockout_after: 60,
        }
    }

    /// Registrations over every address: 600 a minute, which keeps the hashing pool of a
    /// small deployment for logins.
    pub fn registrations_overall() -> Self {
        Self {
            window: Duration::from_secs(60),
            free_failures: 599,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(1),
            lockout_after: 600,
        }
    }

    /// Mails asked for one recipient (verification, reset, sign-in, change of address): 5
    /// an hour, so no one can be mail-bombed through the server.
    pub fn mail_per_recipient() -> Self {
        Self {
            window: HOUR,
            free_failures: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(1),
            lockout_after: 5,
        }
    }

    /// Mails asked for from one client address, whatever the recipients: 30 an hour.
    pub fn mail_per_address() -> Self {
        Self {
            window: HOUR,
            free_failures: 29,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(1),
            lockout_after: 30,
        }
    }

    /// The budget of one second-factor challenge: five attempts, then it is spent (the
    /// challenge expires long before the one-hour window does).
    pub fn per_challenge() -> Self {
        Self {
            window: HOUR,
            free_failures: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(1),
            lockout_after: 5,
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

    /// How long failures are counted, from the first attempt of a window.
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

    /// How long the attempt whose reservation returned `counted` must wait at `now`; `None`
    /// when it may be checked. The attempts counted before it (failed, or reserved and still
    /// being checked) decide, as [`retry_after`](Self::retry_after) would for them.
    pub fn wait_for_reserved(&self, counted: &ThrottleRecord, now: SystemTime) -> Option<Duration> {
        let before = ThrottleRecord {
            failures: counted.failures.saturating_sub(1),
            ..*counted
        };
        self.retry_after(Some(&before), now)
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

/// The throttle key of an account identifier (an email address): `acct:` and the address as
/// [`normalize_email`] stores it, so every spelling that reaches an account shares its
/// counter. What is no address is folded the same way without its whitespace, so variants
/// of a refused identifier share a counter too.
pub fn account_key(identifier: &str) -> String {
    let key = normalize_email(identifier).unwrap_or_else(|_| {
        let spaceless: String = identifier.chars().filter(|c| !c.is_whitespace()).collect();
        nfkc_casefold(&spaceless)
    });
    format!("acct:{key}")
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

/// The key of the strict counter of an account at one client address: the
/// [`address_key`] (or `addr:unknown` when the address is not known), `|` and the
/// [`account_key`].
pub fn account_address_key(identifier: &str, client: Option<IpAddr>) -> String {
    let address = client.map_or_else(|| "addr:unknown".to_owned(), address_key);
    format!("{address}|{}", account_key(identifier))
}

/// The throttle key counting wrong second-factor codes of a user: `mfa:` and the user id.
pub fn mfa_key(user: &UserId) -> String {
    format!("mfa:{user}")
}

/// The throttle key counting registrations from a client address: `register:` and the
/// [`address_key`]; `register:all` for the count over every address.
pub fn registration_key(client: Option<IpAddr>) -> String {
    match client {
        Some(ip) => format!("register:{}", address_key(ip)),
        None => "register:all".to_owned(),
    }
}

/// The throttle key counting mails asked for the normalised address `recipient`:
/// `mail:to:` and the address.
pub fn mail_recipient_key(recipient: &str) -> String {
    format!("mail:to:{recipient}")
}

/// The throttle key counting mails asked for from a client address: `mail:from:` and the
/// [`address_key`].
pub fn mail_address_key(ip: IpAddr) -> String {
    format!("mail:from:{}", address_key(ip))
}

/// The throttle key of an OAuth client's secret tried from one client address: the
/// [`address_key`] (or `addr:unknown`), `|client:` and the client id (case sensitive).
pub fn client_address_key(client_id: &str, client: Option<IpAddr>) -> String {
    let address = client.map_or_else(|| "addr:unknown".to_owned(), address_key);
    format!("{address}|client:{client_id}")
}

/// The throttle key of one second-factor challenge: `challenge:` and its token id (`jti`).
pub fn challenge_key(jti: &str) -> String {
    format!("challenge:{jti}")
}

/// What a success does to a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSuccess {
    /// Nothing: the attempt stays counted (a rate, such as registrations, counts every
    /// attempt whatever its outcome).
    Keep,
    /// Forgets every failure counted: for counters of the account whose owner just proved
    /// who they are.
    Clear,
    /// Gives back only this attempt's reservation: for counters others share, such as a
    /// client address.
    Release,
}

/// One counter an attempt is reserved in: its key, its policy and what a success does to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    /// The throttle key.
    pub key: String,
    /// The policy deciding from its count.
    pub policy: ThrottlePolicy,
    /// What a success does to it.
    pub on_success: OnSuccess,
    /// Whether a refusal means that what it counts is used up (a challenge), so the answer is
    /// an inactive token rather than a wait.
    pub spent_when_refused: bool,
}

impl Counter {
    /// A counter under `policy`.
    pub fn new(key: String, policy: ThrottlePolicy, on_success: OnSuccess) -> Self {
        Self {
            key,
            policy,
            on_success,
            spent_when_refused: false,
        }
    }

    /// The counter of something that is used up when its policy refuses: the refusal answers
    /// [`TokenRejection::NotActive`].
    pub fn spent_when_refused(mut self) -> Self {
        self.spent_when_refused = true;
        self
    }
}

/// Brute-force protection over a [`ThrottleStore`]: every check of a secret reserves an
/// [`Attempt`] first (see the [module documentation](self)).
///
/// Cheap to clone: clones share the store and the clock.
#[derive(Debug, Clone)]
pub struct Throttle {
    store: Arc<dyn ThrottleStore>,
    clock: SharedClock,
    account_policy: ThrottlePolicy,
    ceiling_policy: ThrottlePolicy,
    address_policy: ThrottlePolicy,
    challenge_policy: ThrottlePolicy,
    registration_policy: ThrottlePolicy,
    registrations_overall: ThrottlePolicy,
    mail_per_recipient: ThrottlePolicy,
    mail_per_address: ThrottlePolicy,
    passkey_ceremonies: ThrottlePolicy,
}

impl Throttle {
    /// A throttle with the default policies: [`ThrottlePolicy::per_account`],
    /// [`ThrottlePolicy::account_ceiling`], [`ThrottlePolicy::per_address`] and
    /// [`ThrottlePolicy::per_challenge`].
    pub fn new(store: Arc<dyn ThrottleStore>, clock: SharedClock) -> Self {
        Self {
            store,
            clock,
            account_policy: ThrottlePolicy::per_account(),
            ceiling_policy: ThrottlePolicy::account_ceiling(),
            address_policy: ThrottlePolicy::per_address(),
            challenge_policy: ThrottlePolicy::per_challenge(),
            registration_policy: ThrottlePolicy::registrations_per_address(),
            registrations_overall: ThrottlePolicy::registrations_overall(),
            mail_per_recipient: ThrottlePolicy::mail_per_recipient(),
            mail_per_address: ThrottlePolicy::mail_per_address(),
            passkey_ceremonies: ThrottlePolicy::passkey_ceremonies_per_address(),
        }
    }

    /// The longest window of its policies: a counter whose window started longer ago than
    /// this can no longer count against anyone (what a purge of the counters needs).
    pub fn longest_window(&self) -> Duration {
        [
            self.account_policy,
            self.ceiling_policy,
            self.address_policy,
            self.challenge_policy,
            self.registration_policy,
            self.registrations_overall,
            self.mail_per_recipient,
            self.mail_per_address,
            self.passkey_ceremonies,
        ]
        .iter()
        .map(ThrottlePolicy::window)
        .max()
        .unwrap_or_default()
    }

    /// Replaces the rate of registrations per client address.
    pub fn with_registration_policy(mut self, policy: ThrottlePolicy) -> Self {
        self.registration_policy = policy;
        self
    }

    /// Replaces the rate of registrations over every address.
    pub fn with_registrations_overall(mut self, policy: ThrottlePolicy) -> Self {
        self.registrations_overall = policy;
        self
    }

    /// Reserves a registration from `client`: counted per address and overall, whatever its
    /// outcome (a taken email counts too, so the answer cannot enumerate accounts without
    /// limit).
    pub async fn reserve_registration(&self, client: Option<IpAddr>) -> Result<Attempt> {
        let mut counters = Vec::with_capacity(2);
        if client.is_some() {
            counters.push(Counter::new(
                registration_key(client),
                self.registration_policy,
                OnSuccess::Keep,
            ));
        }
        counters.push(Counter::new(
            registration_key(None),
            self.registrations_overall,
            OnSuccess::Keep,
        ));
        self.reserve(counters).await
    }

    /// Replaces the rates of mails asked for, per recipient and per client address.
    pub fn with_mail_policies(
        mut self,
        recipient: ThrottlePolicy,
        address: ThrottlePolicy,
    ) -> Self {
        self.mail_per_recipient = recipient;
        self.mail_per_address = address;
        self
    }

    /// Reserves a mail to the normalised address `recipient` asked for from `client`:
    /// counted per client address and per recipient whatever the outcome, before the address
    /// is looked up, so the answer is the same for every address.
    pub async fn reserve_mail(&self, recipient: &str, client: Option<IpAddr>) -> Result<Attempt> {
        let mut counters = Vec::with_capacity(2);
        if let Some(ip) = client {
            counters.push(Counter::new(
                mail_address_key(ip),
                self.mail_per_address,
                OnSuccess::Keep,
            ));
        }
        counters.push(Counter::new(
            mail_recipient_key(recipient),
            self.mail_per_recipient,
            OnSuccess::Keep,
        ));
        self.reserve(counters).await
    }

    /// Replaces the strict policy, for an account at one address (and for a user's second
    /// factor).
    pub fn with_account_policy(mut self, policy: ThrottlePolicy) -> Self {
        self.account_policy = policy;
        self
    }

    /// Replaces the account-wide ceiling.
    pub fn with_ceiling_policy(mut self, policy: ThrottlePolicy) -> Self {
        self.ceiling_policy = policy;
        self
    }

    /// Replaces the policy for client addresses.
    pub fn with_address_policy(mut self, policy: ThrottlePolicy) -> Self {
        self.address_policy = policy;
        self
    }

    /// Replaces the budget of one second-factor challenge.
    pub fn with_challenge_policy(mut self, policy: ThrottlePolicy) -> Self {
        self.challenge_policy = policy;
        self
    }

    /// The strict policy, for an account at one address and for a user's second factor.
    pub fn account_policy(&self) -> ThrottlePolicy {
        self.account_policy
    }

    /// The account-wide ceiling.
    pub fn ceiling_policy(&self) -> ThrottlePolicy {
        self.ceiling_policy
    }

    /// The policy for client addresses.
    pub fn address_policy(&self) -> ThrottlePolicy {
        self.address_policy
    }

    /// The budget of one second-factor challenge.
    pub fn challenge_policy(&self) -> ThrottlePolicy {
        self.challenge_policy
    }

    /// Reserves a password attempt on `account` from `client`: counted per address, per
    /// account at that address and account-wide, in that order.
    pub async fn reserve_password(&self, account: &str, client: Option<IpAddr>) -> Result<Attempt> {
        let mut counters = Vec::with_capacity(3);
        if let Some(ip) = client {
            counters.push(self.address_counter(ip));
        }
        counters.push(Counter::new(
            account_address_key(account, client),
            self.account_policy,
            OnSuccess::Clear,
        ));
        counters.push(Counter::new(
            account_key(account),
            self.ceiling_policy,
            OnSuccess::Clear,
        ));
        self.reserve(counters).await
    }

    /// The counters of an OAuth client's authentication as `client_id` from `client`: per
    /// address and per client id at that address (the strict policy), never per client id
    /// over every address. A client id is no secret (a public client's is in every request),
    /// so a client-wide counter would only let anyone lock every user of the client out.
    fn client_counters(&self, client_id: &str, client: Option<IpAddr>) -> Vec<Counter> {
        let mut counters = Vec::with_capacity(2);
        if let Some(ip) = client {
            counters.push(self.address_counter(ip));
        }
        counters.push(Counter::new(
            client_address_key(client_id, client),
            self.account_policy,
            OnSuccess::Clear,
        ));
        counters
    }

    /// Lets an OAuth client's authentication as `client_id` from `client` be checked, unless
    /// the failures counted so far ask for a wait ([`Error::Throttled`]). Nothing is reserved:
    /// unlike a password, a client's secret (256 bits) or private key cannot be guessed, so
    /// checking first and counting only failures ([`client_failed`](Self::client_failed))
    /// costs no safety, while a service authenticating many times at once from one address (a
    /// resource server introspecting every request) is never made to wait for its own
    /// requests in flight. A burst of concurrent failures can pass the free ones before the
    /// wait starts.
    pub async fn check_client(&self, client_id: &str, client: Option<IpAddr>) -> Result<()> {
        let now = self.clock.now();
        for counter in self.client_counters(client_id, client) {
            let record = self
                .store
                .throttle_record(&counter.key, now, counter.policy.window)
                .await?;
            if let Some(retry_after) = counter.policy.retry_after(record.as_ref(), now) {
                return Err(Error::Throttled { retry_after });
            }
        }
        Ok(())
    }

    /// An authentication as `client_id` from `client` that [`check_client`](Self::check_client)
    /// let through failed: counted in its counters (unless they refuse already, which counts
    /// nothing more).
    pub async fn client_failed(&self, client_id: &str, client: Option<IpAddr>) -> Result<()> {
        match self.reserve(self.client_counters(client_id, client)).await {
            Ok(attempt) => attempt.failed().await,
            Err(Error::Throttled { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Reserves a second-factor attempt for `user` from `client`, answering the challenge
    /// with token id `challenge` when there is one: counted per address, per challenge and
    /// per user.
    pub async fn reserve_second_factor(
        &self,
        user: &UserId,
        client: Option<IpAddr>,
        challenge: Option<&str>,
    ) -> Result<Attempt> {
        let mut counters = Vec::with_capacity(3);
        if let Some(ip) = client {
            counters.push(self.address_counter(ip));
        }
        if let Some(jti) = challenge {
            counters.push(
                Counter::new(
                    challenge_key(jti),
                    self.challenge_policy,
                    OnSuccess::Release,
                )
                .spent_when_refused(),
            );
        }
        counters.push(Counter::new(
            mfa_key(user),
            self.account_policy,
            OnSuccess::Clear,
        ));
        self.reserve(counters).await
    }

    /// Reserves one try of the mailed link of intent `intent` (a reset: a password refused by
    /// the policy, a wrong second factor): the challenge budget, then the link is spent. Every
    /// try stays counted.
    pub async fn reserve_link_try(&self, intent: &IntentId) -> Result<Attempt> {
        self.reserve(vec![
            Counter::new(
                format!("link:{intent}"),
                self.challenge_policy,
                OnSuccess::Keep,
            )
            .spent_when_refused(),
        ])
        .await
    }

    /// Reserves a try of an emailed sign-in code of request `request` from `client`: counted
    /// per address and per request (the challenge budget: then the request is spent). The
    /// account's own budget is reserved apart ([`reserve_code_for_account`](Self::reserve_code_for_account)),
    /// so its refusal can be answered as a wrong code.
    pub async fn reserve_emailed_code(
        &self,
        client: Option<IpAddr>,
        request: &IntentId,
    ) -> Result<Attempt> {
        let mut counters = Vec::with_capacity(2);
        if let Some(ip) = client {
            counters.push(self.address_counter(ip));
        }
        counters.push(
            Counter::new(
                format!("login-code:{request}"),
                self.challenge_policy,
                OnSuccess::Release,
            )
            .spent_when_refused(),
        );
        self.reserve(counters).await
    }

    /// Reserves an emailed code's try in the second-factor budget of `user`, or, for a
    /// request that names no account, in a counter of the request's own (the same calls,
    /// whoever asks). A right code gives the attempt back without clearing the failures: an
    /// emailed code is a first factor and must not reset the limit on second-factor guesses.
    pub async fn reserve_code_for_account(
        &self,
        user: Option<&UserId>,
        request: &IntentId,
    ) -> Result<Attempt> {
        let key = match user {
            Some(user) => mfa_key(user),
            None => format!("mfa:none:{request}"),
        };
        self.reserve(vec![Counter::new(
            key,
            self.account_policy,
            OnSuccess::Release,
        )])
        .await
    }

    /// Counts a passkey ceremony begun by `client` (every one, whatever becomes of it), under
    /// [`ThrottlePolicy::passkey_ceremonies_per_address`].
    pub async fn reserve_passkey_ceremony(&self, client: Option<IpAddr>) -> Result<Attempt> {
        let counters = client
            .map(|ip| {
                Counter::new(
                    format!("passkey-begin:{}", address_key(ip)),
                    self.passkey_ceremonies,
                    OnSuccess::Keep,
                )
            })
            .into_iter()
            .collect();
        self.reserve(counters).await
    }

    /// Reserves a passwordless passkey assertion's check in the client address's counter.
    /// Not in the account's: a signature cannot be guessed, and anyone may present a wrong
    /// one for any account, which must not lock its owner out.
    pub async fn reserve_passkey_assertion(&self, client: Option<IpAddr>) -> Result<Attempt> {
        let counters = client
            .map(|ip| self.address_counter(ip))
            .into_iter()
            .collect();
        self.reserve(counters).await
    }

    fn address_counter(&self, ip: IpAddr) -> Counter {
        Counter::new(address_key(ip), self.address_policy, OnSuccess::Release)
    }

    /// Reserves an attempt in each of `counters`, in order, one atomic store call each, and
    /// decides from the counts returned. The first counter whose policy refuses ends the
    /// reservation: every counter reserved so far is given back and the answer is
    /// [`Error::Throttled`] with that counter's wait (or, for a counter
    /// [spent when refused](Counter::spent_when_refused), an inactive token).
    pub async fn reserve(&self, counters: Vec<Counter>) -> Result<Attempt> {
        let now = self.clock.now();
        let mut attempt = Attempt {
            throttle: self.clone(),
            counters: Vec::with_capacity(counters.len()),
        };
        for counter in counters {
            let policy = counter.policy;
            let counted = match self
                .store
                .reserve_attempt(&counter.key, now, policy.window, policy.free_failures)
                .await
            {
                Ok(counted) => counted,
                Err(error) => {
                    attempt.give_back().await;
                    return Err(error);
                }
            };
            let wait = policy.wait_for_reserved(&counted, now);
            // A counter spent when refused answers so only once it is locked, not while a
            // delay (of a custom policy) runs.
            let spent = counter.spent_when_refused
                && counted.failures.saturating_sub(1) >= policy.lockout_after;
            attempt.counters.push(counter);
            if let Some(retry_after) = wait {
                attempt.give_back().await;
                return Err(if spent {
                    TokenRejection::NotActive.into()
                } else {
                    Error::Throttled { retry_after }
                });
            }
        }
        Ok(attempt)
    }
}

/// An attempt counted in its counters before its secret is checked; settle it with the
/// outcome. Dropped unsettled (a cancelled request, an error), it stays counted as a failure
/// that does not move the delay clock: the limits err on the safe side.
#[derive(Debug)]
#[must_use = "an attempt is settled with the outcome of its check"]
pub struct Attempt {
    throttle: Throttle,
    counters: Vec<Counter>,
}

impl Attempt {
    /// The check failed: the attempt stays counted and the delay runs from now.
    pub async fn failed(mut self) -> Result<()> {
        let now = self.throttle.clock.now();
        let store = self.throttle.store.clone();
        settle_each(std::mem::take(&mut self.counters), |counter| {
            let store = store.clone();
            async move {
                store
                    .confirm_failure(&counter.key, now, counter.policy.window)
                    .await
                    .map(drop)
            }
        })
        .await
    }

    /// The check passed: counters of the account are cleared, shared ones get this attempt
    /// back.
    pub async fn succeeded(mut self) -> Result<()> {
        let store = self.throttle.store.clone();
        settle_each(std::mem::take(&mut self.counters), |counter| {
            let store = store.clone();
            async move {
                match counter.on_success {
                    OnSuccess::Keep => Ok(()),
                    OnSuccess::Clear => store.clear_failures(&counter.key).await,
                    OnSuccess::Release => store.release_attempt(&counter.key).await,
                }
            }
        })
        .await
    }

    /// Settles an attempt that counts whatever its outcome (a registration, a mail asked for)
    /// by the outcome of the work it was reserved for: given back when the work failed for a
    /// reason not the caller's (a full hashing pool, a dependency down), so the retry is not
    /// punished for it; kept otherwise.
    pub async fn settle_by<T>(self, outcome: &Result<T>) -> Result<()> {
        match outcome {
            Err(Error::Busy | Error::Unavailable(_)) => {
                let _ = self.release().await;
                Ok(())
            }
            _ => self.succeeded().await,
        }
    }

    /// The check could not be made (a store failed, the request was refused before it): the
    /// attempt is given back everywhere.
    pub async fn release(mut self) -> Result<()> {
        let store = self.throttle.store.clone();
        settle_each(std::mem::take(&mut self.counters), |counter| {
            let store = store.clone();
            async move { store.release_attempt(&counter.key).await }
        })
        .await
    }

    /// Gives the reservations back, logging rather than reporting a failure (the caller is
    /// already answering with another error).
    async fn give_back(&mut self) {
        let store = &self.throttle.store;
        for counter in std::mem::take(&mut self.counters) {
            if let Err(error) = store.release_attempt(&counter.key).await {
                tracing::warn!(%error, "a throttle reservation could not be given back");
            }
        }
    }
}

/// Settles every counter, even after one fails (so one store error does not leave the others
/// reserved for the rest of their window); the first error, if any.
async fn settle_each<F, Fut>(counters: Vec<Counter>, settle: F) -> Result<()>
where
    F: Fn(Counter) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut first_error = None;
    for counter in counters {
        if let Err(error) = settle(counter).await {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests;
