//! The flows by email end to end on the memory backend: mail is read from the outbox, as the
//! worker would send it; time comes from a manual clock.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::id::UserId;
use crate::intent::{Intent, IntentId, IntentKey, Purpose};
use crate::mail::{MAIL_SINK, MailMessage};
use crate::mfa::{TotpSecret, code_at};
use crate::store::memory::MemoryStore;
use crate::store::{IntentStore, MfaStore, OutboxStore, UnitOfWork, User, UserStore, Writes};
use crate::testing;

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new tuba staple";
const CLIENT: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)));

/// Every call made to the counted stores, by method name, in order.
#[derive(Debug, Clone, Default)]
struct CallLog(Arc<Mutex<Vec<&'static str>>>);

impl CallLog {
    fn push(&self, call: &'static str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
    }

    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The memory store, every account, intent and unit-of-work call logged.
#[derive(Debug)]
struct Counted {
    inner: MemoryStore,
    log: CallLog,
    /// While set, units of work fail as a store that is down does.
    down: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait]
impl UserStore for Counted {
    async fn create_user(&self, user: User) -> Result<()> {
        self.log.push("create_user");
        self.inner.create_user(user).await
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.log.push("user_by_email");
        self.inner.user_by_email(email).await
    }
    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>> {
        self.log.push("user_by_id");
        self.inner.user_by_id(id).await
    }
    async fn upgrade_password_hash(&self, id: &UserId, epoch: u64, hash: &str) -> Result<bool> {
        self.log.push("upgrade_password_hash");
        self.inner.upgrade_password_hash(id, epoch, hash).await
    }
    async fn change_password_hash(
        &self,
        id: &UserId,
        epoch: u64,
        hash: &str,
    ) -> Result<Option<u64>> {
        self.log.push("change_password_hash");
        self.inner.change_password_hash(id, epoch, hash).await
    }
    async fn advance_epoch(&self, id: &UserId, epoch: u64) -> Result<Option<u64>> {
        self.log.push("advance_epoch");
        self.inner.advance_epoch(id, epoch).await
    }
    async fn set_disabled(&self, id: &UserId, disabled: bool) -> Result<bool> {
        self.log.push("set_disabled");
        self.inner.set_disabled(id, disabled).await
    }
    async fn mark_email_verified(&self, id: &UserId, email: &str, now: SystemTime) -> Result<bool> {
        self.log.push("mark_email_verified");
        self.inner.mark_email_verified(id, email, now).await
    }
    async fn change_email(
        &self,
        id: &UserId,
        from: &str,
        to: &str,
        now: SystemTime,
    ) -> Result<bool> {
        self.log.push("change_email");
        self.inner.change_email(id, from, to, now).await
    }
    async fn adopt_email_verification(&self, now: SystemTime) -> Result<Option<u64>> {
        self.log.push("adopt_email_verification");
        self.inner.adopt_email_verification(now).await
    }
}

#[async_trait]
impl IntentStore for Counted {
    async fn issue_intent(&self, intent: Intent) -> Result<()> {
        self.log.push("issue_intent");
        self.inner.issue_intent(intent).await
    }
    async fn find_intent(
        &self,
        purpose: Purpose,
        key: &IntentKey,
        now: SystemTime,
    ) -> Result<Option<Intent>> {
        self.log.push("find_intent");
        self.inner.find_intent(purpose, key, now).await
    }
    async fn code_intent(
        &self,
        purpose: Purpose,
        id: &IntentId,
        now: SystemTime,
    ) -> Result<Option<Intent>> {
        self.log.push("code_intent");
        self.inner.code_intent(purpose, id, now).await
    }
    async fn consume_intent(
        &self,
        purpose: Purpose,
        key: &IntentKey,
        now: SystemTime,
    ) -> Result<Option<Intent>> {
        self.log.push("consume_intent");
        self.inner.consume_intent(purpose, key, now).await
    }
    async fn void_intents(
        &self,
        user: &UserId,
        purpose: Option<Purpose>,
        now: SystemTime,
    ) -> Result<u64> {
        self.log.push("void_intents");
        self.inner.void_intents(user, purpose, now).await
    }
    async fn void_intents_since(
        &self,
        user: &UserId,
        purpose: Purpose,
        since: SystemTime,
        now: SystemTime,
    ) -> Result<u64> {
        self.log.push("void_intents_since");
        self.inner
            .void_intents_since(user, purpose, since, now)
            .await
    }
}

#[async_trait]
impl UnitOfWork for Counted {
    async fn apply(&self, writes: Writes) -> Result<()> {
        self.log.push("apply");
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Unavailable("the store is down".into()));
        }
        self.inner.apply(writes).await
    }
}

/// Counts password hashing calls.
#[derive(Debug, Default)]
struct HashCount(Mutex<usize>);

impl AuthObserver for HashCount {
    fn password_hashed(&self, _: Duration) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }
}

impl HashCount {
    fn take(&self) -> usize {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

struct World {
    auth: Authenticator,
    clock: Arc<ManualClock>,
    store: MemoryStore,
    log: CallLog,
    hashes: Arc<HashCount>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

fn world(verification: EmailVerification) -> World {
    let clock = testing::clock();
    let store = MemoryStore::new();
    let log = CallLog::default();
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counted = Arc::new(Counted {
        inner: store.clone(),
        log: log.clone(),
        down: down.clone(),
    });
    let stores = Stores {
        users: counted.clone(),
        intents: counted.clone(),
        unit: counted,
        ..Stores::all_in(
            Arc::new(store.clone()),
            Arc::new(crate::event::TracingEventSink),
        )
    };
    let mut config = testing::authenticator_config();
    config.email = EmailConfig {
        verification,
        product_name: "Acme".into(),
        app_url: "https://app.example.com".into(),
        ..EmailConfig::default()
    };
    let hashes = Arc::new(HashCount::default());
    let auth = testing::authenticator_builder(config)
        .stores(stores)
        .clock(clock.clone())
        .observer(hashes.clone())
        .build()
        .unwrap();
    World {
        auth,
        clock,
        store,
        log,
        hashes,
        down,
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn origin() -> Origin {
    Origin::from_client(CLIENT)
}

impl World {
    /// The mails queued since the last call, each once.
    async fn mails(&self) -> Vec<MailMessage> {
        let claimed = self
            .store
            .claim_deliveries(MAIL_SINK, self.clock.now(), Duration::from_secs(60), 100)
            .await
            .unwrap();
        let mut mails = Vec::new();
        for delivery in claimed {
            self.store
                .delivered(&delivery.message.id, MAIL_SINK, self.clock.now())
                .await
                .unwrap();
            mails.push(serde_json::from_value(delivery.message.payload).unwrap());
        }
        mails
    }

    /// The one mail queued since the last call, to `to`.
    async fn mail_to(&self, to: &str) -> MailMessage {
        let mails = self.mails().await;
        assert_eq!(mails.len(), 1, "{mails:#?}");
        assert_eq!(mails[0].to, to);
        mails.into_iter().next().unwrap()
    }

    async fn register(&self, email: &str) -> User {
        self.auth.register(email, &secret(PASSWORD)).await.unwrap()
    }

    async fn login(&self, email: &str, password: &str) -> Result<LoginOutcome> {
        self.auth.login(email, &secret(password), CLIENT).await
    }

    async fn tokens(&self, email: &str, password: &str) -> Tokens {
        match self.login(email, password).await.unwrap() {
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

    async fn enable_totp(&self, principal: &Principal) -> TotpSecret {
        let enrollment = self.auth.enroll_totp(principal).await.unwrap();
        let totp = TotpSecret::from_base32(enrollment.secret.expose_secret()).unwrap();
        self.auth
            .confirm_totp(principal, &self.code(&totp), CLIENT)
            .await
            .unwrap();
        totp
    }

    fn code(&self, totp: &TotpSecret) -> String {
        code_at(totp, &self.auth.config().totp, self.clock.unix_seconds()).unwrap()
    }

    fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }
}

/// The token of the link in `mail` (its text body).
fn token_in(mail: &MailMessage) -> String {
    let start = mail.text.find("?token=").expect("a link") + "?token=".len();
    mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// The code in a sign-in mail: the line of digits alone.
fn code_in(mail: &MailMessage) -> String {
    mail.text
        .lines()
        .map(str::trim)
        .find(|line| line.len() >= 6 && line.bytes().all(|b| b.is_ascii_digit()))
        .expect("a code")
        .to_owned()
}

fn code_of<T: std::fmt::Debug>(result: Result<T>) -> &'static str {
    match result {
        Err(error) => error.code(),
        Ok(value) => panic!("expected an error, got {value:?}"),
    }
}

#[tokio::test]
async fn required_verification_answers_alike_for_new_and_taken_addresses() {
    let w = world(EmailVerification::Required);
    let new = w
        .auth
        .sign_up("Ada@Example.com", &secret(PASSWORD), &origin())
        .await
        .unwrap();
    assert!(matches!(new, SignUp::VerificationSent));
    let verify = w.mail_to("ada@example.com").await;
    assert_eq!(verify.subject, "Verify your email address for Acme");
    assert!(
        verify
            .text
            .contains("https://app.example.com/v1/auth/email/verify?token="),
        "{}",
        verify.text
    );
    assert!(verify.html.as_deref().unwrap().contains("href=\"https://"));

    let taken = w
        .auth
        .sign_up(
            "ada@example.com",
            &secret("another long password"),
            &origin(),
        )
        .await
        .unwrap();
    assert!(matches!(taken, SignUp::VerificationSent));
    let exists = w.mail_to("ada@example.com").await;
    assert_eq!(exists.subject, "You already have a Acme account");
    assert!(
        !exists.text.contains("token="),
        "no link for a taken address"
    );

    assert_eq!(
        code_of(w.login("ada@example.com", PASSWORD).await),
        "email_unverified"
    );
    assert_eq!(
        code_of(w.login("ada@example.com", "a wrong password").await),
        "invalid_credentials",
        "only the password's holder learns the address is unverified"
    );

    let token = token_in(&verify);
    w.auth
        .check_link(Purpose::VerifyEmail, &token)
        .await
        .unwrap();
    w.auth
        .check_link(Purpose::VerifyEmail, &token)
        .await
        .expect("looking does not use the link");
    assert_eq!(
        code_of(w.auth.check_link(Purpose::ResetPassword, &token).await),
        "intent_invalid",
        "another purpose"
    );
    w.auth.verify_email(&token, &origin()).await.unwrap();
    assert_eq!(
        code_of(w.auth.verify_email(&token, &origin()).await),
        "intent_invalid",
        "used"
    );
    assert_eq!(
        code_of(w.auth.verify_email("not a token", &origin()).await),
        "invalid_request"
    );
    w.tokens("ada@example.com", PASSWORD).await;
}

#[tokio::test]
async fn optional_and_off_keep_the_old_answers() {
    let w = world(EmailVerification::Optional);
    let created = w
        .auth
        .sign_up("bob@example.com", &secret(PASSWORD), &origin())
        .await
        .unwrap();
    let SignUp::Created(user) = created else {
        panic!("optional verification creates the account at once");
    };
    assert_eq!(user.email_verified_at, None);
    assert!(token_in(&w.mail_to("bob@example.com").await).len() == 43);
    assert_eq!(
        code_of(
            w.auth
                .sign_up("bob@example.com", &secret(PASSWORD), &origin())
                .await
        ),
        "conflict"
    );
    w.tokens("bob@example.com", PASSWORD).await;

    let off = world(EmailVerification::Off);
    assert!(matches!(
        off.auth
            .sign_up("carol@example.com", &secret(PASSWORD), &origin())
            .await
            .unwrap(),
        SignUp::Created(_)
    ));
    assert!(
        off.mails().await.is_empty(),
        "no mail when verification is off"
    );
}

#[tokio::test]
async fn a_verification_link_expires_and_a_newer_one_voids_it() {
    let w = world(EmailVerification::Required);
    w.auth
        .sign_up("dan@example.com", &secret(PASSWORD), &origin())
        .await
        .unwrap();
    let first = token_in(&w.mail_to("dan@example.com").await);
    w.auth
        .resend_verification("dan@example.com", &origin())
        .await
        .unwrap();
    let second = token_in(&w.mail_to("dan@example.com").await);
    assert_eq!(
        code_of(w.auth.verify_email(&first, &origin()).await),
        "intent_invalid",
        "the newer link voided it"
    );
    w.advance(24 * 3600);
    assert_eq!(
        code_of(w.auth.verify_email(&second, &origin()).await),
        "intent_invalid",
        "expired"
    );
    // Nothing for an unknown or a verified address: the same answer, no mail.
    w.auth
        .resend_verification("nobody@example.com", &origin())
        .await
        .unwrap();
    assert!(w.mails().await.is_empty());
}

#[tokio::test]
async fn a_reset_ends_every_session_and_only_the_new_password_works() {
    let w = world(EmailVerification::Off);
    w.register("erin@example.com").await;
    let before = w.tokens("erin@example.com", PASSWORD).await;

    w.auth
        .forgot_password("nobody@example.com", &origin())
        .await
        .unwrap();
    let none = w.mail_to("nobody@example.com").await;
    assert!(!none.text.contains("token="), "{}", none.text);

    w.auth
        .forgot_password("ERIN@example.com", &origin())
        .await
        .unwrap();
    let old_link = token_in(&w.mail_to("erin@example.com").await);
    w.auth
        .forgot_password("erin@example.com", &origin())
        .await
        .unwrap();
    let link = token_in(&w.mail_to("erin@example.com").await);
    assert_eq!(
        code_of(
            w.auth
                .reset_password(&old_link, &secret(NEW_PASSWORD), None, &origin())
                .await
        ),
        "intent_invalid",
        "the newer link voided it"
    );
    assert_eq!(
        code_of(
            w.auth
                .reset_password(&link, &secret("short"), None, &origin())
                .await
        ),
        "weak_password"
    );
    w.auth
        .reset_password(&link, &secret(NEW_PASSWORD), None, &origin())
        .await
        .expect("a refused password leaves the link usable");
    assert_eq!(
        code_of(
            w.auth
                .reset_password(&link, &secret("yet another good password"), None, &origin())
                .await
        ),
        "intent_invalid"
    );
    assert!(
        w.auth
            .authenticate(before.access_token.expose_secret())
            .await
            .is_err(),
        "the old session's access token is refused"
    );
    assert!(
        w.auth
            .refresh(before.refresh_token.expose_secret(), CLIENT)
            .await
            .is_err(),
        "and its refresh token"
    );
    assert_eq!(
        code_of(w.login("erin@example.com", PASSWORD).await),
        "invalid_credentials"
    );
    w.tokens("erin@example.com", NEW_PASSWORD).await;
    let notice = w.mail_to("erin@example.com").await;
    assert_eq!(notice.subject, "Your Acme password was changed");
}

#[tokio::test]
async fn a_password_change_voids_a_pending_reset_link() {
    let w = world(EmailVerification::Off);
    w.register("fay@example.com").await;
    w.auth
        .forgot_password("fay@example.com", &origin())
        .await
        .unwrap();
    let link = token_in(&w.mail_to("fay@example.com").await);
    let tokens = w.tokens("fay@example.com", PASSWORD).await;
    let principal = w.principal(&tokens).await;
    w.auth
        .change_password(&principal, &secret(PASSWORD), &secret(NEW_PASSWORD), CLIENT)
        .await
        .unwrap();
    assert_eq!(
        w.mail_to("fay@example.com").await.subject,
        "Your Acme password was changed"
    );
    assert_eq!(
        code_of(
            w.auth
                .reset_password(&link, &secret("a third fine password"), None, &origin())
                .await
        ),
        "intent_invalid"
    );
}

#[tokio::test]
async fn a_reset_of_an_mfa_account_needs_the_factor_within_the_shared_budget() {
    let w = world(EmailVerification::Off);
    w.register("gus@example.com").await;
    let tokens = w.tokens("gus@example.com", PASSWORD).await;
    let totp = w.enable_totp(&w.principal(&tokens).await).await;
    assert_eq!(
        w.mail_to("gus@example.com").await.subject,
        "A second factor was added to your Acme account"
    );
    w.auth
        .forgot_password("gus@example.com", &origin())
        .await
        .unwrap();
    let link = token_in(&w.mail_to("gus@example.com").await);
    let reset = |code: Option<String>| {
        let (auth, link) = (w.auth.clone(), link.clone());
        async move {
            auth.reset_password(&link, &secret(NEW_PASSWORD), code.as_deref(), &origin())
                .await
        }
    };
    assert_eq!(code_of(reset(None).await), "mfa_required");
    // Wrong codes spend the account's budget, the one a login's second factor spends too.
    for _ in 0..3 {
        assert_eq!(
            code_of(reset(Some("000000".into())).await),
            "invalid_credentials"
        );
    }
    let LoginOutcome::MfaRequired { mfa_token, .. } =
        w.login("gus@example.com", PASSWORD).await.unwrap()
    else {
        panic!("a second factor is enrolled");
    };
    for _ in 0..3 {
        let wrong = w
            .auth
            .verify_mfa(mfa_token.expose_secret(), "000000", CLIENT)
            .await;
        assert_eq!(code_of(wrong), "invalid_credentials");
    }
    assert_eq!(
        code_of(reset(Some(w.code(&totp))).await),
        "throttled",
        "six wrong codes (five free), across the reset and the login, use the budget up"
    );
    // The hour's budget runs out with the link (30 min); a new link, the right code.
    w.advance(3600);
    assert_eq!(code_of(reset(Some(w.code(&totp))).await), "intent_invalid");
    w.auth
        .forgot_password("gus@example.com", &origin())
        .await
        .unwrap();
    let link = token_in(&w.mail_to("gus@example.com").await);
    w.auth
        .reset_password(
            &link,
            &secret(NEW_PASSWORD),
            Some(&w.code(&totp)),
            &origin(),
        )
        .await
        .unwrap();
    let LoginOutcome::MfaRequired { .. } = w.login("gus@example.com", NEW_PASSWORD).await.unwrap()
    else {
        panic!("the reset kept the second factor");
    };
}

#[tokio::test]
async fn sign_in_by_code_or_link_uses_the_request_id_and_one_of_the_two() {
    let w = world(EmailVerification::Required);
    let user = w.register("hal@example.com").await;
    let request = w
        .auth
        .request_login_email("hal@example.com", &origin())
        .await
        .unwrap();
    let mail = w.mail_to("hal@example.com").await;
    let (code, link) = (code_in(&mail), token_in(&mail));
    assert!(mail.subject.ends_with(&code), "{}", mail.subject);
    assert_eq!(
        code_of(
            w.auth
                .login_with_code(IntentId::new().as_str(), &code, &origin())
                .await
        ),
        "invalid_credentials",
        "the code under another request id is a wrong code"
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(
        code_of(
            w.auth
                .login_with_code(request.as_str(), wrong, &origin())
                .await
        ),
        "invalid_credentials"
    );
    let LoginOutcome::Authenticated(tokens) = w
        .auth
        .login_with_code(request.as_str(), &code, &origin())
        .await
        .unwrap()
    else {
        panic!("no second factor is enrolled");
    };
    let principal = w.principal(&tokens).await;
    assert_eq!(principal.claims.amr, vec!["email"]);
    assert!(principal.claims.auth_time.is_some());
    assert_eq!(
        code_of(w.auth.login_with_link(&link, &origin()).await),
        "intent_invalid",
        "the link of the same mail is void once the code signed in"
    );
    assert_eq!(
        code_of(
            w.auth
                .login_with_code(request.as_str(), &code, &origin())
                .await
        ),
        "invalid_credentials",
        "a used code is a wrong code"
    );
    let verified = w.store.user_by_id(&user.id).await.unwrap().unwrap();
    assert!(
        verified.email_verified_at.is_some(),
        "a sign-in by email proves the address"
    );
    assert_eq!(
        code_of(w.login("hal@example.com", PASSWORD).await),
        "invalid_credentials",
        "the password set before the address was proved is gone"
    );

    // The link, with a second factor enrolled: the factor is still asked for.
    let totp = w.enable_totp(&principal).await;
    w.mails().await;
    w.auth
        .request_login_email("hal@example.com", &origin())
        .await
        .unwrap();
    let link = token_in(&w.mail_to("hal@example.com").await);
    let LoginOutcome::MfaRequired { mfa_token, .. } =
        w.auth.login_with_link(&link, &origin()).await.unwrap()
    else {
        panic!("the second factor is asked for after the link");
    };
    w.advance(30);
    let tokens = w
        .auth
        .verify_mfa(mfa_token.expose_secret(), &w.code(&totp), CLIENT)
        .await
        .unwrap();
    assert_eq!(
        w.principal(&tokens).await.claims.amr,
        vec!["email", "otp", "mfa"]
    );
}

#[tokio::test]
async fn a_code_expires_and_five_wrong_tries_void_it() {
    let w = world(EmailVerification::Off);
    w.register("ivy@example.com").await;
    let request = w
        .auth
        .request_login_email("ivy@example.com", &origin())
        .await
        .unwrap();
    let code = code_in(&w.mail_to("ivy@example.com").await);
    w.advance(10 * 60);
    assert_eq!(
        code_of(
            w.auth
                .login_with_code(request.as_str(), &code, &origin())
                .await
        ),
        "invalid_credentials",
        "expired after 10 minutes: a wrong code"
    );

    let request = w
        .auth
        .request_login_email("ivy@example.com", &origin())
        .await
        .unwrap();
    let code = code_in(&w.mail_to("ivy@example.com").await);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(code_of(
            w.auth
                .login_with_code(request.as_str(), wrong, &origin())
                .await,
        ));
    }
    assert_eq!(answers[..5], ["invalid_credentials"; 5]);
    assert!(
        matches!(answers[5], "intent_invalid" | "throttled"),
        "{answers:?}"
    );
    assert!(
        matches!(
            code_of(
                w.auth
                    .login_with_code(request.as_str(), &code, &origin())
                    .await
            ),
            "intent_invalid" | "throttled"
        ),
        "the right code no longer works"
    );
}

#[tokio::test]
async fn concurrent_uses_of_one_link_let_exactly_one_through() {
    let w = world(EmailVerification::Off);
    w.register("jo@example.com").await;
    w.auth
        .request_login_email("jo@example.com", &origin())
        .await
        .unwrap();
    let link = token_in(&w.mail_to("jo@example.com").await);
    let uses: Vec<_> = (0..8)
        .map(|_| {
            let (auth, link) = (w.auth.clone(), link.clone());
            tokio::spawn(async move { auth.login_with_link(&link, &origin()).await })
        })
        .collect();
    let mut won = 0;
    for used in uses {
        match used.await.unwrap() {
            Ok(_) => won += 1,
            Err(Error::IntentInvalid) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn a_change_of_address_is_confirmed_at_the_new_one_and_undone_from_the_old() {
    let w = world(EmailVerification::Off);
    let user = w.register("kim@example.com").await;
    w.register("taken@example.com").await;
    let tokens = w.tokens("kim@example.com", PASSWORD).await;
    let principal = w.principal(&tokens).await;

    w.auth
        .request_email_change(&principal, "taken@example.com", &origin())
        .await
        .unwrap();
    let note = w.mail_to("taken@example.com").await;
    assert!(
        !note.text.contains("token="),
        "a taken address gets no link"
    );

    w.auth
        .request_email_change(&principal, "Kim.New@example.com", &origin())
        .await
        .unwrap();
    let confirm = token_in(&w.mail_to("kim.new@example.com").await);
    w.auth
        .confirm_email_change(&confirm, &origin())
        .await
        .unwrap();
    let moved = w.store.user_by_id(&user.id).await.unwrap().unwrap();
    assert_eq!(moved.email, "kim.new@example.com");
    assert!(moved.email_verified_at.is_some());
    let told = w.mail_to("kim@example.com").await;
    assert!(told.text.contains("kim.new@example.com"), "{}", told.text);
    let undo = token_in(&told);
    assert!(
        w.auth
            .authenticate(tokens.access_token.expose_secret())
            .await
            .is_ok(),
        "a confirmed change keeps the sessions"
    );
    assert_eq!(
        code_of(w.auth.confirm_email_change(&confirm, &origin()).await),
        "intent_invalid"
    );

    // A password change by whoever moved the account does not void the undo.
    w.auth
        .change_password(&principal, &secret(PASSWORD), &secret(NEW_PASSWORD), CLIENT)
        .await
        .unwrap();
    w.auth.confirm_email_change(&undo, &origin()).await.unwrap();
    let back = w.store.user_by_id(&user.id).await.unwrap().unwrap();
    assert_eq!(back.email, "kim@example.com");
    assert_eq!(
        code_of(w.login("kim@example.com", NEW_PASSWORD).await),
        "invalid_credentials",
        "the undo takes away the password whoever moved the account set"
    );
    assert!(
        w.auth
            .authenticate(tokens.access_token.expose_secret())
            .await
            .is_err(),
        "the undo ends every session"
    );
    assert_eq!(
        code_of(w.auth.confirm_email_change(&undo, &origin()).await),
        "intent_invalid"
    );
}

#[tokio::test]
async fn a_change_of_address_needs_a_fresh_authentication() {
    let w = world(EmailVerification::Off);
    w.register("lee@example.com").await;
    let principal = w
        .principal(&w.tokens("lee@example.com", PASSWORD).await)
        .await;
    w.advance(10 * 60);
    assert_eq!(
        code_of(
            w.auth
                .request_email_change(&principal, "lee2@example.com", &origin())
                .await
        ),
        "reauth_required"
    );
    assert!(w.mails().await.is_empty());
}

#[tokio::test]
async fn mail_is_limited_per_recipient_and_per_client_address_alike_for_every_address() {
    let w = world(EmailVerification::Off);
    w.register("max@example.com").await;
    for address in ["max@example.com", "nobody@example.com"] {
        for _ in 0..5 {
            w.auth.forgot_password(address, &origin()).await.unwrap();
        }
        assert_eq!(
            code_of(w.auth.forgot_password(address, &origin()).await),
            "throttled",
            "{address}"
        );
        assert_eq!(
            code_of(w.auth.request_login_email(address, &origin()).await),
            "throttled",
            "every mail to the address counts"
        );
    }
    assert_eq!(w.mails().await.len(), 10);

    let w = world(EmailVerification::Off);
    let mut answers = Vec::new();
    for n in 0..31 {
        let address = format!("someone-{n}@example.com");
        answers.push(w.auth.forgot_password(&address, &origin()).await.is_ok());
    }
    assert_eq!(answers.iter().filter(|ok| **ok).count(), 30);
    assert!(
        !answers[30],
        "the 31st mail from one client address in an hour"
    );
}

/// The flows that take an address make the same store calls and the same number of password
/// hashes, and answer alike, whether an account has the address or not.
#[tokio::test]
async fn known_and_unknown_addresses_cost_the_same_and_answer_alike() {
    let w = world(EmailVerification::Required);
    w.register("known@example.com").await;
    w.log.take();
    w.hashes.take();
    let unknown = "unknown@example.com";

    // Sign-up.
    let mut seen = Vec::new();
    for address in ["known@example.com", unknown] {
        let answer = w.auth.sign_up(address, &secret(PASSWORD), &origin()).await;
        seen.push((format!("{answer:?}"), w.log.take(), w.hashes.take()));
    }
    assert_eq!(seen[0], seen[1], "sign-up");
    assert_eq!(seen[0].2, 1, "one hash each");

    // Forgot password and sign-in by email.
    for flow in ["forgot", "login"] {
        let mut seen = Vec::new();
        for address in ["known@example.com", "unknown-2@example.com"] {
            let answer = if flow == "forgot" {
                w.auth.forgot_password(address, &origin()).await.map(|()| 0)
            } else {
                w.auth
                    .request_login_email(address, &origin())
                    .await
                    .map(|id| id.as_str().len())
            };
            seen.push((format!("{answer:?}"), w.log.take(), w.hashes.take()));
        }
        assert_eq!(seen[0], seen[1], "{flow}");
    }

    // A change of address to a free and a taken one.
    let user = w.register("mover@example.com").await;
    w.store
        .mark_email_verified(&user.id, &user.email, w.clock.now())
        .await
        .unwrap();
    let principal = w
        .principal(&w.tokens("mover@example.com", PASSWORD).await)
        .await;
    w.log.take();
    w.hashes.take();
    let mut seen = Vec::new();
    for address in ["known@example.com", "free@example.com"] {
        let answer = w
            .auth
            .request_email_change(&principal, address, &origin())
            .await;
        seen.push((format!("{answer:?}"), w.log.take(), w.hashes.take()));
    }
    assert_eq!(seen[0], seen[1], "change of address");
}

#[tokio::test]
async fn an_unknown_request_id_is_answered_as_a_wrong_code_through_the_same_budget() {
    let w = world(EmailVerification::Off);
    w.register("nia@example.com").await;
    let known = w
        .auth
        .request_login_email("nia@example.com", &origin())
        .await
        .unwrap();
    let code = code_in(&w.mail_to("nia@example.com").await);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let unknown = w
        .auth
        .request_login_email("nobody@example.com", &origin())
        .await
        .unwrap();
    w.mails().await;
    let mut answers = Vec::new();
    for request in [&known, &unknown] {
        let mut these = Vec::new();
        for _ in 0..6 {
            these.push(code_of(
                w.auth
                    .login_with_code(request.as_str(), wrong, &origin())
                    .await,
            ));
        }
        answers.push(these);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0][..5], ["invalid_credentials"; 5]);
    assert_eq!(answers[0][5], "intent_invalid");

    // A second request after those: the account's budget is spent for the known address,
    // which answers as the unknown one does (never `throttled`).
    let mut answers = Vec::new();
    for address in ["nia@example.com", "nobody@example.com"] {
        let request = w
            .auth
            .request_login_email(address, &origin())
            .await
            .unwrap();
        w.mails().await;
        let mut these = Vec::new();
        for _ in 0..2 {
            these.push(code_of(
                w.auth
                    .login_with_code(request.as_str(), wrong, &origin())
                    .await,
            ));
        }
        answers.push(these);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], ["invalid_credentials"; 2]);
}

#[tokio::test]
async fn a_right_emailed_code_does_not_clear_the_second_factor_failures() {
    let w = world(EmailVerification::Off);
    let user = w.register("oli@example.com").await;
    // Verified before, so the sign-in by code below keeps the password.
    w.store
        .mark_email_verified(&user.id, &user.email, w.clock.now())
        .await
        .unwrap();
    let tokens = w.tokens("oli@example.com", PASSWORD).await;
    let totp = w.enable_totp(&w.principal(&tokens).await).await;
    w.mails().await;
    let challenge = |w: &World| {
        let auth = w.auth.clone();
        async move {
            match auth
                .login("oli@example.com", &secret(PASSWORD), CLIENT)
                .await
                .unwrap()
            {
                LoginOutcome::MfaRequired { mfa_token, .. } => mfa_token,
                LoginOutcome::Authenticated(_) => panic!("a second factor is enrolled"),
            }
        }
    };
    let mfa_token = challenge(&w).await;
    for _ in 0..5 {
        let wrong = w
            .auth
            .verify_mfa(mfa_token.expose_secret(), "000000", CLIENT)
            .await;
        assert_eq!(code_of(wrong), "invalid_credentials");
    }
    // The mailbox's holder signs in by code: a first factor, which leaves the count alone.
    let request = w
        .auth
        .request_login_email("oli@example.com", &origin())
        .await
        .unwrap();
    let code = code_in(&w.mail_to("oli@example.com").await);
    let LoginOutcome::MfaRequired { .. } = w
        .auth
        .login_with_code(request.as_str(), &code, &origin())
        .await
        .unwrap()
    else {
        panic!("the second factor is still asked for");
    };
    let mfa_token = challenge(&w).await;
    let sixth = w
        .auth
        .verify_mfa(mfa_token.expose_secret(), "000000", CLIENT)
        .await;
    assert_eq!(code_of(sixth), "invalid_credentials");
    let seventh = w
        .auth
        .verify_mfa(mfa_token.expose_secret(), &w.code(&totp), CLIENT)
        .await;
    assert_eq!(
        code_of(seventh),
        "throttled",
        "the five failures before the emailed code still count"
    );
}

#[tokio::test]
async fn a_reset_link_takes_five_tries_at_most() {
    let w = world(EmailVerification::Off);
    w.register("pat@example.com").await;
    w.auth
        .forgot_password("pat@example.com", &origin())
        .await
        .unwrap();
    let link = token_in(&w.mail_to("pat@example.com").await);
    // Too short is refused before the link is even looked at, and costs no try...
    for _ in 0..10 {
        assert_eq!(
            code_of(
                w.auth
                    .reset_password(&link, &secret("short"), None, &origin())
                    .await
            ),
            "weak_password"
        );
    }
    // ...a common password is refused by the check that hashes, and costs one.
    for _ in 0..5 {
        assert_eq!(
            code_of(
                w.auth
                    .reset_password(&link, &secret("1qaz2wsx3edc"), None, &origin())
                    .await
            ),
            "weak_password"
        );
    }
    assert_eq!(
        code_of(
            w.auth
                .reset_password(&link, &secret(NEW_PASSWORD), None, &origin())
                .await
        ),
        "intent_invalid",
        "the sixth try finds the link spent"
    );
}

#[tokio::test]
async fn a_change_of_address_voids_the_links_sent_to_the_old_one() {
    let w = world(EmailVerification::Off);
    w.register("quin@example.com").await;
    let principal = w
        .principal(&w.tokens("quin@example.com", PASSWORD).await)
        .await;
    w.auth
        .forgot_password("quin@example.com", &origin())
        .await
        .unwrap();
    let reset = token_in(&w.mail_to("quin@example.com").await);
    w.auth
        .request_email_change(&principal, "quin2@example.com", &origin())
        .await
        .unwrap();
    let confirm = token_in(&w.mail_to("quin2@example.com").await);
    w.auth
        .confirm_email_change(&confirm, &origin())
        .await
        .unwrap();
    assert_eq!(
        code_of(
            w.auth
                .reset_password(&reset, &secret(NEW_PASSWORD), None, &origin())
                .await
        ),
        "intent_invalid"
    );
}

/// A takes B's place, then C's; whatever the taker does (a reset, a later change, an undo of
/// their own), the undo link the first owner got keeps working, and using it voids the later
/// undo links.
#[tokio::test]
async fn the_first_owners_undo_survives_whatever_the_taker_does() {
    let w = world(EmailVerification::Off);
    let user = w.register("a@example.com").await;
    let principal = w
        .principal(&w.tokens("a@example.com", PASSWORD).await)
        .await;
    w.auth
        .request_email_change(&principal, "b@example.com", &origin())
        .await
        .unwrap();
    let confirm_b = token_in(&w.mail_to("b@example.com").await);
    w.auth
        .confirm_email_change(&confirm_b, &origin())
        .await
        .unwrap();
    let undo_a = token_in(&w.mail_to("a@example.com").await);
    w.advance(60);
    // The taker resets the password through B...
    w.auth
        .forgot_password("b@example.com", &origin())
        .await
        .unwrap();
    let reset = token_in(&w.mail_to("b@example.com").await);
    w.auth
        .reset_password(&reset, &secret(NEW_PASSWORD), None, &origin())
        .await
        .unwrap();
    w.mails().await;
    // ...moves on to C, and uses the undo that came to B first.
    let principal = w
        .principal(&w.tokens("b@example.com", NEW_PASSWORD).await)
        .await;
    w.auth
        .request_email_change(&principal, "c@example.com", &origin())
        .await
        .unwrap();
    let confirm_c = token_in(&w.mail_to("c@example.com").await);
    w.auth
        .confirm_email_change(&confirm_c, &origin())
        .await
        .unwrap();
    let undo_b = token_in(&w.mail_to("b@example.com").await);
    w.advance(60);
    w.auth
        .confirm_email_change(&undo_b, &origin())
        .await
        .unwrap();
    assert_eq!(
        w.store.user_by_id(&user.id).await.unwrap().unwrap().email,
        "b@example.com"
    );
    // The first owner's link still brings the account home.
    w.auth
        .confirm_email_change(&undo_a, &origin())
        .await
        .unwrap();
    assert_eq!(
        w.store.user_by_id(&user.id).await.unwrap().unwrap().email,
        "a@example.com"
    );
    assert_eq!(
        code_of(w.auth.confirm_email_change(&undo_b, &origin()).await),
        "intent_invalid"
    );
}

#[tokio::test]
async fn asking_for_a_new_code_does_not_reset_the_wrong_code_budget() {
    let w = world(EmailVerification::Off);
    let user = w.register("sam@example.com").await;
    w.store
        .mark_email_verified(&user.id, &user.email, w.clock.now())
        .await
        .unwrap();
    let ask = || {
        let auth = w.auth.clone();
        async move {
            auth.request_login_email("sam@example.com", &origin())
                .await
                .unwrap()
        }
    };
    let first = ask().await;
    let code = code_in(&w.mail_to("sam@example.com").await);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let answer = w
            .auth
            .login_with_code(first.as_str(), wrong, &origin())
            .await;
        assert_eq!(code_of(answer), "invalid_credentials");
    }
    let second = ask().await;
    let code = code_in(&w.mail_to("sam@example.com").await);
    assert_eq!(
        code_of(
            w.auth
                .login_with_code(second.as_str(), wrong, &origin())
                .await
        ),
        "invalid_credentials"
    );
    assert_eq!(
        code_of(
            w.auth
                .login_with_code(second.as_str(), &code, &origin())
                .await
        ),
        "invalid_credentials",
        "the new code starts no new account budget: with it spent, even the right code is \
         not checked (and answered as a wrong one, as a request without an account is)"
    );
}

#[tokio::test]
async fn mails_are_written_in_the_language_the_account_signed_up_in() {
    let dir = std::env::temp_dir().join(format!("auth-locales-{}", IntentId::new()));
    std::fs::create_dir_all(dir.join("de")).unwrap();
    std::fs::write(
        dir.join("de/password_changed.txt"),
        "Subject: Ihr Passwort bei {{product}} wurde geändert\n\nHallo {{email}}.\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("de/verify_email.txt"),
        "Subject: Bestätigen Sie Ihre Adresse\n\n{{link}}\n",
    )
    .unwrap();
    let templates = crate::mail::Templates::builtin().with_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let store = MemoryStore::new();
    let mut config = testing::authenticator_config();
    config.email = EmailConfig {
        verification: EmailVerification::Optional,
        product_name: "Acme".into(),
        ..EmailConfig::default()
    };
    let clock = testing::clock();
    let auth = testing::authenticator_builder(config)
        .stores(Stores::all_in(
            Arc::new(store.clone()),
            Arc::new(crate::event::TracingEventSink),
        ))
        .clock(clock.clone())
        .mail_templates(templates)
        .build()
        .unwrap();
    let w = World {
        auth,
        clock,
        store,
        log: CallLog::default(),
        hashes: Arc::new(HashCount::default()),
        down: Arc::new(std::sync::atomic::AtomicBool::new(false)),
    };
    let german = Origin {
        client: CLIENT,
        locale: Some("de-CH, en;q=0.5".into()),
    };
    let SignUp::Created(user) = w
        .auth
        .sign_up("uwe@example.com", &secret(PASSWORD), &german)
        .await
        .unwrap()
    else {
        panic!("optional verification creates the account");
    };
    assert_eq!(user.locale.as_deref(), Some("de"));
    assert_eq!(
        w.mail_to("uwe@example.com").await.subject,
        "Bestätigen Sie Ihre Adresse"
    );
    // A notice later, from a request that says nothing of its languages: German still.
    let principal = w
        .principal(&w.tokens("uwe@example.com", PASSWORD).await)
        .await;
    w.auth
        .change_password(&principal, &secret(PASSWORD), &secret(NEW_PASSWORD), None)
        .await
        .unwrap();
    assert_eq!(
        w.mail_to("uwe@example.com").await.subject,
        "Ihr Passwort bei Acme wurde geändert"
    );
    // A mail with no German template falls back to English.
    w.auth
        .forgot_password("uwe@example.com", &Origin::default())
        .await
        .unwrap();
    assert!(
        w.mail_to("uwe@example.com")
            .await
            .subject
            .starts_with("Reset your Acme password")
    );
}

/// While the old owner's undo link lives, nobody takes the address the account left (a
/// sign-up answers as for a taken address), and the undo takes away a factor the taker set up.
#[tokio::test]
async fn the_left_address_is_held_and_the_undo_removes_the_takers_factor() {
    let w = world(EmailVerification::Required);
    let user = w.register("vic@example.com").await;
    w.store
        .mark_email_verified(&user.id, &user.email, w.clock.now())
        .await
        .unwrap();
    let tokens = w.tokens("vic@example.com", PASSWORD).await;
    let principal = w.principal(&tokens).await;
    w.auth
        .request_email_change(&principal, "taker@example.com", &origin())
        .await
        .unwrap();
    let confirm = token_in(&w.mail_to("taker@example.com").await);
    w.auth
        .confirm_email_change(&confirm, &origin())
        .await
        .unwrap();
    let undo = token_in(&w.mail_to("vic@example.com").await);
    // The taker adds a factor of their own...
    w.enable_totp(&principal).await;
    w.mails().await;
    // ...and someone signs up with the address the account left.
    let signed_up = w
        .auth
        .sign_up(
            "vic@example.com",
            &secret("another long password"),
            &origin(),
        )
        .await
        .unwrap();
    assert!(matches!(signed_up, SignUp::VerificationSent));
    let note = w.mail_to("vic@example.com").await;
    assert_eq!(
        note.subject, "You already have a Acme account",
        "held, as taken"
    );

    w.auth.confirm_email_change(&undo, &origin()).await.unwrap();
    let back = w.store.user_by_id(&user.id).await.unwrap().unwrap();
    assert_eq!(back.email, "vic@example.com");
    assert_eq!(
        w.store.totp(&user.id).await.unwrap(),
        None,
        "the taker's factor is gone"
    );
    // The owner sets a password with a reset, and no factor is asked for.
    w.auth
        .forgot_password("vic@example.com", &origin())
        .await
        .unwrap();
    let reset = token_in(&w.mail_to("vic@example.com").await);
    w.auth
        .reset_password(&reset, &secret(NEW_PASSWORD), None, &origin())
        .await
        .unwrap();
    w.tokens("vic@example.com", NEW_PASSWORD).await;
}

/// A mail that could not be written (the store down) is not counted against its
/// recipient: the retry after the outage is not punished for it.
#[tokio::test]
async fn a_mail_refused_by_an_outage_does_not_spend_the_recipients_budget() {
    let w = world(EmailVerification::Off);
    w.register("xan@example.com").await;
    w.down.store(true, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..10 {
        assert_eq!(
            code_of(w.auth.forgot_password("xan@example.com", &origin()).await),
            "unavailable"
        );
    }
    w.down.store(false, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..5 {
        w.auth
            .forgot_password("xan@example.com", &origin())
            .await
            .unwrap();
    }
    assert_eq!(
        w.mails().await.len(),
        5,
        "the budget is whole after the outage"
    );
    assert_eq!(
        code_of(w.auth.forgot_password("xan@example.com", &origin()).await),
        "throttled"
    );
}
