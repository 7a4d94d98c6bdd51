//! Flows by email: sign-up with address verification, password reset, sign-in by link or
//! code, change of address (and its undo), and the security notices.
//!
//! Every flow that sends mail counts the mail per recipient and per client address before
//! anything is looked up ([`Throttle::reserve_mail`](crate::throttle::Throttle::reserve_mail)),
//! then writes the intent and the mail together ([`UnitOfWork`](crate::store::UnitOfWork));
//! the outbox worker ([`deliver_round`](super::deliver_round)) sends it. The flows that take an
//! address answer the same whether an account has it or not, after the same store calls: an
//! address without an account gets a mail saying so instead of a link.
//!
//! A link's secret is 256 bits, a code 6 to 8 digits named by its request id; both are stored
//! hashed, work once, expire ([`IntentLifetimes`]) and are void once the account's credentials
//! epoch moves on or a newer one of their purpose is issued. A wrong code counts against the
//! account's second-factor budget, the one `/mfa/verify` spends, reserved before the check.

mod change;
mod recovery;
mod sign_in;
mod sign_up;

pub use recovery::FactorProof;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::{Authenticator, LoginOutcome, Principal, SensitiveAction};
use crate::email::normalize_email;
use crate::error::{Error, Result, TokenRejection};
use crate::event::{AuthEventKind, SessionEnd};
use crate::id::{Amr, OpaqueSecret};
use crate::intent::{Intent, IntentCode, IntentId, IntentKey, Purpose};
use crate::mail::{Field, Fields, MailKind, MailMessage};
use crate::outbox::OutboxMessage;
use crate::store::{AddressChange, User, Writes};

/// Whether an account's address must be verified before it can sign in with a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailVerification {
    /// No verification mail; sign-up answers the account or a conflict (a taken address is
    /// revealed).
    #[default]
    Off,
    /// A verification mail at sign-up, but an unverified account signs in; sign-up still
    /// answers the account or a conflict.
    Optional,
    /// Sign-up answers the same for a new and a taken address (a taken one gets a "you
    /// already have an account" mail), and a password sign-in answers
    /// [`Error::EmailUnverified`] until the address is verified.
    Required,
}

impl EmailVerification {
    /// The configuration value: `off`, `optional` or `required`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Optional => "optional",
            Self::Required => "required",
        }
    }
}

impl fmt::Display for EmailVerification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EmailVerification {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "off" => Ok(Self::Off),
            "optional" => Ok(Self::Optional),
            "required" => Ok(Self::Required),
            other => Err(Error::Config(format!(
                "email verification {other:?}: expected off, optional or required"
            ))),
        }
    }
}

/// How long each kind of link or code works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntentLifetimes {
    /// A verification link (24 h).
    pub verify_email: Duration,
    /// A reset link (30 min).
    pub reset_password: Duration,
    /// A sign-in link (15 min).
    pub login_link: Duration,
    /// A sign-in code (10 min).
    pub login_code: Duration,
    /// A link confirming a new address (1 h).
    pub change_email: Duration,
    /// The link that undoes a change of address, sent to the old one (72 h).
    pub undo_email_change: Duration,
}

impl Default for IntentLifetimes {
    fn default() -> Self {
        Self {
            verify_email: Purpose::VerifyEmail.default_lifetime(),
            reset_password: Purpose::ResetPassword.default_lifetime(),
            login_link: Purpose::LoginLink.default_lifetime(),
            login_code: Purpose::LoginCode.default_lifetime(),
            change_email: Purpose::ChangeEmail.default_lifetime(),
            undo_email_change: Purpose::UndoEmailChange.default_lifetime(),
        }
    }
}

impl IntentLifetimes {
    /// The lifetime of intents of `purpose`.
    pub fn of(&self, purpose: Purpose) -> Duration {
        match purpose {
            Purpose::VerifyEmail => self.verify_email,
            Purpose::ResetPassword => self.reset_password,
            Purpose::LoginLink => self.login_link,
            Purpose::LoginCode => self.login_code,
            Purpose::ChangeEmail => self.change_email,
            Purpose::UndoEmailChange => self.undo_email_change,
        }
    }
}

/// Where each kind of link points, below [`EmailConfig::app_url`]: a page that shows a button
/// and never uses the token when it is merely opened (mail scanners open links); the button
/// posts the token. By default the server's own pages, which are also its API routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPaths {
    /// Verifies an address.
    pub verify_email: String,
    /// Sets a new password.
    pub reset_password: String,
    /// Signs in.
    pub login: String,
    /// Confirms (or undoes) a change of address.
    pub change_email: String,
}

impl Default for LinkPaths {
    fn default() -> Self {
        Self {
            verify_email: "/v1/auth/email/verify".into(),
            reset_password: "/v1/auth/password/reset".into(),
            login: "/v1/auth/login/email/verify".into(),
            change_email: "/v1/auth/email/change/confirm".into(),
        }
    }
}

/// Verification, recovery and sign-in by email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    /// Whether addresses must be verified ([`EmailVerification::Off`] by default: a library
    /// with no mailer configured sends nothing anyone reads).
    pub verification: EmailVerification,
    /// The product's name, as mails call it.
    pub product_name: String,
    /// The application's address (`https://app.example.com`), the base of every link.
    pub app_url: String,
    /// Where links point below `app_url`.
    pub paths: LinkPaths,
    /// Digits of a sign-in code (6 to 8; 6 by default).
    pub code_digits: u8,
    /// How long links and codes work.
    pub lifetimes: IntentLifetimes,
    /// Whether a password change or reset and a factor added or removed are told to the
    /// account's address (on by default).
    pub security_notices: bool,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            verification: EmailVerification::Off,
            product_name: "Auth".into(),
            app_url: "http://localhost:8080".into(),
            paths: LinkPaths::default(),
            code_digits: 6,
            lifetimes: IntentLifetimes::default(),
            security_notices: true,
        }
    }
}

impl EmailConfig {
    /// [`Error::Config`] unless the application address is an `http(s)` URL with no query or
    /// fragment, the paths start with `/`, the code has 6 to 8 digits and every lifetime is
    /// positive.
    pub fn validate(&self) -> Result<()> {
        let url = self.app_url.as_str();
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok || url.contains(['?', '#', ' ']) || url.ends_with('/') {
            return Err(Error::Config(format!(
                "the application URL {url:?} must be http(s)://host[/path], with no trailing \
                 slash, query or fragment"
            )));
        }
        let paths = &self.paths;
        for path in [
            &paths.verify_email,
            &paths.reset_password,
            &paths.login,
            &paths.change_email,
        ] {
            if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
                return Err(Error::Config(format!(
                    "the link path {path:?} must start with / and hold no query or fragment"
                )));
            }
        }
        if !IntentCode::DIGITS.contains(&self.code_digits) {
            return Err(Error::Config(format!(
                "a sign-in code has 6 to 8 digits, not {}",
                self.code_digits
            )));
        }
        if Purpose::ALL
            .into_iter()
            .any(|purpose| self.lifetimes.of(purpose).is_zero())
        {
            return Err(Error::Config(
                "every link and code lifetime must be positive".into(),
            ));
        }
        if self.product_name.trim().is_empty() || self.product_name.contains(['\r', '\n']) {
            return Err(Error::Config(
                "the product name must be one non-empty line".into(),
            ));
        }
        Ok(())
    }
}

/// Who asked: the client's address (for the limits and the audit) and the languages it reads
/// (an `Accept-Language` value, or one tag), for the mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's address.
    pub client: Option<IpAddr>,
    /// The languages the mail may be written in, preferred first.
    pub locale: Option<String>,
}

impl Origin {
    /// A request from `client`, in the default language.
    pub fn from_client(client: Option<IpAddr>) -> Self {
        Self {
            client,
            locale: None,
        }
    }
}

/// What a sign-up answers.
#[derive(Debug)]
pub enum SignUp {
    /// The account exists now ([`EmailVerification::Off`] and `Optional`).
    Created(User),
    /// A mail went to the address ([`EmailVerification::Required`]): a verification link for
    /// a new account, a "you already have an account" note for a taken address. The two are
    /// one answer.
    VerificationSent,
}

/// A link to mail: the intent's purpose and target, the mail's kind, recipient and fields
/// besides the link and its lifetime.
struct LinkMail<'a> {
    purpose: Purpose,
    target: Option<String>,
    kind: MailKind,
    to: &'a str,
    fields: Fields,
}

/// A secret link of an intent, and the intent.
struct LinkIntent {
    intent: Intent,
    link: String,
}

/// A lifetime as mails state it: `30 min`, `24 h`.
fn minutes_text(lifetime: Duration) -> String {
    let minutes = lifetime.as_secs().div_ceil(60);
    if minutes >= 120 && minutes.is_multiple_of(60) {
        format!("{} h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

impl Authenticator {
    fn email_config(&self) -> &EmailConfig {
        &self.inner.config.email
    }

    /// Fields every mail has.
    fn base_fields(&self) -> Fields {
        let config = self.email_config();
        Fields::new()
            .with(Field::Product, config.product_name.clone())
            .with(Field::AppUrl, config.app_url.clone())
    }

    /// The outbox message of a mail of `kind` to `to`, written in the language of its reader
    /// (the account of the address, when there is one) or else of the request.
    fn mail(
        &self,
        kind: MailKind,
        to: &str,
        (origin, reader): (&Origin, Option<&User>),
        fields: Fields,
    ) -> OutboxMessage {
        let templates = &self.inner.templates;
        // The account's own language first (chosen at its sign-up), then the request's.
        let saved = reader.and_then(|user| user.locale.as_deref());
        let locale = templates.choose(saved.or(origin.locale.as_deref()));
        let rendered = templates.render(kind, locale, &fields.with(Field::Email, to));
        MailMessage::new(to, rendered).into_outbox(kind, self.now())
    }

    /// A new link intent of `purpose` for `user`, towards `target`.
    fn link_intent(
        &self,
        user: &User,
        purpose: Purpose,
        target: Option<String>,
    ) -> (LinkIntent, Duration) {
        let paths = &self.email_config().paths;
        let path = match purpose {
            Purpose::VerifyEmail => &paths.verify_email,
            Purpose::ResetPassword => &paths.reset_password,
            Purpose::LoginLink | Purpose::LoginCode => &paths.login,
            Purpose::ChangeEmail | Purpose::UndoEmailChange => &paths.change_email,
        };
        let now = self.now();
        let lifetime = self.email_config().lifetimes.of(purpose);
        let secret = OpaqueSecret::generate();
        let intent = Intent {
            id: IntentId::new(),
            user_id: user.id,
            purpose,
            secret_hash: secret.hash(),
            code: false,
            epoch: user.epoch,
            target,
            created_at: now,
            expires_at: now + lifetime,
        };
        let link = format!(
            "{}{path}?token={}",
            self.email_config().app_url,
            secret.into_secret().expose_secret()
        );
        (LinkIntent { intent, link }, lifetime)
    }

    /// Counts a mail to `recipient` before anything is looked up: the same for every address.
    /// Runs `work` (not started before it is counted) as a mail to `recipient`, counted
    /// before anything is looked up, the same for every address. A mail that could not be
    /// written for a reason not the caller's (a store down) is given back, so the retry is
    /// not punished for it.
    async fn counted_mail<T>(
        &self,
        recipient: &str,
        origin: &Origin,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let attempt = self
            .inner
            .throttle
            .reserve_mail(recipient, origin.client)
            .await?;
        let done = work.await;
        attempt.settle_by(&done).await?;
        done
    }

    /// The account with `email` that may use the email flows: enabled.
    async fn active_user(&self, email: &str) -> Result<Option<User>> {
        Ok(self
            .inner
            .stores
            .users
            .user_by_email(email)
            .await?
            .filter(|user| !user.disabled))
    }

    /// A new link intent for `user` (see [`LinkMail`]) and the mail of `kind` to `to` that
    /// carries it, written together.
    fn link_mail(&self, user: &User, link: LinkMail<'_>, origin: &Origin) -> Writes {
        let (issued, lifetime) = self.link_intent(user, link.purpose, link.target);
        let mail = self.mail(
            link.kind,
            link.to,
            (origin, Some(user)),
            link.fields
                .with(Field::Link, issued.link)
                .with(Field::Expires, minutes_text(lifetime)),
        );
        intents_and_mail(vec![issued.intent], mail)
    }

    /// Whether a link's token names a live intent of `purpose`, without using it: what a page
    /// that shows the link's button asks. [`Error::IntentInvalid`] when it does not.
    pub async fn check_link(&self, purpose: Purpose, token: &str) -> Result<()> {
        let key = link_key(token)?;
        let intent = self
            .inner
            .stores
            .intents
            .find_intent(purpose, &key, self.now())
            .await?
            .ok_or(Error::IntentInvalid)?;
        if purpose != Purpose::UndoEmailChange {
            self.intent_user(&intent).await?;
        }
        Ok(())
    }

    /// The enabled account an intent acts on, if its credentials are still those it was
    /// issued under.
    ///
    /// A link or code sent to an address (a verification, a reset, a sign-in) works only
    /// while that address is still the account's: one sent before a change of address is
    /// dead after it.
    async fn intent_user(&self, intent: &Intent) -> Result<User> {
        let sent_to_address = !matches!(
            intent.purpose,
            Purpose::ChangeEmail | Purpose::UndoEmailChange
        );
        self.inner
            .stores
            .users
            .user_by_id(&intent.user_id)
            .await?
            .filter(|user| !user.disabled && user.epoch == intent.epoch)
            .filter(|user| {
                !sent_to_address || intent.target.as_ref().is_none_or(|to| *to == user.email)
            })
            .ok_or(Error::IntentInvalid)
    }

    /// Removes the account's second factor, if any: one set up by someone who may not be the
    /// owner (before the address was proved, or by whoever had moved the account away).
    /// Passkeys go too, and the user handle with them: one is a way in without the password.
    async fn drop_second_factor(&self, user: &User) -> Result<()> {
        if self.inner.stores.mfa.delete_totp(&user.id).await? {
            tracing::info!(user = %user.id, "a second factor set up without the owner is removed");
        }
        let passkeys = self
            .inner
            .stores
            .passkeys
            .delete_passkeys_of(&user.id)
            .await?;
        if passkeys > 0 {
            tracing::info!(user = %user.id, passkeys, "passkeys set up without the owner are removed");
        }
        Ok(())
    }

    /// Uses the live link intent of `purpose` that `token` names, and reads its account
    /// (bound to the epoch it was issued under when `bound`).
    async fn consume_link(
        &self,
        purpose: Purpose,
        token: &str,
        bound: bool,
    ) -> Result<(Intent, User)> {
        let key = link_key(token)?;
        let intent = self
            .inner
            .stores
            .intents
            .consume_intent(purpose, &key, self.now())
            .await?
            .ok_or(Error::IntentInvalid)?;
        let user = if bound {
            self.intent_user(&intent).await?
        } else {
            self.inner
                .stores
                .users
                .user_by_id(&intent.user_id)
                .await?
                .filter(|user| !user.disabled)
                .ok_or(Error::IntentInvalid)?
        };
        Ok((intent, user))
    }

    /// After a change made without a session (a reset, an undone change of address): every
    /// session ends and every link and code of the account is void.
    async fn after_credentials_reset(
        &self,
        user: &User,
        reason: SessionEnd,
        origin: &Origin,
    ) -> Result<()> {
        self.end_sessions_of(user.id, None, reason, origin.client)
            .await?;
        self.inner
            .stores
            .intents
            .void_intents(&user.id, None, self.now())
            .await?;
        Ok(())
    }

    /// Replaces the account's password with one no one knows and moves its epoch on (only
    /// while it is still `user.epoch`): whoever set the password may not be the owner. The
    /// new epoch, or `None` if the credentials changed meanwhile.
    async fn forget_password(&self, user: &User) -> Result<Option<u64>> {
        let unknown = OpaqueSecret::generate().into_secret();
        let hash = self
            .timed_hash(self.inner.passwords.rehash(&unknown))
            .await?;
        self.inner
            .stores
            .users
            .change_password_hash(&user.id, user.epoch, &hash)
            .await
    }

    /// Mails `user` a security notice of `kind`, if notices are on. A notice that cannot be
    /// queued is logged: the change it tells of has happened.
    pub(super) async fn notify(&self, user: &User, kind: MailKind, origin: &Origin) {
        if !self.email_config().security_notices {
            return;
        }
        let mail = self.mail(kind, &user.email, (origin, Some(user)), self.base_fields());
        if let Err(error) = self.inner.stores.outbox.enqueue(mail).await {
            tracing::error!(%error, user = %user.id, notice = %kind, "a security notice could not be queued");
        }
    }
}

/// Writes that queue `mail` alone.
fn mail_only(mail: OutboxMessage) -> Writes {
    Writes {
        enqueue: vec![mail],
        ..Writes::default()
    }
}

/// Writes that issue `intents` and queue the `mail` carrying them.
fn intents_and_mail(intents: Vec<Intent>, mail: OutboxMessage) -> Writes {
    Writes {
        issue_intents: intents,
        enqueue: vec![mail],
        ..Writes::default()
    }
}

/// The key of a link's token; [`Error::InvalidRequest`] if it is not one.
fn link_key(token: &str) -> Result<IntentKey> {
    let secret =
        OpaqueSecret::parse(token).map_err(|_| Error::InvalidRequest("not a link token".into()))?;
    Ok(IntentKey::Link(secret.hash()))
}
