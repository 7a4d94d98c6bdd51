//! In-memory implementations of every store trait, for tests, development and single-process
//! deployments that accept losing state on restart.
//!
//! One mutex guards all state, so every method is atomic by construction; critical sections
//! are short and never held across an `.await`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::id::{FamilyId, SecretHash, SessionId, UserId};
use crate::intent::{Intent, IntentId, IntentKey, Purpose};
use crate::mfa::EncryptedSecret;
use crate::outbox::{Backlog, Delivery, MessageId, OutboxMessage};

use crate::refresh::{
    MAX_GRACE_RETRIES, RefreshFamily, RefreshTokenRecord, Rotation, within_grace,
};

use super::{
    AddressChange, IntentStore, MfaStore, OutboxStore, RefreshStore, RevocationStore, Session,
    SessionStore, ThrottleRecord, ThrottleStore, TotpRecord, TotpReplayGuard, UnitOfWork, User,
    UserStore, Writes,
};
use crate::error::{Error, Result};

mod clients;
mod grants;
mod passkeys;
mod roles;

/// Every store, in memory. Clones share the same state.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    users: HashMap<UserId, User>,
    user_by_email: HashMap<String, UserId>,
    totp: HashMap<UserId, TotpRecord>,
    recovery_codes: HashMap<UserId, HashSet<SecretHash>>,
    families: HashMap<FamilyId, FamilyState>,
    family_by_session: HashMap<SessionId, FamilyId>,
    refresh_tokens: HashMap<SecretHash, TokenState>,
    sessions: HashMap<SessionId, Session>,
    throttle: HashMap<String, ThrottleRecord>,
    revoked_sids: HashMap<SessionId, SystemTime>,
    used_once: HashMap<String, SystemTime>,
    /// Every intent issued, live or not, with its state.
    intents: Vec<IntentState>,
    /// Outbox messages, and their deliveries by (message, sink).
    outbox: HashMap<MessageId, OutboxMessage>,
    deliveries: Vec<DeliveryState>,
    totp_steps: HashMap<UserId, (u64, SystemTime)>,
    /// Whether [`UserStore::adopt_email_verification`] ran.
    verification_adopted: bool,
    passkeys: passkeys::PasskeyState,
    roles: roles::RoleState,
    /// OAuth clients, oldest first.
    clients: Vec<crate::oauth::Client>,
    /// Authorization codes and consent.
    grants: grants::GrantState,
}

impl State {
    /// [`Error::Conflict`] if `user`'s address or id is taken.
    fn check_new_user(&self, user: &User) -> Result<()> {
        if self.user_by_email.contains_key(&user.email)
            || self.users.contains_key(&user.id)
            || self.address_held(&user.email, None, user.created_at)
        {
            return Err(Error::Conflict("an account with this email exists".into()));
        }
        Ok(())
    }

    fn insert_user(&mut self, user: User) {
        self.user_by_email.insert(user.email.clone(), user.id);
        self.users.insert(user.id, user);
    }

    /// Whether an account other than `owner` left `email` and the undo link sent to it still
    /// lives at `now`: the address is held for it.
    fn address_held(&self, email: &str, owner: Option<&UserId>, now: SystemTime) -> bool {
        self.intents.iter().any(|kept| {
            let intent = &kept.intent;
            intent.purpose == Purpose::UndoEmailChange
                && intent.target.as_deref() == Some(email)
                && owner.is_none_or(|owner| intent.user_id != *owner)
                && !kept.ended
                && now < intent.expires_at
        })
    }

    /// [`Error::NotFound`] unless the account has `change.from`; [`Error::Conflict`] if
    /// another account has `change.to`.
    fn check_address_change(&self, change: &AddressChange) -> Result<()> {
        if self
            .users
            .get(&change.user)
            .is_none_or(|user| user.email != change.from)
        {
            return Err(Error::NotFound(
                "the account's address changed meanwhile".into(),
            ));
        }
        if self
            .user_by_email
            .get(&change.to)
            .is_some_and(|owner| *owner != change.user)
            || self.address_held(&change.to, Some(&change.user), change.at)
        {
            return Err(Error::Conflict("an account with this email exists".into()));
        }
        Ok(())
    }

    /// Moves an account as `change` says (checked by [`check_address_change`](Self::check_address_change)).
    fn move_address(&mut self, change: &AddressChange) {
        self.user_by_email.remove(&change.from);
        self.user_by_email.insert(change.to.clone(), change.user);
        if let Some(user) = self.users.get_mut(&change.user) {
            change.to.clone_into(&mut user.email);
            user.email_verified_at = Some(change.at);
        }
    }

    /// [`Error::Conflict`] if `intent`'s id or secret digest is taken.
    fn check_new_intent(&self, intent: &Intent) -> Result<()> {
        let taken = self.intents.iter().any(|kept| {
            kept.intent.id == intent.id || kept.intent.secret_hash == intent.secret_hash
        });
        if taken {
            return Err(Error::Conflict("the intent exists".into()));
        }
        Ok(())
    }

    /// Stores `intent`, voiding the live ones of its account and purpose.
    fn insert_intent(&mut self, intent: Intent) {
        let voids = intent.purpose != Purpose::UndoEmailChange;
        for kept in &mut self.intents {
            if voids
                && kept.intent.user_id == intent.user_id
                && kept.intent.purpose == intent.purpose
            {
                kept.ended = true;
            }
        }
        // What can no longer be used is forgotten, so the list stays as long as what is live.
        let now = intent.created_at;
        self.intents
            .retain(|kept| !kept.ended && now < kept.intent.expires_at);
        self.intents.push(IntentState {
            intent,
            ended: false,
        });
    }

    /// [`Error::Conflict`] if `message`'s id is taken.
    fn check_new_message(&self, message: &OutboxMessage) -> Result<()> {
        if self.outbox.contains_key(&message.id) {
            return Err(Error::Conflict("the message exists".into()));
        }
        Ok(())
    }

    fn insert_message(&mut self, message: OutboxMessage) {
        for sink in &message.sinks {
            self.deliveries.push(DeliveryState {
                message: message.id,
                sink: sink.clone(),
                attempts: 0,
                next_attempt: message.created_at,
                leased_until: None,
                done: false,
                last_error: None,
            });
        }
        self.outbox.insert(message.id, message);
    }

    /// The family of a session, revoked or not.
    fn family_of_session(&mut self, session: &SessionId) -> Option<&mut FamilyState> {
        let id = self.family_by_session.get(session)?;
        self.families.get_mut(id)
    }
}

struct DeliveryState {
    message: MessageId,
    sink: String,
    attempts: u32,
    next_attempt: SystemTime,
    leased_until: Option<SystemTime>,
    done: bool,
    last_error: Option<String>,
}

struct IntentState {
    intent: Intent,
    /// Used or voided: no longer usable.
    ended: bool,
}

impl IntentState {
    fn live(&self, purpose: Purpose, key: &IntentKey, now: SystemTime) -> bool {
        let named = match key {
            IntentKey::Link(hash) => !self.intent.code && self.intent.secret_hash == *hash,
            IntentKey::Code { id, hash } => {
                self.intent.code && self.intent.id == *id && self.intent.secret_hash == *hash
            }
        };
        named && !self.ended && self.intent.purpose == purpose && now < self.intent.expires_at
    }
}

struct FamilyState {
    family: RefreshFamily,
    revoked: bool,
}

struct TokenState {
    record: RefreshTokenRecord,
    family: FamilyId,
    /// When it was spent, and the successor it was exchanged for.
    spent: Option<(SystemTime, SecretHash)>,
    /// Grace retries of this spent token so far.
    grace_retries: u32,
    /// A successor a grace retry replaced: presenting it is reuse.
    replaced: bool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("MemoryStore")
            .field("users", &state.users.len())
            .field("sessions", &state.sessions.len())
            .field("refresh_families", &state.families.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, user: User) -> Result<()> {
        let mut state = self.state();
        state.check_new_user(&user)?;
        state.insert_user(user);
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let state = self.state();
        Ok(state
            .user_by_email
            .get(email)
            .and_then(|id| state.users.get(id))
            .cloned())
    }

    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>> {
        Ok(self.state().users.get(id).cloned())
    }

    async fn upgrade_password_hash(
        &self,
        id: &UserId,
        epoch: u64,
        password_hash: &str,
    ) -> Result<bool> {
        Ok(self
            .state()
            .users
            .get_mut(id)
            .filter(|user| user.epoch == epoch)
            .map(|user| password_hash.clone_into(&mut user.password_hash))
            .is_some())
    }

    async fn change_password_hash(
        &self,
        id: &UserId,
        epoch: u64,
        password_hash: &str,
    ) -> Result<Option<u64>> {
        Ok(self.advance_from(id, epoch, |user| {
            password_hash.clone_into(&mut user.password_hash);
        }))
    }

    async fn advance_epoch(&self, id: &UserId, epoch: u64) -> Result<Option<u64>> {
        Ok(self.advance_from(id, epoch, |_| {}))
    }

    async fn set_disabled(&self, id: &UserId, disabled: bool) -> Result<bool> {
        Ok(self
            .state()
            .users
            .get_mut(id)
            .map(|user| {
                user.disabled = disabled;
                if disabled {
                    user.epoch = user.epoch.saturating_add(1);
                }
            })
            .is_some())
    }

    async fn mark_email_verified(&self, id: &UserId, email: &str, now: SystemTime) -> Result<bool> {
        Ok(self
            .state()
            .users
            .get_mut(id)
            .filter(|user| user.email == email)
            .map(|user| {
                user.email_verified_at.get_or_insert(now);
            })
            .is_some())
    }

    async fn change_email(
        &self,
        id: &UserId,
        from: &str,
        to: &str,
        now: SystemTime,
    ) -> Result<bool> {
        let change = AddressChange {
            user: *id,
            from: from.to_owned(),
            to: to.to_owned(),
            at: now,
        };
        let mut state = self.state();
        match state.check_address_change(&change) {
            Ok(()) => {
                state.move_address(&change);
                Ok(true)
            }
            Err(Error::NotFound(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    async fn adopt_email_verification(&self, now: SystemTime) -> Result<Option<u64>> {
        let mut state = self.state();
        if std::mem::replace(&mut state.verification_adopted, true) {
            return Ok(None);
        }
        let mut adopted = 0;
        for user in state.users.values_mut() {
            if user.email_verified_at.is_none() {
                user.email_verified_at = Some(now);
                adopted += 1;
            }
        }
        Ok(Some(adopted))
    }
}

#[async_trait]
impl MfaStore for MemoryStore {
    async fn save_pending_totp(&self, record: TotpRecord) -> Result<()> {
        let mut state = self.state();
        if state.totp.get(&record.user_id).is_some_and(|r| r.confirmed) {
            return Err(Error::Conflict("TOTP is already enabled".into()));
        }
        let pending = TotpRecord {
            confirmed: false,
            last_used_step: None,
            ..record
        };
        state.totp.insert(pending.user_id, pending);
        Ok(())
    }

    async fn totp(&self, user: &UserId) -> Result<Option<TotpRecord>> {
        Ok(self.state().totp.get(user).cloned())
    }

    async fn confirm_totp(
        &self,
        user: &UserId,
        step: u64,
        recovery_codes: Vec<SecretHash>,
    ) -> Result<bool> {
        let mut state = self.state();
        let Some(record) = state.totp.get_mut(user).filter(|r| !r.confirmed) else {
            return Ok(false);
        };
        record.confirmed = true;
        record.last_used_step = Some(step);
        state
            .recovery_codes
            .insert(*user, recovery_codes.into_iter().collect());
        Ok(true)
    }

    async fn accept_totp_step(&self, user: &UserId, step: u64) -> Result<bool> {
        let mut state = self.state();
        let Some(record) = state.totp.get_mut(user).filter(|r| r.confirmed) else {
            return Ok(false);
        };
        if record.last_used_step.is_some_and(|last| step <= last) {
            return Ok(false);
        }
        record.last_used_step = Some(step);
        Ok(true)
    }

    async fn totp_not_under_key(
        &self,
        key_id: &str,
        after: Option<&UserId>,
        limit: usize,
    ) -> Result<Vec<TotpRecord>> {
        let state = self.state();
        let mut found: Vec<TotpRecord> = state
            .totp
            .values()
            .filter(|r| r.secret.key_id != key_id && after.is_none_or(|after| r.user_id > *after))
            .cloned()
            .collect();
        found.sort_by_key(|r| r.user_id);
        found.truncate(limit);
        Ok(found)
    }

    async fn replace_totp_secret(
        &self,
        user: &UserId,
        old: &EncryptedSecret,
        new: EncryptedSecret,
    ) -> Result<bool> {
        let mut state = self.state();
        match state.totp.get_mut(user) {
            Some(record) if record.secret == *old => {
                record.secret = new;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_totp(&self, user: &UserId) -> Result<bool> {
        let mut state = self.state();
        state.recovery_codes.remove(user);
        Ok(state.totp.remove(user).is_some())
    }

    async fn consume_recovery_code(&self, user: &UserId, code: &SecretHash) -> Result<bool> {
        Ok(self
            .state()
            .recovery_codes
            .get_mut(user)
            .is_some_and(|codes| codes.remove(code)))
    }

    async fn recovery_codes_left(&self, user: &UserId) -> Result<usize> {
        Ok(self
            .state()
            .recovery_codes
            .get(user)
            .map_or(0, HashSet::len))
    }
}

#[async_trait]
impl RefreshStore for MemoryStore {
    async fn current_token(
        &self,
        token: &SecretHash,
        now: SystemTime,
    ) -> Result<Option<(RefreshFamily, RefreshTokenRecord)>> {
        let state = self.state();
        let Some(token) = state.refresh_tokens.get(token) else {
            return Ok(None);
        };
        if token.spent.is_some() || token.replaced || now >= token.record.idle_expires_at {
            return Ok(None);
        }
        Ok(state
            .families
            .get(&token.family)
            .filter(|family| !family.revoked && now < family.family.expires_at)
            .map(|family| (family.family.clone(), token.record.clone())))
    }

    async fn create_family(&self, family: RefreshFamily, first: RefreshTokenRecord) -> Result<()> {
        let mut state = self.state();
        if state.families.contains_key(&family.id) || state.refresh_tokens.contains_key(&first.hash)
        {
            return Err(Error::Conflict("refresh family or token exists".into()));
        }
        insert_token(&mut state, first, &family);
        state
            .family_by_session
            .insert(family.session_id.clone(), family.id);
        state.families.insert(
            family.id,
            FamilyState {
                family,
                revoked: false,
            },
        );
        Ok(())
    }

    async fn rotate(
        &self,
        presented: &SecretHash,
        successor: RefreshTokenRecord,
        now: SystemTime,
        grace: Duration,
    ) -> Result<Rotation> {
        let mut state = self.state();
        let state = &mut *state;
        let Some(token) = state.refresh_tokens.get(presented) else {
            return Ok(Rotation::Invalid);
        };
        let family_id = token.family;
        let spent = token.spent;
        let replaced = token.replaced;
        let retries = token.grace_retries;
        let idle_expired = now >= token.record.idle_expires_at;
        let Some(family_state) = state.families.get_mut(&family_id) else {
            return Ok(Rotation::Invalid);
        };
        if family_state.revoked || now >= family_state.family.expires_at {
            return Ok(Rotation::Invalid);
        }
        let family = family_state.family.clone();
        if state.refresh_tokens.contains_key(&successor.hash) {
            return Err(Error::Conflict("refresh token exists".into()));
        }
        if replaced {
            // Exchanged already, by the retry that replaced it.
            family_state.revoked = true;
            return Ok(Rotation::Reused(family));
        }
        match spent {
            Some((spent_at, _))
                if !within_grace(spent_at, now, grace) || retries >= MAX_GRACE_RETRIES =>
            {
                family_state.revoked = true;
                Ok(Rotation::Reused(family))
            }
            Some((_, previous_successor))
                if state
                    .refresh_tokens
                    .get(&previous_successor)
                    .is_some_and(|t| t.spent.is_some()) =>
            {
                // The successor was used already: this is no retry, it is reuse.
                family_state.revoked = true;
                Ok(Rotation::Reused(family))
            }
            Some((spent_at, previous_successor)) => {
                // A retry within the grace period: the successor issued last time is replaced
                // (and kept, so presenting it is reuse). The period still runs from the first
                // exchange: retries do not extend it.
                if let Some(previous) = state.refresh_tokens.get_mut(&previous_successor) {
                    previous.replaced = true;
                }
                if let Some(token) = state.refresh_tokens.get_mut(presented) {
                    token.spent = Some((spent_at, successor.hash));
                    token.grace_retries += 1;
                }
                insert_token(state, successor, &family);
                Ok(Rotation::Rotated(family))
            }
            None if idle_expired => Ok(Rotation::Invalid),
            None => {
                insert_successor(state, presented, successor, &family, now);
                Ok(Rotation::Rotated(family))
            }
        }
    }

    async fn live_family_of(
        &self,
        token: &SecretHash,
        now: SystemTime,
    ) -> Result<Option<RefreshFamily>> {
        let state = self.state();
        Ok(state
            .refresh_tokens
            .get(token)
            .and_then(|token| state.families.get(&token.family))
            .filter(|family| !family.revoked && now < family.family.expires_at)
            .map(|family| family.family.clone()))
    }

    async fn revoke_session_family(&self, session: &SessionId) -> Result<bool> {
        Ok(self
            .state()
            .family_of_session(session)
            .is_some_and(|family| !std::mem::replace(&mut family.revoked, true)))
    }

    async fn advance_family_epoch(&self, session: &SessionId, epoch: u64) -> Result<bool> {
        Ok(self
            .state()
            .family_of_session(session)
            .filter(|family| !family.revoked)
            .map(|family| family.family.epoch = family.family.epoch.max(epoch))
            .is_some())
    }
}

fn insert_successor(
    state: &mut State,
    presented: &SecretHash,
    successor: RefreshTokenRecord,
    family: &RefreshFamily,
    now: SystemTime,
) {
    if let Some(token) = state.refresh_tokens.get_mut(presented) {
        token.spent = Some((now, successor.hash));
    }
    insert_token(state, successor, family);
}

/// Stores a current token of `family`, its idle expiry capped at the family's absolute one.
fn insert_token(state: &mut State, record: RefreshTokenRecord, family: &RefreshFamily) {
    let capped = RefreshTokenRecord {
        idle_expires_at: record.idle_expires_at.min(family.expires_at),
        ..record
    };
    state.refresh_tokens.insert(
        capped.hash,
        TokenState {
            record: capped,
            family: family.id,
            spent: None,
            grace_retries: 0,
            replaced: false,
        },
    );
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, session: Session) -> Result<()> {
        let mut state = self.state();
        if state.sessions.contains_key(&session.id) {
            return Err(Error::Conflict("session exists".into()));
        }
        state.sessions.insert(session.id.clone(), session);
        Ok(())
    }

    async fn session(&self, id: &SessionId, now: SystemTime) -> Result<Option<Session>> {
        Ok(self
            .state()
            .sessions
            .get(id)
            .filter(|s| s.is_live(now))
            .cloned())
    }

    async fn touch_session(
        &self,
        id: &SessionId,
        now: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<Option<Session>> {
        Ok(self.touch(id, now, idle_expires_at, false))
    }

    async fn reauthenticate_session(
        &self,
        id: &SessionId,
        now: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<Option<Session>> {
        Ok(self.touch(id, now, idle_expires_at, true))
    }

    async fn describe_session(&self, id: &SessionId, user_agent: &str) -> Result<()> {
        if let Some(session) = self.state().sessions.get_mut(id) {
            session.user_agent = Some(user_agent.to_owned());
        }
        Ok(())
    }

    async fn sessions_of(&self, user: &UserId, now: SystemTime) -> Result<Vec<Session>> {
        let mut sessions: Vec<Session> = self
            .state()
            .sessions
            .values()
            .filter(|s| s.user_id == *user && s.is_live(now))
            .cloned()
            .collect();
        sessions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(sessions)
    }

    async fn revoke_session(&self, user: &UserId, id: &SessionId) -> Result<bool> {
        let mut state = self.state();
        if state.sessions.get(id).is_some_and(|s| s.user_id == *user) {
            state.sessions.remove(id);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn revoke_sessions_of(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>> {
        let mut state = self.state();
        let ended: Vec<SessionId> = state
            .sessions
            .values()
            .filter(|s| s.user_id == *user && Some(&s.id) != except)
            .map(|s| s.id.clone())
            .collect();
        for id in &ended {
            state.sessions.remove(id);
        }
        Ok(ended)
    }
}

impl MemoryStore {
    /// Applies `change` to the user and moves their epoch on, only while it is still `epoch`;
    /// the new epoch.
    fn advance_from(&self, id: &UserId, epoch: u64, change: impl FnOnce(&mut User)) -> Option<u64> {
        let mut state = self.state();
        let user = state.users.get_mut(id).filter(|user| user.epoch == epoch)?;
        change(user);
        user.epoch = user.epoch.saturating_add(1);
        Some(user.epoch)
    }

    /// Marks a live session used (and, when `reauthenticated`, freshly authenticated at
    /// `now`); `None` if it is not alive.
    fn touch(
        &self,
        id: &SessionId,
        now: SystemTime,
        idle_expires_at: SystemTime,
        reauthenticated: bool,
    ) -> Option<Session> {
        let mut state = self.state();
        let session = state.sessions.get_mut(id).filter(|s| s.is_live(now))?;
        session.last_used_at = now;
        if reauthenticated {
            session.auth_time = now;
        }
        session.idle_expires_at = idle_expires_at.min(session.expires_at);
        Some(session.clone())
    }

    /// Applies `count` to the open window of `key` and answers what it returns, or starts a
    /// window of one attempt at `now` and answers that.
    fn count_attempt(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
        count: impl FnOnce(&mut ThrottleRecord) -> ThrottleRecord,
    ) -> ThrottleRecord {
        let mut state = self.state();
        match state.throttle.get_mut(key) {
            Some(record) if record.window_open(now, window) => count(record),
            _ => {
                let fresh = ThrottleRecord {
                    failures: 1,
                    window_started_at: now,
                    last_failure_at: now,
                };
                state.throttle.insert(key.to_owned(), fresh);
                fresh
            }
        }
    }
}

#[async_trait]
impl ThrottleStore for MemoryStore {
    async fn reserve_attempt(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
        free: u32,
    ) -> Result<ThrottleRecord> {
        Ok(self.count_attempt(key, now, window, |record| {
            let before = *record;
            record.failures = record.failures.saturating_add(1);
            if before.failures > free {
                record.last_failure_at = record.last_failure_at.max(now);
            }
            ThrottleRecord {
                failures: record.failures,
                ..before
            }
        }))
    }

    async fn release_attempt(&self, key: &str) -> Result<()> {
        if let Some(record) = self.state().throttle.get_mut(key) {
            record.failures = record.failures.saturating_sub(1);
        }
        Ok(())
    }

    async fn confirm_failure(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<ThrottleRecord> {
        Ok(self.count_attempt(key, now, window, |record| {
            record.failures = record.failures.max(1);
            record.last_failure_at = record.last_failure_at.max(now);
            *record
        }))
    }

    async fn throttle_record(
        &self,
        key: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<Option<ThrottleRecord>> {
        Ok(self
            .state()
            .throttle
            .get(key)
            .filter(|r| r.window_open(now, window))
            .copied())
    }

    async fn clear_failures(&self, key: &str) -> Result<()> {
        self.state().throttle.remove(key);
        Ok(())
    }
}

#[async_trait]
impl TotpReplayGuard for MemoryStore {
    async fn accept_step(
        &self,
        user: &UserId,
        step: u64,
        now: SystemTime,
        forget_after: Duration,
    ) -> Result<bool> {
        let mut state = self.state();
        if let Some((last, forget_at)) = state.totp_steps.get(user)
            && now < *forget_at
            && step <= *last
        {
            return Ok(false);
        }
        let forget_at = now.checked_add(forget_after).unwrap_or(now);
        state.totp_steps.insert(*user, (step, forget_at));
        Ok(true)
    }
}

#[async_trait]
impl RevocationStore for MemoryStore {
    async fn revoke_sid(&self, id: &SessionId, _now: SystemTime, until: SystemTime) -> Result<()> {
        let mut state = self.state();
        let entry = state.revoked_sids.entry(id.clone()).or_insert(until);
        *entry = (*entry).max(until);
        Ok(())
    }

    async fn is_sid_revoked(&self, id: &SessionId, now: SystemTime) -> Result<bool> {
        Ok(self
            .state()
            .revoked_sids
            .get(id)
            .is_some_and(|until| now < *until))
    }

    async fn use_once(&self, id: &str, now: SystemTime, until: SystemTime) -> Result<bool> {
        let mut state = self.state();
        if state.used_once.get(id).is_some_and(|until| now < *until) {
            return Ok(false);
        }
        state.used_once.retain(|_, until| now < *until);
        state.used_once.insert(id.to_owned(), until);
        Ok(true)
    }
}

#[async_trait]
impl UnitOfWork for MemoryStore {
    async fn apply(&self, writes: Writes) -> Result<()> {
        let mut state = self.state();
        // Every check first, under the one lock: nothing is written unless all of it can be.
        if let Some(user) = &writes.create_user {
            state.check_new_user(user)?;
        }
        if let Some(change) = &writes.change_email {
            state.check_address_change(change)?;
        }
        for (n, intent) in writes.issue_intents.iter().enumerate() {
            let known = state.users.contains_key(&intent.user_id)
                || writes
                    .create_user
                    .as_ref()
                    .is_some_and(|user| user.id == intent.user_id);
            if !known {
                return Err(Error::NotFound("no such account".into()));
            }
            state.check_new_intent(intent)?;
            let repeated = writes.issue_intents[..n].iter().any(|earlier| {
                earlier.id == intent.id || earlier.secret_hash == intent.secret_hash
            });
            if repeated {
                return Err(Error::Conflict("the intent exists".into()));
            }
        }
        for (n, message) in writes.enqueue.iter().enumerate() {
            state.check_new_message(message)?;
            if writes.enqueue[..n]
                .iter()
                .any(|earlier| earlier.id == message.id)
            {
                return Err(Error::Conflict("the message exists".into()));
            }
        }
        if let Some(user) = writes.create_user {
            state.insert_user(user);
        }
        if let Some(change) = writes.change_email {
            state.move_address(&change);
        }
        for intent in writes.issue_intents {
            state.insert_intent(intent);
        }
        for message in writes.enqueue {
            state.insert_message(message);
        }
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn enqueue(&self, message: OutboxMessage) -> Result<()> {
        let mut state = self.state();
        state.check_new_message(&message)?;
        state.insert_message(message);
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        sink: &str,
        now: SystemTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let mut state = self.state();
        let State {
            outbox, deliveries, ..
        } = &mut *state;
        let mut due: Vec<&mut DeliveryState> = deliveries
            .iter_mut()
            .filter(|d| {
                d.sink == sink
                    && !d.done
                    && d.next_attempt <= now
                    && d.leased_until.is_none_or(|until| until <= now)
            })
            .collect();
        due.sort_by_key(|d| outbox.get(&d.message).map(|m| m.created_at));
        Ok(due
            .into_iter()
            .take(limit)
            .filter_map(|d| {
                d.attempts += 1;
                d.leased_until = Some(now + lease);
                Some(Delivery {
                    message: outbox.get(&d.message)?.clone(),
                    sink: d.sink.clone(),
                    attempts: d.attempts,
                })
            })
            .collect())
    }

    async fn delivered(&self, message: &MessageId, sink: &str, _now: SystemTime) -> Result<()> {
        let mut state = self.state();
        for d in &mut state.deliveries {
            if d.message == *message && d.sink == sink {
                d.done = true;
                d.leased_until = None;
            }
        }
        // A message is forgotten once every sink has it.
        let pending = state
            .deliveries
            .iter()
            .any(|d| d.message == *message && !d.done);
        if !pending {
            state.deliveries.retain(|d| d.message != *message);
            state.outbox.remove(message);
        }
        Ok(())
    }

    async fn failed(
        &self,
        message: &MessageId,
        sink: &str,
        retry_at: SystemTime,
        error: &str,
    ) -> Result<()> {
        for d in &mut self.state().deliveries {
            if d.message == *message && d.sink == sink && !d.done {
                d.next_attempt = retry_at;
                d.leased_until = None;
                d.last_error = Some(error.to_owned());
            }
        }
        Ok(())
    }

    async fn backlog(&self, sink: &str) -> Result<Backlog> {
        let state = self.state();
        let waiting = state
            .deliveries
            .iter()
            .filter(|d| d.sink == sink && !d.done)
            .filter_map(|d| state.outbox.get(&d.message).map(|m| m.created_at));
        let mut backlog = Backlog::default();
        for created in waiting {
            backlog.pending += 1;
            backlog.oldest = Some(backlog.oldest.map_or(created, |oldest| oldest.min(created)));
        }
        Ok(backlog)
    }
}

#[async_trait]
impl IntentStore for MemoryStore {
    async fn issue_intent(&self, intent: Intent) -> Result<()> {
        let mut state = self.state();
        if !state.users.contains_key(&intent.user_id) {
            return Err(Error::NotFound("no such account".into()));
        }
        state.check_new_intent(&intent)?;
        state.insert_intent(intent);
        Ok(())
    }

    async fn find_intent(
        &self,
        purpose: Purpose,
        key: &IntentKey,
        now: SystemTime,
    ) -> Result<Option<Intent>> {
        Ok(self
            .state()
            .intents
            .iter()
            .find(|kept| kept.live(purpose, key, now))
            .map(|kept| kept.intent.clone()))
    }

    async fn code_intent(
        &self,
        purpose: Purpose,
        id: &IntentId,
        now: SystemTime,
    ) -> Result<Option<Intent>> {
        Ok(self
            .state()
            .intents
            .iter()
            .find(|kept| {
                let intent = &kept.intent;
                intent.code
                    && intent.id == *id
                    && intent.purpose == purpose
                    && !kept.ended
                    && now < intent.expires_at
            })
            .map(|kept| kept.intent.clone()))
    }

    async fn void_intents_since(
        &self,
        user: &UserId,
        purpose: Purpose,
        since: SystemTime,
        now: SystemTime,
    ) -> Result<u64> {
        let mut voided = 0;
        for kept in &mut self.state().intents {
            let intent = &kept.intent;
            let ours =
                intent.user_id == *user && intent.purpose == purpose && intent.created_at >= since;
            if ours && !kept.ended && now < intent.expires_at {
                kept.ended = true;
                voided += 1;
            }
        }
        Ok(voided)
    }

    async fn consume_intent(
        &self,
        purpose: Purpose,
        key: &IntentKey,
        now: SystemTime,
    ) -> Result<Option<Intent>> {
        let mut state = self.state();
        let Some(kept) = state
            .intents
            .iter_mut()
            .find(|kept| kept.live(purpose, key, now))
        else {
            return Ok(None);
        };
        kept.ended = true;
        Ok(Some(kept.intent.clone()))
    }

    async fn void_intents(
        &self,
        user: &UserId,
        purpose: Option<Purpose>,
        now: SystemTime,
    ) -> Result<u64> {
        let mut voided = 0;
        for kept in &mut self.state().intents {
            let ours = kept.intent.user_id == *user
                && match purpose {
                    Some(purpose) => kept.intent.purpose == purpose,
                    None => kept.intent.purpose != Purpose::UndoEmailChange,
                };
            if ours && !kept.ended && now < kept.intent.expires_at {
                kept.ended = true;
                voided += 1;
            }
        }
        Ok(voided)
    }
}

#[cfg(all(test, feature = "test-util"))]
mod tests {
    use std::sync::Arc;

    use super::MemoryStore;

    crate::store_conformance_tests!(async { Some((Arc::new(MemoryStore::new()), ())) });
}
