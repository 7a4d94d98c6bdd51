//! The credentials epoch: a credential change ends every session and challenge made before it,
//! including a login that verified the old password and finishes after the change.

// Helpers panic on failure, like the tests that call them.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;

use super::*;
use crate::mfa::{TotpSecret, code_at};
use crate::store::{Session, SessionStore, User};
use crate::testing;

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a wholly different passphrase";

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// Sessions in memory, with a hook that holds `create_session` until released: the pause
/// between a login's password check and its session, where a password change can land.
#[derive(Debug)]
pub(super) struct PausingSessions {
    inner: Arc<dyn SessionStore>,
    armed: Mutex<bool>,
    pub(super) reached: Notify,
    pub(super) release: Notify,
    created: Mutex<Vec<SessionId>>,
}

impl PausingSessions {
    pub(super) fn new(inner: Arc<dyn SessionStore>) -> Self {
        Self {
            inner,
            armed: Mutex::new(false),
            reached: Notify::new(),
            release: Notify::new(),
            created: Mutex::new(Vec::new()),
        }
    }

    /// The next `create_session` waits for [`release`](Notify::notify_one).
    pub(super) fn arm(&self) {
        *self.armed.lock().unwrap_or_else(PoisonError::into_inner) = true;
    }

    pub(super) fn created(&self) -> Vec<SessionId> {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl SessionStore for PausingSessions {
    async fn create_session(&self, session: Session) -> Result<()> {
        let pause = std::mem::take(&mut *self.armed.lock().unwrap_or_else(PoisonError::into_inner));
        if pause {
            self.reached.notify_one();
            self.release.notified().await;
        }
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(session.id.clone());
        self.inner.create_session(session).await
    }

    async fn session(&self, id: &SessionId, now: SystemTime) -> Result<Option<Session>> {
        self.inner.session(id, now).await
    }

    async fn touch_session(
        &self,
        id: &SessionId,
        now: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<Option<Session>> {
        self.inner.touch_session(id, now, idle_expires_at).await
    }

    async fn reauthenticate_session(
        &self,
        id: &SessionId,
        now: SystemTime,
        idle_expires_at: SystemTime,
    ) -> Result<Option<Session>> {
        self.inner
            .reauthenticate_session(id, now, idle_expires_at)
            .await
    }

    async fn describe_session(&self, id: &SessionId, user_agent: &str) -> Result<()> {
        self.inner.describe_session(id, user_agent).await
    }

    async fn sessions_of(&self, user: &UserId, now: SystemTime) -> Result<Vec<Session>> {
        self.inner.sessions_of(user, now).await
    }

    async fn revoke_session(&self, user: &UserId, id: &SessionId) -> Result<bool> {
        self.inner.revoke_session(user, id).await
    }

    async fn revoke_sessions_of(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
    ) -> Result<Vec<SessionId>> {
        self.inner.revoke_sessions_of(user, except).await
    }
}

struct World {
    auth: Authenticator,
    stores: Stores,
    sessions: Arc<PausingSessions>,
}

fn world() -> World {
    let mut stores = Stores::memory();
    let sessions = Arc::new(PausingSessions::new(stores.sessions.clone()));
    stores.sessions = sessions.clone();
    let auth = testing::authenticator_builder(testing::authenticator_config())
        .stores(stores.clone())
        .clock(testing::clock())
        .build()
        .unwrap();
    World {
        auth,
        stores,
        sessions,
    }
}

impl World {
    /// A new account, and a session of it.
    async fn account(&self, email: &str) -> (User, Tokens, Principal) {
        let user = self.auth.register(email, &secret(PASSWORD)).await.unwrap();
        let tokens = self.tokens(email, PASSWORD).await;
        let principal = self.principal(&tokens).await;
        (user, tokens, principal)
    }

    async fn tokens(&self, email: &str, password: &str) -> Tokens {
        match self
            .auth
            .login(email, &secret(password), None)
            .await
            .unwrap()
        {
            LoginOutcome::Authenticated(tokens) => tokens,
            LoginOutcome::MfaRequired { .. } => panic!("unexpected second factor"),
        }
    }

    async fn principal(&self, tokens: &Tokens) -> Principal {
        self.auth
            .authenticate(tokens.access_token.expose_secret())
            .await
            .unwrap()
    }

    /// The session of `tokens` still refreshes.
    async fn assert_still_in(&self, tokens: &Tokens) {
        let refreshed = self
            .auth
            .refresh(tokens.refresh_token.expose_secret(), None)
            .await
            .unwrap();
        assert_eq!(
            refreshed.session_id, tokens.session_id,
            "the caller stays in"
        );
    }

    async fn sid_refused(&self, sid: &SessionId) -> bool {
        matches!(
            self.auth
                .inner
                .sid_check
                .check_sid(Some(sid.as_str()))
                .await,
            Err(Error::InvalidToken(TokenRejection::Revoked))
        )
    }

    async fn enable_totp(&self, principal: &Principal) -> TotpSecret {
        let enrollment = self.auth.enroll_totp(principal).await.unwrap();
        let totp = TotpSecret::from_base32(enrollment.secret.expose_secret()).unwrap();
        self.auth
            .confirm_totp(principal, &code(&totp, 0), None)
            .await
            .unwrap();
        totp
    }

    async fn challenge(&self, email: &str) -> String {
        match self
            .auth
            .login(email, &secret(PASSWORD), None)
            .await
            .unwrap()
        {
            LoginOutcome::MfaRequired { mfa_token, .. } => mfa_token.expose_secret().to_owned(),
            LoginOutcome::Authenticated(_) => panic!("expected a challenge"),
        }
    }
}

/// The code of the step `steps` after the fixture time.
fn code(totp: &TotpSecret, steps: i64) -> String {
    let now = crate::clock::unix_seconds(testing::now());
    code_at(totp, &Default::default(), now + 30 * steps).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_that_verified_the_old_password_is_refused_when_the_password_changes_meanwhile() {
    let w = world();
    let user = w
        .auth
        .register("race@example.com", &secret(PASSWORD))
        .await
        .unwrap();
    let owner = w
        .principal(&w.tokens("race@example.com", PASSWORD).await)
        .await;

    // The racing login verifies the old password, then pauses before its session exists.
    w.sessions.arm();
    let racing = tokio::spawn({
        let auth = w.auth.clone();
        async move {
            auth.login("race@example.com", &secret(PASSWORD), None)
                .await
                .map(drop)
        }
    });
    w.sessions.reached.notified().await;
    w.auth
        .change_password(&owner, &secret(PASSWORD), &secret(NEW_PASSWORD), None)
        .await
        .unwrap();
    w.sessions.release.notify_one();

    let result = racing.await.unwrap();
    assert!(
        matches!(result, Err(Error::InvalidCredentials)),
        "the racing login: {result:?}"
    );
    let raced = w.sessions.created().last().cloned().unwrap();
    assert!(
        w.sid_refused(&raced).await,
        "the session it opened is refused at its next sid check"
    );
    let alive: Vec<SessionId> = w
        .stores
        .sessions
        .sessions_of(&user.id, testing::now())
        .await
        .unwrap()
        .into_iter()
        .map(|session| session.id)
        .collect();
    assert_eq!(alive, vec![owner.session_id.clone().unwrap()]);
}

#[tokio::test]
async fn a_challenge_issued_before_a_password_change_is_refused_after_it() {
    let w = world();
    w.auth
        .register("chal@example.com", &secret(PASSWORD))
        .await
        .unwrap();
    let owner = w
        .principal(&w.tokens("chal@example.com", PASSWORD).await)
        .await;
    let totp = w.enable_totp(&owner).await;
    let challenge = w.challenge("chal@example.com").await;
    w.auth
        .change_password(&owner, &secret(PASSWORD), &secret(NEW_PASSWORD), None)
        .await
        .unwrap();
    let late = w.auth.verify_mfa(&challenge, &code(&totp, 1), None).await;
    assert!(
        matches!(late, Err(Error::InvalidToken(TokenRejection::NotActive))),
        "{late:?}"
    );
}

#[tokio::test]
async fn ending_other_sessions_voids_challenges_and_keeps_the_callers_session() {
    let w = world();
    let (_, tokens, owner) = w.account("all@example.com").await;
    let totp = w.enable_totp(&owner).await;
    let challenge = w.challenge("all@example.com").await;
    w.auth.revoke_other_sessions(&owner, None).await.unwrap();
    let late = w.auth.verify_mfa(&challenge, &code(&totp, 1), None).await;
    assert!(
        matches!(late, Err(Error::InvalidToken(TokenRejection::NotActive))),
        "{late:?}"
    );
    w.assert_still_in(&tokens).await;
}

#[tokio::test]
async fn a_session_of_older_credentials_cannot_refresh() {
    let w = world();
    let (user, tokens, _) = w.account("old@example.com").await;
    // The epoch moves on without the sweep finding this session (as when it was opened
    // between the two).
    w.stores.users.advance_epoch(&user.id, 0).await.unwrap();
    let refused = w
        .auth
        .refresh(tokens.refresh_token.expose_secret(), None)
        .await;
    assert!(
        matches!(refused, Err(Error::InvalidToken(TokenRejection::NotActive))),
        "{refused:?}"
    );
    assert!(w.sid_refused(&tokens.session_id).await);
}

#[tokio::test]
async fn adding_or_removing_a_factor_ends_the_other_sessions() {
    let w = world();
    let (_, tokens, owner) = w.account("factor@example.com").await;
    let other = w.tokens("factor@example.com", PASSWORD).await;
    let totp = w.enable_totp(&owner).await;
    assert!(w.sid_refused(&other.session_id).await, "added");
    assert!(
        w.auth
            .refresh(other.refresh_token.expose_secret(), None)
            .await
            .is_err()
    );

    let challenge = w.challenge("factor@example.com").await;
    let second = w
        .auth
        .verify_mfa(&challenge, &code(&totp, 1), None)
        .await
        .unwrap();
    w.auth
        .disable_totp(&owner, DisableTotp::Password(&secret(PASSWORD)), None)
        .await
        .unwrap();
    assert!(w.sid_refused(&second.session_id).await, "removed");
    w.assert_still_in(&tokens).await;
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_at_once() {
    let w = world();
    let (user, tokens, _) = w.account("gone@example.com").await;
    w.auth.disable_user(&user.id).await.unwrap();
    assert!(w.sid_refused(&tokens.session_id).await);
    assert!(
        w.auth
            .refresh(tokens.refresh_token.expose_secret(), None)
            .await
            .is_err()
    );
    assert!(matches!(
        w.auth.disable_user(&UserId::new()).await,
        Err(Error::NotFound(_))
    ));
}
