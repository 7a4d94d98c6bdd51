//! Audit events: what happened, to whom, when. Never a secret: no password, token, code or key.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;

use crate::error::Result;
use crate::id::{Amr, FamilyId, SessionId, UserId};

/// Why a login failed. Internal: clients only ever see `invalid_credentials`, `throttled` or
/// `busy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoginFailure {
    /// No account with this email.
    UnknownAccount,
    /// The password did not match.
    WrongPassword,
    /// The account is disabled.
    DisabledAccount,
    /// Too many failures for the account or the client.
    Throttled,
    /// Every password-hashing slot and queue place was taken: refused unchecked, as busy.
    Busy,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionEnd {
    /// The user logged out.
    Logout,
    /// The user revoked it from the session list.
    Revoked,
    /// The password changed and other sessions were ended.
    PasswordChanged,
    /// A refresh token of its family was reused.
    RefreshReuse,
    /// The password was reset through an emailed link: every session ended.
    PasswordReset,
    /// A change of address was undone from the old address: every session ended.
    EmailChangeUndone,
    /// A credential changed (a factor added or removed, "log out everywhere", the account
    /// disabled), or changed while the session was being opened.
    CredentialsChanged,
    /// The account lost a scope (a role revoked, a scope taken from a role, a role deleted).
    AccessRemoved,
    /// The authorization code the session was opened with was presented again.
    CodeReplayed,
    /// The user withdrew their consent to the session's client.
    ConsentWithdrawn,
    /// The session's client revoked one of its tokens (RFC 7009): the grant ends with it.
    ClientRevoked,
}

/// Who made a change: named in the audit events of grants and revocations.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Actor {
    /// An operator at the command line, by the name they gave (or their login name).
    Operator(String),
    /// The configuration the server started with (its `ROLES`).
    Configuration,
    /// An account, through the API.
    User(UserId),
}

impl Actor {
    /// An operator named `name`: cut to 64 characters, control characters dropped.
    pub fn operator(name: &str) -> Self {
        Self::Operator(name.chars().filter(|c| !c.is_control()).take(64).collect())
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Operator(name) => write!(f, "operator:{name}"),
            Self::Configuration => f.write_str("configuration"),
            Self::User(id) => write!(f, "user:{id}"),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthEventKind {
    /// An account was created.
    Registered,
    /// A login completed (password, and second factor when enrolled).
    LoginSucceeded {
        /// Methods used, as in the `amr` claim.
        amr: Amr,
    },
    /// A login failed.
    LoginFailed {
        /// Why (internal only).
        reason: LoginFailure,
    },
    /// The password was right and a second factor is now asked for.
    MfaChallenged,
    /// TOTP was enrolled and confirmed.
    MfaEnrolled,
    /// TOTP was disabled.
    MfaDisabled,
    /// A wrong, replayed or expired second factor was offered.
    MfaFailed,
    /// A recovery code was used.
    RecoveryCodeUsed {
        /// Codes left after this one.
        remaining: usize,
    },
    /// A spent refresh token was presented again; its family was revoked.
    RefreshReuseDetected {
        /// The revoked family.
        family: FamilyId,
    },
    /// The password was changed.
    PasswordChanged,
    /// A stored password hash was upgraded on login.
    PasswordRehashed,
    /// The user authenticated again in a session (a step-up).
    Reauthenticated,
    /// Someone signed up with an address an account has (verification required: they were
    /// answered as a new address would be, and the address was told).
    SignUpForTakenAddress,
    /// The account's address was verified (a link, a sign-in by email, a reset).
    EmailVerified,
    /// The password was reset through an emailed link.
    PasswordReset,
    /// The account moved to a new address (`undone`: back to the address it left, by the
    /// link sent there).
    EmailChanged {
        /// Whether this was the undo of a change.
        undone: bool,
    },
    /// A session ended.
    SessionEnded {
        /// Why.
        reason: SessionEnd,
    },
    /// A passkey was registered.
    PasskeyAdded {
        /// Its credential id (base64url): not a secret, it names the key.
        credential: String,
    },
    /// A passkey was removed by its owner.
    PasskeyRemoved {
        /// Its credential id (base64url).
        credential: String,
    },
    /// A passkey assertion was refused (a bad signature, a missing user verification, a
    /// wrong origin or relying party, a passkey of another account).
    PasskeyFailed,
    /// A passkey presented a non-zero signature counter that did not increase: perhaps a
    /// cloned authenticator. `accepted`: the configuration let the sign-in through, and the
    /// session it opened is flagged.
    PasskeyCounterRegressed {
        /// Its credential id (base64url).
        credential: String,
        /// The counter stored.
        stored: u32,
        /// The counter presented.
        presented: u32,
        /// Whether the assertion was accepted all the same.
        accepted: bool,
    },
    /// A role was created or its scopes or description changed. Holders who lost a scope
    /// have their own [`AccessRemoved`](SessionEnd::AccessRemoved) session ends.
    RoleDefined {
        /// The role.
        role: String,
        /// Whether it is new.
        created: bool,
        /// The scopes it grants now and did not.
        added: Vec<String>,
        /// The scopes it granted and no longer does.
        removed: Vec<String>,
        /// Who.
        actor: Actor,
    },
    /// A role was deleted, and with it every holding of it.
    RoleDeleted {
        /// The role.
        role: String,
        /// How many accounts held it.
        holders: u64,
        /// Who.
        actor: Actor,
    },
    /// The account was granted a role.
    RoleGranted {
        /// The role.
        role: String,
        /// Who.
        actor: Actor,
    },
    /// The account lost scopes because a role it holds stopped granting them (changed or
    /// deleted): its sessions end.
    AccessRemoved {
        /// The role.
        role: String,
        /// What the role stopped granting (the account may keep some through other roles).
        removed: Vec<String>,
        /// Who.
        actor: Actor,
    },
    /// An OAuth client was registered.
    ClientRegistered {
        /// Its id.
        client: String,
        /// Who.
        actor: Actor,
    },
    /// An OAuth client was deleted.
    ClientDeleted {
        /// Its id.
        client: String,
        /// Who.
        actor: Actor,
    },
    /// The user agreed that a client may have these scopes.
    ConsentGranted {
        /// The client's id.
        client: String,
        /// What it may have.
        scope: Vec<String>,
    },
    /// The user withdrew consent from a client: its sessions end.
    ConsentWithdrawn {
        /// The client's id.
        client: String,
    },
    /// A client exchanged an authorization code: a session of its own began.
    ClientAuthorized {
        /// The client's id.
        client: String,
        /// What its tokens carry.
        scope: Vec<String>,
    },
    /// An authorization code was presented again: the session its first use opened ends.
    CodeReplayed {
        /// The client the code was issued to.
        client: String,
    },
    /// A role was taken from the account.
    RoleRevoked {
        /// The role.
        role: String,
        /// The scopes the account lost by it (those no other role of its grants).
        lost: Vec<String>,
        /// Who.
        actor: Actor,
    },
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent {
    /// When it happened.
    pub at: SystemTime,
    /// What happened.
    pub kind: AuthEventKind,
    /// The account concerned, when known.
    pub user_id: Option<UserId>,
    /// The session concerned, when there is one.
    pub session_id: Option<SessionId>,
    /// The client's address, when known.
    pub client: Option<IpAddr>,
}

impl AuthEvent {
    /// The event's name, stable for logs and metrics: `login_succeeded`, `refresh_reuse_detected`, ...
    pub fn name(&self) -> &'static str {
        match self.kind {
            AuthEventKind::Registered => "registered",
            AuthEventKind::LoginSucceeded { .. } => "login_succeeded",
            AuthEventKind::LoginFailed { .. } => "login_failed",
            AuthEventKind::MfaChallenged => "mfa_challenged",
            AuthEventKind::MfaEnrolled => "mfa_enrolled",
            AuthEventKind::MfaDisabled => "mfa_disabled",
            AuthEventKind::MfaFailed => "mfa_failed",
            AuthEventKind::RecoveryCodeUsed { .. } => "recovery_code_used",
            AuthEventKind::RefreshReuseDetected { .. } => "refresh_reuse_detected",
            AuthEventKind::PasswordChanged => "password_changed",
            AuthEventKind::PasswordRehashed => "password_rehashed",
            AuthEventKind::Reauthenticated => "reauthenticated",
            AuthEventKind::SignUpForTakenAddress => "sign_up_for_taken_address",
            AuthEventKind::EmailVerified => "email_verified",
            AuthEventKind::PasswordReset => "password_reset",
            AuthEventKind::EmailChanged { undone: false } => "email_changed",
            AuthEventKind::EmailChanged { undone: true } => "email_change_undone",
            AuthEventKind::SessionEnded { .. } => "session_ended",
            AuthEventKind::PasskeyAdded { .. } => "passkey_added",
            AuthEventKind::PasskeyRemoved { .. } => "passkey_removed",
            AuthEventKind::PasskeyFailed => "passkey_failed",
            AuthEventKind::PasskeyCounterRegressed { .. } => "passkey_counter_regressed",
            AuthEventKind::RoleDefined { .. } => "role_defined",
            AuthEventKind::RoleDeleted { .. } => "role_deleted",
            AuthEventKind::RoleGranted { .. } => "role_granted",
            AuthEventKind::RoleRevoked { .. } => "role_revoked",
            AuthEventKind::AccessRemoved { .. } => "access_removed",
            AuthEventKind::ClientRegistered { .. } => "client_registered",
            AuthEventKind::ClientDeleted { .. } => "client_deleted",
            AuthEventKind::ConsentGranted { .. } => "consent_granted",
            AuthEventKind::ConsentWithdrawn { .. } => "consent_withdrawn",
            AuthEventKind::ClientAuthorized { .. } => "client_authorized",
            AuthEventKind::CodeReplayed { .. } => "code_replayed",
        }
    }
}

/// Where audit events go.
#[async_trait]
pub trait EventSink: Send + Sync + fmt::Debug {
    /// Records one event.
    async fn record(&self, event: AuthEvent) -> Result<()>;
}

/// Writes every event as a structured `tracing` event at INFO (WARN for security signals)
/// under the target `auth_core::audit`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingEventSink;

#[async_trait]
impl EventSink for TracingEventSink {
    async fn record(&self, event: AuthEvent) -> Result<()> {
        let user = event.user_id.map(|id| id.to_string());
        let session = event.session_id.as_ref().map(SessionId::as_str);
        let client = event.client.map(|ip| ip.to_string());
        let detail = format!("{:?}", event.kind);
        let security_signal = matches!(
            event.kind,
            AuthEventKind::RefreshReuseDetected { .. }
                | AuthEventKind::CodeReplayed { .. }
                | AuthEventKind::PasskeyCounterRegressed { .. }
                | AuthEventKind::LoginFailed {
                    reason: LoginFailure::Throttled
                }
        );
        if security_signal {
            tracing::warn!(target: "auth_core::audit", event = event.name(), user, session, client, detail);
        } else {
            tracing::info!(target: "auth_core::audit", event = event.name(), user, session, client, detail);
        }
        Ok(())
    }
}

/// Keeps events in memory, in order: for tests and development.
#[derive(Clone, Default)]
pub struct MemoryEventSink {
    events: Arc<Mutex<Vec<AuthEvent>>>,
}

impl MemoryEventSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event recorded so far.
    pub fn events(&self) -> Vec<AuthEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The names of the events recorded so far, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.events().iter().map(AuthEvent::name).collect()
    }
}

impl fmt::Debug for MemoryEventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryEventSink")
            .field("events", &self.events().len())
            .finish()
    }
}

#[async_trait]
impl EventSink for MemoryEventSink {
    async fn record(&self, event: AuthEvent) -> Result<()> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
        Ok(())
    }
}
