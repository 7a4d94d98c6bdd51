//! Registration and login: the password step, the second-factor challenge when one is
//! enrolled, and the session a completed login opens.

use std::net::IpAddr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use secrecy::SecretString;

use super::{Authenticator, EmailVerification, LoginOutcome, Tokens};
use crate::authz::{Scope, ScopeSet};
use crate::clock::unix_seconds;
use crate::email::normalize_email;
use crate::error::{Error, Result};
use crate::event::{AuthEventKind, LoginFailure};
use crate::id::{Amr, FamilyId, OpaqueSecret, SessionId, UserId};
use crate::password::Verification;
use crate::refresh::{NewRefreshToken, RefreshFamily};
use crate::store::{Session, User};
use crate::token::{NewToken, TokenKind};

/// What the password step of a login found.
enum LoginCheck {
    /// The password is right and the account enabled.
    Passed { user: User, needs_rehash: bool },
    /// The login is refused, for this reason.
    Refused {
        user: Option<UserId>,
        reason: LoginFailure,
    },
}

impl Authenticator {
    /// Creates an account. [`Error::WeakPassword`] when the policy refuses the password,
    /// [`Error::Conflict`] when the email is taken. Counted against the overall rate of
    /// registrations before any work ([`Error::Throttled`] beyond it); see
    /// [`register_from`](Self::register_from) to count per client address too.
    pub async fn register(&self, email: &str, password: &SecretString) -> Result<User> {
        self.register_from(email, password, None).await
    }

    /// [`register`](Self::register) from `client`, counted per address as well. The
    /// registration is reserved before anything is looked up or hashed, and stays counted
    /// whatever its outcome.
    pub async fn register_from(
        &self,
        email: &str,
        password: &SecretString,
        client: Option<IpAddr>,
    ) -> Result<User> {
        self.counted_registration(client, self.create_account(email, password, client))
            .await
    }

    /// Runs `registration` (not started before it is counted) as one registration from
    /// `client`: refused at once when the hashing pool is saturated, reserved before any
    /// work, and counted whatever its outcome but a failure that is not the caller's doing.
    pub(super) async fn counted_registration<T>(
        &self,
        client: Option<IpAddr>,
        registration: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        self.inner.passwords.refuse_if_saturated()?;
        let attempt = self.inner.throttle.reserve_registration(client).await?;
        let done = registration.await;
        attempt.settle_by(&done).await?;
        done
    }

    async fn create_account(
        &self,
        email: &str,
        password: &SecretString,
        client: Option<IpAddr>,
    ) -> Result<User> {
        let email = normalize_email(email)?;
        let password_hash = self
            .timed_hash(
                self.inner
                    .passwords
                    .hash_new_password(password, &self.context_of(&email)),
            )
            .await?;
        let user = User::new(email, password_hash, self.now());
        self.inner.stores.users.create_user(user.clone()).await?;
        self.emit(AuthEventKind::Registered, Some(user.id), None, client)
            .await;
        Ok(user)
    }

    /// Records a login refused before its password was checked (throttled or busy): the
    /// account is not looked up for it, so the event names only the client.
    /// Busy refusals come in storms: at most one is recorded per client address and second
    /// (the busy metric counts every one).
    async fn login_refused(&self, reason: LoginFailure, client: Option<IpAddr>) {
        if reason == LoginFailure::Busy && !self.inner.busy_events.admit(client, self.now()) {
            return;
        }
        self.emit(AuthEventKind::LoginFailed { reason }, None, None, client)
            .await;
    }

    /// Checks a password login. Unknown account, wrong password and disabled account all
    /// answer [`Error::InvalidCredentials`] at the same cost; too many failures answer
    /// [`Error::Throttled`], even for the right password. The attempt is reserved in the
    /// throttle before anything is looked up or hashed (see [`crate::throttle`]), so no burst
    /// gets more checks than the limits allow. With every hashing slot and queue place taken
    /// it answers [`Error::Busy`] at once, before any lookup.
    pub async fn login(
        &self,
        email: &str,
        password: &SecretString,
        client: Option<IpAddr>,
    ) -> Result<LoginOutcome> {
        // With every hashing slot taken, the answer is 503 busy whatever the account: give it
        // before the throttle and account lookups, so a login storm does not also become a
        // storm of Redis and database queries (one each per refused login).
        if let Err(error) = self.inner.passwords.refuse_if_saturated() {
            self.login_refused(LoginFailure::Busy, client).await;
            return Err(error);
        }
        let attempt = match self.inner.throttle.reserve_password(email, client).await {
            Ok(attempt) => attempt,
            Err(error) => {
                if matches!(error, Error::Throttled { .. }) {
                    self.login_refused(LoginFailure::Throttled, client).await;
                }
                return Err(error);
            }
        };
        let (user, needs_rehash) = match self.check_login_password(email, password).await {
            Ok(LoginCheck::Passed { user, needs_rehash }) => {
                attempt.succeeded().await?;
                (user, needs_rehash)
            }
            Ok(LoginCheck::Refused { user, reason }) => {
                attempt.failed().await?;
                self.emit(AuthEventKind::LoginFailed { reason }, user, None, client)
                    .await;
                return Err(Error::InvalidCredentials);
            }
            Err(error) => {
                // The check could not be made (a store or the hashing pool failed): the
                // attempt is given back, so the retry is not punished for it.
                let _ = attempt.release().await;
                if matches!(error, Error::Busy) {
                    self.login_refused(LoginFailure::Busy, client).await;
                }
                return Err(error);
            }
        };
        if needs_rehash {
            let upgraded = self
                .timed_hash(self.inner.passwords.rehash(password))
                .await?;
            // Only while the credentials are those just verified: an upgrade never undoes a
            // password change that came first.
            let upgraded = self
                .inner
                .stores
                .users
                .upgrade_password_hash(&user.id, user.epoch, &upgraded)
                .await?;
            if upgraded {
                self.emit(AuthEventKind::PasswordRehashed, Some(user.id), None, client)
                    .await;
            }
        }
        if self.inner.config.email.verification == EmailVerification::Required
            && user.email_verified_at.is_none()
        {
            // Only someone who knows the password learns it.
            return Err(Error::EmailUnverified);
        }
        self.after_first_factor(&user, Amr::Password, client).await
    }

    /// After the first factor (`first`: a password or an emailed link or code): a
    /// second-factor challenge when one is enrolled, the session otherwise.
    pub(super) async fn after_first_factor(
        &self,
        user: &User,
        first: Amr,
        client: Option<IpAddr>,
    ) -> Result<LoginOutcome> {
        let factors = self.second_factors(&user.id).await?;
        if !factors.is_empty() {
            // The challenge carries the epoch read with the credentials just checked.
            let challenge = self.issue(
                TokenKind::MfaChallenge,
                NewToken::new(user.id.to_string())
                    .amr(first.methods().iter().copied())
                    .custom(ChallengeClaims {
                        epoch: user.epoch,
                        email: first.by_email(),
                    }),
            )?;
            self.emit(AuthEventKind::MfaChallenged, Some(user.id), None, client)
                .await;
            return Ok(LoginOutcome::MfaRequired {
                mfa_token: challenge.token,
                expires_in: self.inner.config.tokens.mfa_challenge_ttl.as_secs(),
                factors,
            });
        }
        let tokens = self.start_session(user, first, user.epoch, client).await?;
        Ok(LoginOutcome::Authenticated(tokens))
    }

    /// The password check of a login, its attempt already reserved: the account and whether
    /// its hash wants upgrading, or why the login is refused. Unknown accounts verify against
    /// a dummy hash, so every refusal costs the same.
    async fn check_login_password(
        &self,
        email: &str,
        password: &SecretString,
    ) -> Result<LoginCheck> {
        let user = match normalize_email(email) {
            Ok(normalized) => self.inner.stores.users.user_by_email(&normalized).await?,
            Err(_) => None,
        };
        let Some(user) = user else {
            let _ = self
                .timed_hash(self.inner.passwords.verify_unknown_account(password))
                .await?;
            return Ok(LoginCheck::Refused {
                user: None,
                reason: LoginFailure::UnknownAccount,
            });
        };
        let verification = self.verify_stored(&user, password).await?;
        let Verification::Valid { needs_rehash } = verification else {
            return Ok(LoginCheck::Refused {
                user: Some(user.id),
                reason: LoginFailure::WrongPassword,
            });
        };
        if user.disabled {
            return Ok(LoginCheck::Refused {
                user: Some(user.id),
                reason: LoginFailure::DisabledAccount,
            });
        }
        Ok(LoginCheck::Passed { user, needs_rehash })
    }

    /// Opens a new session (a fresh id at every login) with its refresh family, and issues the
    /// first tokens. `epoch` is the credentials epoch read with the password hash that was
    /// verified; if the user's epoch has moved on by the time the session exists (the password
    /// changed meanwhile), the session is ended at once and the login refused.
    pub(super) async fn start_session(
        &self,
        user: &User,
        amr: Amr,
        epoch: u64,
        client: Option<IpAddr>,
    ) -> Result<Tokens> {
        self.start_session_flagged(user, amr, epoch, client, false)
            .await
    }

    /// [`start_session`](Self::start_session), the session flagged when `flagged` (a passkey
    /// counter regression the configuration accepted).
    pub(super) async fn start_session_flagged(
        &self,
        user: &User,
        amr: Amr,
        epoch: u64,
        client: Option<IpAddr>,
        flagged: bool,
    ) -> Result<Tokens> {
        let now = self.now();
        let lifetimes = self.inner.config.sessions;
        let session_secret = OpaqueSecret::generate();
        let session_id = session_secret.session_id();
        let expires_at = now + lifetimes.absolute;
        let idle_expires_at = (now + lifetimes.idle).min(expires_at);
        // Read before the epoch check below: a removal that lands after this read moves the
        // epoch, and the check ends the session.
        let scope = self.session_scopes(&user.id, None).await?;
        self.inner
            .stores
            .sessions
            .create_session(Session {
                id: session_id.clone(),
                user_id: user.id,
                amr,
                created_at: now,
                auth_time: now,
                flagged,
                client,
                user_agent: None,
                grant: None,
                last_used_at: now,
                idle_expires_at,
                expires_at,
            })
            .await?;
        let refresh_token = self
            .start_family(user.id, &session_id, idle_expires_at, expires_at, epoch)
            .await?;
        self.end_if_credentials_moved(user.id, &session_id, epoch, client)
            .await?;
        let mut tokens = self.tokens_for(user.id, &session_id, amr, now, refresh_token, scope)?;
        tokens.session_secret = Some(session_secret.into_secret());
        self.emit(
            AuthEventKind::LoginSucceeded { amr },
            Some(user.id),
            Some(session_id),
            client,
        )
        .await;
        Ok(tokens)
    }

    /// Starts a refresh family for a session, on credentials epoch `epoch`: its first token.
    pub(super) async fn start_family(
        &self,
        user_id: UserId,
        session_id: &SessionId,
        idle_expires_at: SystemTime,
        expires_at: SystemTime,
        epoch: u64,
    ) -> Result<OpaqueSecret> {
        let now = self.now();
        let first = NewRefreshToken::issue(now, idle_expires_at);
        self.inner
            .stores
            .refresh
            .create_family(
                RefreshFamily {
                    id: FamilyId::new(),
                    user_id,
                    session_id: session_id.clone(),
                    created_at: now,
                    expires_at,
                    epoch,
                },
                first.record,
            )
            .await?;
        Ok(first.secret)
    }

    pub(super) fn tokens_for(
        &self,
        user_id: UserId,
        session_id: &SessionId,
        amr: Amr,
        auth_time: SystemTime,
        refresh_token: OpaqueSecret,
        scope: ScopeSet,
    ) -> Result<Tokens> {
        let access = self.issue(
            TokenKind::Access,
            NewToken::new(user_id.to_string())
                .session_id(session_id.as_str())
                .amr(amr.methods().iter().copied())
                .auth_time(unix_seconds(auth_time))
                .scope(scope.iter().map(Scope::as_str)),
        )?;
        Ok(Tokens {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: self.inner.config.tokens.access_ttl.as_secs(),
            refresh_token: refresh_token.into_secret(),
            session_id: session_id.clone(),
            user_id,
            session_secret: None,
            scope,
        })
    }
}

/// What a second-factor challenge carries besides the registered claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ChallengeClaims {
    /// The credentials epoch read with the password hash that was verified (0 in challenges
    /// of releases before it, when every epoch was 0).
    #[serde(default)]
    pub(super) epoch: u64,
    /// Whether the first factor was an emailed link or code (absent: a password).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) email: bool,
}
