//! Storage traits: narrow, async, one intent per method, atomic where the protocol needs it.
//!
//! Every trait is object safe and `Send + Sync`, so flows hold them as `Arc<dyn ...>`. Methods
//! that depend on time take `now` from the caller's injected clock, so expiry is tested without
//! sleeping; records past their expiry read as absent, never as errors. Backends report their
//! own failures as [`Error::Unavailable`](crate::Error::Unavailable).
//!
//! Backends:
//! - `memory` (feature `memory`, on by default): every trait, in process.
//! - `postgres` (feature `postgres`): every trait, durable, with embedded migrations; enough on
//!   its own for a deployment.
//! - `redis` (feature `redis`): sessions, throttle counters, the revocation list and the TOTP
//!   replay guard, for an embedder who wants them there; beside PostgreSQL,
//!   [`Stores::postgres_with_redis`](crate::flows::Stores) uses it for the counters only.
//!
//! Where state lives with PostgreSQL and Redis (`Stores::postgres_with_redis`, what the server
//! runs): PostgreSQL is the record of everything that must survive (accounts, factors, refresh
//! families, sessions, revoked sessions, audit events); Redis holds the throttle counters and
//! the fast TOTP replay guard, and may be emptied at any moment. Losing its data costs the
//! counters (throttling starts again: an attacker mid-run gets a fresh budget) and nothing else:
//! the last accepted TOTP step is also in PostgreSQL, no one is signed out and no revoked
//! session comes back. A session is written on login, refresh, step-up and revocation only,
//! never by a request that merely uses an access token, so there are no per-request writes to
//! coalesce; a request's revocation check reads PostgreSQL at most once per session per
//! `sid_cache_ttl` (2 s) in each process, which is also how long a revocation made on one
//! server takes to reach the others (at once on the server that made it).
//!
//! `conformance` (feature `test-util`) runs the same behavioural checks against any
//! implementation, ours or yours.

#[cfg(feature = "test-util")]
pub mod conformance;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
mod rotate;
#[cfg(any(feature = "postgres", feature = "redis"))]
mod tls;

pub use rotate::{Reencryption, reencrypt_totp_secrets};

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::authz::{Role, RoleName, ScopeSet};
use crate::error::Result;
use crate::id::{Amr, SecretHash, SessionId, UserId};
use crate::intent::{Intent, IntentId, IntentKey, Purpose};
use crate::mfa::{EncryptedSecret, TotpParams};
use crate::oauth::grant::{AuthorizationCode, ClientGrant, Consent, Redemption};
use crate::oauth::{Client, ClientId, PushedRequest};
use crate::outbox::{Backlog, Delivery, MessageId, OutboxMessage};
use crate::passkey::{Ceremony, CeremonyId, CounterCheck, PasskeyId, PasskeyRecord, PasskeyUse};
use crate::refresh::{RefreshFamily, RefreshTokenRecord, Rotation};

/// An account.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id.
    pub id: UserId,
    /// Email address in normalised form (trimmed, lower case): unique.
    pub email: String,
    /// PHC string (or legacy hash) of the password.
    pub password_hash: String,
    /// A disabled account cannot log in; its answers are those of a wrong password.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: SystemTime,
    /// The credentials epoch: moved on by a password change or reset, a factor change, "log
    /// out everywhere" and disabling. Refresh families and second-factor challenges carry the
    /// epoch read with the password hash that was verified; older ones are refused. New
    /// accounts start at 0.
    pub epoch: u64,
    /// When the owner proved the address receives mail (a verification link or code, a
    /// confirmed change of address, a sign-in by email); `None` until then.
    pub email_verified_at: Option<SystemTime>,
    /// The language mails to the account are written in (a locale of the templates, chosen
    /// from the languages of the sign-up request); `None`: the request's, else English.
    pub locale: Option<String>,
}

impl User {
    /// A new account of `email` (normalised) with `password_hash`, made at `now`: a fresh
    /// id, enabled, at credentials epoch 0, its address not verified.
    pub fn new(email: String, password_hash: String, now: SystemTime) -> Self {
        Self {
            id: UserId::new(),
            email,
            password_hash,
            disabled: false,
            created_at: now,
            epoch: 0,
            email_verified_at: None,
            locale: None,
        }
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("disabled", &self.disabled)
            .field("created_at", &self.created_at)
            .field("epoch", &self.epoch)
            .field("email_verified_at", &self.email_verified_at)
            .field("locale", &self.locale)
            .finish_non_exhaustive()
    }
}

/// Accounts.
#[async_trait]
pub trait UserStore: Send + Sync + fmt::Debug {
    /// Stores a new account; [`Error::Conflict`](crate::Error::Conflict) if its email is taken,
    /// or held: an account left it and the undo link sent to it still lives (the
    /// [`IntentStore`] of the same backend says).
    async fn create_user(&self, user: User) -> Result<()>;
    /// The account with this normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// The account with this id.
    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>>;
    /// Replaces the hash with a stronger hash of the same password (an upgrade at login),
    /// atomically only while the credentials epoch is still `epoch`, so an upgrade never
    /// undoes a password change that came first. False if the epoch moved on or there is no
    /// such account.
    async fn upgrade_password_hash(
        &self,
        id: &UserId,
        epoch: u64,
        password_hash: &str,
    ) -> Result<bool>;
    /// Replaces the password (a change or a reset) and moves the credentials epoch on from
    /// `epoch`, in one atomic step, only while the epoch is still `epoch` (the credentials the
    /// change was authorised with); the new epoch, or `None` if the epoch moved or there is no
    /// such account.
    async fn change_password_hash(
        &self,
        id: &UserId,
        epoch: u64,
        password_hash: &str,
    ) -> Result<Option<u64>>;
    /// Moves the credentials epoch on from `epoch` (a factor change, "log out everywhere"),
    /// atomically and only while it is still `epoch`; the new epoch, or `None` if it moved or
    /// there is no such account.
    async fn advance_epoch(&self, id: &UserId, epoch: u64) -> Result<Option<u64>>;
    /// Enables or disables the account; disabling also moves the credentials epoch on. False
    /// if there is no such account.
    async fn set_disabled(&self, id: &UserId, disabled: bool) -> Result<bool>;
    /// Records that the account's address `email` was verified at `now`, only while it is
    /// still the account's address (a link sent to an address the account has since left
    /// verifies nothing). False otherwise, or if there is no such account; an address
    /// verified before stays verified as of its first verification.
    async fn mark_email_verified(&self, id: &UserId, email: &str, now: SystemTime) -> Result<bool>;
    /// Moves the account from address `from` to `to` (normalised), verified at `now`, only
    /// while its address is still `from`; false otherwise.
    /// [`Error::Conflict`](crate::Error::Conflict) if another account has `to`, or holds it
    /// (as for [`create_user`](Self::create_user)).
    async fn change_email(
        &self,
        id: &UserId,
        from: &str,
        to: &str,
        now: SystemTime,
    ) -> Result<bool>;
    /// The first time it is called on a store: every account not verified yet counts as
    /// verified at `now` (the accounts made before verification was required), and the number
    /// of them; `None` on every later call, which changes nothing. Idempotent across
    /// processes: of concurrent first calls, one does the work.
    async fn adopt_email_verification(&self, now: SystemTime) -> Result<Option<u64>>;
}

/// A user's TOTP credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// Whose it is.
    pub user_id: UserId,
    /// The encrypted secret.
    pub secret: EncryptedSecret,
    /// Algorithm, digits and period.
    pub params: TotpParams,
    /// False between enrolment and confirmation with a valid code.
    pub confirmed: bool,
    /// The last time step whose code was accepted: codes of this step or older are refused.
    pub last_used_step: Option<u64>,
    /// When enrolment started.
    pub created_at: SystemTime,
}

/// TOTP credentials and recovery codes.
#[async_trait]
pub trait MfaStore: Send + Sync + fmt::Debug {
    /// Stores an unconfirmed credential, replacing an earlier unconfirmed one;
    /// [`Error::Conflict`](crate::Error::Conflict) if a confirmed credential exists.
    async fn save_pending_totp(&self, record: TotpRecord) -> Result<()>;
    /// The user's credential, confirmed or not.
    async fn totp(&self, user: &UserId) -> Result<Option<TotpRecord>>;
    /// Atomically confirms the pending credential, records `step` as used and replaces the
    /// recovery codes with `recovery_codes`. False if there is no pending credential.
    async fn confirm_totp(
        &self,
        user: &UserId,
        step: u64,
        recovery_codes: Vec<SecretHash>,
    ) -> Result<bool>;
    /// Atomically accepts `step` for a confirmed credential: true only if no step at or after
    /// it was accepted before (the replay guard).
    async fn accept_totp_step(&self, user: &UserId, step: u64) -> Result<bool>;
    /// Removes the credential and the recovery codes; false if there was no credential.
    async fn delete_totp(&self, user: &UserId) -> Result<bool>;
    /// Atomically consumes one recovery code: true exactly once per code.
    async fn consume_recovery_code(&self, user: &UserId, code: &SecretHash) -> Result<bool>;
    /// How many unused recovery codes the user has.
    async fn recovery_codes_left(&self, user: &UserId) -> Result<usize>;
    /// Up to `limit` credentials, confirmed or not, whose secret is encrypted under another
    /// key than `key_id`, in user id order after `after`: for moving them to a new key.
    async fn totp_not_under_key(
        &self,
        key_id: &str,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<TotpRecord>>;
    /// Atomically replaces the user's encrypted secret with `new`, only while it is still
    /// `old` (not re-enrolled or re-encrypted meanwhile). False otherwise.
    async fn replace_totp_secret(
        &self,
        user: &UserId,
        old: &EncryptedSecret,
        new: EncryptedSecret,
    ) -> Result<bool>;
}

/// A fast, expiring guard against TOTP replay, kept beside the [`MfaStore`] (which records the
/// last accepted step durably): a code's step is accepted at most once per user, and never
/// after a later step. A step only needs remembering while its code can still verify, so
/// entries may be forgotten after `forget_after`.
#[async_trait]
pub trait TotpReplayGuard: Send + Sync + fmt::Debug {
    /// Atomically accepts `step` for `user`: true only if neither it nor a later step was
    /// accepted within the last `forget_after` (measured from `now`).
    async fn accept_step(
        &self,
        user: &UserId,
        step: u64,
        now: SystemTime,
        forget_after: Duration,
    ) -> Result<bool>;
}

/// Refresh-token families.
#[async_trait]
pub trait RefreshStore: Send + Sync + fmt::Debug {
    /// Starts a family with its first token.
    async fn create_family(&self, family: RefreshFamily, first: RefreshTokenRecord) -> Result<()>;
    /// The whole protocol step, atomically: if `presented` is the current token of a live
    /// family, it becomes spent and `successor` current (its idle expiry capped at the
    /// family's); if it was spent before, the family is revoked, unless it was spent at most
    /// `grace` ago, fewer than [`MAX_GRACE_RETRIES`](crate::refresh::MAX_GRACE_RETRIES) times
    /// retried and its successor is unused, in which case `successor` replaces the token that
    /// spending issued (kept, marked replaced: presenting it revokes the family too).
    async fn rotate(
        &self,
        presented: &SecretHash,
        successor: RefreshTokenRecord,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Rotation>;
    /// The family of a stored token, if that family is alive at `now` (not revoked, before its
    /// absolute expiry), whatever the token's own state: a read, so a caller can check
    /// everything else before [`rotate`](Self::rotate) writes.
    async fn live_family_of(
        &self,
        token: &SecretHash,
        now: SystemTime,
    ) -> Result<Option<RefreshFamily>>;
    /// The token and its family if `token` is the current token of a family alive at `now`:
    /// not spent, not replaced by a grace retry, before its idle expiry. A read (token
    /// introspection answers from it); `None` for any other token.
    async fn current_token(
        &self,
        token: &SecretHash,
        now: SystemTime,
    ) -> Result<Option<(RefreshFamily, RefreshTokenRecord)>>;
    /// Revokes the family of a session; false if it had none alive.
    async fn revoke_session_family(&self, session: &SessionId) -> Result<bool>;
    /// Moves the live family of a session to credentials epoch `epoch` (never back), so the
    /// session that changed the credentials keeps working; false if it has none alive.
    async fn advance_family_epoch(&self, session: &SessionId, epoch: u64) -> Result<bool>;
}

/// A server-side session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Public id (digest of the session secret).
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// Authentication methods used at login (`pwd`, `otp`, ...).
    pub amr: Amr,
    /// When the login happened.
    pub created_at: SystemTime,
    /// When the user last authenticated in this session: the login, or a step-up since. A
    /// refresh copies it unchanged, so only an authentication makes a session fresh.
    pub auth_time: SystemTime,
    /// When the session was last used (refresh, or a touch by a verifier).
    pub last_used_at: SystemTime,
    /// Idle expiry.
    pub idle_expires_at: SystemTime,
    /// Absolute expiry.
    pub expires_at: SystemTime,
    /// Opened by a passkey whose signature counter did not increase, accepted by the
    /// configuration (`CounterPolicy::AcceptAndFlag`): perhaps a cloned authenticator.
    pub flagged: bool,
    /// The client's address when the session started.
    pub client: Option<IpAddr>,
    /// The browser or program that started it (its `User-Agent`), once described
    /// ([`SessionStore::describe_session`]).
    pub user_agent: Option<String>,
    /// The OAuth client the session's tokens were granted to; `None` for the server's own
    /// sessions (API logins and the hosted pages). Set when the session starts, never after.
    pub grant: Option<ClientGrant>,
}

impl Session {
    /// Whether the session is alive at `now`.
    pub fn is_live(&self, now: SystemTime) -> bool {
        now < self.idle_expires_at && now < self.expires_at
    }
}

/// The longest `User-Agent` a session keeps; longer ones are cut.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// Server-side sessions.
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// Stores a new session.
    async fn create_session(&self, session: Session) -> Result<()>;
    /// The session, if alive at `now`.
    async fn session(&self, id: &SessionId, now: SystemTime) -> Result<Option<Session>>;
    /// Marks the session used at `now` and extends its idle expiry to `idle_expires_at`
    /// (never past the absolute expiry); `None` if it is not alive.
    async fn touch_session(
        &self,
        id: &SessionId,
        now: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<Option<Session>>;
    /// [`touch_session`](Self::touch_session) after the user authenticated again in the
    /// session (a step-up): `auth_time` becomes `now` as well.
    async fn reauthenticate_session(
        &self,
        id: &SessionId,
        now: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<Option<Session>>;
    /// Records what started the session (its `User-Agent`, at most
    /// [`MAX_USER_AGENT_CHARS`] characters); nothing if the session does not exist.
    async fn describe_session(&self, id: &SessionId, user_agent: &str) -> Result<()>;
    /// The user's sessions alive at `now`, oldest first.
    async fn sessions_of(&self, user: &UserId, now: SystemTime) -> Result<Vec<Session>>;
    /// Ends one of the user's sessions; false if the user has no such session.
    async fn revoke_session(&self, user: &UserId, id: &SessionId) -> Result<bool>;
    /// Ends all the user's sessions but `except`; returns the ids ended.
    async fn revoke_sessions_of(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>>;
}

/// Attempt counters for brute-force protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRecord {
    /// Attempts counted in the current window: those that failed and those reserved and not
    /// yet settled (see [`ThrottleStore::reserve_attempt`]).
    pub failures: u32,
    /// When the window started (the first attempt counted in it).
    pub window_started_at: SystemTime,
    /// When the last failure happened: confirmed, or presumed for an attempt beyond the free
    /// ones still being checked; the window start until then.
    pub last_failure_at: SystemTime,
}

impl ThrottleRecord {
    /// Whether the record's window, of length `window`, is still open at `now`.
    pub fn window_open(&self, now: SystemTime, window: Duration) -> bool {
        self.window_started_at
            .checked_add(window)
            .is_none_or(|end| now < end)
    }
}

/// Attempt counters, keyed by account, client address or challenge.
///
/// An attempt is counted before its secret is checked, in one atomic call
/// ([`reserve_attempt`](Self::reserve_attempt)), and the caller decides from the count that
/// call returns: concurrent attempts each see their own count, so a burst of any size gets no
/// more checks than the policy allows. The attempt is then settled: given back when it was
/// refused unchecked or succeeded ([`release_attempt`](Self::release_attempt)), marked when it
/// failed ([`confirm_failure`](Self::confirm_failure)), or wiped with the rest of the counter
/// ([`clear_failures`](Self::clear_failures)).
#[async_trait]
pub trait ThrottleStore: Send + Sync + fmt::Debug {
    /// Atomically counts one attempt for `key` at `now` and returns the record after counting,
    /// its `last_failure_at` as it stood before this attempt; a window older than `window`
    /// starts afresh (one attempt, started and last failed at `now`). An attempt with more
    /// than `free` attempts counted before it also moves the stored last failure to `now`:
    /// beyond the free ones an attempt counts as failed until it is settled, so concurrent
    /// attempts wait out each other's delays instead of all finding the last delay over.
    async fn reserve_attempt(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
        free: u32,
    ) -> Result<ThrottleRecord>;
    /// Gives back one attempt counted by [`reserve_attempt`](Self::reserve_attempt); the
    /// count never goes below zero and nothing else changes.
    async fn release_attempt(&self, key: &str) -> Result<()>;
    /// Marks a reserved attempt as failed at `now`: the last failure moves to `now` (never
    /// back) and the count stays. If the window has closed, or the counter was cleared
    /// meanwhile, a window of one failure starts at `now`. Returns the record after it.
    async fn confirm_failure(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<ThrottleRecord>;
    /// The record for `key`, if its window (of length `window`) is still open at `now`.
    async fn throttle_record(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<Option<ThrottleRecord>>;
    /// Forgets `key` (after the account's owner proved who they are).
    async fn clear_failures(&self, key: &str) -> Result<()>;
}

/// A move of an account to another address: from `from` (only while it is still the
/// account's) to `to`, verified at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressChange {
    /// The account.
    pub user: UserId,
    /// Its address now.
    pub from: String,
    /// Its new address (normalised).
    pub to: String,
    /// When the new address was proved.
    pub at: SystemTime,
}

/// Writes that must take effect together: an account change and the intents and messages it
/// produces (a registration and its verification mail). All of them, or none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writes {
    /// An account to create (as [`UserStore::create_user`]).
    pub create_user: Option<User>,
    /// An account to move to another address (as [`UserStore::change_email`]), first.
    pub change_email: Option<AddressChange>,
    /// Intents to issue, in order (as [`IntentStore::issue_intent`]).
    pub issue_intents: Vec<Intent>,
    /// Messages to enqueue (as [`OutboxStore::enqueue`]).
    pub enqueue: Vec<OutboxMessage>,
}

/// The seam across stores: [`Writes`] applied in one transaction (PostgreSQL) or under one
/// lock (memory). A conflict in any of them (a taken address, intent or message id) leaves
/// every store as it was and answers [`Error::Conflict`](crate::Error::Conflict); so does
/// [`Error::NotFound`](crate::Error::NotFound) for a change of address whose account no
/// longer has the address it moves from.
#[async_trait]
pub trait UnitOfWork: Send + Sync + fmt::Debug {
    /// Applies every write of `writes`, or none.
    async fn apply(&self, writes: Writes) -> Result<()>;
}

/// The outbox (see [`crate::outbox`]): messages enqueued, then delivered to each sink by a
/// worker that claims what is due under a lease.
#[async_trait]
pub trait OutboxStore: Send + Sync + fmt::Debug {
    /// Stores `message` with one delivery per sink, each due at once.
    /// [`Error::Conflict`](crate::Error::Conflict) if its id is taken.
    async fn enqueue(&self, message: OutboxMessage) -> Result<()>;
    /// Claims up to `limit` deliveries to `sink` that are due at `now` (not done, their next
    /// attempt reached, no lease running), oldest first, each for `lease`: until it runs out
    /// no other claim gets them. Each claim counts an attempt.
    async fn claim_deliveries(
        &self,
        sink: &str,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>>;
    /// The delivery of `message` to `sink` is done: never claimed again.
    async fn delivered(&self, message: &MessageId, sink: &str, now: SystemTime) -> Result<()>;
    /// The delivery of `message` to `sink` failed with `error`: due again at `retry_at`.
    async fn failed(
        &self,
        message: &MessageId,
        sink: &str,
        retry_at: SystemTime,
        error: &str,
    ) -> Result<()>;
    /// What is waiting for `sink`.
    async fn backlog(&self, sink: &str) -> Result<Backlog>;
}

/// One-time intents (see [`crate::intent`]): issued, looked at, used once, voided. Live means
/// not used, not voided and not expired.
#[async_trait]
pub trait IntentStore: Send + Sync + fmt::Debug {
    /// Stores `intent` and voids every live intent of the same account and purpose, in one
    /// step: only the newest link or code of a purpose works (undo links excepted: each names
    /// another address, and a newer change must not void the way back from an older one).
    /// [`Error::Conflict`](crate::Error::Conflict) if its id or secret digest is taken.
    async fn issue_intent(&self, intent: Intent) -> Result<()>;
    /// The live intent of `purpose` that `key` names, left as it is (a page that shows a
    /// button must not use it up: mail scanners follow links).
    async fn find_intent(
        &self,
        purpose: Purpose,
        key: &IntentKey,
        now: SystemTime,
    ) -> Result<Option<Intent>>;
    /// The live code intent of `purpose` with id `id`, whatever its code: what a code is
    /// checked for (the account whose wrong-code budget the attempt is counted in) before
    /// [`consume_intent`](Self::consume_intent) checks the code itself. Never a link's intent.
    async fn code_intent(
        &self,
        purpose: Purpose,
        id: &IntentId,
        now: SystemTime,
    ) -> Result<Option<Intent>>;
    /// Uses the live intent of `purpose` that `key` names, atomically: of concurrent calls one
    /// gets it, the others `None`, as does a used, voided, expired, unknown or other-purpose
    /// intent.
    async fn consume_intent(
        &self,
        purpose: Purpose,
        key: &IntentKey,
        now: SystemTime,
    ) -> Result<Option<Intent>>;
    /// Voids every live intent of the account of `purpose`, or, for `None`, of every purpose
    /// but [`Purpose::UndoEmailChange`] (what a credential change voids: an undo link is the
    /// old owner's way back and survives it); how many.
    async fn void_intents(
        &self,
        user: &UserId,
        purpose: Option<Purpose>,
        now: SystemTime,
    ) -> Result<u64>;
    /// Voids every live intent of the account of `purpose` issued at or after `since` (the
    /// undo links of later changes, when an earlier change is undone); how many.
    async fn void_intents_since(
        &self,
        user: &UserId,
        purpose: Purpose,
        since: SystemTime,
        now: SystemTime,
    ) -> Result<u64>;
}

/// Revoked sessions, checked by token verifiers so a session's access tokens stop working at
/// once, not when they expire; and used single-use ids, remembered until they expire.
#[async_trait]
pub trait RevocationStore: Send + Sync + fmt::Debug {
    /// Records the session as revoked at `now` until `until` (past which its tokens have
    /// expired anyway). A later deadline already recorded is kept.
    async fn revoke_sid(&self, id: &SessionId, now: SystemTime, until: SystemTime) -> Result<()>;
    /// Whether the session is revoked at `now`.
    async fn is_sid_revoked(&self, id: &SessionId, now: SystemTime) -> Result<bool>;
    /// Atomically marks the single-use id `id` (a second-factor challenge, for example) used
    /// until `until`, when whatever it names has expired anyway: true the first time, false
    /// while an earlier use is remembered.
    async fn use_once(&self, id: &str, now: SystemTime, until: SystemTime) -> Result<bool>;
}

/// Passkeys (see [`crate::passkey`]): the credentials, each account's user handle, and the
/// state of ceremonies between their two requests.
#[async_trait]
pub trait PasskeyStore: Send + Sync + fmt::Debug {
    /// The account's user handle, `fresh` if it has none yet (then stored): of concurrent
    /// first calls, all get the one stored.
    async fn passkey_handle(&self, user: &UserId, fresh: uuid::Uuid) -> Result<uuid::Uuid>;
    /// The account whose user handle is `handle`.
    async fn user_of_passkey_handle(&self, handle: &uuid::Uuid) -> Result<Option<UserId>>;
    /// Stores a new passkey; [`Error::Conflict`](crate::Error::Conflict) if its credential id
    /// is registered already, to any account.
    async fn add_passkey(&self, record: PasskeyRecord) -> Result<()>;
    /// The passkey with this credential id.
    async fn passkey(&self, id: &PasskeyId) -> Result<Option<PasskeyRecord>>;
    /// The account's passkeys, oldest first.
    async fn passkeys_of(&self, user: &UserId) -> Result<Vec<PasskeyRecord>>;
    /// Renames one of the account's passkeys; false if it has no such passkey.
    async fn rename_passkey(&self, user: &UserId, id: &PasskeyId, name: &str) -> Result<bool>;
    /// Removes one of the account's passkeys; false if it has no such passkey.
    async fn delete_passkey(&self, user: &UserId, id: &PasskeyId) -> Result<bool>;
    /// Removes every passkey of the account, its user handle (the next registration makes a
    /// new one) and its ceremonies, in one step: what an account recovery takes from whoever
    /// held the account. How many passkeys.
    async fn delete_passkeys_of(&self, user: &UserId) -> Result<u64>;
    /// Records a verified assertion of the passkey, atomically with the counter check: a
    /// counter above the stored one is stored ([`CounterCheck::Advanced`]); both zero is
    /// [`CounterCheck::NoCounter`]; otherwise [`CounterCheck::Regressed`], and the use is
    /// recorded (last use, backup flags; never the counter) only if `accept_regression`.
    /// `None` if there is no such passkey (removed meanwhile).
    async fn record_passkey_use(
        &self,
        id: &PasskeyId,
        used: PasskeyUse,
        accept_regression: bool,
    ) -> Result<Option<CounterCheck>>;
    /// Stores a ceremony's state; [`Error::Conflict`](crate::Error::Conflict) if its id is
    /// taken.
    async fn save_ceremony(&self, ceremony: Ceremony) -> Result<()>;
    /// Takes the ceremony away, atomically: of concurrent calls one gets it, the others (and
    /// every later call) `None`, as for an expired or unknown one.
    async fn take_ceremony(&self, id: &CeremonyId, now: SystemTime) -> Result<Option<Ceremony>>;
}

/// What a change to a role did ([`RoleStore::put_role`], [`RoleStore::delete_role`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    /// Whether the role is new.
    pub created: bool,
    /// Whether its description changed.
    pub description_changed: bool,
    /// The scopes it grants now and did not.
    pub added: ScopeSet,
    /// The scopes it granted and no longer does (all of them when it was deleted).
    pub removed: ScopeSet,
    /// How many accounts hold it (held it, when it was deleted).
    pub holders: u64,
    /// The holders that lost a scope by the change (one no other role of theirs grants):
    /// their credentials epoch moved on in the same atomic step.
    pub demoted: Vec<UserId>,
}

impl RoleChange {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        self.created
            || self.description_changed
            || !self.added.is_empty()
            || !self.removed.is_empty()
    }
}

/// Roles (see [`crate::authz`]): their scopes, and who holds them.
///
/// Every change that takes a scope from an account moves that account's credentials epoch on
/// ([`User::epoch`]) in the same atomic step, so a login or refresh that read the scopes before
/// the change cannot outlive it. Changes are serialised with each other: two removals cannot
/// each count on a scope the other removes, and a grant cannot land unseen while a removal
/// counts who loses a scope.
#[async_trait]
pub trait RoleStore: Send + Sync + fmt::Debug {
    /// Creates the role, or replaces its scopes and description. Holders that lose a scope by
    /// it are in [`RoleChange::demoted`], their epoch moved on.
    async fn put_role(&self, role: &Role) -> Result<RoleChange>;
    /// Deletes the role and every holding of it; `None` if there is no such role. Holders that
    /// lose a scope by it are in [`RoleChange::demoted`], their epoch moved on.
    async fn delete_role(&self, name: &RoleName) -> Result<Option<RoleChange>>;
    /// The role named `name`.
    async fn role(&self, name: &RoleName) -> Result<Option<Role>>;
    /// Every role, by name.
    async fn roles(&self) -> Result<Vec<Role>>;
    /// Grants the role to the account at `now`; false if it holds it already.
    /// [`Error::NotFound`](crate::Error::NotFound) if there is no such role or account.
    async fn grant_role(&self, user: &UserId, role: &RoleName, now: SystemTime) -> Result<bool>;
    /// Takes the role from the account; `None` if it did not hold it, else the scopes it lost
    /// (granted by no other role of its): when there are any, its epoch moved on in the same
    /// step.
    async fn revoke_role(&self, user: &UserId, role: &RoleName) -> Result<Option<ScopeSet>>;
    /// The roles the account holds, by name.
    async fn roles_of(&self, user: &UserId) -> Result<Vec<Role>>;
    /// Every scope the account holds: the union of its roles' scopes.
    async fn scopes_of(&self, user: &UserId) -> Result<ScopeSet>;
}

/// Registered OAuth clients (see [`crate::oauth::client`]).
#[async_trait]
pub trait ClientStore: Send + Sync + fmt::Debug {
    /// Stores a new client; [`Error::Conflict`](crate::Error::Conflict) if its id is taken.
    async fn create_client(&self, client: Client) -> Result<()>;
    /// The client with this id.
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>>;
    /// Every client, oldest first.
    async fn list_clients(&self) -> Result<Vec<Client>>;
    /// Removes the client; false if there is no such client.
    async fn delete_client(&self, id: &ClientId) -> Result<bool>;
}

/// Authorization codes and consent (see [`crate::oauth::grant`]).
#[async_trait]
pub trait GrantStore: Send + Sync + fmt::Debug {
    /// Stores a new code.
    async fn save_code(&self, code: AuthorizationCode) -> Result<()>;
    /// Spends the code whose digest is `hash` for `session`, atomically: of two redemptions
    /// of one code, one gets [`Redemption::Redeemed`] and the other
    /// [`Redemption::Replayed`] naming the first one's session. A spent code is reported as
    /// replayed whatever its expiry.
    async fn redeem_code(
        &self,
        hash: &SecretHash,
        session: &SessionId,
        now: SystemTime,
    ) -> Result<Redemption>;
    /// Records consent: the scopes agreed to join any agreed before.
    async fn put_consent(&self, consent: Consent) -> Result<()>;
    /// The user's consent to the client, if any.
    async fn consent(&self, user: &UserId, client: &ClientId) -> Result<Option<Consent>>;
    /// Every consent the user gave, oldest first.
    async fn consents_of(&self, user: &UserId) -> Result<Vec<Consent>>;
    /// Withdraws the user's consent to the client, and voids the codes it issued them that
    /// are not redeemed yet; false if there was no consent.
    async fn revoke_consent(&self, user: &UserId, client: &ClientId) -> Result<bool>;
    /// Stores a pushed authorization request (RFC 9126).
    async fn push_request(&self, request: PushedRequest) -> Result<()>;
    /// The pushed request whose reference has the digest `hash`, if it is still usable at
    /// `now`.
    async fn pushed_request(
        &self,
        hash: &SecretHash,
        now: SystemTime,
    ) -> Result<Option<PushedRequest>>;
    /// Deletes the pushed request, atomically: of two calls for one request usable at `now`,
    /// one gets true. False if it is used, expired or unknown.
    async fn take_pushed_request(&self, hash: &SecretHash, now: SystemTime) -> Result<bool>;
}
