//! Passkey ceremonies end to end on the memory backend, against the software authenticator
//! of [`crate::testing::passkey`].
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::event::MemoryEventSink;
use crate::id::Amr;
use crate::mail::MAIL_SINK;
use crate::mail::MailMessage;
use crate::mfa::{TotpSecret, code_at};
use crate::store::memory::MemoryStore;
use crate::store::{OutboxStore, PasskeyStore};
use crate::testing;
use crate::testing::passkey::SoftPasskey;

const PASSWORD: &str = "correct horse battery staple";
const ORIGIN: &str = "https://app.example.com";
const CLIENT: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));

struct World {
    auth: Authenticator,
    clock: Arc<ManualClock>,
    events: MemoryEventSink,
    store: MemoryStore,
}

fn passkey_config() -> PasskeyConfig {
    PasskeyConfig::new("example.com", "Example", [ORIGIN, "https://example.com"])
}

fn world() -> World {
    world_with(passkey_config(), crate::mfa::MfaKeyring::generate())
}

fn world_with(passkeys: PasskeyConfig, keyring: crate::mfa::MfaKeyring) -> World {
    let clock = testing::clock();
    let events = MemoryEventSink::new();
    let store = MemoryStore::new();
    let stores = Stores::all_in(Arc::new(store.clone()), Arc::new(events.clone()));
    let mut config = testing::authenticator_config();
    config.passkeys = Some(passkeys);
    let auth = testing::authenticator_builder(config)
        .stores(stores)
        .clock(clock.clone())
        .mfa_keyring(keyring)
        .build()
        .unwrap();
    World {
        auth,
        clock,
        events,
        store,
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn code_of<T: std::fmt::Debug>(result: Result<T>) -> &'static str {
    result.expect_err("refused").code()
}

fn response<'a>(options: &'a PasskeyOptions, credential: &'a Value) -> PasskeyResponse<'a> {
    PasskeyResponse {
        ceremony: options.ceremony.as_str(),
        credential,
    }
}

impl World {
    async fn register(&self, email: &str) -> User {
        self.auth.register(email, &secret(PASSWORD)).await.unwrap()
    }

    async fn tokens(&self, email: &str) -> Tokens {
        match self.auth.login(email, &secret(PASSWORD), CLIENT).await {
            Ok(LoginOutcome::Authenticated(tokens)) => tokens,
            other => panic!("expected tokens, got {other:?}"),
        }
    }

    async fn principal(&self, tokens: &Tokens) -> Principal {
        self.auth
            .authenticate(tokens.access_token.expose_secret())
            .await
            .unwrap()
    }

    /// Registers `passkey` on the account of `principal`; the new passkey.
    async fn add(&self, principal: &Principal, passkey: &mut SoftPasskey) -> Result<PasskeyInfo> {
        let options = self
            .auth
            .begin_passkey_registration(principal, CLIENT)
            .await?;
        let credential = passkey.create(&options.options);
        self.auth
            .finish_passkey_registration(principal, response(&options, &credential), None, CLIENT)
            .await
    }

    /// An account `email` with `passkey` registered; the session that registered it.
    async fn account_with(&self, email: &str, passkey: &mut SoftPasskey) -> Principal {
        self.register(email).await;
        let principal = self.principal(&self.tokens(email).await).await;
        self.add(&principal, passkey).await.unwrap();
        principal
    }

    async fn sign_in(&self, username: Option<&str>, passkey: &mut SoftPasskey) -> Result<Tokens> {
        let options = self
            .auth
            .begin_passkey_sign_in(username, false, CLIENT)
            .await?;
        let credential = passkey.get(&options.options);
        self.auth
            .finish_passkey_sign_in(response(&options, &credential), CLIENT)
            .await
    }

    async fn enable_totp(&self, principal: &Principal) {
        let enrollment = self.auth.enroll_totp(principal).await.unwrap();
        let totp = TotpSecret::from_base32(enrollment.secret.expose_secret()).unwrap();
        let code = code_at(&totp, &self.auth.config().totp, self.clock.unix_seconds()).unwrap();
        self.auth
            .confirm_totp(principal, &code, CLIENT)
            .await
            .unwrap();
    }

    fn event_names(&self) -> Vec<&'static str> {
        self.events.events().iter().map(AuthEvent::name).collect()
    }

    async fn mail_subjects(&self) -> Vec<String> {
        let claimed = self
            .store
            .claim_deliveries(MAIL_SINK, self.clock.now(), Duration::from_secs(60), 100)
            .await
            .unwrap();
        claimed
            .into_iter()
            .map(|delivery| {
                let mail: MailMessage = serde_json::from_value(delivery.message.payload).unwrap();
                mail.subject
            })
            .collect()
    }
}

use crate::event::AuthEvent;

#[tokio::test]
async fn a_discoverable_passkey_signs_in_without_a_password() {
    let w = world();
    let mut passkey = SoftPasskey::synced(ORIGIN);
    w.register("ada@example.com").await;
    let principal = w.principal(&w.tokens("ada@example.com").await).await;

    let options = w
        .auth
        .begin_passkey_registration(&principal, CLIENT)
        .await
        .unwrap();
    let selection = &options.options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "preferred");
    assert_eq!(selection["userVerification"], "required");
    let handle = options.options["publicKey"]["user"]["id"].as_str().unwrap();
    let handle = URL_SAFE_NO_PAD.decode(handle).unwrap();
    assert_ne!(
        handle,
        principal.user_id.as_uuid().as_bytes(),
        "the user handle is not the account id"
    );
    assert!(
        !String::from_utf8_lossy(&handle).contains("ada"),
        "nor the email"
    );
    let credential = passkey.create(&options.options);
    let info = w
        .auth
        .finish_passkey_registration(
            &principal,
            response(&options, &credential),
            Some("Ada's phone"),
            CLIENT,
        )
        .await
        .unwrap();
    assert_eq!(info.name, "Ada's phone");
    assert_eq!(info.id.to_string(), passkey.id());
    assert!(info.backup_eligible && info.backup_state);
    assert_eq!(info.transports, ["hybrid", "internal"]);
    assert_eq!(info.aaguid.as_bytes(), b"soft-passkey-v1!");
    assert!(w.event_names().contains(&"passkey_added"));
    assert!(
        w.mail_subjects()
            .await
            .iter()
            .any(|subject| subject.starts_with("A passkey was added"))
    );

    let before = w.clock.unix_seconds();
    w.clock.advance(Duration::from_secs(60));
    let options = w
        .auth
        .begin_passkey_sign_in(None, true, CLIENT)
        .await
        .unwrap();
    assert_eq!(options.options["mediation"], "conditional");
    assert_eq!(
        options.options["publicKey"]["allowCredentials"],
        Value::Array(vec![])
    );
    let assertion = passkey.get(&options.options);
    let tokens = w
        .auth
        .finish_passkey_sign_in(response(&options, &assertion), CLIENT)
        .await
        .unwrap();
    let signed_in = w.principal(&tokens).await;
    assert_eq!(signed_in.user_id, principal.user_id);
    assert_eq!(signed_in.claims.amr, ["swk", "user"]);
    assert!(signed_in.claims.auth_time.unwrap() > before);
    let listed = w.auth.passkeys(&signed_in).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some());
    assert!(w.event_names().contains(&"login_succeeded"));

    // The same answer again: its ceremony was finished.
    assert_eq!(
        code_of(
            w.auth
                .finish_passkey_sign_in(response(&options, &assertion), CLIENT)
                .await
        ),
        "ceremony_invalid"
    );
}

#[tokio::test]
async fn username_first_lists_the_accounts_passkeys_and_a_fixed_fake_for_others() {
    let w = world();
    let mut key = SoftPasskey::security_key(ORIGIN);
    w.account_with("bob@example.com", &mut key).await;
    // Not discoverable: the key returns no user handle.
    key.user_handle = None;
    w.register("cleo@example.com").await;

    let allow = |username: &'static str| {
        let auth = w.auth.clone();
        async move {
            let options = auth
                .begin_passkey_sign_in(Some(username), true, CLIENT)
                .await
                .unwrap();
            assert!(options.options.get("mediation").is_none());
            options.options["publicKey"]["allowCredentials"].clone()
        }
    };
    let bob = allow("Bob@Example.com").await;
    assert_eq!(bob[0]["id"], key.id());
    assert_eq!(bob[0]["transports"], serde_json::json!(["usb"]));

    let unknown = allow("nobody@example.com").await;
    let passkeyless = allow("cleo@example.com").await;
    for fake in [&unknown, &passkeyless] {
        let entries = fake.as_array().unwrap();
        assert!((1..=3).contains(&entries.len()));
        for entry in entries {
            let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
            assert!(
                keys == ["id", "transports", "type"] || keys == ["id", "type"],
                "the shape of a real entry: {keys:?}"
            );
            let id = URL_SAFE_NO_PAD
                .decode(entry["id"].as_str().unwrap())
                .unwrap();
            assert!([16, 20, 32, 48, 64].contains(&id.len()));
        }
    }
    assert_eq!(
        unknown,
        allow("nobody@example.com").await,
        "the same every time"
    );
    assert_eq!(
        unknown,
        allow(" NOBODY@example.com").await,
        "for the same account name"
    );
    assert_ne!(unknown, passkeyless);
    // Another server sharing the MFA key answers the same fake.
    let keyring = crate::mfa::MfaKeyring::new("k1", [9; 32]);
    let (one, two) = (
        world_with(passkey_config(), keyring.clone()),
        world_with(passkey_config(), keyring),
    );
    let fake = |w: &World| {
        let auth = w.auth.clone();
        async move {
            auth.begin_passkey_sign_in(Some("nobody@example.com"), false, None)
                .await
                .unwrap()
                .options["publicKey"]["allowCredentials"]
                .clone()
        }
    };
    assert_eq!(fake(&one).await, fake(&two).await);

    // Bob signs in with his key, named first; the counter went up and is stored.
    let tokens = w.sign_in(Some("bob@example.com"), &mut key).await.unwrap();
    assert_eq!(w.principal(&tokens).await.claims.amr, ["hwk", "user"]);
    let stored = w
        .store
        .passkey(&crate::passkey::PasskeyId::parse(&key.id()).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.sign_count, 1);
    // An answer to a fake list fails like a wrong signature.
    assert_eq!(
        code_of(w.sign_in(Some("nobody@example.com"), &mut key).await),
        "invalid_credentials"
    );
    assert_eq!(
        code_of(w.sign_in(Some("cleo@example.com"), &mut key).await),
        "invalid_credentials"
    );
}

#[tokio::test]
async fn a_counter_that_does_not_increase_is_refused_and_audited() {
    let w = world();
    let mut key = SoftPasskey::security_key(ORIGIN);
    w.account_with("dan@example.com", &mut key).await;
    let mut clone = key.clone();
    w.sign_in(None, &mut key).await.unwrap();
    w.sign_in(None, &mut key).await.unwrap();
    // The clone signs with counter 1, after 2 was accepted.
    assert_eq!(
        code_of(w.sign_in(None, &mut clone).await),
        "invalid_credentials"
    );
    let regressed = w
        .events
        .events()
        .into_iter()
        .find_map(|event| match event.kind {
            AuthEventKind::PasskeyCounterRegressed {
                stored,
                presented,
                accepted,
                ..
            } => Some((stored, presented, accepted)),
            _ => None,
        });
    assert_eq!(regressed, Some((2, 1, false)));
    // The original goes on.
    w.sign_in(None, &mut key).await.unwrap();
}

#[tokio::test]
async fn a_counter_regression_may_be_accepted_and_flags_the_session() {
    let w = world_with(
        PasskeyConfig {
            counter_policy: CounterPolicy::AcceptAndFlag,
            ..passkey_config()
        },
        crate::mfa::MfaKeyring::generate(),
    );
    let mut key = SoftPasskey::security_key(ORIGIN);
    w.account_with("eve@example.com", &mut key).await;
    let mut clone = key.clone();
    w.sign_in(None, &mut key).await.unwrap();
    let tokens = w.sign_in(None, &mut clone).await.unwrap();
    let flagged = w.events.events().into_iter().find(|event| {
        matches!(
            event.kind,
            AuthEventKind::PasskeyCounterRegressed { accepted: true, .. }
        )
    });
    assert_eq!(
        flagged.and_then(|event| event.session_id),
        Some(tokens.session_id.clone())
    );
    let sessions = w.auth.sessions(&w.principal(&tokens).await).await.unwrap();
    let opened = sessions.iter().find(|s| s.id == tokens.session_id).unwrap();
    assert!(opened.flagged, "the session is flagged");
    assert!(
        sessions.iter().filter(|s| s.flagged).count() == 1,
        "and only it"
    );

    // A reauthentication with a regressed counter is audited against its session too.
    let principal = w.principal(&tokens).await;
    let mut another_clone = clone.clone();
    another_clone.counter = Some(0);
    let options = w
        .auth
        .begin_passkey_reauthentication(&principal, CLIENT)
        .await
        .unwrap();
    let answer = another_clone.get(&options.options);
    w.auth
        .reauthenticate(
            &principal,
            Reauthentication::Passkey(response(&options, &answer)),
            CLIENT,
        )
        .await
        .unwrap();
    let audited = w
        .events
        .events()
        .into_iter()
        .filter(|event| {
            matches!(
                event.kind,
                AuthEventKind::PasskeyCounterRegressed { accepted: true, .. }
            )
        })
        .count();
    assert_eq!(audited, 2, "the sign-in's and the reauthentication's");
}

#[tokio::test]
async fn passkeys_without_a_counter_sign_in_every_time() {
    let w = world();
    let mut synced = SoftPasskey::synced(ORIGIN);
    w.account_with("fay@example.com", &mut synced).await;
    for _ in 0..3 {
        w.sign_in(None, &mut synced).await.unwrap();
    }
}

#[tokio::test]
async fn assertions_from_elsewhere_or_without_verification_are_refused() {
    let w = world();
    let mut passkey = SoftPasskey::synced(ORIGIN);
    w.account_with("gil@example.com", &mut passkey).await;

    type Spoil = fn(&mut SoftPasskey);
    let cases: [(&str, Spoil); 4] = [
        ("wrong origin", |p| {
            p.origin = "https://evil.example.net".into()
        }),
        ("sibling origin", |p| {
            p.origin = "https://example.org".into()
        }),
        ("wrong relying party", |p| {
            p.rp_id = Some("evil.example.net".into())
        }),
        ("no user verification", |p| p.user_verified = false),
    ];
    for (case, spoil) in cases {
        let mut spoiled = passkey.clone();
        spoil(&mut spoiled);
        assert_eq!(
            code_of(w.sign_in(None, &mut spoiled).await),
            "invalid_credentials",
            "{case}"
        );
    }
    // A replayed answer, to a new ceremony (another challenge).
    let options = w
        .auth
        .begin_passkey_sign_in(None, false, CLIENT)
        .await
        .unwrap();
    let answered = passkey.get(&options.options);
    w.auth
        .finish_passkey_sign_in(response(&options, &answered), CLIENT)
        .await
        .unwrap();
    let fresh = w
        .auth
        .begin_passkey_sign_in(None, false, CLIENT)
        .await
        .unwrap();
    assert_eq!(
        code_of(
            w.auth
                .finish_passkey_sign_in(response(&fresh, &answered), CLIENT)
                .await
        ),
        "invalid_credentials"
    );
    assert!(
        w.event_names()
            .iter()
            .filter(|name| **name == "passkey_failed")
            .count()
            >= 5
    );

    // An expired ceremony, and one begun for something else.
    let late = w
        .auth
        .begin_passkey_sign_in(None, false, CLIENT)
        .await
        .unwrap();
    w.clock.advance(Duration::from_secs(5 * 60));
    let answered = passkey.get(&late.options);
    assert_eq!(
        code_of(
            w.auth
                .finish_passkey_sign_in(response(&late, &answered), CLIENT)
                .await
        ),
        "ceremony_invalid"
    );
    let malformed = serde_json::json!({"id": "x"});
    let options = w
        .auth
        .begin_passkey_sign_in(None, false, CLIENT)
        .await
        .unwrap();
    assert_eq!(
        code_of(
            w.auth
                .finish_passkey_sign_in(response(&options, &malformed), CLIENT)
                .await
        ),
        "invalid_request"
    );
}

#[tokio::test]
async fn registration_needs_verification_a_fresh_session_and_a_new_credential() {
    let w = world();
    w.register("hal@example.com").await;
    let principal = w.principal(&w.tokens("hal@example.com").await).await;
    let mut unverified = SoftPasskey::synced(ORIGIN);
    unverified.user_verified = false;
    assert_eq!(
        code_of(w.add(&principal, &mut unverified).await),
        "invalid_credentials"
    );
    let mut elsewhere = SoftPasskey::synced("https://evil.example.net");
    assert_eq!(
        code_of(w.add(&principal, &mut elsewhere).await),
        "invalid_credentials"
    );

    let mut passkey = SoftPasskey::synced(ORIGIN);
    w.add(&principal, &mut passkey).await.unwrap();
    // The epoch moved: the registering session lives on, a new login sees the passkey
    // excluded from the next registration.
    let principal = w
        .principal(&w.auth.refresh_for_test(&principal).await)
        .await;
    let options = w
        .auth
        .begin_passkey_registration(&principal, CLIENT)
        .await
        .unwrap();
    assert_eq!(
        options.options["publicKey"]["excludeCredentials"][0]["id"],
        passkey.id()
    );
    let again = passkey.create(&options.options);
    assert_eq!(
        code_of(
            w.auth
                .finish_passkey_registration(&principal, response(&options, &again), None, CLIENT)
                .await
        ),
        "conflict"
    );

    // Stale: five minutes after the login, a step-up is needed.
    w.clock.advance(Duration::from_secs(6 * 60));
    assert_eq!(
        code_of(w.auth.begin_passkey_registration(&principal, CLIENT).await),
        "reauth_required"
    );
}

#[tokio::test]
async fn a_passkey_is_a_second_factor_after_a_password() {
    let w = world();
    let mut passkey = SoftPasskey::synced(ORIGIN);
    let principal = w.account_with("ida@example.com", &mut passkey).await;
    // A passkey alone does not make the password ask for a second factor (no recovery codes
    // would back it): TOTP does, and then the passkey answers too.
    w.tokens("ida@example.com").await;
    let principal = w
        .principal(&w.auth.refresh_for_test(&principal).await)
        .await;
    w.enable_totp(&principal).await;
    let LoginOutcome::MfaRequired {
        mfa_token, factors, ..
    } = w
        .auth
        .login("ida@example.com", &secret(PASSWORD), CLIENT)
        .await
        .unwrap()
    else {
        panic!("a passkey is a second factor");
    };
    assert_eq!(
        factors,
        [MfaFactor::Passkey, MfaFactor::Totp, MfaFactor::RecoveryCode]
    );
    let mfa_token = mfa_token.expose_secret().to_owned();
    let options = w
        .auth
        .begin_passkey_second_factor(&mfa_token, CLIENT)
        .await
        .unwrap();
    assert_eq!(
        options.options["publicKey"]["allowCredentials"][0]["id"],
        passkey.id()
    );
    // Another account's passkey does not answer it.
    let mut other = SoftPasskey::synced(ORIGIN);
    w.account_with("jon@example.com", &mut other).await;
    let foreign = other.get(&options.options);
    assert_eq!(
        code_of(
            w.auth
                .verify_mfa_passkey(&mfa_token, response(&options, &foreign), CLIENT)
                .await
        ),
        "invalid_credentials"
    );
    let options = w
        .auth
        .begin_passkey_second_factor(&mfa_token, CLIENT)
        .await
        .unwrap();
    let answer = passkey.get(&options.options);
    let tokens = w
        .auth
        .verify_mfa_passkey(&mfa_token, response(&options, &answer), CLIENT)
        .await
        .unwrap();
    assert_eq!(
        w.principal(&tokens).await.claims.amr,
        ["pwd", "swk", "user", "mfa"]
    );
    // The challenge is spent.
    let options = w
        .auth
        .begin_passkey_second_factor(&mfa_token, CLIENT)
        .await
        .unwrap();
    let answer = passkey.get(&options.options);
    assert_eq!(
        code_of(
            w.auth
                .verify_mfa_passkey(&mfa_token, response(&options, &answer), CLIENT)
                .await
        ),
        "invalid_token"
    );
}

#[tokio::test]
async fn a_passkey_reauthenticates_and_stale_sessions_cannot_remove_it() {
    let w = world();
    let mut passkey = SoftPasskey::synced(ORIGIN);
    w.account_with("kim@example.com", &mut passkey).await;
    let tokens = w.sign_in(None, &mut passkey).await.unwrap();
    let principal = w.principal(&tokens).await;
    w.clock.advance(Duration::from_secs(6 * 60));
    assert_eq!(
        code_of(
            w.auth
                .delete_passkey(&principal, &passkey.id(), CLIENT)
                .await
        ),
        "reauth_required"
    );
    let options = w
        .auth
        .begin_passkey_reauthentication(&principal, CLIENT)
        .await
        .unwrap();
    let answer = passkey.get(&options.options);
    let fresh = w
        .auth
        .reauthenticate(
            &principal,
            Reauthentication::Passkey(response(&options, &answer)),
            CLIENT,
        )
        .await
        .unwrap();
    let fresh = w.principal(&fresh).await;
    assert_eq!(
        fresh.claims.auth_time,
        Some(w.clock.unix_seconds()),
        "auth_time is the reauthentication's"
    );
    w.auth
        .rename_passkey(&fresh, &passkey.id(), "Kim's laptop")
        .await
        .unwrap();
    assert_eq!(
        code_of(w.auth.rename_passkey(&fresh, &passkey.id(), "\u{7}").await),
        "invalid_request"
    );
    assert_eq!(
        w.auth.passkeys(&fresh).await.unwrap()[0].name,
        "Kim's laptop"
    );
    w.auth
        .delete_passkey(&fresh, &passkey.id(), CLIENT)
        .await
        .unwrap();
    assert!(w.auth.passkeys(&fresh).await.unwrap().is_empty());
    assert_eq!(
        code_of(w.auth.delete_passkey(&fresh, &passkey.id(), CLIENT).await),
        "not_found"
    );
    assert!(w.event_names().contains(&"passkey_removed"));
    // The password still signs in alone (no TOTP), and the passkey no longer does.
    w.tokens("kim@example.com").await;
    assert_eq!(
        code_of(w.sign_in(None, &mut passkey).await),
        "invalid_credentials"
    );
}

#[tokio::test]
async fn a_password_reset_accepts_the_passkey_as_its_second_factor() {
    let w = world();
    let mut passkey = SoftPasskey::synced(ORIGIN);
    let principal = w.account_with("lea@example.com", &mut passkey).await;
    let principal = w
        .principal(&w.auth.refresh_for_test(&principal).await)
        .await;
    w.enable_totp(&principal).await;
    w.mail_subjects().await;
    let origin = Origin::from_client(CLIENT);
    w.auth
        .forgot_password("lea@example.com", &origin)
        .await
        .unwrap();
    let link = w.link_token().await;
    let password = secret("a brand new passphrase here");
    assert_eq!(
        code_of(w.auth.reset_password(&link, &password, None, &origin).await),
        "mfa_required"
    );
    let options = w.auth.begin_passkey_reset(&link, CLIENT).await.unwrap();
    let answer = passkey.get(&options.options);
    w.auth
        .reset_password_with(
            &link,
            &password,
            Some(FactorProof::Passkey(response(&options, &answer))),
            &origin,
        )
        .await
        .unwrap();
    assert!(matches!(
        w.auth.login("lea@example.com", &password, CLIENT).await,
        Ok(LoginOutcome::MfaRequired { .. })
    ));
}

#[test]
fn relying_party_ids_and_origins_must_agree() {
    let refused = |config: PasskeyConfig| {
        let mut auth_config = testing::authenticator_config();
        auth_config.passkeys = Some(config);
        match testing::authenticator_builder(auth_config).build() {
            Err(Error::Config(message)) => message,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    };
    for (rp_id, origin, why) in [
        (
            "example.com",
            "https://example.org",
            "not on the relying party id",
        ),
        (
            "example.com",
            "https://notexample.com",
            "not on the relying party id",
        ),
        ("example.com", "http://app.example.com", "not HTTPS"),
        (
            "example.com",
            "https://app.example.com/login",
            "not an origin",
        ),
        ("Example.com", "https://example.com", "lower-case domain"),
        ("com", "https://example.com", "top-level domain"),
        ("", "https://example.com", "lower-case domain"),
    ] {
        let message = refused(PasskeyConfig::new(rp_id, "Example", [origin]));
        assert!(message.contains(why), "{rp_id} {origin}: {message}");
    }
    assert!(
        refused(PasskeyConfig::new(
            "example.com",
            "Example",
            Vec::<String>::new()
        ))
        .contains("at least one")
    );
    let mut local = testing::authenticator_config();
    local.passkeys = Some(PasskeyConfig::new(
        "localhost",
        "Dev",
        ["http://localhost:8080"],
    ));
    testing::authenticator_builder(local).build().unwrap();
}

#[tokio::test]
async fn without_configuration_passkeys_are_not_found() {
    let auth = testing::authenticator();
    assert_eq!(
        code_of(auth.begin_passkey_sign_in(None, false, None).await),
        "not_found"
    );
}

impl World {
    /// The token of the link mailed last.
    async fn link_token(&self) -> String {
        let claimed = self
            .store
            .claim_deliveries(MAIL_SINK, self.clock.now(), Duration::from_secs(60), 100)
            .await
            .unwrap();
        let mail: MailMessage =
            serde_json::from_value(claimed.last().unwrap().message.payload.clone()).unwrap();
        let start = mail.text.find("?token=").unwrap() + "?token=".len();
        mail.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

impl Authenticator {
    /// A new login's tokens for the principal's account (the registering session's tokens
    /// carry the old epoch's family, still valid: this is simply a fresh token).
    async fn refresh_for_test(&self, principal: &Principal) -> Tokens {
        let user = self.user_for(principal).await.unwrap();
        self.start_session(&user, Amr::Password, user.epoch, None)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_username_first_ceremony_is_finished_by_the_named_account_only() {
    let w = world();
    let mut victim = SoftPasskey::synced(ORIGIN);
    w.account_with("mia@example.com", &mut victim).await;
    w.register("ned@example.com").await;
    let mut own = SoftPasskey::synced(ORIGIN);
    w.account_with("oz@example.com", &mut own).await;
    // Someone answers the options of other names with their own discoverable passkey (a
    // script ignores allowCredentials): refused alike, for an account with passkeys, one
    // without and none, so the answer says nothing about them.
    for name in ["mia@example.com", "ned@example.com", "nobody@example.com"] {
        assert_eq!(
            code_of(w.sign_in(Some(name), &mut own).await),
            "invalid_credentials",
            "{name}"
        );
    }
    // Named by their own address, and discoverable, it signs them in.
    w.sign_in(Some("oz@example.com"), &mut own).await.unwrap();
    w.sign_in(None, &mut own).await.unwrap();
}

#[tokio::test]
async fn ceremonies_begun_from_one_address_are_limited() {
    let w = world();
    for _ in 0..60 {
        w.auth
            .begin_passkey_sign_in(None, false, CLIENT)
            .await
            .unwrap();
    }
    assert_eq!(
        code_of(w.auth.begin_passkey_sign_in(None, false, CLIENT).await),
        "throttled"
    );
    let elsewhere = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)));
    w.auth
        .begin_passkey_sign_in(None, false, elsewhere)
        .await
        .unwrap();
}

#[tokio::test]
async fn fake_lists_vary_as_real_ones_do() {
    let w = world();
    let (mut counts, mut lengths, mut without_transports) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
        0,
    );
    for i in 0..50 {
        let name = format!("nobody-{i}@example.com");
        let list = w.auth.fake_allow_list(&name);
        counts.insert(list.len());
        for entry in &list {
            let id = URL_SAFE_NO_PAD
                .decode(entry["id"].as_str().unwrap())
                .unwrap();
            lengths.insert(id.len());
            without_transports += usize::from(entry.get("transports").is_none());
        }
    }
    assert_eq!(counts, [1, 2, 3].into(), "one to three passkeys");
    assert!(lengths.len() >= 4, "ids of many lengths: {lengths:?}");
    assert!(without_transports > 0, "some without transports");
}

#[tokio::test]
async fn proving_the_address_takes_away_passkeys_set_up_before() {
    let w = world();
    // Someone registers the address before its owner and adds a passkey.
    let mut planted = SoftPasskey::synced(ORIGIN);
    w.account_with("pia@example.com", &mut planted).await;
    w.sign_in(None, &mut planted).await.unwrap();
    w.mail_subjects().await;
    // The owner signs in by email: the first proof of the address claims the account.
    let origin = Origin::from_client(CLIENT);
    w.auth
        .request_login_email("pia@example.com", &origin)
        .await
        .unwrap();
    let link = w.link_token().await;
    let LoginOutcome::Authenticated(tokens) = w.auth.login_with_link(&link, &origin).await.unwrap()
    else {
        panic!("no second factor is left to ask for");
    };
    assert!(
        w.auth
            .passkeys(&w.principal(&tokens).await)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        code_of(w.sign_in(None, &mut planted).await),
        "invalid_credentials",
        "the planted passkey signs in no more"
    );
}
