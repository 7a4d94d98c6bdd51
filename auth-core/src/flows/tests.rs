//! The flows end to end on the memory backend, with time from a manual clock.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::event::{AuthEvent, LoginFailure, MemoryEventSink};
use crate::id::OpaqueSecret;
use crate::mfa::{TotpSecret, code_at};
use crate::refresh::RefreshOutcome;
use crate::testing;

const PASSWORD: &str = "correct horse battery staple";
const CLIENT: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)));

struct World {
    auth: Authenticator,
    clock: Arc<ManualClock>,
    events: MemoryEventSink,
    stores: Stores,
}

fn world() -> World {
    world_with(|config| config)
}

fn world_with(configure: impl FnOnce(AuthenticatorConfig) -> AuthenticatorConfig) -> World {
    world_over(|stores| stores, configure)
}

/// A world over the memory stores as `stores` changes them.
fn world_over(
    stores: impl FnOnce(Stores) -> Stores,
    configure: impl FnOnce(AuthenticatorConfig) -> AuthenticatorConfig,
) -> World {
    let clock = testing::clock();
    let events = MemoryEventSink::new();
    let stores = stores(Stores::memory_with_events(Arc::new(events.clone())));
    let auth = testing::authenticator_builder(configure(testing::authenticator_config()))
        .stores(stores.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    World {
        auth,
        clock,
        events,
        stores,
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

impl World {
    async fn register(&self, email: &str) -> User {
        self.auth.register(email, &secret(PASSWORD)).await.unwrap()
    }

    async fn login(&self, email: &str, password: &str) -> Result<LoginOutcome> {
        self.auth.login(email, &secret(password), CLIENT).await
    }

    async fn tokens(&self, email: &str) -> Tokens {
        match self.login(email, PASSWORD).await.unwrap() {
            LoginOutcome::Authenticated(tokens) => tokens,
            LoginOutcome::MfaRequired { .. } => panic!("unexpected MFA challenge"),
        }
    }

    async fn principal(&self, tokens: &Tokens) -> Principal {
        self.auth
            .authenticate(tokens.access_token.expose_secret())
            .await
            .unwrap()
    }

    /// Enrols and confirms TOTP; returns the secret and the recovery codes.
    async fn enable_totp(&self, principal: &Principal) -> (TotpSecret, Vec<SecretString>) {
        let enrollment = self.auth.enroll_totp(principal).await.unwrap();
        let totp = TotpSecret::from_base32(enrollment.secret.expose_secret()).unwrap();
        let codes = self
            .auth
            .confirm_totp(principal, &self.code(&totp), CLIENT)
            .await
            .unwrap();
        (totp, codes)
    }

    fn code(&self, totp: &TotpSecret) -> String {
        code_at(totp, &self.auth.config().totp, self.clock.unix_seconds()).unwrap()
    }

    fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }
}

fn rejection(result: Result<impl std::fmt::Debug>) -> TokenRejection {
    match result {
        Err(Error::InvalidToken(reason)) => reason,
        other => panic!("expected invalid_token, got {other:?}"),
    }
}

#[tokio::test]
async fn register_login_and_authenticate_an_access_token() {
    let w = world();
    let user = w.register("  Ada@Example.COM ").await;
    assert_eq!(user.email, "ada@example.com");
    assert!(user.password_hash.starts_with("$argon2id$"));

    let tokens = w.tokens("ada@example.com").await;
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900);
    let principal = w.principal(&tokens).await;
    assert_eq!(principal.user_id, user.id);
    assert_eq!(principal.session_id.as_ref(), Some(&tokens.session_id));
    assert_eq!(principal.claims.amr, vec!["pwd"]);

    let me = w.auth.me(&principal).await.unwrap();
    assert_eq!(me.email, "ada@example.com");
    assert!(!me.mfa_enabled);
    assert_eq!(w.events.names(), vec!["registered", "login_succeeded"]);
}

#[tokio::test]
async fn registration_refuses_weak_passwords_duplicates_and_non_emails() {
    let w = world();
    let weak = w.auth.register("bob@example.com", &secret("short")).await;
    assert_eq!(weak.unwrap_err().code(), "weak_password");
    w.register("bob@example.com").await;
    let duplicate = w.auth.register(" BOB@example.com", &secret(PASSWORD)).await;
    assert_eq!(duplicate.unwrap_err().code(), "conflict");
    for email in [
        "",
        "no-at-sign",
        "@example.com",
        "a@",
        "a b@example.com",
        "a@b@c",
    ] {
        let result = w.auth.register(email, &secret(PASSWORD)).await;
        assert_eq!(result.unwrap_err().code(), "invalid_request", "{email:?}");
    }
}

#[tokio::test]
async fn unknown_account_wrong_password_and_disabled_account_answer_identically() {
    let w = world();
    let user = w.register("cy@example.com").await;
    w.register("dee@example.com").await;
    w.stores.users.set_disabled(&user.id, true).await.unwrap();

    let unknown = w.login("nobody@example.com", PASSWORD).await.unwrap_err();
    let wrong = w
        .login("dee@example.com", "wrong horse battery staple")
        .await
        .unwrap_err();
    let disabled = w.login("cy@example.com", PASSWORD).await.unwrap_err();
    for error in [&unknown, &wrong, &disabled] {
        assert!(matches!(error, Error::InvalidCredentials));
        assert_eq!(error.to_string(), "invalid credentials");
    }
    // The reasons are kept internally, in the audit trail.
    let reasons: Vec<_> = w
        .events
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            AuthEventKind::LoginFailed { reason } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            LoginFailure::UnknownAccount,
            LoginFailure::WrongPassword,
            LoginFailure::DisabledAccount
        ]
    );
}

#[tokio::test]
async fn repeated_failures_throttle_the_account_even_for_the_right_password() {
    let w = world();
    w.register("eve@example.com").await;
    for _ in 0..5 {
        let error = w
            .login("eve@example.com", "wrong horse battery staple")
            .await
            .unwrap_err();
        assert!(matches!(error, Error::InvalidCredentials));
    }
    let sixth = w
        .login("eve@example.com", "wrong horse battery staple")
        .await
        .unwrap_err();
    assert!(
        matches!(sixth, Error::InvalidCredentials),
        "the sixth is still counted"
    );
    let locked = w.login("eve@example.com", PASSWORD).await.unwrap_err();
    let Error::Throttled { retry_after } = locked else {
        panic!("expected throttled, got {locked:?}");
    };
    assert!(retry_after > Duration::ZERO);
    // Varying case and whitespace does not reset the account's counter.
    let variant = w.login("  EVE@example.com ", PASSWORD).await.unwrap_err();
    assert_eq!(variant.code(), "throttled");

    w.advance(retry_after.as_secs() + 1);
    assert!(
        w.login("eve@example.com", PASSWORD).await.is_ok(),
        "after the wait"
    );
    // Success reset the account's counter: five more free failures.
    for _ in 0..5 {
        let error = w.login("eve@example.com", "wrong").await.unwrap_err();
        assert!(matches!(error, Error::InvalidCredentials));
    }
}

#[tokio::test]
async fn a_legacy_hash_is_upgraded_on_login() {
    let w = world();
    let user = User {
        id: UserId::new(),
        email: "legacy@example.com".into(),
        password_hash: bcrypt::hash(PASSWORD, 4).unwrap(),
        disabled: false,
        created_at: w.clock.now(),
        epoch: 0,
        email_verified_at: None,
        locale: None,
    };
    w.stores.users.create_user(user.clone()).await.unwrap();
    w.tokens("legacy@example.com").await;
    let stored = w.stores.users.user_by_id(&user.id).await.unwrap().unwrap();
    assert!(
        stored
            .password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    assert!(w.events.names().contains(&"password_rehashed"));
    w.tokens("legacy@example.com").await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family_and_session() {
    let w = world();
    w.register("fay@example.com").await;
    let first = w.tokens("fay@example.com").await;
    w.advance(60);
    let second = w
        .auth
        .refresh(first.refresh_token.expose_secret(), None)
        .await
        .unwrap();
    assert_eq!(second.session_id, first.session_id);
    assert_ne!(
        second.refresh_token.expose_secret(),
        first.refresh_token.expose_secret()
    );
    let access = second.access_token.expose_secret().to_owned();
    assert!(w.auth.authenticate(&access).await.is_ok());

    // The first refresh token again, past the reuse grace period: reuse.
    w.advance(31);
    let reused = w
        .auth
        .refresh(first.refresh_token.expose_secret(), None)
        .await;
    assert_eq!(reused.unwrap_err().code(), "token_reused");
    // The successor stops working, and so do the session's access tokens.
    let successor = w
        .auth
        .refresh(second.refresh_token.expose_secret(), None)
        .await;
    assert_eq!(rejection(successor), TokenRejection::NotActive);
    assert_eq!(
        rejection(w.auth.authenticate(&access).await),
        TokenRejection::Revoked
    );
    let principal_sessions = w
        .stores
        .sessions
        .session(&first.session_id, w.clock.now())
        .await
        .unwrap();
    assert!(principal_sessions.is_none());
    assert!(w.events.names().contains(&"refresh_reuse_detected"));
}

#[tokio::test]
async fn a_refresh_whose_answer_was_lost_can_be_retried_within_the_grace_period() {
    let w = world();
    w.register("lost@example.com").await;
    let first = w.tokens("lost@example.com").await;
    // The answer to this refresh never reaches the client.
    let lost = w
        .auth
        .refresh(first.refresh_token.expose_secret(), None)
        .await
        .unwrap();
    w.advance(20);
    let retried = w
        .auth
        .refresh(first.refresh_token.expose_secret(), None)
        .await
        .unwrap();
    assert_eq!(retried.session_id, first.session_id);
    assert!(
        w.auth
            .authenticate(retried.access_token.expose_secret())
            .await
            .is_ok()
    );
    // The successor the retry replaced is spent: presenting it is reuse, and ends the session.
    let replaced = w
        .auth
        .refresh(lost.refresh_token.expose_secret(), None)
        .await;
    assert_eq!(replaced.unwrap_err().code(), "token_reused");
    assert_eq!(
        rejection(
            w.auth
                .authenticate(retried.access_token.expose_secret())
                .await
        ),
        TokenRejection::Revoked
    );
}

#[tokio::test]
async fn refresh_tokens_expire_idle_and_absolute() {
    let w = world_with(|mut config| {
        config.sessions.idle = Duration::from_secs(3600);
        config.sessions.absolute = Duration::from_secs(3 * 3600);
        config
    });
    w.register("gus@example.com").await;
    let tokens = w.tokens("gus@example.com").await;
    w.advance(3600);
    let idle = w
        .auth
        .refresh(tokens.refresh_token.expose_secret(), None)
        .await;
    assert_eq!(rejection(idle), TokenRejection::NotActive);

    let mut tokens = w.tokens("gus@example.com").await;
    for _ in 0..5 {
        w.advance(50 * 60);
        match w
            .auth
            .refresh(tokens.refresh_token.expose_secret(), None)
            .await
        {
            Ok(next) => tokens = next,
            Err(error) => {
                assert_eq!(rejection(Err::<(), _>(error)), TokenRejection::NotActive);
                return;
            }
        }
    }
    panic!("the absolute lifetime of three hours did not end the family");
}

#[tokio::test]
async fn malformed_refresh_tokens_are_invalid_tokens() {
    let w = world();
    for token in ["", "abc", &"x".repeat(10_000)] {
        assert_eq!(
            rejection(w.auth.refresh(token, None).await),
            TokenRejection::Malformed
        );
    }
    let unknown = crate::id::OpaqueSecret::generate().into_secret();
    assert_eq!(
        rejection(w.auth.refresh(unknown.expose_secret(), None).await),
        TokenRejection::NotActive
    );
}

#[tokio::test]
async fn logout_refuses_the_sessions_tokens_at_once() {
    let w = world();
    w.register("hal@example.com").await;
    let tokens = w.tokens("hal@example.com").await;
    let principal = w.principal(&tokens).await;
    // The token is in the verified-token cache (on by default) before the logout; the
    // revocation still wins.
    assert_eq!(w.auth.verifier().cached_tokens(), 1);
    let again = w.principal(&tokens).await;
    assert_eq!(again.claims, principal.claims);
    w.auth.logout(&principal, None).await.unwrap();
    let access = w
        .auth
        .authenticate(tokens.access_token.expose_secret())
        .await;
    assert_eq!(rejection(access), TokenRejection::Revoked);
    let refresh = w
        .auth
        .refresh(tokens.refresh_token.expose_secret(), None)
        .await;
    assert_eq!(rejection(refresh), TokenRejection::NotActive);
}

#[tokio::test]
async fn each_login_opens_a_new_session() {
    let w = world();
    w.register("ivy@example.com").await;
    let a = w.tokens("ivy@example.com").await;
    let b = w.tokens("ivy@example.com").await;
    assert_ne!(a.session_id, b.session_id);
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let w = world();
    w.register("jo@example.com").await;
    let here = w.tokens("jo@example.com").await;
    let elsewhere = w.tokens("jo@example.com").await;
    let principal = w.principal(&here).await;
    let new = "a brand new passphrase";

    let wrong = w
        .auth
        .change_password(&principal, &secret("not my password"), &secret(new), None)
        .await;
    assert_eq!(wrong.unwrap_err().code(), "invalid_credentials");
    let weak = w
        .auth
        .change_password(&principal, &secret(PASSWORD), &secret("short"), None)
        .await;
    assert_eq!(weak.unwrap_err().code(), "weak_password");

    w.auth
        .change_password(&principal, &secret(PASSWORD), &secret(new), None)
        .await
        .unwrap();
    assert!(
        w.auth
            .authenticate(here.access_token.expose_secret())
            .await
            .is_ok()
    );
    let other = w
        .auth
        .authenticate(elsewhere.access_token.expose_secret())
        .await;
    assert_eq!(rejection(other), TokenRejection::Revoked);
    let other_refresh = w
        .auth
        .refresh(elsewhere.refresh_token.expose_secret(), None)
        .await;
    assert_eq!(rejection(other_refresh), TokenRejection::NotActive);
    assert!(matches!(
        w.login("jo@example.com", PASSWORD).await,
        Err(Error::InvalidCredentials)
    ));
    assert!(w.login("jo@example.com", new).await.is_ok());
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_one_or_all_others() {
    let w = world();
    w.register("kim@example.com").await;
    let mallory = w.register("mallory@example.com").await;
    let a = w.tokens("kim@example.com").await;
    w.advance(1);
    let b = w.tokens("kim@example.com").await;
    w.advance(1);
    let c = w.tokens("kim@example.com").await;
    let principal = w.principal(&a).await;

    let listed = w.auth.sessions(&principal).await.unwrap();
    let ids: Vec<_> = listed.iter().map(|s| s.id.clone()).collect();
    assert_eq!(
        ids,
        vec![
            a.session_id.clone(),
            b.session_id.clone(),
            c.session_id.clone()
        ]
    );
    assert_eq!(listed.iter().filter(|s| s.current).count(), 1);
    assert!(listed[0].current);

    w.auth
        .revoke_session(&principal, &b.session_id, None)
        .await
        .unwrap();
    let again = w.auth.revoke_session(&principal, &b.session_id, None).await;
    assert_eq!(again.unwrap_err().code(), "not_found");
    let mallory_tokens = w.tokens("mallory@example.com").await;
    let theirs = w
        .auth
        .revoke_session(&principal, &mallory_tokens.session_id, None)
        .await;
    assert_eq!(
        theirs.unwrap_err().code(),
        "not_found",
        "another user's session"
    );
    assert_eq!(mallory_tokens.user_id, mallory.id);

    w.auth
        .revoke_other_sessions(&principal, None)
        .await
        .unwrap();
    let left: Vec<_> = w
        .auth
        .sessions(&principal)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, vec![a.session_id.clone()]);
    assert_eq!(
        rejection(w.auth.authenticate(c.access_token.expose_secret()).await),
        TokenRejection::Revoked
    );
}

#[tokio::test]
async fn totp_enrolment_login_challenge_and_verification() {
    let w = world();
    w.register("lee@example.com").await;
    let tokens = w.tokens("lee@example.com").await;
    let principal = w.principal(&tokens).await;

    let enrollment = w.auth.enroll_totp(&principal).await.unwrap();
    let uri = enrollment.otpauth_uri.expose_secret();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={}", enrollment.secret.expose_secret())));
    let totp = TotpSecret::from_base32(enrollment.secret.expose_secret()).unwrap();
    let wrong = w.auth.confirm_totp(&principal, "000000", None).await;
    assert_eq!(wrong.unwrap_err().code(), "invalid_credentials");
    assert!(
        !w.auth.me(&principal).await.unwrap().mfa_enabled,
        "not before confirmation"
    );
    let codes = w
        .auth
        .confirm_totp(&principal, &w.code(&totp), None)
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    assert!(w.auth.me(&principal).await.unwrap().mfa_enabled);
    let twice = w.auth.enroll_totp(&principal).await;
    assert_eq!(twice.unwrap_err().code(), "conflict");

    // The password alone now gives a challenge, not tokens.
    w.advance(30);
    let LoginOutcome::MfaRequired {
        mfa_token,
        expires_in,
        factors,
    } = w.login("lee@example.com", PASSWORD).await.unwrap()
    else {
        panic!("password alone must not grant access when MFA is enrolled");
    };
    assert_eq!(expires_in, 300);
    assert_eq!(factors, [MfaFactor::Totp, MfaFactor::RecoveryCode]);
    // The challenge is useless as an access token.
    let as_access = w.auth.authenticate(mfa_token.expose_secret()).await;
    assert_eq!(rejection(as_access), TokenRejection::WrongType);

    let code = w.code(&totp);
    let tokens = w
        .auth
        .verify_mfa(mfa_token.expose_secret(), &code, CLIENT)
        .await
        .unwrap();
    let principal = w.principal(&tokens).await;
    assert_eq!(principal.claims.amr, vec!["pwd", "otp", "mfa"]);
    // The same code again (same step): a replay.
    let replay = w
        .auth
        .verify_mfa(mfa_token.expose_secret(), &code, CLIENT)
        .await;
    assert_eq!(replay.unwrap_err().code(), "invalid_credentials");
    // An access token is not a challenge either.
    let wrong_type = w
        .auth
        .verify_mfa(tokens.access_token.expose_secret(), &code, CLIENT)
        .await;
    assert_eq!(rejection(wrong_type), TokenRejection::WrongType);
}

async fn mfa_challenge(w: &World, email: &str) -> SecretString {
    match w.login(email, PASSWORD).await.unwrap() {
        LoginOutcome::MfaRequired { mfa_token, .. } => mfa_token,
        LoginOutcome::Authenticated(_) => panic!("expected an MFA challenge"),
    }
}

#[tokio::test]
async fn recovery_codes_work_once_each() {
    let w = world();
    w.register("max@example.com").await;
    let tokens = w.tokens("max@example.com").await;
    let (_, codes) = w.enable_totp(&w.principal(&tokens).await).await;
    let challenge = mfa_challenge(&w, "max@example.com").await;
    let code = codes[3].expose_secret().to_uppercase().replace('-', " ");
    let tokens = w
        .auth
        .verify_mfa(challenge.expose_secret(), &code, CLIENT)
        .await
        .unwrap();
    assert_eq!(w.principal(&tokens).await.claims.amr, vec!["pwd", "mfa"]);
    let again = w
        .auth
        .verify_mfa(challenge.expose_secret(), codes[3].expose_secret(), CLIENT)
        .await;
    assert_eq!(again.unwrap_err().code(), "invalid_credentials");
    let left = w
        .stores
        .mfa
        .recovery_codes_left(&tokens.user_id)
        .await
        .unwrap();
    assert_eq!(left, 9);
    assert!(
        w.events
            .events()
            .iter()
            .any(|e| e.kind == AuthEventKind::RecoveryCodeUsed { remaining: 9 })
    );
}

#[tokio::test]
async fn recovery_codes_issued_at_80_bits_are_still_accepted() {
    let w = world();
    w.register("ida@example.com").await;
    let tokens = w.tokens("ida@example.com").await;
    let (_, codes) = w.enable_totp(&w.principal(&tokens).await).await;
    assert_eq!(
        codes[0].expose_secret().len(),
        29,
        "24 characters in six groups"
    );
    // The store as an earlier release left it: 16-character codes, unsalted SHA-256.
    let mfa = &w.stores.mfa;
    let mut record = mfa.totp(&tokens.user_id).await.unwrap().unwrap();
    record.confirmed = false;
    record.last_used_step = None;
    assert!(mfa.delete_totp(&tokens.user_id).await.unwrap());
    mfa.save_pending_totp(record).await.unwrap();
    let legacy = [b"abcdefghijklmnop", b"2345672345672345"].map(|c| crate::id::SecretHash::of(c));
    assert!(
        mfa.confirm_totp(&tokens.user_id, 1, legacy.to_vec())
            .await
            .unwrap()
    );

    let challenge = mfa_challenge(&w, "ida@example.com").await;
    let tokens = w
        .auth
        .verify_mfa(challenge.expose_secret(), "ABCD-EFGH-IJKL-MNOP", CLIENT)
        .await
        .unwrap();
    assert_eq!(w.principal(&tokens).await.claims.amr, vec!["pwd", "mfa"]);
    let left = mfa.recovery_codes_left(&tokens.user_id).await.unwrap();
    assert_eq!(left, 1);
}

#[tokio::test]
async fn wrong_second_factors_are_strictly_limited() {
    let w = world();
    w.register("ned@example.com").await;
    let tokens = w.tokens("ned@example.com").await;
    let (totp, _) = w.enable_totp(&w.principal(&tokens).await).await;
    let mut challenge = mfa_challenge(&w, "ned@example.com").await;
    // An attacker who waits out every delay, for one hour of clock time.
    let hour_later = w.clock.now() + Duration::from_secs(3600);
    let mut guesses = 0;
    while w.clock.now() < hour_later {
        match w
            .auth
            .verify_mfa(challenge.expose_secret(), "123456", CLIENT)
            .await
        {
            Err(Error::InvalidCredentials) => guesses += 1,
            Err(Error::Throttled { retry_after }) => {
                assert!(guesses >= 5, "the first five guesses are not delayed");
                // While delayed, even the right code is refused.
                let right = w
                    .auth
                    .verify_mfa(challenge.expose_secret(), &w.code(&totp), CLIENT)
                    .await;
                assert_eq!(right.unwrap_err().code(), "throttled");
                w.advance(retry_after.as_secs() + 1);
            }
            // Waiting out the delays outlives challenges, and five wrong codes spend one: log
            // in again for a new one.
            Err(Error::InvalidToken(TokenRejection::Expired | TokenRejection::NotActive)) => {
                challenge = mfa_challenge(&w, "ned@example.com").await;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!((6..=20).contains(&guesses), "{guesses} guesses in an hour");
}

#[tokio::test]
async fn an_mfa_challenge_expires() {
    let w = world();
    w.register("ola@example.com").await;
    let tokens = w.tokens("ola@example.com").await;
    let (totp, _) = w.enable_totp(&w.principal(&tokens).await).await;
    let challenge = mfa_challenge(&w, "ola@example.com").await;
    w.advance(300 + 30 + 1);
    let late = w
        .auth
        .verify_mfa(challenge.expose_secret(), &w.code(&totp), CLIENT)
        .await;
    assert_eq!(rejection(late), TokenRejection::Expired);
}

#[tokio::test]
async fn disabling_totp_needs_a_fresh_factor_or_the_password() {
    let w = world();
    w.register("pia@example.com").await;
    let tokens = w.tokens("pia@example.com").await;
    let principal = w.principal(&tokens).await;
    let (totp, _) = w.enable_totp(&principal).await;

    let wrong = w
        .auth
        .disable_totp(
            &principal,
            DisableTotp::Password(&secret("not it at all")),
            None,
        )
        .await;
    assert_eq!(wrong.unwrap_err().code(), "invalid_credentials");
    let stale = w
        .auth
        .disable_totp(&principal, DisableTotp::Code("000000"), None)
        .await;
    assert_eq!(stale.unwrap_err().code(), "invalid_credentials");
    w.advance(30);
    w.auth
        .disable_totp(&principal, DisableTotp::Code(&w.code(&totp)), None)
        .await
        .unwrap();
    assert!(!w.auth.me(&principal).await.unwrap().mfa_enabled);
    assert!(matches!(
        w.login("pia@example.com", PASSWORD).await.unwrap(),
        LoginOutcome::Authenticated(_)
    ));

    let (_, _) = w.enable_totp(&principal).await;
    w.auth
        .disable_totp(&principal, DisableTotp::Password(&secret(PASSWORD)), None)
        .await
        .unwrap();
    let none = w
        .auth
        .disable_totp(&principal, DisableTotp::Password(&secret(PASSWORD)), None)
        .await;
    assert_eq!(none.unwrap_err().code(), "conflict");
    let names = w.events.names();
    assert_eq!(names.iter().filter(|n| **n == "mfa_disabled").count(), 2);
}

#[tokio::test]
async fn another_process_revocation_is_seen_once_the_cache_entry_is_stale() {
    let w = world();
    w.register("quin@example.com").await;
    let tokens = w.tokens("quin@example.com").await;
    let access = tokens.access_token.expose_secret().to_owned();
    assert!(w.auth.authenticate(&access).await.is_ok());
    // Another process sharing the stores revokes the session.
    w.stores
        .revocations
        .revoke_sid(
            &tokens.session_id,
            w.clock.now(),
            w.clock.now() + Duration::from_secs(3600),
        )
        .await
        .unwrap();
    assert!(
        w.auth.authenticate(&access).await.is_ok(),
        "cached for up to two seconds"
    );
    w.advance(2);
    assert_eq!(
        rejection(w.auth.authenticate(&access).await),
        TokenRejection::Revoked
    );
}

#[tokio::test]
async fn audit_events_never_hold_secrets() {
    let w = world();
    w.register("rae@example.com").await;
    let tokens = w.tokens("rae@example.com").await;
    let principal = w.principal(&tokens).await;
    let (totp, codes) = w.enable_totp(&principal).await;
    let _ = w
        .login("rae@example.com", "wrong horse battery staple")
        .await;
    let refreshed = w
        .auth
        .refresh(tokens.refresh_token.expose_secret(), None)
        .await
        .unwrap();
    let _ = w
        .auth
        .refresh(tokens.refresh_token.expose_secret(), None)
        .await;
    let everything = format!("{:?}", w.events.events());
    let secrets = [
        PASSWORD.to_owned(),
        "wrong horse battery staple".to_owned(),
        tokens.access_token.expose_secret().to_owned(),
        tokens.refresh_token.expose_secret().to_owned(),
        refreshed.refresh_token.expose_secret().to_owned(),
        totp.to_base32().expose_secret().to_owned(),
        codes[0].expose_secret().to_owned(),
    ];
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "an event holds a secret"
        );
    }
    assert!(!format!("{tokens:?}").contains(tokens.refresh_token.expose_secret()));
}

#[tokio::test]
async fn totp_can_use_sha256_and_eight_digits() {
    let w = world_with(|mut config| {
        config.totp = crate::mfa::TotpParams {
            algorithm: crate::mfa::TotpAlgorithm::Sha256,
            digits: 8,
            period: 30,
        };
        config
    });
    w.register("sam@example.com").await;
    let tokens = w.tokens("sam@example.com").await;
    let principal = w.principal(&tokens).await;
    let enrollment = w.auth.enroll_totp(&principal).await.unwrap();
    let uri = enrollment.otpauth_uri.expose_secret();
    assert!(
        uri.contains("algorithm=SHA256") && uri.contains("digits=8"),
        "{uri}"
    );
    let totp = TotpSecret::from_base32(enrollment.secret.expose_secret()).unwrap();
    let code = w.code(&totp);
    assert_eq!(code.len(), 8);
    assert_eq!(
        w.auth
            .confirm_totp(&principal, &code, None)
            .await
            .unwrap()
            .len(),
        10
    );
}

#[derive(Debug, Default)]
struct Recorder {
    seen: std::sync::Mutex<Vec<String>>,
}

impl AuthObserver for Recorder {
    fn token_issued(&self, kind: TokenKind, _: Duration) {
        self.seen
            .lock()
            .unwrap()
            .push(format!("issued {}", kind.media_type()));
    }
    fn password_hashed(&self, _: Duration) {
        self.seen.lock().unwrap().push("hashed".into());
    }
    fn refreshed(&self, outcome: RefreshOutcome) {
        self.seen
            .lock()
            .unwrap()
            .push(format!("refresh {}", outcome.as_str()));
    }
}

#[tokio::test]
async fn the_observer_sees_hashes_issues_and_refresh_outcomes() {
    let recorder = Arc::new(Recorder::default());
    // No reuse grace: the second use of a token is reuse at once.
    let mut config = testing::authenticator_config();
    config.sessions.refresh_reuse_grace = Duration::ZERO;
    let auth = testing::authenticator_builder(config)
        .observer(recorder.clone())
        .build()
        .unwrap();
    auth.register("obs@example.com", &secret(PASSWORD))
        .await
        .unwrap();
    let LoginOutcome::Authenticated(tokens) = auth
        .login("obs@example.com", &secret(PASSWORD), None)
        .await
        .unwrap()
    else {
        panic!("no MFA enrolled");
    };
    let next = auth
        .refresh(tokens.refresh_token.expose_secret(), None)
        .await
        .unwrap();
    let _ = auth
        .refresh(tokens.refresh_token.expose_secret(), None)
        .await;
    let _ = auth.refresh(next.refresh_token.expose_secret(), None).await;
    let _ = auth.refresh("garbage", None).await;
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            "hashed",
            "hashed",
            "issued at+jwt",
            "issued at+jwt",
            "refresh rotated",
            "refresh reused",
            "refresh invalid",
            "refresh invalid",
        ]
    );
}

#[tokio::test]
async fn the_breached_password_check_refuses_at_registration_with_the_configured_policy() {
    let mut config = testing::authenticator_config();
    config.passwords.policy = crate::password::PasswordPolicy::new(14, 128).unwrap();
    let auth = testing::authenticator_builder(config)
        .breached_password_check(Arc::new(crate::password::BreachList::from_passwords([
            "breached horse battery",
        ])))
        .build()
        .unwrap();
    let error = auth
        .register("b@example.com", &secret("breached horse battery"))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::WeakPassword(crate::PasswordRejection::Breached)
    ));
    // The configured policy still applies beside the check: 13 characters are too few.
    let error = auth
        .register("b@example.com", &secret("thirteen char"))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::WeakPassword(crate::PasswordRejection::TooShort { min: 14 })
    ));
}

fn reauth_required(result: Result<impl std::fmt::Debug>) -> Duration {
    match result {
        Err(Error::ReauthRequired { max_age }) => max_age,
        other => panic!("expected reauth_required, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refresh_copies_auth_time_so_enrolling_after_the_window_needs_a_step_up() {
    let w = world();
    w.register("step@example.com").await;
    let login = w.tokens("step@example.com").await;
    let logged_in_at = w.principal(&login).await.claims.auth_time;
    assert_eq!(logged_in_at, Some(w.clock.unix_seconds()));

    w.advance(301);
    let refreshed = w
        .auth
        .refresh(login.refresh_token.expose_secret(), None)
        .await
        .unwrap();
    let principal = w.principal(&refreshed).await;
    assert_eq!(
        principal.claims.auth_time, logged_in_at,
        "a refresh is no authentication"
    );
    let refused = w.auth.enroll_totp(&principal).await;
    assert_eq!(reauth_required(refused), Duration::from_secs(300));

    let stepped_up = w
        .auth
        .reauthenticate(
            &principal,
            Reauthentication::Password(&secret(PASSWORD)),
            CLIENT,
        )
        .await
        .unwrap();
    assert_eq!(
        stepped_up.session_id, refreshed.session_id,
        "the same session"
    );
    let fresh = w.principal(&stepped_up).await;
    assert_eq!(fresh.claims.auth_time, Some(w.clock.unix_seconds()));
    w.enable_totp(&fresh).await;
    assert_eq!(
        rejection(
            w.auth
                .refresh(refreshed.refresh_token.expose_secret(), None)
                .await
        ),
        TokenRejection::NotActive,
        "the refresh token of before the step-up stops working"
    );
    // The stepped-up session's own refresh keeps the step-up's auth_time.
    w.advance(60);
    let later = w
        .auth
        .refresh(stepped_up.refresh_token.expose_secret(), None)
        .await
        .unwrap();
    assert_eq!(
        w.principal(&later).await.claims.auth_time,
        fresh.claims.auth_time
    );
    assert_eq!(
        w.events
            .names()
            .iter()
            .filter(|n| **n == "reauthenticated")
            .count(),
        1
    );
}

#[tokio::test]
async fn ending_other_sessions_needs_a_fresh_authentication_but_ending_ones_own_does_not() {
    let w = world();
    w.register("ends@example.com").await;
    let mine = w.tokens("ends@example.com").await;
    let other = w.tokens("ends@example.com").await;
    w.advance(301);
    let mine = w
        .auth
        .refresh(mine.refresh_token.expose_secret(), None)
        .await
        .unwrap();
    let principal = w.principal(&mine).await;
    reauth_required(w.auth.revoke_other_sessions(&principal, None).await);
    reauth_required(
        w.auth
            .revoke_session(&principal, &other.session_id, None)
            .await,
    );
    assert!(w.auth.sessions(&principal).await.unwrap().len() == 2);
    w.auth
        .revoke_session(&principal, &mine.session_id, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_step_up_is_checked_like_a_login_and_takes_a_code_when_totp_is_on() {
    let w = world();
    w.register("proof@example.com").await;
    let tokens = w.tokens("proof@example.com").await;
    let principal = w.principal(&tokens).await;
    let refused = w
        .auth
        .reauthenticate(&principal, Reauthentication::Code("123456"), CLIENT)
        .await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    for _ in 0..6 {
        let wrong = w
            .auth
            .reauthenticate(
                &principal,
                Reauthentication::Password(&secret("wrong one")),
                CLIENT,
            )
            .await;
        assert!(matches!(wrong, Err(Error::InvalidCredentials)), "{wrong:?}");
    }
    let throttled = w
        .auth
        .reauthenticate(
            &principal,
            Reauthentication::Password(&secret(PASSWORD)),
            CLIENT,
        )
        .await;
    assert!(
        matches!(throttled, Err(Error::Throttled { .. })),
        "{throttled:?}"
    );

    w.advance(2);
    let (totp, _) = w.enable_totp(&principal).await;
    w.advance(30);
    let stepped_up = w
        .auth
        .reauthenticate(&principal, Reauthentication::Code(&w.code(&totp)), CLIENT)
        .await
        .unwrap();
    assert_eq!(stepped_up.session_id, tokens.session_id);
}

#[test]
fn a_zero_reauthentication_max_age_is_refused() {
    let mut config = testing::authenticator_config();
    config.reauthentication_max_age = Duration::ZERO;
    let built = testing::authenticator_builder(config).build();
    assert!(matches!(built, Err(Error::Config(_))), "{built:?}");
}

#[tokio::test]
async fn a_registration_beyond_the_rate_is_refused_before_any_hashing() {
    let recorder = Arc::new(Recorder::default());
    let clock = testing::clock();
    let stores = Stores::memory();
    let throttle = crate::throttle::Throttle::new(stores.throttle.clone(), clock.clone())
        .with_registration_policy(
            crate::throttle::ThrottlePolicy::rate(Duration::from_secs(3600), 2).unwrap(),
        );
    let auth = testing::authenticator_builder(testing::authenticator_config())
        .stores(stores)
        .clock(clock)
        .throttle(throttle)
        .observer(recorder.clone())
        .build()
        .unwrap();
    auth.register_from("one@example.com", &secret(PASSWORD), CLIENT)
        .await
        .unwrap();
    let weak = auth
        .register_from("two@example.com", &secret("short"), CLIENT)
        .await;
    assert!(matches!(weak, Err(Error::WeakPassword(_))), "{weak:?}");
    let hashed = recorder.seen.lock().unwrap().len();
    let refused = auth
        .register_from("three@example.com", &secret(PASSWORD), CLIENT)
        .await;
    assert!(
        matches!(refused, Err(Error::Throttled { .. })),
        "{refused:?}"
    );
    assert_eq!(
        recorder.seen.lock().unwrap().len(),
        hashed,
        "nothing hashed"
    );
    // Another address still may.
    auth.register_from("three@example.com", &secret(PASSWORD), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_login_against_a_planted_costly_hash_is_a_counted_wrong_password() {
    let w = world();
    let user = User {
        id: UserId::new(),
        email: "planted@example.com".into(),
        // scrypt at ln=20, r=32: 4 GiB for one check, were it run.
        password_hash: "$scrypt$ln=20,r=32,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        disabled: false,
        created_at: w.clock.now(),
        epoch: 0,
        email_verified_at: None,
        locale: None,
    };
    w.stores.users.create_user(user.clone()).await.unwrap();
    for _ in 0..6 {
        let refused = w.login("planted@example.com", PASSWORD).await;
        assert!(
            matches!(refused, Err(Error::InvalidCredentials)),
            "{refused:?}"
        );
    }
    let counted = w.login("planted@example.com", PASSWORD).await;
    assert!(
        matches!(counted, Err(Error::Throttled { .. })),
        "{counted:?}"
    );
}

#[tokio::test]
async fn audit_events_carry_the_client_address() {
    let w = world();
    w.register("eve@example.com").await;
    let tokens = w.tokens("eve@example.com").await;
    let principal = w.principal(&tokens).await;
    // A refresh token presented twice: the reuse and the session's end name the client.
    let first = w.tokens("eve@example.com").await;
    let _ = w
        .auth
        .refresh(first.refresh_token.expose_secret(), CLIENT)
        .await;
    // Past the reuse grace period (30 s by default).
    w.advance(31);
    let reused = w
        .auth
        .refresh(first.refresh_token.expose_secret(), CLIENT)
        .await;
    assert!(matches!(reused, Err(Error::TokenReused)), "{reused:?}");
    w.enable_totp(&principal).await;
    let challenge = mfa_challenge(&w, "eve@example.com").await;
    let wrong = w
        .auth
        .verify_mfa(challenge.expose_secret(), "000000", CLIENT)
        .await;
    assert!(wrong.is_err());
    w.auth.logout(&principal, CLIENT).await.unwrap();

    let events = w.events.events();
    for name in [
        "login_succeeded",
        "mfa_enrolled",
        "mfa_challenged",
        "mfa_failed",
        "refresh_reuse_detected",
        "session_ended",
    ] {
        let named: Vec<_> = events.iter().filter(|e| e.name() == name).collect();
        assert!(!named.is_empty(), "no {name} event");
        assert!(
            named.iter().all(|e| e.client == CLIENT),
            "{name} without the client: {named:?}"
        );
    }
}

#[tokio::test]
async fn a_login_refused_as_busy_is_recorded_once_per_client_and_second() {
    let w = world_with(|mut config| {
        config.passwords.max_concurrent_hashes = 1;
        config.passwords.max_queued_hashes = 0;
        config
    });
    // PBKDF2 at the most rounds allowed: long enough a check to hold the only slot.
    let slow = User {
        id: UserId::new(),
        email: "slow@example.com".into(),
        password_hash:
            "$pbkdf2-sha256$i=2000000,l=32$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
                .into(),
        disabled: false,
        created_at: w.clock.now(),
        epoch: 0,
        email_verified_at: None,
        locale: None,
    };
    w.stores.users.create_user(slow).await.unwrap();
    let hold = || {
        let auth = w.auth.clone();
        tokio::spawn(async move {
            auth.login("slow@example.com", &secret(PASSWORD), None)
                .await
                .map(|_| ())
        })
    };
    let mut holder = hold();
    let other = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
    let started = std::time::Instant::now();
    let mut busy = 0;
    while busy < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the slow check never held the slot"
        );
        if busy == 0 && holder.is_finished() {
            // It found the slot taken by a probe: start it again.
            holder = hold();
        }
        // Give the slow check time to take the slot before probing.
        tokio::time::sleep(Duration::from_millis(20)).await;
        match w
            .auth
            .login("nobody@example.com", &secret(PASSWORD), other)
            .await
        {
            Err(Error::Busy) => busy += 1,
            Err(Error::InvalidCredentials | Error::Throttled { .. }) => {}
            result => panic!("unexpected {result:?}"),
        }
    }
    // Only the probes' client: the slow login itself may have met a probe in the slot.
    let refused_busy = |w: &World| -> Vec<AuthEvent> {
        w.events
            .events()
            .into_iter()
            .filter(|e| {
                e.client == other
                    && e.kind
                        == AuthEventKind::LoginFailed {
                            reason: LoginFailure::Busy,
                        }
            })
            .collect()
    };
    let recorded = refused_busy(&w);
    assert_eq!(recorded.len(), 1, "five refusals, one event: {recorded:?}");
    assert_eq!(recorded[0].user_id, None);
    // The next second records again.
    w.advance(1);
    while !matches!(
        w.auth
            .login("nobody@example.com", &secret(PASSWORD), other)
            .await,
        Err(Error::Busy)
    ) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the slow check never held the slot again"
        );
        if holder.is_finished() {
            holder = hold();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(refused_busy(&w).len(), 2);
    let _ = holder.await;
}

#[tokio::test]
async fn one_account_per_address_however_it_is_spelt() {
    let w = world();
    let user = w.register("Straße@Bücher.Example").await;
    assert_eq!(user.email, "strasse@xn--bcher-kva.example");
    let again = w
        .auth
        .register("STRASSE@xn--bcher-kva.example", &secret(PASSWORD))
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert!(
        w.login("ｓｔｒａｓｓｅ@bücher.example", PASSWORD)
            .await
            .is_ok()
    );
    // Wrong passwords under different spellings share one counter.
    for spelling in ["strasse@bücher.example", "STRASSE@BÜCHER.EXAMPLE"] {
        for _ in 0..3 {
            let _ = w.login(spelling, "wrong password here").await;
        }
    }
    let refused = w.login("Straße@xn--bcher-kva.example", PASSWORD).await;
    assert!(
        matches!(refused, Err(Error::Throttled { .. })),
        "{refused:?}"
    );
}

/// Sessions in a Redis of the test's own (where an embedder may keep them), frozen at the worst
/// moment of a refresh: after the token was found, before it is rotated.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_refused_before_its_rotation_leaves_the_token_usable() {
    use crate::store::redis::{RedisConfig, RedisStore};
    if !testing::needs::require(testing::needs::Need::RedisServer) {
        return;
    }
    let redis = tokio::task::spawn_blocking(testing::private::PrivateRedis::start)
        .await
        .unwrap();
    let mut redis_config = RedisConfig::from_url(redis.url());
    redis_config.command_timeout = Duration::from_millis(300);
    let sessions = Arc::new(RedisStore::connect(redis_config).await.unwrap());
    // No reuse grace, so only the order of the steps can make the retry work.
    let w = world_over(
        |stores| Stores { sessions, ..stores },
        |mut config| {
            config.sessions.refresh_reuse_grace = Duration::ZERO;
            config
        },
    );
    w.register("away@example.com").await;
    let tokens = w.tokens("away@example.com").await;
    redis.pause();
    let refused = w
        .auth
        .refresh(tokens.refresh_token.expose_secret(), None)
        .await;
    redis.resume();
    assert!(matches!(refused, Err(Error::Unavailable(_))), "{refused:?}");
    let retried = w
        .auth
        .refresh(tokens.refresh_token.expose_secret(), None)
        .await;
    assert!(
        retried.is_ok(),
        "the same token once the store is back: {retried:?}"
    );
}

#[tokio::test]
async fn a_session_secret_opens_its_session_until_the_session_ends() {
    let w = world();
    w.register("ada@example.com").await;
    let tokens = w.tokens("ada@example.com").await;
    let secret = tokens
        .session_secret
        .as_ref()
        .expect("a new session hands out its secret")
        .expose_secret()
        .to_owned();
    assert_eq!(
        OpaqueSecret::parse(&secret).unwrap().session_id(),
        tokens.session_id,
        "the session id is the secret's digest"
    );
    let principal = w.auth.authenticate_session(&secret).await.unwrap();
    assert_eq!(principal.user_id, tokens.user_id);
    assert_eq!(principal.session_id.as_ref(), Some(&tokens.session_id));
    assert_eq!(principal.claims.amr, ["pwd"]);
    assert_eq!(principal.claims.auth_time, Some(w.clock.unix_seconds()));
    assert!(principal.claims.jti.is_empty(), "no token was issued");

    // The session list says where it started and, once described, what started it.
    w.auth
        .describe_session(
            &tokens.session_id,
            &format!("Firefox/140\n\u{7}{}", "x".repeat(300)),
        )
        .await
        .unwrap();
    let listed = w.auth.sessions(&principal).await.unwrap();
    assert_eq!(listed[0].client, CLIENT);
    let agent = listed[0].user_agent.as_deref().unwrap();
    assert!(
        agent.starts_with("Firefox/140x"),
        "control characters dropped: {agent:?}"
    );
    assert_eq!(agent.chars().count(), crate::store::MAX_USER_AGENT_CHARS);

    // A refresh hands out no secret; the one given still opens the session.
    let refreshed = w
        .auth
        .refresh(tokens.refresh_token.expose_secret(), CLIENT)
        .await
        .unwrap();
    assert!(refreshed.session_secret.is_none());
    w.auth.authenticate_session(&secret).await.unwrap();

    // Used within its idle time, the session lives past it.
    let idle = w.auth.config().sessions.idle;
    for _ in 0..3 {
        w.clock.advance(idle / 2);
        w.auth.authenticate_session(&secret).await.unwrap();
    }
    assert!(matches!(
        rejection(w.auth.authenticate_session("not a secret").await),
        TokenRejection::Malformed
    ));
    let unknown = OpaqueSecret::generate().into_secret();
    assert!(matches!(
        rejection(w.auth.authenticate_session(unknown.expose_secret()).await),
        TokenRejection::Revoked
    ));

    // Ended from the session list of another session, the cookie opens nothing.
    let other = w.tokens("ada@example.com").await;
    let other = w.principal(&other).await;
    w.auth
        .revoke_session(&other, &tokens.session_id, CLIENT)
        .await
        .unwrap();
    assert!(matches!(
        rejection(w.auth.authenticate_session(&secret).await),
        TokenRejection::Revoked
    ));
}

#[tokio::test]
async fn an_idle_session_secret_expires() {
    let w = world();
    w.register("ada@example.com").await;
    let tokens = w.tokens("ada@example.com").await;
    let secret = tokens.session_secret.unwrap();
    w.clock.advance(w.auth.config().sessions.idle);
    assert!(matches!(
        rejection(w.auth.authenticate_session(secret.expose_secret()).await),
        TokenRejection::Revoked
    ));
}

#[tokio::test]
async fn rotating_a_session_moves_it_to_a_new_secret_and_ends_the_old() {
    let w = world();
    w.register("ada@example.com").await;
    let tokens = w.tokens("ada@example.com").await;
    let old = tokens.session_secret.unwrap();
    let principal = w
        .auth
        .authenticate_session(old.expose_secret())
        .await
        .unwrap();
    w.advance(120);
    let new = w.auth.rotate_session(&principal, CLIENT).await.unwrap();
    assert_ne!(new.expose_secret(), old.expose_secret());
    assert!(matches!(
        rejection(w.auth.authenticate_session(old.expose_secret()).await),
        TokenRejection::Revoked
    ));
    assert!(
        w.auth
            .refresh(tokens.refresh_token.expose_secret(), CLIENT)
            .await
            .is_err(),
        "the old session's refresh family ended with it"
    );
    let rotated = w
        .auth
        .authenticate_session(new.expose_secret())
        .await
        .unwrap();
    assert_ne!(rotated.session_id, principal.session_id);
    assert_eq!(rotated.claims.amr, principal.claims.amr);
    assert_eq!(
        rotated.claims.auth_time, principal.claims.auth_time,
        "the authentication time is the session's, not the rotation's"
    );
    let listed = w.auth.sessions(&rotated).await.unwrap();
    assert_eq!(listed.len(), 1, "one session, under its new id");
    assert_eq!(Some(&listed[0].id), rotated.session_id.as_ref());
    assert!(listed[0].current);

    // A session ended elsewhere cannot be rotated back to life.
    w.auth.logout(&rotated, CLIENT).await.unwrap();
    assert!(w.auth.rotate_session(&rotated, CLIENT).await.is_err());
}

#[tokio::test]
async fn a_password_change_elsewhere_ends_a_cookie_session() {
    let w = world();
    w.register("ada@example.com").await;
    let browser = w.tokens("ada@example.com").await.session_secret.unwrap();
    let api = w.tokens("ada@example.com").await;
    let api = w.principal(&api).await;
    w.auth
        .change_password(
            &api,
            &secret(PASSWORD),
            &secret("a different horse battery staple"),
            CLIENT,
        )
        .await
        .unwrap();
    assert!(matches!(
        rejection(w.auth.authenticate_session(browser.expose_secret()).await),
        TokenRejection::Revoked
    ));
}
