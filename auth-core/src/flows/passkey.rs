//! Passkeys (feature `passkeys`, over webauthn-rs): registration on a signed-in account,
//! passwordless sign-in (discoverable, or username first), the second factor after a
//! password or an emailed link, reauthentication, and the second factor of a password reset.
//!
//! Every ceremony is two requests: `begin_*` answers the options for the browser's
//! `navigator.credentials.create()` or `.get()` and a ceremony id; `finish_*` takes the id and
//! what the browser answered. The state between them is in the
//! [`PasskeyStore`](crate::store::PasskeyStore): single use, short-lived, bound to what began
//! it, so any server can finish what another began and nothing can be replayed.
//!
//! - **User verification** is required in every ceremony: a passkey is a factor of its own
//!   (something held, unlocked by something known or something one is).
//! - **Assertions** are checked against the stored credential at finish time (a passkey
//!   removed meanwhile no longer signs in), and its signature counter with the store's
//!   atomic check: a non-zero counter that does not increase is refused and audited, or,
//!   with [`CounterPolicy::AcceptAndFlag`], accepted, audited and the session flagged in the
//!   audit trail.
//! - **Username first** never tells which accounts exist or have passkeys: an unknown account,
//!   or one without passkeys, gets a deterministic fake `allowCredentials` (the same ids for
//!   the same name, every time, on every server sharing the MFA key; one to three, of the
//!   lengths authenticators choose) after the same work (WebAuthn Level 3, "Username
//!   Enumeration"), and its ceremony is finished by the named account's passkeys only: any
//!   other answer, a discoverable passkey of another account included, fails alike.
//! - **Second factor.** With TOTP on, a password login's challenge (and a reset's factor
//!   step) accepts the account's passkeys beside TOTP and recovery codes. A passkey alone does
//!   not make the password ask for a second factor: no recovery codes would back it, and a
//!   lost passkey would lock the account for good.
//! - **Limits.** Every ceremony begun counts against the client address (60 a minute);
//!   failed passwordless answers count against the address only (anyone may send a bad
//!   signature for any account, which must not lock its owner out); a passkey as a second
//!   factor spends the TOTP budget.
//! - **The user handle** is random ([`PasskeyStore::passkey_handle`]), never the email.
//!
//! [`PasskeyStore::passkey_handle`]: crate::store::PasskeyStore::passkey_handle

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;
use webauthn_rs::prelude::{
    AttestationFormat, COSEAlgorithm, COSEEC2Key, COSEKey, COSEKeyType, Credential,
    DiscoverableAuthentication, ECDSACurve, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Webauthn, WebauthnBuilder,
};

use super::{Authenticator, Principal, SensitiveAction, Tokens};
use crate::email::normalize_email;
use crate::error::{Error, Result, TokenRejection};
use crate::event::{AuthEventKind, SessionEnd};
use crate::id::{Amr, PasskeyKind, SecondFactor, UserId};
use crate::mail::MailKind;
use crate::passkey::{
    Ceremony, CeremonyId, CeremonyKind, CounterCheck, MAX_PASSKEY_NAME_CHARS, PasskeyId,
    PasskeyRecord, PasskeyUse,
};
use crate::store::User;
use crate::throttle::challenge_key;

/// What to do when a passkey's non-zero signature counter does not increase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterPolicy {
    /// Refuse the assertion and record a `passkey_counter_regressed` event (the default).
    #[default]
    Refuse,
    /// Accept it, record the event (accepted) with the session it opened: for deployments
    /// whose users' authenticators are known to misreport counters.
    AcceptAndFlag,
}

/// The relying party: who passkeys are registered with, and the pages that may use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyConfig {
    /// The relying party id: a registrable domain (`example.com`), the origins' host or a
    /// parent of it. Passkeys are bound to it for good: changing it orphans every passkey.
    pub rp_id: String,
    /// The name authenticators show.
    pub rp_name: String,
    /// The origins (`https://app.example.com`) whose pages run the ceremonies: HTTPS, or
    /// `http://localhost` for development; each on the relying party id or a subdomain of
    /// it.
    pub origins: Vec<String>,
    /// How long a ceremony may take, from its options to its finish (default 5 minutes).
    pub ceremony_ttl: Duration,
    /// What a counter that does not increase leads to.
    pub counter_policy: CounterPolicy,
}

impl PasskeyConfig {
    /// A relying party `rp_id` named `rp_name`, its pages on `origins`.
    pub fn new(
        rp_id: impl Into<String>,
        rp_name: impl Into<String>,
        origins: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            rp_id: rp_id.into(),
            rp_name: rp_name.into(),
            origins: origins.into_iter().map(Into::into).collect(),
            ceremony_ttl: Duration::from_secs(5 * 60),
            counter_policy: CounterPolicy::default(),
        }
    }

    /// Checks that the id, the name, the lifetime and the origins make a relying party:
    /// [`Error::Config`] naming what does not (what building the authenticator checks).
    pub fn validate(&self) -> Result<()> {
        self.build().map(|_| ())
    }

    /// The webauthn-rs relying party, after checking that the id and the origins agree:
    /// [`Error::Config`] naming what does not.
    pub(super) fn build(&self) -> Result<Webauthn> {
        let rp_id = self.rp_id.as_str();
        let well_formed = !rp_id.is_empty()
            && rp_id == rp_id.to_ascii_lowercase()
            && !rp_id.starts_with('.')
            && !rp_id.ends_with('.')
            && rp_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !well_formed {
            return Err(Error::Config(format!(
                "the passkey relying party id {rp_id:?} is not a lower-case domain name"
            )));
        }
        // A top-level domain would let every site under it use the passkeys (browsers refuse
        // it, and public suffixes such as co.uk: those need the suffix list to tell).
        if !rp_id.contains('.') && rp_id != "localhost" {
            return Err(Error::Config(format!(
                "the passkey relying party id {rp_id:?} is a top-level domain; use the site's \
                 registrable domain (example.com)"
            )));
        }
        if self.rp_name.trim().is_empty() {
            return Err(Error::Config(
                "the passkey relying party name is empty".into(),
            ));
        }
        if self.ceremony_ttl.is_zero() || self.ceremony_ttl > Duration::from_secs(30 * 60) {
            return Err(Error::Config(
                "a passkey ceremony lasts more than nothing and at most 30 minutes".into(),
            ));
        }
        let origins = self
            .origins
            .iter()
            .map(|origin| check_origin(origin, rp_id))
            .collect::<Result<Vec<_>>>()?;
        let Some((first, others)) = origins.split_first() else {
            return Err(Error::Config(
                "passkeys need at least one allowed origin".into(),
            ));
        };
        let mut builder = WebauthnBuilder::new(rp_id, first)
            .map_err(|error| Error::Config(format!("passkeys: {error}")))?
            .rp_name(&self.rp_name)
            .timeout(self.ceremony_ttl);
        for origin in others {
            builder = builder.append_allowed_origin(origin);
        }
        builder
            .build()
            .map_err(|error| Error::Config(format!("passkeys: {error}")))
    }
}

/// `origin` as a URL, if it is an origin (scheme, host, port; nothing else) that may use
/// passkeys of `rp_id`.
fn check_origin(origin: &str, rp_id: &str) -> Result<Url> {
    let refuse = |why: &str| Err(Error::Config(format!("passkey origin {origin:?} {why}")));
    let Ok(url) = Url::parse(origin) else {
        return refuse("is not a URL");
    };
    let Some(host) = url.host_str() else {
        return refuse("has no host");
    };
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return refuse("is not an origin (scheme, host and port only)");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("carries credentials");
    }
    let local = host == "localhost";
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => return refuse("is not HTTPS (only http://localhost may be plain)"),
    }
    let within = host == rp_id || host.ends_with(&format!(".{rp_id}"));
    if !within {
        return refuse(&format!(
            "is not on the relying party id {rp_id:?} or a subdomain of it"
        ));
    }
    Ok(url)
}

/// Options for the browser and the id to finish the ceremony with.
#[derive(Debug, Clone)]
pub struct PasskeyOptions {
    /// What the finish names.
    pub ceremony: CeremonyId,
    /// The WebAuthn options in their JSON form (`{"publicKey": {...}}`, and `mediation` for
    /// autofill), ready for `PublicKeyCredential.parseCreationOptionsFromJSON` or
    /// `parseRequestOptionsFromJSON` once `publicKey` is taken out.
    pub options: Value,
    /// Seconds until the ceremony expires.
    pub expires_in: u64,
}

/// A passkey as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// The credential id.
    pub id: PasskeyId,
    /// The owner's name for it.
    pub name: String,
    /// Whether it may be synced to other devices.
    pub backup_eligible: bool,
    /// Whether it is synced now.
    pub backup_state: bool,
    /// How it is reached (`internal`, `hybrid`, `usb`, ...).
    pub transports: Vec<String>,
    /// The authenticator model's id (all zero when unknown).
    pub aaguid: Uuid,
    /// When it was registered.
    pub created_at: SystemTime,
    /// When it was last used.
    pub last_used_at: Option<SystemTime>,
}

impl From<&PasskeyRecord> for PasskeyInfo {
    fn from(record: &PasskeyRecord) -> Self {
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            backup_eligible: record.backup_eligible,
            backup_state: record.backup_state,
            transports: record.transports.clone(),
            aaguid: record.aaguid,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
        }
    }
}

/// A passkey's answer to a ceremony: the ceremony id and what the browser returned
/// (`PublicKeyCredential.toJSON()`).
#[derive(Clone, Copy)]
pub struct PasskeyResponse<'a> {
    /// The ceremony id from the options.
    pub ceremony: &'a str,
    /// The credential, in its JSON form.
    pub credential: &'a Value,
}

impl fmt::Debug for PasskeyResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyResponse")
            .field("ceremony", &self.ceremony)
            .finish_non_exhaustive()
    }
}

/// A verified assertion, recorded against its passkey.
pub(super) struct Asserted {
    /// The account, as read before the use was recorded: its epoch is the one a session
    /// opened now must be on (a passkey removal that lands meanwhile moves it).
    pub(super) user: User,
    pub(super) kind: PasskeyKind,
    /// The counter check found a regression and the policy accepted it.
    pub(super) flagged: Option<AuthEventKind>,
}

/// Transports a fake `allowCredentials` entry may name, as real ones do (none: a browser
/// that reported none).
const FAKE_TRANSPORTS: [&[&str]; 8] = [
    &["hybrid", "internal"],
    &["hybrid", "internal"],
    &["internal"],
    &["internal"],
    &["usb"],
    &["nfc", "usb"],
    &["hybrid", "usb"],
    &[],
];

/// Credential id lengths a fake entry may have, as authenticators choose them (16 bytes for
/// many platform passkeys, 20 for iCloud Keychain, 32 and 48 for many others, 64 and more for
/// security keys that wrap their key in the id).
const FAKE_ID_LENGTHS: [usize; 8] = [16, 16, 20, 32, 32, 48, 64, 64];

/// The binding of a username-first sign-in's ceremony.
const USERNAME_FIRST: &str = "username";

impl Authenticator {
    fn webauthn(&self) -> Result<&Webauthn> {
        self.inner
            .webauthn
            .as_ref()
            .ok_or_else(|| Error::NotFound("passkeys are not enabled".into()))
    }

    fn passkey_config(&self) -> Result<&PasskeyConfig> {
        self.inner
            .config
            .passkeys
            .as_ref()
            .ok_or_else(|| Error::NotFound("passkeys are not enabled".into()))
    }

    /// Counts a ceremony begun by `client`, whatever becomes of it: each stores state until it
    /// is finished or expires ([`Error::Throttled`] beyond the address's rate).
    async fn count_ceremony(&self, client: Option<IpAddr>) -> Result<()> {
        self.inner
            .throttle
            .reserve_passkey_ceremony(client)
            .await?
            .succeeded()
            .await
    }

    /// Stores a ceremony's state and answers its options.
    async fn save_ceremony(
        &self,
        kind: CeremonyKind,
        user_id: Option<UserId>,
        binding: Option<String>,
        state: &impl serde::Serialize,
        options: Value,
    ) -> Result<PasskeyOptions> {
        let ttl = self.passkey_config()?.ceremony_ttl;
        let now = self.now();
        let ceremony = Ceremony {
            id: CeremonyId::generate(),
            kind,
            user_id,
            binding,
            state: serde_json::to_vec(state)
                .map_err(|error| Error::Internal(format!("passkey state: {error}")))?,
            created_at: now,
            expires_at: now + ttl,
        };
        let id = ceremony.id.clone();
        self.inner.stores.passkeys.save_ceremony(ceremony).await?;
        Ok(PasskeyOptions {
            ceremony: id,
            options,
            expires_in: ttl.as_secs(),
        })
    }

    /// Takes the ceremony a finish names, if it is of `kind`, for `user` and bound to
    /// `binding`; [`Error::CeremonyInvalid`] otherwise. Taken either way: one try per
    /// ceremony.
    async fn take_ceremony(
        &self,
        id: &str,
        kind: CeremonyKind,
        user: Option<&UserId>,
        binding: Option<&str>,
    ) -> Result<Ceremony> {
        let ceremony = self.take_ceremony_of(id, kind).await?;
        let matches = (user.is_none() || ceremony.user_id.as_ref() == user)
            && ceremony.binding.as_deref() == binding;
        if matches {
            Ok(ceremony)
        } else {
            Err(Error::CeremonyInvalid)
        }
    }

    /// Takes the ceremony a finish names, if it is of `kind`, whatever it is bound to.
    async fn take_ceremony_of(&self, id: &str, kind: CeremonyKind) -> Result<Ceremony> {
        let id = CeremonyId::parse(id).map_err(|_| Error::CeremonyInvalid)?;
        self.inner
            .stores
            .passkeys
            .take_ceremony(&id, self.now())
            .await?
            .filter(|ceremony| ceremony.kind == kind)
            .ok_or(Error::CeremonyInvalid)
    }

    /// Starts registering a passkey on the caller's account: the creation options. Adding a
    /// factor needs a fresh authentication ([`Error::ReauthRequired`] otherwise). The
    /// account's passkeys are excluded, so an authenticator is not registered twice.
    pub async fn begin_passkey_registration(
        &self,
        principal: &Principal,
        client: Option<IpAddr>,
    ) -> Result<PasskeyOptions> {
        let webauthn = self.webauthn()?;
        self.require_fresh(principal, SensitiveAction::AddFactor)?;
        self.count_ceremony(client).await?;
        let user = self.user_for(principal).await?;
        let handle = self
            .inner
            .stores
            .passkeys
            .passkey_handle(&user.id, Uuid::new_v4())
            .await?;
        let existing = self.inner.stores.passkeys.passkeys_of(&user.id).await?;
        let exclude = existing
            .iter()
            .map(|record| record.id.as_bytes().to_vec())
            .collect();
        let (options, state) = webauthn
            .start_passkey_registration(handle, &user.email, &user.email, Some(exclude))
            .map_err(|error| Error::Internal(format!("passkey registration: {error}")))?;
        let mut options = to_json(&options)?;
        // A discoverable credential where the authenticator can make one, so the passkey
        // also signs in without a username; never required (a security key may lack room).
        if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
            selection["residentKey"] = json!("preferred");
            selection["requireResidentKey"] = json!(false);
        }
        self.save_ceremony(
            CeremonyKind::Registration,
            Some(user.id),
            principal.session_id.as_ref().map(|s| s.as_str().to_owned()),
            &state,
            options,
        )
        .await
    }

    /// Finishes a registration: the new passkey, named `name` (or after its kind). A credential
    /// change: the epoch moves on, every other session ends, the owner is mailed.
    /// [`Error::InvalidCredentials`] if the browser's answer does not verify (wrong origin or
    /// relying party, no user verification, another challenge); [`Error::Conflict`] if the
    /// credential is registered already.
    pub async fn finish_passkey_registration(
        &self,
        principal: &Principal,
        response: PasskeyResponse<'_>,
        name: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<PasskeyInfo> {
        let webauthn = self.webauthn()?;
        let name = passkey_name(name)?;
        // Fresh at the finish too: the ceremony may have begun minutes before.
        self.require_fresh(principal, SensitiveAction::AddFactor)?;
        let user = self.user_for(principal).await?;
        let ceremony = self
            .take_ceremony(
                response.ceremony,
                CeremonyKind::Registration,
                Some(&user.id),
                principal.session_id.as_ref().map(|s| s.as_str()),
            )
            .await?;
        let credential: RegisterPublicKeyCredential = parse_response(response.credential)?;
        let state: PasskeyRegistration = parse_state(&ceremony)?;
        let registered = Error::Conflict("this passkey is registered already".into());
        let presented = PasskeyId::from_bytes(credential.raw_id.clone())?;
        let existing = self.inner.stores.passkeys.passkey(&presented).await?;
        // The caller's own, answered plainly (webauthn-rs refuses an excluded credential as a
        // failure); another account's, only once the answer verifies.
        if existing
            .as_ref()
            .is_some_and(|record| record.user_id == user.id)
        {
            return Err(registered);
        }
        let passkey = match webauthn.finish_passkey_registration(&credential, &state) {
            Ok(passkey) => passkey,
            Err(error) => {
                tracing::info!(user = %user.id, %error, "a passkey registration was refused");
                self.emit(
                    AuthEventKind::PasskeyFailed,
                    Some(user.id),
                    principal.session_id.clone(),
                    client,
                )
                .await;
                return Err(Error::InvalidCredentials);
            }
        };
        if existing.is_some() {
            return Err(registered);
        }
        let details: Credential = passkey.clone().into();
        let id = PasskeyId::from_bytes(details.cred_id.clone())?;
        let kind = PasskeyKind::from_backup_eligible(details.backup_eligible);
        let record = PasskeyRecord {
            id: id.clone(),
            user_id: user.id,
            name: name.unwrap_or_else(|| default_name(kind).to_owned()),
            credential: serde_json::to_vec(&passkey)
                .map_err(|error| Error::Internal(format!("passkey: {error}")))?,
            sign_count: details.counter,
            backup_eligible: details.backup_eligible,
            backup_state: details.backup_state,
            transports: transports_of(response.credential),
            aaguid: aaguid_of(&credential),
            created_at: self.now(),
            last_used_at: None,
        };
        // The epoch first: a credential change that landed since the account was read wins,
        // and no session can open on the old epoch with the new passkey.
        let epoch = self.advance_epoch(&user).await?;
        if let Err(error) = self.inner.stores.passkeys.add_passkey(record.clone()).await {
            // The epoch moved all the same: the caller's session moves with it, so its retry
            // is not refused for a change that did not happen.
            self.credentials_changed(principal, epoch, SessionEnd::CredentialsChanged, client)
                .await?;
            return Err(error);
        }
        let added = AuthEventKind::PasskeyAdded {
            credential: id.to_string(),
        };
        self.factor_changed(
            principal,
            &user,
            Ok(epoch),
            added,
            MailKind::PasskeyAdded,
            client,
        )
        .await?;
        Ok(PasskeyInfo::from(&record))
    }

    /// The caller's passkeys, oldest first.
    pub async fn passkeys(&self, principal: &Principal) -> Result<Vec<PasskeyInfo>> {
        let user = self.user_for(principal).await?;
        let records = self.inner.stores.passkeys.passkeys_of(&user.id).await?;
        Ok(records.iter().map(PasskeyInfo::from).collect())
    }

    /// Renames one of the caller's passkeys; [`Error::NotFound`] if it has no such passkey.
    pub async fn rename_passkey(&self, principal: &Principal, id: &str, name: &str) -> Result<()> {
        let id = PasskeyId::parse(id).map_err(|_| Error::NotFound("no such passkey".into()))?;
        let name = passkey_name(Some(name))?
            .ok_or_else(|| Error::InvalidRequest("a passkey's name cannot be empty".into()))?;
        let user = self.user_for(principal).await?;
        if self
            .inner
            .stores
            .passkeys
            .rename_passkey(&user.id, &id, &name)
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound("no such passkey".into()))
        }
    }

    /// Removes one of the caller's passkeys. Removing a factor needs a fresh authentication
    /// ([`Error::ReauthRequired`] otherwise), as turning TOTP off does; it is a credential
    /// change (the epoch moves on, every other session ends, the owner is mailed).
    /// Every account keeps its password, so removing passkeys never leaves one without a way
    /// to sign in. [`Error::NotFound`] if the caller has no such passkey.
    pub async fn delete_passkey(
        &self,
        principal: &Principal,
        id: &str,
        client: Option<IpAddr>,
    ) -> Result<()> {
        let id = PasskeyId::parse(id).map_err(|_| Error::NotFound("no such passkey".into()))?;
        self.require_fresh(principal, SensitiveAction::RemoveFactor)?;
        let user = self.user_for(principal).await?;
        // Removed first, then the epoch moved on from the one read with the account: a
        // sign-in with the passkey that recorded its use before the removal opened its
        // session on that epoch, and ends with the others.
        if !self
            .inner
            .stores
            .passkeys
            .delete_passkey(&user.id, &id)
            .await?
        {
            return Err(Error::NotFound("no such passkey".into()));
        }
        // The passkey is gone whatever happens next: the epoch moves on from whatever it is
        // now, a change that landed meanwhile included.
        let epoch = match self.advance_epoch(&user).await {
            Err(Error::Conflict(_)) => {
                let current = self.user_for(principal).await?;
                self.advance_epoch(&current).await
            }
            moved => moved,
        };
        let removed = AuthEventKind::PasskeyRemoved {
            credential: id.to_string(),
        };
        self.factor_changed(
            principal,
            &user,
            epoch,
            removed,
            MailKind::PasskeyRemoved,
            client,
        )
        .await
    }

    /// Starts a passwordless sign-in. Without `username`, for a discoverable credential: the
    /// browser offers the passkeys it holds for the relying party (`conditional`: in the
    /// username field's autofill, WebAuthn's conditional mediation). With `username`, the
    /// account's passkeys are allowed; for an unknown account or one without passkeys, a
    /// fake list that is the same for the same name every time, after the same work.
    /// Counted per client address, as every ceremony begun ([`Error::Throttled`] beyond 60 a
    /// minute).
    pub async fn begin_passkey_sign_in(
        &self,
        username: Option<&str>,
        conditional: bool,
        client: Option<IpAddr>,
    ) -> Result<PasskeyOptions> {
        self.webauthn()?;
        self.count_ceremony(client).await?;
        let allow = match username {
            None => None,
            Some(username) => Some(self.allow_list_for_name(username).await?),
        };
        let user_id = allow.as_ref().and_then(|(user, _)| *user);
        let binding = allow.is_some().then(|| USERNAME_FIRST.to_owned());
        let allow = allow.map(|(_, list)| list);
        let mediation = conditional && allow.is_none();
        self.begin_assertion(CeremonyKind::SignIn, user_id, binding, allow, mediation)
            .await
    }

    /// Finishes a passwordless sign-in: tokens for a session whose `amr` is `hwk` or `swk`
    /// with `user`, its `auth_time` now. Every refusal (an unknown credential, a bad
    /// signature, no user verification, another origin, a disabled account, a refused
    /// counter) is [`Error::InvalidCredentials`], counted against the client address.
    pub async fn finish_passkey_sign_in(
        &self,
        response: PasskeyResponse<'_>,
        client: Option<IpAddr>,
    ) -> Result<Tokens> {
        self.webauthn()?;
        let ceremony = self
            .take_ceremony_of(response.ceremony, CeremonyKind::SignIn)
            .await?;
        // A username-first ceremony is finished by the account it named only; one that named
        // no account with passkeys, by none (a fresh id, no one's). Discoverable: the account
        // the answer's user handle names.
        let expected = match (ceremony.binding.as_deref(), ceremony.user_id) {
            (Some(USERNAME_FIRST), named) => Some(named.unwrap_or_default()),
            (None, None) => None,
            _ => return Err(Error::CeremonyInvalid),
        };
        let credential: PublicKeyCredential = parse_response(response.credential)?;
        let attempt = self
            .inner
            .throttle
            .reserve_passkey_assertion(client)
            .await?;
        let checked = self
            .check_assertion(&ceremony, &credential, expected.as_ref(), client)
            .await;
        let asserted = match checked {
            Ok(Some(asserted)) => asserted,
            Ok(None) => {
                attempt.failed().await?;
                return Err(Error::InvalidCredentials);
            }
            Err(error) => {
                let _ = attempt.release().await;
                return Err(error);
            }
        };
        attempt.succeeded().await?;
        let user = asserted.user;
        let flagged = asserted.flagged.is_some();
        let opened = if self.inner.config.email.verification == super::EmailVerification::Required
            && user.email_verified_at.is_none()
        {
            Err(Error::EmailUnverified)
        } else {
            let amr = Amr::Passkey(asserted.kind);
            self.start_session_flagged(&user, amr, user.epoch, client, flagged)
                .await
        };
        self.flag_session(asserted.flagged, &user, opened.as_ref().ok(), client)
            .await;
        opened
    }

    /// Starts the passkey step of a login that answered
    /// [`LoginOutcome::MfaRequired`](super::LoginOutcome): the request options for the
    /// account's passkeys, bound to the challenge.
    pub async fn begin_passkey_second_factor(
        &self,
        mfa_token: &str,
        client: Option<IpAddr>,
    ) -> Result<PasskeyOptions> {
        self.webauthn()?;
        let (challenge, user) = self.passkey_challenge(mfa_token).await?;
        self.count_ceremony(client).await?;
        let allow = self.allow_list_of(&user.id).await?;
        if allow.is_empty() {
            return Err(Error::Conflict("the account has no passkey".into()));
        }
        self.begin_assertion(
            CeremonyKind::SecondFactor,
            Some(user.id),
            Some(challenge.jti),
            Some(allow),
            false,
        )
        .await
    }

    /// Completes a login with a passkey as its second factor, through the same budget as a
    /// TOTP code (reserved first: per user, client address and challenge); the challenge is
    /// spent by its first success.
    pub async fn verify_mfa_passkey(
        &self,
        mfa_token: &str,
        response: PasskeyResponse<'_>,
        client: Option<IpAddr>,
    ) -> Result<Tokens> {
        self.webauthn()?;
        let (challenge, user) = self.passkey_challenge(mfa_token).await?;
        let ceremony = self
            .take_ceremony(
                response.ceremony,
                CeremonyKind::SecondFactor,
                Some(&user.id),
                Some(&challenge.jti),
            )
            .await?;
        let credential: PublicKeyCredential = parse_response(response.credential)?;
        let asserted = self
            .counted_passkey_factor(
                &ceremony,
                &credential,
                &user.id,
                Some(&challenge.jti),
                client,
            )
            .await?;
        let first = if challenge.custom.email {
            Amr::Email
        } else {
            Amr::Password
        };
        let amr = first.with_second_factor(SecondFactor::Passkey(asserted.kind));
        let expires_at =
            UNIX_EPOCH + Duration::from_secs(u64::try_from(challenge.exp).unwrap_or(0));
        let first_use = self
            .inner
            .stores
            .revocations
            .use_once(&challenge_key(&challenge.jti), self.now(), expires_at)
            .await?;
        let flagged = asserted.flagged.is_some();
        let opened = if first_use {
            self.start_session_flagged(&user, amr, challenge.custom.epoch, client, flagged)
                .await
        } else {
            Err(TokenRejection::NotActive.into())
        };
        self.flag_session(asserted.flagged, &user, opened.as_ref().ok(), client)
            .await;
        opened
    }

    /// Starts a reauthentication with a passkey within the caller's session.
    pub async fn begin_passkey_reauthentication(
        &self,
        principal: &Principal,
        client: Option<IpAddr>,
    ) -> Result<PasskeyOptions> {
        self.webauthn()?;
        self.count_ceremony(client).await?;
        let session = principal
            .session_id
            .as_ref()
            .ok_or_else(|| Error::InvalidRequest("the token has no session".into()))?;
        let user = self.user_for(principal).await?;
        let allow = self.allow_list_of(&user.id).await?;
        if allow.is_empty() {
            return Err(Error::Conflict(
                "no passkey is registered: reauthenticate with the password".into(),
            ));
        }
        self.begin_assertion(
            CeremonyKind::Reauthentication,
            Some(user.id),
            Some(session.as_str().to_owned()),
            Some(allow),
            false,
        )
        .await
    }

    /// Checks a reauthentication's passkey, counted in the account's second-factor budget.
    pub(super) async fn check_passkey_reauthentication(
        &self,
        principal: &Principal,
        user: &User,
        response: PasskeyResponse<'_>,
        client: Option<IpAddr>,
    ) -> Result<()> {
        self.webauthn()?;
        let session = principal.session_id.as_ref().map(|s| s.as_str());
        let ceremony = self
            .take_ceremony(
                response.ceremony,
                CeremonyKind::Reauthentication,
                Some(&user.id),
                session,
            )
            .await?;
        let credential: PublicKeyCredential = parse_response(response.credential)?;
        let asserted = self
            .counted_passkey_factor(&ceremony, &credential, &user.id, None, client)
            .await?;
        // An accepted counter regression is recorded against the session it refreshed.
        if let Some(event) = asserted.flagged {
            self.emit(event, Some(user.id), principal.session_id.clone(), client)
                .await;
        }
        Ok(())
    }

    /// Starts the passkey step of a password reset: the options for the account's passkeys,
    /// bound to the reset link (which stays usable).
    pub async fn begin_passkey_reset(
        &self,
        token: &str,
        client: Option<IpAddr>,
    ) -> Result<PasskeyOptions> {
        self.webauthn()?;
        let intent = self.reset_intent(token).await?;
        self.count_ceremony(client).await?;
        let allow = self.allow_list_of(&intent.user_id).await?;
        if allow.is_empty() {
            return Err(Error::Conflict("the account has no passkey".into()));
        }
        self.begin_assertion(
            CeremonyKind::PasswordReset,
            Some(intent.user_id),
            Some(intent.id.to_string()),
            Some(allow),
            false,
        )
        .await
    }

    /// Checks a password reset's passkey, in the account's second-factor budget.
    pub(super) async fn check_passkey_reset(
        &self,
        user: &User,
        intent: &crate::intent::Intent,
        response: PasskeyResponse<'_>,
        client: Option<IpAddr>,
    ) -> Result<()> {
        self.webauthn()?;
        let binding = intent.id.to_string();
        let ceremony = self
            .take_ceremony(
                response.ceremony,
                CeremonyKind::PasswordReset,
                Some(&user.id),
                Some(&binding),
            )
            .await?;
        let credential: PublicKeyCredential = parse_response(response.credential)?;
        let asserted = self
            .counted_passkey_factor(&ceremony, &credential, &user.id, None, client)
            .await?;
        if let Some(event) = asserted.flagged {
            self.emit(event, Some(user.id), None, client).await;
        }
        Ok(())
    }

    /// A live second-factor challenge a passkey may answer: its account has TOTP on (the
    /// factor that asks for one; a challenge exists only then, this holds it here too).
    async fn passkey_challenge(
        &self,
        mfa_token: &str,
    ) -> Result<(crate::token::Claims<super::login::ChallengeClaims>, User)> {
        let (challenge, user) = self.mfa_challenge(mfa_token).await?;
        if !self.totp_enabled(&user.id).await? {
            return Err(TokenRejection::NotActive.into());
        }
        Ok((challenge, user))
    }

    /// Whether the account has a passkey: with TOTP on, one answers a second-factor challenge.
    pub(super) async fn has_passkey(&self, user: &UserId) -> Result<bool> {
        if self.inner.webauthn.is_none() {
            return Ok(false);
        }
        Ok(!self
            .inner
            .stores
            .passkeys
            .passkeys_of(user)
            .await?
            .is_empty())
    }

    /// Checks a passkey as a second factor, the attempt reserved first in the account's
    /// budget (and the challenge's, when it answers one).
    async fn counted_passkey_factor(
        &self,
        ceremony: &Ceremony,
        credential: &PublicKeyCredential,
        user: &UserId,
        challenge: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Asserted> {
        let attempt = self
            .inner
            .throttle
            .reserve_second_factor(user, client, challenge)
            .await?;
        let checked = self
            .check_assertion(ceremony, credential, Some(user), client)
            .await;
        self.settle_factor(user, attempt, checked, client).await
    }

    /// Begins an assertion ceremony: request options (user verification required) with
    /// `allow` as `allowCredentials` (none: discoverable), stored with its state.
    async fn begin_assertion(
        &self,
        kind: CeremonyKind,
        user: Option<UserId>,
        binding: Option<String>,
        allow: Option<Vec<Value>>,
        conditional: bool,
    ) -> Result<PasskeyOptions> {
        let (options, state) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(|error| Error::Internal(format!("passkey authentication: {error}")))?;
        let mut options = to_json(&options)?;
        if let Some(allow) = allow {
            options["publicKey"]["allowCredentials"] = Value::Array(allow);
        }
        if !conditional && let Some(object) = options.as_object_mut() {
            object.remove("mediation");
        }
        self.save_ceremony(kind, user, binding, &state, options)
            .await
    }

    /// Verifies an assertion against its ceremony and the stored credential it names, for
    /// `expected` (the account the ceremony was begun for) or, in a discoverable sign-in, the
    /// account its user handle names; then records the use with the counter check.
    /// `Ok(None)`: refused (audited); errors are failures to check.
    async fn check_assertion(
        &self,
        ceremony: &Ceremony,
        credential: &PublicKeyCredential,
        expected: Option<&UserId>,
        client: Option<IpAddr>,
    ) -> Result<Option<Asserted>> {
        let webauthn = self.webauthn()?;
        let state: DiscoverableAuthentication = parse_state(ceremony)?;
        let stores = &self.inner.stores;
        let refused = |user: Option<UserId>, why: &str| {
            tracing::info!(user = ?user, why, "a passkey assertion was refused");
            user
        };
        let Ok(id) = PasskeyId::from_bytes(credential.raw_id.clone()) else {
            return Ok(None);
        };
        // Who the answer says it is: the ceremony's account, or the user handle's.
        let handle = credential
            .response
            .user_handle
            .as_ref()
            .map(|handle| Uuid::from_slice(handle));
        // The account the handle names, read once: the owner of a discoverable answer, and
        // what any answer's handle must agree with (WebAuthn L3 7.2 step 6).
        let named = match &handle {
            Some(Ok(handle)) => stores.passkeys.user_of_passkey_handle(handle).await?,
            _ => None,
        };
        let owner = expected.copied().or(named);
        let record = stores.passkeys.passkey(&id).await?;
        let Some((owner, record)) = owner.zip(record).filter(|(owner, record)| {
            // Not the ceremony's account's (nor the user handle's): refused below, after the
            // same work as a real check.
            record.user_id == *owner
        }) else {
            let user = refused(
                expected.copied(),
                "unknown credential, or another account's",
            );
            self.decoy_check(webauthn, credential, state, expected)
                .await?;
            self.emit(AuthEventKind::PasskeyFailed, user, None, client)
                .await;
            return Ok(None);
        };
        // Read before the use is recorded: its epoch is the one the session must be on.
        let Some(user) = stores
            .users
            .user_by_id(&owner)
            .await?
            .filter(|user| !user.disabled)
        else {
            refused(Some(owner), "the account is disabled");
            return Ok(None);
        };
        if handle.is_some() && named != Some(owner) {
            refused(Some(owner), "the user handle names another account");
            self.emit(AuthEventKind::PasskeyFailed, Some(owner), None, client)
                .await;
            return Ok(None);
        }
        let verified = stored_credential(&record).and_then(|stored| {
            webauthn
                .finish_discoverable_authentication_v2(credential, state, &stored)
                .map_err(|error| Error::Internal(format!("passkey: {error}")))
        });
        let result = match verified {
            Ok(result) => result,
            Err(Error::Internal(why)) => {
                refused(Some(owner), &why);
                self.emit(AuthEventKind::PasskeyFailed, Some(owner), None, client)
                    .await;
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
        if !result.user_verified() {
            refused(Some(owner), "no user verification");
            self.emit(AuthEventKind::PasskeyFailed, Some(owner), None, client)
                .await;
            return Ok(None);
        }
        let policy = self.passkey_config()?.counter_policy;
        let used = PasskeyUse {
            sign_count: result.counter(),
            backup_eligible: result.backup_eligible(),
            backup_state: result.backup_state(),
            at: self.now(),
        };
        let accept = policy == CounterPolicy::AcceptAndFlag;
        let Some(check) = stores
            .passkeys
            .record_passkey_use(&id, used, accept)
            .await?
        else {
            // Removed since the ceremony began.
            refused(Some(owner), "the passkey was removed");
            return Ok(None);
        };
        let mut flagged = None;
        if let CounterCheck::Regressed { stored } = check {
            let event = AuthEventKind::PasskeyCounterRegressed {
                credential: id.to_string(),
                stored,
                presented: used.sign_count,
                accepted: accept,
            };
            if !accept {
                self.emit(event, Some(owner), None, client).await;
                return Ok(None);
            }
            flagged = Some(event);
        }
        Ok(Some(Asserted {
            user,
            kind: PasskeyKind::from_backup_eligible(used.backup_eligible),
            flagged,
        }))
    }

    /// The work a check of a real passkey does, for an answer that names none of the expected
    /// account's (a username-first sign-in of an account without passkeys answered with any
    /// credential, say): the account read, and webauthn-rs's verification against a key no
    /// one signs for, its flags those of the answer so every check runs to the signature.
    /// Its outcome is ignored: the answer is refused whatever it is.
    async fn decoy_check(
        &self,
        webauthn: &Webauthn,
        credential: &PublicKeyCredential,
        state: DiscoverableAuthentication,
        expected: Option<&UserId>,
    ) -> Result<()> {
        let account = expected.copied().unwrap_or_default();
        let _ = self.inner.stores.users.user_by_id(&account).await?;
        let flags = credential
            .response
            .authenticator_data
            .get(32)
            .copied()
            .unwrap_or(0);
        let decoy = decoy_credential(credential.raw_id.clone(), flags & 0x08 != 0);
        if let Some(decoy) = decoy {
            let _ = webauthn.finish_discoverable_authentication_v2(credential, state, &decoy);
        }
        Ok(())
    }

    /// Records an accepted counter regression, against the session it opened when it did.
    async fn flag_session(
        &self,
        flagged: Option<AuthEventKind>,
        user: &User,
        opened: Option<&Tokens>,
        client: Option<IpAddr>,
    ) {
        if let Some(event) = flagged {
            let session = opened.map(|tokens| tokens.session_id.clone());
            self.emit(event, Some(user.id), session, client).await;
        }
    }

    /// The `allowCredentials` of an account's passkeys.
    async fn allow_list_of(&self, user: &UserId) -> Result<Vec<Value>> {
        let records = self.inner.stores.passkeys.passkeys_of(user).await?;
        Ok(records
            .iter()
            .map(|record| allow_entry(record.id.as_bytes(), &record.transports))
            .collect())
    }

    /// The `allowCredentials` for a username-first sign-in of `name`, and the account when it
    /// has passkeys. The same reads whatever the account: the lookup, then the passkeys of
    /// the account found or of a fresh id that has none.
    async fn allow_list_for_name(&self, name: &str) -> Result<(Option<UserId>, Vec<Value>)> {
        let normalized = normalize_email(name).ok();
        let user = match &normalized {
            Some(email) => self.inner.stores.users.user_by_email(email).await?,
            None => None,
        }
        .filter(|user| !user.disabled);
        let looked_up = user.as_ref().map_or_else(UserId::new, |user| user.id);
        let allow = self.allow_list_of(&looked_up).await?;
        if allow.is_empty() {
            let key = normalized.as_deref().unwrap_or(name);
            return Ok((None, self.fake_allow_list(key)));
        }
        Ok((Some(looked_up), allow))
    }

    /// A fake `allowCredentials` for `name`: one to three ids of the lengths authenticators
    /// choose, with common transports or none, from an HMAC of the name under a key derived
    /// from the MFA key, so every server answers the same list for the same name.
    pub(super) fn fake_allow_list(&self, name: &str) -> Vec<Value> {
        let key = self
            .inner
            .mfa_keys
            .derive_key("passkey fake allowCredentials v1");
        let block = |counter: u8| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())
                .expect("HMAC takes any key length");
            mac.update(name.as_bytes());
            mac.update(&[counter]);
            mac.finalize().into_bytes()
        };
        let shape = block(0);
        // One passkey for most accounts, two for some, three for a few.
        let count = match shape[0] % 8 {
            0..=4 => 1,
            5 | 6 => 2,
            _ => 3,
        };
        (0..count)
            .map(|i: u8| {
                let mut bytes = block(2 * i + 1).to_vec();
                bytes.extend_from_slice(&block(2 * i + 2));
                let len = FAKE_ID_LENGTHS[usize::from(shape[1 + usize::from(i)] % 8)];
                let transports = FAKE_TRANSPORTS[usize::from(shape[4 + usize::from(i)] % 8)];
                let transports: Vec<String> = transports.iter().map(|t| (*t).to_owned()).collect();
                allow_entry(&bytes[..len], &transports)
            })
            .collect()
    }
}

/// A credential no one holds the key of (the P-256 base point), under `id`: what
/// [`Authenticator::decoy_check`] verifies against. `None` if webauthn-rs's policy value no
/// longer reads (the decoy is then skipped).
fn decoy_credential(id: Vec<u8>, backup_eligible: bool) -> Option<Credential> {
    const GX: [u8; 32] = [
        0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
        0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98,
        0xc2, 0x96,
    ];
    const GY: [u8; 32] = [
        0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
        0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf,
        0x51, 0xf5,
    ];
    Some(Credential {
        cred_id: id,
        cred: COSEKey {
            type_: COSEAlgorithm::ES256,
            key: COSEKeyType::EC_EC2(COSEEC2Key {
                curve: ECDSACurve::SECP256R1,
                x: GX.to_vec(),
                y: GY.to_vec(),
            }),
        },
        counter: 0,
        transports: None,
        user_verified: true,
        backup_eligible,
        backup_state: false,
        registration_policy: serde_json::from_value(json!("required")).ok()?,
        extensions: Default::default(),
        attestation: Default::default(),
        attestation_format: AttestationFormat::None,
    })
}

/// One `allowCredentials` entry.
fn allow_entry(id: &[u8], transports: &[String]) -> Value {
    let mut entry = json!({ "type": "public-key", "id": URL_SAFE_NO_PAD.encode(id) });
    if !transports.is_empty() {
        entry["transports"] = json!(transports);
    }
    entry
}

/// A stored passkey as webauthn-rs checks it: its key and policy from the stored
/// credential, its backup flags from the record, and a counter of 0, so that the counter is
/// checked by the store, atomically with the update (webauthn-rs would refuse a regression
/// that the configuration may accept).
fn stored_credential(record: &PasskeyRecord) -> Result<Credential> {
    let passkey: Passkey = serde_json::from_slice(&record.credential)
        .map_err(|_| Error::Unavailable("a stored passkey does not decode".into()))?;
    let mut credential: Credential = passkey.into();
    credential.counter = 0;
    credential.backup_eligible = record.backup_eligible;
    credential.backup_state = record.backup_state;
    Ok(credential)
}

/// The name a passkey is given: at most [`MAX_PASSKEY_NAME_CHARS`] characters, no control
/// characters, kept as written; `None` when none (or an empty one) was given.
fn passkey_name(name: Option<&str>) -> Result<Option<String>> {
    let Some(name) = name.filter(|name| !name.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_PASSKEY_NAME_CHARS {
        return Err(Error::InvalidRequest(format!(
            "a passkey's name is at most {MAX_PASSKEY_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidRequest(
            "a passkey's name has no control characters".into(),
        ));
    }
    Ok(Some(name.to_owned()))
}

fn default_name(kind: PasskeyKind) -> &'static str {
    match kind {
        PasskeyKind::Synced => "Synced passkey",
        PasskeyKind::DeviceBound => "Security key",
    }
}

fn to_json(value: &impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(value)
        .map_err(|error| Error::Internal(format!("passkey options: {error}")))
}

/// What a browser sent, as webauthn-rs reads it; [`Error::InvalidRequest`] if it is not.
fn parse_response<T: serde::de::DeserializeOwned>(credential: &Value) -> Result<T> {
    T::deserialize(credential).map_err(|error| {
        Error::InvalidRequest(format!("the passkey credential is malformed: {error}"))
    })
}

fn parse_state<T: serde::de::DeserializeOwned>(ceremony: &Ceremony) -> Result<T> {
    serde_json::from_slice(&ceremony.state).map_err(|_| {
        tracing::error!(ceremony = %ceremony.id, "a stored passkey ceremony does not decode");
        Error::CeremonyInvalid
    })
}

/// The transports a registration's answer reported (`response.transports`), the known
/// values only, each once.
fn transports_of(credential: &Value) -> Vec<String> {
    const KNOWN: [&str; 6] = ["usb", "nfc", "ble", "smart-card", "hybrid", "internal"];
    let mut transports = Vec::new();
    if let Some(listed) = credential
        .pointer("/response/transports")
        .and_then(Value::as_array)
    {
        for transport in listed.iter().filter_map(Value::as_str) {
            if KNOWN.contains(&transport) && !transports.iter().any(|t| t == transport) {
                transports.push(transport.to_owned());
            }
        }
    }
    transports
}

/// The AAGUID in a registration's authenticator data (after the RP id hash, flags and
/// counter); all zero when it cannot be read (webauthn-rs verified the object already).
fn aaguid_of(credential: &RegisterPublicKeyCredential) -> Uuid {
    let object: std::result::Result<serde_cbor_2::Value, _> =
        serde_cbor_2::from_slice(credential.response.attestation_object.as_ref());
    let Ok(serde_cbor_2::Value::Map(map)) = object else {
        return Uuid::nil();
    };
    let auth_data = map.iter().find_map(|(key, value)| match (key, value) {
        (serde_cbor_2::Value::Text(key), serde_cbor_2::Value::Bytes(bytes))
            if key == "authData" =>
        {
            Some(bytes)
        }
        _ => None,
    });
    auth_data
        .and_then(|data| data.get(37..53))
        .and_then(|bytes| Uuid::from_slice(bytes).ok())
        .unwrap_or_default()
}

#[cfg(all(test, feature = "jwt"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use webauthn_rs::prelude::WebauthnError;

    use super::*;
    use crate::testing::passkey::SoftPasskey;

    /// The decoy goes through every check to the signature (which fails), as a real passkey's
    /// check does: the flags are the answer's, the key a valid point.
    #[test]
    fn the_decoy_check_runs_to_the_signature() {
        let origin = "https://app.example.com";
        let webauthn = PasskeyConfig::new("example.com", "Example", [origin])
            .build()
            .unwrap();
        for mut passkey in [
            SoftPasskey::synced(origin),
            SoftPasskey::security_key(origin),
        ] {
            let (options, state) = webauthn.start_discoverable_authentication().unwrap();
            let answer = passkey.get(&serde_json::to_value(&options).unwrap());
            let answer: PublicKeyCredential = serde_json::from_value(answer).unwrap();
            let flags = answer.response.authenticator_data[32];
            let decoy = decoy_credential(answer.raw_id.clone(), flags & 0x08 != 0).unwrap();
            let checked = webauthn.finish_discoverable_authentication_v2(&answer, state, &decoy);
            assert!(
                matches!(checked, Err(WebauthnError::AuthenticationFailure)),
                "{checked:?}"
            );
        }
    }
}
