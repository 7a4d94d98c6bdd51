//! Behavioural checks that every implementation of the store traits must pass: ours (memory,
//! PostgreSQL, Redis) and yours.
//!
//! Each check is an async function that panics with a message on the first broken promise;
//! call them from your own `#[tokio::test]`s (a multi-threaded runtime makes the concurrency
//! checks meaningful). Checks create their own records with fresh random ids, so they can run
//! concurrently against one shared backend. Time is passed in, never read, so expiry is
//! checked without sleeping.
//!
//! ```
//! use std::sync::Arc;
//! use auth_core::store::conformance;
//! use auth_core::store::memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! let store = Arc::new(MemoryStore::new());
//! conformance::refresh_rotation_is_single_use_under_concurrency(store.clone(), store.clone()).await;
//! # }
//! ```

// Checks report broken promises by panicking, like the tests that call them.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

mod clients;
mod grants;
mod passkeys;
mod roles;

pub use clients::clients_are_stored_found_listed_and_deleted;
pub use grants::{
    codes_are_redeemed_once_and_replays_name_the_first_session,
    consent_joins_scopes_per_user_and_client_and_is_withdrawn,
    pushed_requests_are_read_until_taken_once,
};
pub use passkeys::{
    passkey_ceremonies_are_taken_once_before_they_expire,
    passkey_counters_are_checked_with_the_update, passkeys_are_stored_listed_renamed_and_deleted,
};
pub use roles::{
    racing_removals_never_both_miss_a_lost_scope,
    role_holders_get_scopes_and_lose_them_with_their_epoch, roles_are_defined_listed_and_deleted,
};

/// Generates one `#[tokio::test]` per conformance check for a store that implements every
/// trait. `$factory` is an expression evaluated in each test to a future of
/// `Option<(Arc<Store>, Guard)>`: `None` skips the test (say why on stderr), and the guard lives
/// until the test ends (to drop a test schema, say). Needs tokio's `macros` and
/// `rt-multi-thread` features in the calling crate's dev-dependencies.
///
/// ```text
/// auth_core::store_conformance_tests!(async { Some((Arc::new(MyStore::new()), ())) });
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::store_conformance_tests!(@test $factory, users_are_stored_found_and_unique(users));
        $crate::store_conformance_tests!(@test $factory, addresses_are_verified_and_changed(users));
        $crate::store_conformance_tests!(@test $factory, a_left_address_is_held_while_its_undo_lives(users, intents));
        $crate::store_conformance_tests!(@test $factory, totp_enrolment_replay_and_recovery_codes(users, mfa));
        $crate::store_conformance_tests!(@test $factory, totp_steps_and_recovery_codes_are_single_use_under_concurrency(users, mfa));
        $crate::store_conformance_tests!(@test $factory, totp_secrets_move_to_a_new_key(users, mfa));
        $crate::store_conformance_tests!(@test $factory, refresh_rotation_reuse_and_expiry(users, refresh));
        $crate::store_conformance_tests!(@test $factory, refresh_reuse_grace_period_covers_quick_retries(users, refresh));
        $crate::store_conformance_tests!(@test $factory, refresh_rotation_is_single_use_under_concurrency(users, refresh));
        $crate::store_conformance_tests!(@test $factory, refresh_grace_retries_stay_bounded_under_concurrency(users, refresh));
        $crate::store_conformance_tests!(@test $factory, sessions_expire_list_and_revoke(users, sessions));
        $crate::store_conformance_tests!(@test $factory, throttle_counters_reserve_release_confirm_and_expire(throttle));
        $crate::store_conformance_tests!(@test $factory, single_use_ids_are_used_once_until_they_expire(revocations));
        $crate::store_conformance_tests!(@test $factory, revoked_sessions_are_refused_until_their_tokens_expire(revocations));
        $crate::store_conformance_tests!(@test $factory, totp_replay_guard_accepts_each_step_once(guard));
        $crate::store_conformance_tests!(@test $factory, intents_are_purpose_bound_single_use_and_short_lived(users, intents));
        $crate::store_conformance_tests!(@test $factory, intent_use_is_single_under_concurrency(users, intents));
        $crate::store_conformance_tests!(@test $factory, outbox_delivers_to_each_sink_under_leases(outbox));
        $crate::store_conformance_tests!(@test $factory, outbox_claims_never_overlap_under_concurrency(outbox));
        $crate::store_conformance_tests!(@test $factory, a_unit_of_work_applies_all_its_writes_or_none(users, intents, outbox, unit));
        $crate::store_conformance_tests!(@test $factory, passkeys_are_stored_listed_renamed_and_deleted(users, passkeys));
        $crate::store_conformance_tests!(@test $factory, passkey_counters_are_checked_with_the_update(users, passkeys));
        $crate::store_conformance_tests!(@test $factory, passkey_ceremonies_are_taken_once_before_they_expire(users, passkeys));
        $crate::store_conformance_tests!(@test $factory, roles_are_defined_listed_and_deleted(roles));
        $crate::store_conformance_tests!(@test $factory, role_holders_get_scopes_and_lose_them_with_their_epoch(users, roles));
        $crate::store_conformance_tests!(@test $factory, racing_removals_never_both_miss_a_lost_scope(users, roles));
        $crate::store_conformance_tests!(@test $factory, clients_are_stored_found_listed_and_deleted(clients));
        $crate::store_conformance_tests!(@test $factory, codes_are_redeemed_once_and_replays_name_the_first_session(users, clients, grants));
        $crate::store_conformance_tests!(@test $factory, consent_joins_scopes_per_user_and_client_and_is_withdrawn(users, clients, grants));
        $crate::store_conformance_tests!(@test $factory, pushed_requests_are_read_until_taken_once(clients, grants));
    };
    (@test $factory:expr, $check:ident($($store:ident),+)) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let Some((store, _guard)) = $factory.await else {
                return;
            };
            $(let $store = store.clone();)+
            $crate::store::conformance::$check($($store),+).await;
        }
    };
}

use crate::id::{Amr, FamilyId, SecretHash, SessionId, UserId};

use crate::intent::{Intent, IntentCode, IntentId, IntentKey, Purpose};
use crate::outbox::{Backlog, MessageId, OutboxMessage};
use crate::refresh::{RefreshFamily, RefreshTokenRecord, Rotation};

use super::{
    AddressChange, IntentStore, MfaStore, OutboxStore, RefreshStore, RevocationStore, Session,
    SessionStore, ThrottleStore, TotpRecord, TotpReplayGuard, UnitOfWork, User, UserStore, Writes,
};
use crate::error::Error;
use crate::mfa::{EncryptedSecret, TotpParams};

const MINUTE: Duration = Duration::from_secs(60);

/// An intent of `purpose` for `user` issued at [`t0`] for its default lifetime: a link's, or
/// with `code`, a code's.
fn intent_of(user: &User, purpose: Purpose, code: Option<&IntentCode>) -> Intent {
    let id = IntentId::new();
    let secret_hash = match code {
        Some(code) => code.hash_for(&id),
        None => random_hash(),
    };
    Intent {
        id,
        user_id: user.id,
        purpose,
        secret_hash,
        code: code.is_some(),
        epoch: user.epoch,
        target: None,
        created_at: t0(),
        expires_at: t0() + purpose.default_lifetime(),
    }
}

fn link(intent: &Intent) -> IntentKey {
    IntentKey::Link(intent.secret_hash)
}

/// Intents serve their purpose once, within their lifetime; looking does not use them; the
/// newest of a purpose voids the older ones of that purpose only; a code is named by its
/// intent's id and its digest together.
pub async fn intents_are_purpose_bound_single_use_and_short_lived(
    users: Arc<dyn UserStore>,
    intents: Arc<dyn IntentStore>,
) {
    let user = new_user(users.as_ref()).await;
    let other = new_user(users.as_ref()).await;
    let now = t0() + MINUTE;

    let reset = intent_of(&user, Purpose::ResetPassword, None);
    intents.issue_intent(reset.clone()).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            intents
                .find_intent(Purpose::ResetPassword, &link(&reset), now)
                .await
                .unwrap(),
            Some(reset.clone()),
            "looking leaves it usable"
        );
    }
    for wrong in [Purpose::VerifyEmail, Purpose::LoginLink] {
        assert_eq!(
            intents
                .consume_intent(wrong, &link(&reset), now)
                .await
                .unwrap(),
            None,
            "{wrong} is not its purpose"
        );
    }
    let unknown = IntentKey::Link(random_hash());
    assert_eq!(
        intents
            .consume_intent(Purpose::ResetPassword, &unknown, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        intents
            .consume_intent(Purpose::ResetPassword, &link(&reset), now)
            .await
            .unwrap(),
        Some(reset.clone())
    );
    assert_eq!(
        intents
            .consume_intent(Purpose::ResetPassword, &link(&reset), now)
            .await
            .unwrap(),
        None,
        "used once"
    );
    assert_eq!(
        intents
            .find_intent(Purpose::ResetPassword, &link(&reset), now)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        intents.issue_intent(reset.clone()).await,
        Err(Error::Conflict(_))
    ));

    // Expiry: usable until just before its end.
    let sign_in = intent_of(&user, Purpose::LoginLink, None);
    intents.issue_intent(sign_in.clone()).await.unwrap();
    assert_eq!(
        intents
            .find_intent(Purpose::LoginLink, &link(&sign_in), sign_in.expires_at)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        intents
            .consume_intent(Purpose::LoginLink, &link(&sign_in), sign_in.expires_at)
            .await
            .unwrap(),
        None,
        "expired at its end"
    );

    // A code: its id and digest together; the newest code voids the older one, and nothing
    // of another purpose or another account.
    let verify = Intent {
        target: Some("new@example.com".into()),
        ..intent_of(&user, Purpose::ChangeEmail, None)
    };
    intents.issue_intent(verify.clone()).await.unwrap();
    let theirs = intent_of(&other, Purpose::LoginCode, Some(&IntentCode::generate(6)));
    intents.issue_intent(theirs.clone()).await.unwrap();
    let first_code = IntentCode::generate(6);
    let first = intent_of(&user, Purpose::LoginCode, Some(&first_code));
    intents.issue_intent(first.clone()).await.unwrap();
    let second_code = IntentCode::generate(8);
    let second = intent_of(&user, Purpose::LoginCode, Some(&second_code));
    intents.issue_intent(second.clone()).await.unwrap();
    let code_key = |intent: &Intent, code: &IntentCode| IntentKey::Code {
        id: intent.id.clone(),
        hash: code.hash_for(&intent.id),
    };
    assert_eq!(
        intents
            .consume_intent(Purpose::LoginCode, &code_key(&first, &first_code), now)
            .await
            .unwrap(),
        None,
        "the newer code voided it"
    );
    assert_eq!(
        intents
            .code_intent(Purpose::LoginCode, &first.id, now)
            .await
            .unwrap(),
        None,
        "a voided code is not found by its id"
    );
    assert_eq!(
        intents
            .code_intent(Purpose::LoginCode, &second.id, now)
            .await
            .unwrap(),
        Some(second.clone()),
        "the live code is found by its id alone"
    );
    for (purpose, id, at, why) in [
        (Purpose::VerifyEmail, &second.id, now, "another purpose"),
        (Purpose::ChangeEmail, &verify.id, now, "a link's intent"),
        (Purpose::LoginCode, &second.id, second.expires_at, "expired"),
    ] {
        assert_eq!(
            intents.code_intent(purpose, id, at).await.unwrap(),
            None,
            "{why}"
        );
    }
    let misnamed = IntentKey::Code {
        id: first.id.clone(),
        hash: second_code.hash_for(&second.id),
    };
    assert_eq!(
        intents
            .consume_intent(Purpose::LoginCode, &misnamed, now)
            .await
            .unwrap(),
        None,
        "a code under another intent's id"
    );
    assert_eq!(
        intents
            .consume_intent(Purpose::LoginCode, &code_key(&second, &second_code), now)
            .await
            .unwrap(),
        Some(second)
    );
    assert_eq!(
        intents
            .find_intent(Purpose::LoginCode, &link(&theirs), now)
            .await
            .unwrap(),
        None,
        "a code is never named by its digest alone"
    );
    let their_key = IntentKey::Code {
        id: theirs.id.clone(),
        hash: theirs.secret_hash,
    };
    assert_eq!(
        intents
            .find_intent(Purpose::LoginCode, &their_key, now)
            .await
            .unwrap(),
        Some(theirs.clone()),
        "another account's code is untouched"
    );

    // Voiding: every live intent of the account, of one purpose or all.
    assert_eq!(
        intents
            .void_intents(&user.id, Some(Purpose::VerifyEmail), now)
            .await
            .unwrap(),
        0
    );
    // The address change and the sign-in link (expired only at its end, still live now).
    assert_eq!(intents.void_intents(&user.id, None, now).await.unwrap(), 2);
    assert_eq!(
        intents
            .consume_intent(Purpose::ChangeEmail, &link(&verify), now)
            .await
            .unwrap(),
        None,
        "voided"
    );
    assert_eq!(
        intents
            .consume_intent(Purpose::LoginCode, &their_key, now)
            .await
            .unwrap(),
        Some(theirs)
    );

    // Undo links: a newer one voids no older one, voiding "all" spares them, and they go by
    // the time they were issued.
    let undo = |at: Duration| Intent {
        created_at: t0() + at,
        expires_at: t0() + at + Purpose::UndoEmailChange.default_lifetime(),
        ..intent_of(&user, Purpose::UndoEmailChange, None)
    };
    let (first, second, third) = (undo(MINUTE), undo(2 * MINUTE), undo(3 * MINUTE));
    for intent in [&first, &second, &third] {
        intents.issue_intent(intent.clone()).await.unwrap();
    }
    let later = t0() + 4 * MINUTE;
    assert_eq!(
        intents.void_intents(&user.id, None, later).await.unwrap(),
        0,
        "undo links survive what voids every other link"
    );
    assert_eq!(
        intents
            .void_intents_since(&user.id, Purpose::UndoEmailChange, second.created_at, later)
            .await
            .unwrap(),
        2,
        "the second and the third"
    );
    for (intent, live) in [(&first, true), (&second, false), (&third, false)] {
        assert_eq!(
            intents
                .find_intent(Purpose::UndoEmailChange, &link(intent), later)
                .await
                .unwrap()
                .is_some(),
            live
        );
    }
}

/// A message for `sinks` enqueued `after` [`t0`], its kind naming this test run.
fn message(sinks: &[&str], after: Duration) -> OutboxMessage {
    OutboxMessage {
        id: MessageId::new(),
        kind: "conformance.test".into(),
        payload: serde_json::json!({"to": "ada@example.com", "n": 1}),
        sinks: sinks.iter().map(|sink| (*sink).to_owned()).collect(),
        created_at: t0() + after,
    }
}

/// Each sink gets its own delivery; a claimed delivery waits out its lease (a worker that
/// crashed) and is claimed again; a failure is due again at its retry time; a done delivery is
/// never claimed again; oldest first.
pub async fn outbox_delivers_to_each_sink_under_leases(outbox: Arc<dyn OutboxStore>) {
    // Sinks of this run's own, as a shared store holds other runs' messages.
    let suffix = UserId::new();
    let (mail, events) = (format!("mail-{suffix}"), format!("events-{suffix}"));
    let lease = MINUTE;
    let first = message(&[&mail, &events], Duration::ZERO);
    outbox.enqueue(first.clone()).await.unwrap();
    assert!(matches!(
        outbox.enqueue(first.clone()).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(
        outbox.backlog(&mail).await.unwrap(),
        Backlog {
            pending: 1,
            oldest: Some(t0())
        }
    );

    let claimed = outbox
        .claim_deliveries(&mail, t0(), lease, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (
            &claimed[0].message,
            claimed[0].sink.as_str(),
            claimed[0].attempts
        ),
        (&first, mail.as_str(), 1)
    );
    let during = t0() + lease - Duration::from_secs(1);
    assert!(
        outbox
            .claim_deliveries(&mail, during, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    assert_eq!(
        outbox
            .claim_deliveries(&events, t0(), lease, 10)
            .await
            .unwrap()
            .len(),
        1,
        "each sink has its own delivery"
    );
    // The worker died: once the lease is over, the delivery is claimed again.
    let again = outbox
        .claim_deliveries(&mail, t0() + lease, lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);

    let retry_at = t0() + 5 * MINUTE;
    outbox
        .failed(&first.id, &mail, retry_at, "connection refused")
        .await
        .unwrap();
    assert!(
        outbox
            .claim_deliveries(&mail, retry_at - Duration::from_secs(1), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "not before its retry"
    );
    let retried = outbox
        .claim_deliveries(&mail, retry_at, lease, 10)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 3);
    outbox.delivered(&first.id, &mail, retry_at).await.unwrap();
    assert!(
        outbox
            .claim_deliveries(&mail, t0() + HOUR, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "done"
    );
    assert_eq!(outbox.backlog(&mail).await.unwrap(), Backlog::default());
    assert_eq!(outbox.backlog(&events).await.unwrap().pending, 1);

    // Oldest first.
    let later = message(&[&mail], 2 * MINUTE);
    let sooner = message(&[&mail], MINUTE);
    outbox.enqueue(later.clone()).await.unwrap();
    outbox.enqueue(sooner.clone()).await.unwrap();
    let now = t0() + HOUR;
    let next = outbox.claim_deliveries(&mail, now, lease, 1).await.unwrap();
    assert_eq!(next[0].message.id, sooner.id);
    let next = outbox.claim_deliveries(&mail, now, lease, 1).await.unwrap();
    assert_eq!(next[0].message.id, later.id);
}

/// Workers claiming at once never get the same delivery, and together get every one.
pub async fn outbox_claims_never_overlap_under_concurrency(outbox: Arc<dyn OutboxStore>) {
    let sink = format!("mail-{}", UserId::new());
    let mut ids = Vec::new();
    for n in 0..20 {
        let message = message(&[&sink], Duration::from_secs(n));
        ids.push(message.id);
        outbox.enqueue(message).await.unwrap();
    }
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let outbox = outbox.clone();
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let claimed = outbox
                        .claim_deliveries(&sink, t0() + HOUR, HOUR, 3)
                        .await
                        .unwrap();
                    if claimed.is_empty() {
                        return got;
                    }
                    got.extend(claimed.into_iter().map(|d| d.message.id));
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    claimed.sort();
    ids.sort();
    assert_eq!(claimed, ids, "each delivery claimed once");
}

/// A registration with its verification intent and mail: all of it takes effect together; a
/// conflict in any part (a taken address, here) leaves every store as it was.
pub async fn a_unit_of_work_applies_all_its_writes_or_none(
    users: Arc<dyn UserStore>,
    intents: Arc<dyn IntentStore>,
    outbox: Arc<dyn OutboxStore>,
    unit: Arc<dyn UnitOfWork>,
) {
    let sink = format!("mail-{}", UserId::new());
    let registration = |email: String| {
        let user = User {
            id: UserId::new(),
            email,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo"
                .into(),
            disabled: false,
            created_at: t0(),
            epoch: 0,
            email_verified_at: None,
            locale: None,
        };
        let intent = intent_of(&user, Purpose::VerifyEmail, None);
        let mail = message(&[&sink], Duration::ZERO);
        (user, intent, mail)
    };
    let email = format!("unit-{}@example.com", UserId::new());
    let (user, intent, mail) = registration(email.clone());
    unit.apply(Writes {
        create_user: Some(user.clone()),
        issue_intents: vec![intent.clone()],
        enqueue: vec![mail.clone()],
        ..Writes::default()
    })
    .await
    .unwrap();
    assert_eq!(users.user_by_id(&user.id).await.unwrap(), Some(user));
    assert_eq!(
        intents
            .find_intent(Purpose::VerifyEmail, &link(&intent), t0())
            .await
            .unwrap(),
        Some(intent)
    );
    assert_eq!(outbox.backlog(&sink).await.unwrap().pending, 1);

    // The same address again: the account is refused, and the intent and the mail with it.
    let (twin, twin_intent, twin_mail) = registration(email);
    let refused = unit
        .apply(Writes {
            create_user: Some(twin.clone()),
            issue_intents: vec![twin_intent.clone()],
            enqueue: vec![twin_mail],
            ..Writes::default()
        })
        .await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    assert_eq!(users.user_by_id(&twin.id).await.unwrap(), None);
    assert_eq!(
        intents
            .find_intent(Purpose::VerifyEmail, &link(&twin_intent), t0())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        outbox.backlog(&sink).await.unwrap().pending,
        1,
        "no mail for what did not happen"
    );

    // A conflict in the last write undoes the first ones too.
    let (fresh, fresh_intent, _) = registration(format!("unit-{}@example.com", UserId::new()));
    let refused = unit
        .apply(Writes {
            create_user: Some(fresh.clone()),
            issue_intents: vec![fresh_intent],
            enqueue: vec![mail],
            ..Writes::default()
        })
        .await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    assert_eq!(users.user_by_id(&fresh.id).await.unwrap(), None);

    // A change of address with its undo link and mail: refused whole when the new address is
    // taken, or when the account left the address it moves from; applied whole otherwise.
    let mover = new_user(users.as_ref()).await;
    let taken = new_user(users.as_ref()).await;
    let change = |from: &str, to: &str| {
        let undo = intent_of(&mover, Purpose::UndoEmailChange, None);
        let writes = Writes {
            change_email: Some(AddressChange {
                user: mover.id,
                from: from.to_owned(),
                to: to.to_owned(),
                at: t0() + MINUTE,
            }),
            issue_intents: vec![undo.clone()],
            enqueue: vec![message(&[&sink], Duration::ZERO)],
            ..Writes::default()
        };
        (writes, undo)
    };
    let backlog = outbox.backlog(&sink).await.unwrap().pending;
    let new_address = format!("moved-{}@example.com", mover.id);
    for (from, to, refusal) in [
        (mover.email.as_str(), taken.email.as_str(), "conflict"),
        ("elsewhere@example.com", new_address.as_str(), "not_found"),
    ] {
        let (writes, undo) = change(from, to);
        let refused = unit.apply(writes).await;
        assert_eq!(
            refused.map_err(|e| e.code()),
            Err(refusal),
            "{from} -> {to}"
        );
        assert_eq!(
            intents
                .find_intent(Purpose::UndoEmailChange, &link(&undo), t0() + MINUTE)
                .await
                .unwrap(),
            None
        );
        assert_eq!(outbox.backlog(&sink).await.unwrap().pending, backlog);
        assert_eq!(
            users.user_by_id(&mover.id).await.unwrap().unwrap().email,
            mover.email
        );
    }
    let (writes, undo) = change(&mover.email, &new_address);
    unit.apply(writes).await.unwrap();
    let moved = users.user_by_id(&mover.id).await.unwrap().unwrap();
    assert_eq!(
        (moved.email.as_str(), moved.email_verified_at),
        (new_address.as_str(), Some(t0() + MINUTE))
    );
    assert!(
        intents
            .find_intent(Purpose::UndoEmailChange, &link(&undo), t0() + MINUTE)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(outbox.backlog(&sink).await.unwrap().pending, backlog + 1);
}

/// Of many concurrent uses of one intent, exactly one gets it.
pub async fn intent_use_is_single_under_concurrency(
    users: Arc<dyn UserStore>,
    intents: Arc<dyn IntentStore>,
) {
    let user = new_user(users.as_ref()).await;
    let reset = intent_of(&user, Purpose::ResetPassword, None);
    intents.issue_intent(reset.clone()).await.unwrap();
    let runs: Vec<_> = (0..16)
        .map(|_| {
            let intents = intents.clone();
            let key = link(&reset);
            tokio::spawn(async move {
                intents
                    .consume_intent(Purpose::ResetPassword, &key, t0() + MINUTE)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for run in runs {
        if run.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1, "exactly one use wins");
}
const HOUR: Duration = Duration::from_secs(3600);

/// A fixed instant the checks count from.
fn t0() -> SystemTime {
    crate::testing::now()
}

fn random_secret() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    bytes
}

fn random_hash() -> SecretHash {
    SecretHash::of(&random_secret())
}

/// A new account stored in `users`, with a unique email.
pub async fn new_user(users: &dyn UserStore) -> User {
    let id = UserId::new();
    let user = User {
        id,
        email: format!("conformance-{id}@example.com"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo".into(),
        disabled: false,
        created_at: t0(),
        epoch: 0,
        email_verified_at: None,
        locale: None,
    };
    users.create_user(user.clone()).await.expect("create_user");
    user
}

fn new_session(user: &User, created_at: SystemTime) -> Session {
    Session {
        id: SessionId::from_secret(&random_secret()),
        user_id: user.id,
        amr: Amr::Password,
        created_at,
        auth_time: created_at,
        flagged: false,
        client: None,
        user_agent: None,
        grant: None,
        last_used_at: created_at,
        idle_expires_at: created_at + HOUR,
        expires_at: created_at + 24 * HOUR,
    }
}

/// Users: create, find by email and id, duplicate emails refused, updates.
pub async fn users_are_stored_found_and_unique(users: Arc<dyn UserStore>) {
    let user = new_user(users.as_ref()).await;
    assert_eq!(
        users.user_by_email(&user.email).await.unwrap().as_ref(),
        Some(&user)
    );
    assert_eq!(
        users.user_by_id(&user.id).await.unwrap().as_ref(),
        Some(&user)
    );
    assert_eq!(
        users
            .user_by_email("nobody-at-all@example.com")
            .await
            .unwrap(),
        None
    );
    assert_eq!(users.user_by_id(&UserId::new()).await.unwrap(), None);

    let twin = User {
        id: UserId::new(),
        ..user.clone()
    };
    let duplicate = users.create_user(twin).await;
    assert!(
        matches!(duplicate, Err(Error::Conflict(_))),
        "duplicate email: {duplicate:?}"
    );

    let stored = |id| {
        let users = users.clone();
        async move { users.user_by_id(&id).await.unwrap().unwrap() }
    };
    assert!(
        users
            .upgrade_password_hash(&user.id, 0, "$argon2id$upgraded")
            .await
            .unwrap()
    );
    let upgraded = stored(user.id).await;
    assert_eq!(
        (upgraded.password_hash.as_str(), upgraded.epoch),
        ("$argon2id$upgraded", 0),
        "an upgrade keeps the epoch"
    );
    assert_eq!(
        users
            .change_password_hash(&user.id, 0, "$2b$12$new")
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        users
            .change_password_hash(&user.id, 0, "$2b$12$late")
            .await
            .unwrap(),
        None,
        "a change authorised under older credentials never lands"
    );
    assert!(
        !users
            .upgrade_password_hash(&user.id, 0, "$argon2id$stale")
            .await
            .unwrap(),
        "an upgrade of the old password never undoes a change"
    );
    assert_eq!(
        users.advance_epoch(&user.id, 0).await.unwrap(),
        None,
        "stale"
    );
    assert_eq!(users.advance_epoch(&user.id, 1).await.unwrap(), Some(2));
    assert!(users.set_disabled(&user.id, true).await.unwrap());
    let updated = stored(user.id).await;
    assert_eq!(updated.password_hash, "$2b$12$new");
    assert!(updated.disabled);
    assert_eq!(updated.epoch, 3, "disabling moves the epoch on");
    assert!(users.set_disabled(&user.id, false).await.unwrap());
    assert_eq!(stored(user.id).await.epoch, 3, "enabling does not");
    let nobody = UserId::new();
    assert!(!users.upgrade_password_hash(&nobody, 0, "x").await.unwrap());
    assert_eq!(
        users.change_password_hash(&nobody, 0, "x").await.unwrap(),
        None
    );
    assert_eq!(users.advance_epoch(&nobody, 0).await.unwrap(), None);
    assert!(!users.set_disabled(&nobody, true).await.unwrap());
}

/// Addresses: verified only while they are the account's, once; moved to a free address
/// only from the current one; the accounts made before verification was required adopted as
/// verified exactly once.
pub async fn addresses_are_verified_and_changed(users: Arc<dyn UserStore>) {
    let stored = |id| {
        let users = users.clone();
        async move { users.user_by_id(&id).await.unwrap().unwrap() }
    };
    let earlier = new_user(users.as_ref()).await;
    let first = users.adopt_email_verification(t0()).await.unwrap();
    assert!(
        first.is_some_and(|adopted| adopted >= 1),
        "the first adoption marks the unverified accounts: {first:?}"
    );
    assert_eq!(stored(earlier.id).await.email_verified_at, Some(t0()));
    assert_eq!(
        users.adopt_email_verification(t0() + MINUTE).await.unwrap(),
        None,
        "only once"
    );

    let user = new_user(users.as_ref()).await;
    assert_eq!(
        stored(user.id).await.email_verified_at,
        None,
        "an account made after the adoption is not verified"
    );
    let at = t0() + MINUTE;
    assert!(
        !users
            .mark_email_verified(&user.id, "someone-else@example.com", at)
            .await
            .unwrap(),
        "an address the account does not have"
    );
    assert!(
        users
            .mark_email_verified(&user.id, &user.email, at)
            .await
            .unwrap()
    );
    assert!(
        users
            .mark_email_verified(&user.id, &user.email, at + MINUTE)
            .await
            .unwrap()
    );
    assert_eq!(
        stored(user.id).await.email_verified_at,
        Some(at),
        "verified as of the first time"
    );
    assert!(
        !users
            .mark_email_verified(&UserId::new(), &user.email, at)
            .await
            .unwrap()
    );

    let other = new_user(users.as_ref()).await;
    let moved_to = format!("moved-{}@example.com", user.id);
    let later = at + 2 * MINUTE;
    assert!(matches!(
        users
            .change_email(&user.id, &user.email, &other.email, later)
            .await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(stored(user.id).await.email, user.email, "unchanged");
    assert!(
        !users
            .change_email(&user.id, "stale@example.com", &moved_to, later)
            .await
            .unwrap(),
        "only from the current address"
    );
    assert!(
        users
            .change_email(&user.id, &user.email, &moved_to, later)
            .await
            .unwrap()
    );
    let moved = stored(user.id).await;
    assert_eq!(
        (moved.email.as_str(), moved.email_verified_at),
        (moved_to.as_str(), Some(later))
    );
    assert_eq!(
        users.user_by_email(&moved_to).await.unwrap().map(|u| u.id),
        Some(user.id)
    );
    assert_eq!(users.user_by_email(&user.email).await.unwrap(), None);
    // The old address is free again.
    let reuse = User {
        id: UserId::new(),
        email: user.email.clone(),
        ..user.clone()
    };
    users.create_user(reuse).await.unwrap();
}

/// An address an account left stays its own while the undo link sent there lives: no new
/// account and no other account's change takes it; the account itself may come back to it.
pub async fn a_left_address_is_held_while_its_undo_lives(
    users: Arc<dyn UserStore>,
    intents: Arc<dyn IntentStore>,
) {
    let owner = new_user(users.as_ref()).await;
    let left = owner.email.clone();
    let moved_to = format!("moved-{}@example.com", owner.id);
    assert!(
        users
            .change_email(&owner.id, &left, &moved_to, t0())
            .await
            .unwrap()
    );
    let undo = Intent {
        target: Some(left.clone()),
        ..intent_of(&owner, Purpose::UndoEmailChange, None)
    };
    intents.issue_intent(undo.clone()).await.unwrap();
    let now = t0() + MINUTE;

    let squatter = User {
        id: UserId::new(),
        email: left.clone(),
        created_at: now,
        ..owner.clone()
    };
    assert!(matches!(
        users.create_user(squatter.clone()).await,
        Err(Error::Conflict(_))
    ));
    let other = new_user(users.as_ref()).await;
    assert!(matches!(
        users
            .change_email(&other.id, &other.email, &left, now)
            .await,
        Err(Error::Conflict(_))
    ));
    assert!(
        users
            .change_email(&owner.id, &moved_to, &left, now)
            .await
            .unwrap(),
        "the account itself comes back"
    );
    assert!(
        users
            .change_email(&owner.id, &left, &moved_to, now)
            .await
            .unwrap()
    );
    // Once the undo link is used (or expired), the address is free.
    intents
        .consume_intent(Purpose::UndoEmailChange, &link(&undo), now)
        .await
        .unwrap()
        .unwrap();
    users.create_user(squatter).await.unwrap();
}

fn pending_totp(user: &User) -> TotpRecord {
    TotpRecord {
        user_id: user.id,
        secret: EncryptedSecret {
            key_id: "k1".into(),
            nonce: vec![7; 12],
            ciphertext: random_secret().to_vec(),
        },
        params: TotpParams::default(),
        confirmed: false,
        last_used_step: None,
        created_at: t0(),
    }
}

/// TOTP: two-step enrolment, steps accepted once and in order, recovery codes used once.
pub async fn totp_enrolment_replay_and_recovery_codes(
    users: Arc<dyn UserStore>,
    mfa: Arc<dyn MfaStore>,
) {
    let user = new_user(users.as_ref()).await;
    assert_eq!(mfa.totp(&user.id).await.unwrap(), None);
    mfa.save_pending_totp(pending_totp(&user)).await.unwrap();
    assert!(
        !mfa.accept_totp_step(&user.id, 100).await.unwrap(),
        "unconfirmed credentials accept nothing"
    );
    // A second enrolment replaces the pending one.
    let replacement = pending_totp(&user);
    mfa.save_pending_totp(replacement.clone()).await.unwrap();
    assert_eq!(
        mfa.totp(&user.id).await.unwrap().unwrap().secret,
        replacement.secret
    );

    let codes = vec![random_hash(), random_hash(), random_hash()];
    assert!(
        mfa.confirm_totp(&user.id, 100, codes.clone())
            .await
            .unwrap()
    );
    assert!(
        !mfa.confirm_totp(&user.id, 101, vec![]).await.unwrap(),
        "confirms once"
    );
    let confirmed = mfa.totp(&user.id).await.unwrap().unwrap();
    assert!(confirmed.confirmed);
    assert_eq!(confirmed.last_used_step, Some(100));
    let again = mfa.save_pending_totp(pending_totp(&user)).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");

    assert!(
        !mfa.accept_totp_step(&user.id, 100).await.unwrap(),
        "the confirming step is spent"
    );
    assert!(mfa.accept_totp_step(&user.id, 101).await.unwrap());
    assert!(
        !mfa.accept_totp_step(&user.id, 101).await.unwrap(),
        "replay"
    );
    assert!(
        !mfa.accept_totp_step(&user.id, 99).await.unwrap(),
        "older step"
    );
    assert!(mfa.accept_totp_step(&user.id, 103).await.unwrap());

    assert_eq!(mfa.recovery_codes_left(&user.id).await.unwrap(), 3);
    assert!(
        mfa.consume_recovery_code(&user.id, &codes[1])
            .await
            .unwrap()
    );
    assert!(
        !mfa.consume_recovery_code(&user.id, &codes[1])
            .await
            .unwrap(),
        "single use"
    );
    assert!(
        !mfa.consume_recovery_code(&user.id, &random_hash())
            .await
            .unwrap()
    );
    let stranger = new_user(users.as_ref()).await;
    assert!(
        !mfa.consume_recovery_code(&stranger.id, &codes[0])
            .await
            .unwrap(),
        "codes are per user"
    );
    assert_eq!(mfa.recovery_codes_left(&user.id).await.unwrap(), 2);

    assert!(mfa.delete_totp(&user.id).await.unwrap());
    assert!(!mfa.delete_totp(&user.id).await.unwrap());
    assert_eq!(mfa.totp(&user.id).await.unwrap(), None);
    assert_eq!(mfa.recovery_codes_left(&user.id).await.unwrap(), 0);
    assert!(
        !mfa.consume_recovery_code(&user.id, &codes[0])
            .await
            .unwrap()
    );
}

/// After a key rotation, stored secrets are found by their key and moved to the new key with
/// a compare-and-set, in pages; what cannot be read stays as it was.
pub async fn totp_secrets_move_to_a_new_key(users: Arc<dyn UserStore>, mfa: Arc<dyn MfaStore>) {
    use crate::mfa::{MfaKeyring, TotpAlgorithm, TotpSecret};
    use crate::store::reencrypt_totp_secrets;

    let old = MfaKeyring::new("k1", [1; 32]);
    let mut secrets = Vec::new();
    for confirmed in [true, false, true, true, true] {
        let user = new_user(users.as_ref()).await;
        let secret = TotpSecret::generate(TotpAlgorithm::Sha1);
        let record = TotpRecord {
            secret: old.encrypt(&user.id, &secret).unwrap(),
            ..pending_totp(&user)
        };
        mfa.save_pending_totp(record).await.unwrap();
        if confirmed {
            assert!(mfa.confirm_totp(&user.id, 1, vec![]).await.unwrap());
        }
        secrets.push((user.id, secret));
    }
    // One stored under a key nobody holds any more.
    let lost = new_user(users.as_ref()).await;
    let lost_record = TotpRecord {
        secret: MfaKeyring::new("k0", [2; 32])
            .encrypt(&lost.id, &TotpSecret::generate(TotpAlgorithm::Sha1))
            .unwrap(),
        ..pending_totp(&lost)
    };
    mfa.save_pending_totp(lost_record.clone()).await.unwrap();

    let page = mfa.totp_not_under_key("k2", None, 4).await.unwrap();
    assert_eq!(page.len(), 4);
    assert!(
        page.windows(2)
            .all(|pair| pair[0].user_id < pair[1].user_id)
    );
    let rest = mfa
        .totp_not_under_key("k2", Some(&page[3].user_id), 4)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2, "six in all, in two pages");
    assert_eq!(
        mfa.totp_not_under_key("k1", None, 10).await.unwrap().len(),
        1
    );

    // A compare-and-set: a stale `old` replaces nothing.
    let (first_user, _) = secrets[0];
    let current = mfa.totp(&first_user).await.unwrap().unwrap().secret;
    let stale = EncryptedSecret {
        nonce: vec![0; 12],
        ..current.clone()
    };
    assert!(
        !mfa.replace_totp_secret(&first_user, &stale, current.clone())
            .await
            .unwrap()
    );

    let new = MfaKeyring::new("k2", [3; 32])
        .with_decryption_key("k1", [1; 32])
        .unwrap();
    let report = reencrypt_totp_secrets(mfa.as_ref(), &new, 2).await.unwrap();
    assert_eq!(report.moved, 5);
    assert_eq!(report.changed_meanwhile, 0);
    assert_eq!(report.unreadable.len(), 1);
    assert_eq!(report.unreadable[0].0, lost.id);
    for (user, secret) in &secrets {
        let record = mfa.totp(user).await.unwrap().unwrap();
        assert_eq!(record.secret.key_id, "k2");
        let decrypted = MfaKeyring::new("k2", [3; 32])
            .decrypt(user, &record.secret)
            .unwrap();
        assert_eq!(decrypted.expose_bytes(), secret.expose_bytes());
    }
    assert_eq!(
        mfa.totp(&lost.id).await.unwrap().unwrap().secret,
        lost_record.secret
    );
    let again = reencrypt_totp_secrets(mfa.as_ref(), &new, 2).await.unwrap();
    assert_eq!((again.moved, again.unreadable.len()), (0, 1), "idempotent");
}

/// TOTP steps and recovery codes are accepted exactly once under concurrency.
pub async fn totp_steps_and_recovery_codes_are_single_use_under_concurrency(
    users: Arc<dyn UserStore>,
    mfa: Arc<dyn MfaStore>,
) {
    let user = new_user(users.as_ref()).await;
    mfa.save_pending_totp(pending_totp(&user)).await.unwrap();
    let code = random_hash();
    assert!(mfa.confirm_totp(&user.id, 1, vec![code]).await.unwrap());

    let steps = (0..20).map(|_| {
        let mfa = mfa.clone();
        tokio::spawn(async move { mfa.accept_totp_step(&user.id, 2).await.unwrap() })
    });
    let codes = (0..20).map(|_| {
        let mfa = mfa.clone();
        tokio::spawn(async move { mfa.consume_recovery_code(&user.id, &code).await.unwrap() })
    });
    let (mut steps_won, mut codes_won) = (0, 0);
    for (step, code) in steps.zip(codes).collect::<Vec<_>>() {
        steps_won += usize::from(step.await.unwrap());
        codes_won += usize::from(code.await.unwrap());
    }
    assert_eq!(steps_won, 1, "one TOTP step accepted once");
    assert_eq!(codes_won, 1, "one recovery code consumed once");
}

fn token(issued_at: SystemTime) -> RefreshTokenRecord {
    RefreshTokenRecord {
        hash: random_hash(),
        issued_at,
        idle_expires_at: issued_at + 24 * HOUR,
    }
}

async fn new_family(
    users: &dyn UserStore,
    refresh: &dyn RefreshStore,
) -> (RefreshFamily, RefreshTokenRecord) {
    let user = new_user(users).await;
    let family = RefreshFamily {
        id: FamilyId::new(),
        user_id: user.id,
        session_id: SessionId::from_secret(&random_secret()),
        created_at: t0(),
        expires_at: t0() + 30 * 24 * HOUR,
        epoch: 4,
    };
    let first = token(t0());
    refresh
        .create_family(family.clone(), first.clone())
        .await
        .expect("create_family");
    (family, first)
}

/// Refresh: rotation, reuse revoking the family and its newest token, expiry, revocation.
pub async fn refresh_rotation_reuse_and_expiry(
    users: Arc<dyn UserStore>,
    refresh: Arc<dyn RefreshStore>,
) {
    let (family, first) = new_family(users.as_ref(), refresh.as_ref()).await;
    let now = t0() + MINUTE;
    assert_eq!(
        refresh.current_token(&first.hash, now).await.unwrap(),
        Some((family.clone(), first.clone())),
        "a new family's first token is current"
    );
    assert_eq!(
        refresh
            .current_token(&first.hash, first.idle_expires_at)
            .await
            .unwrap(),
        None,
        "not at its idle expiry"
    );
    let second = token(now);
    assert_eq!(
        refresh
            .rotate(&first.hash, second.clone(), now, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Rotated(family.clone())
    );
    assert_eq!(
        refresh.current_token(&first.hash, now).await.unwrap(),
        None,
        "a spent token is not current"
    );
    assert_eq!(
        refresh
            .current_token(&second.hash, now)
            .await
            .unwrap()
            .map(|(family, _)| family),
        Some(family.clone()),
        "its successor is"
    );
    let third = token(now);
    assert_eq!(
        refresh
            .rotate(&second.hash, third.clone(), now + MINUTE, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Rotated(family.clone())
    );
    // The first token again: reuse. The family dies, and the current token with it.
    assert_eq!(
        refresh
            .rotate(&first.hash, token(now), now + 2 * MINUTE, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Reused(family.clone())
    );
    assert_eq!(
        refresh
            .current_token(&third.hash, now + 2 * MINUTE)
            .await
            .unwrap(),
        None,
        "nothing of a revoked family is current"
    );
    assert_eq!(
        refresh
            .rotate(&third.hash, token(now), now + 3 * MINUTE, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Invalid,
        "the successor stops working after reuse"
    );
    assert_eq!(
        refresh
            .rotate(&random_hash(), token(now), now, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Invalid,
        "unknown token"
    );

    // Idle expiry.
    let (_, idle) = new_family(users.as_ref(), refresh.as_ref()).await;
    let late = idle.idle_expires_at;
    assert_eq!(
        refresh
            .rotate(&idle.hash, token(late), late, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Invalid
    );
    // Absolute expiry, even for a token whose own idle expiry is later.
    let (family, first) = new_family(users.as_ref(), refresh.as_ref()).await;
    let mut current = first;
    let mut at = t0();
    while at + 20 * HOUR < family.expires_at {
        at += 20 * HOUR;
        let next = token(at);
        assert!(matches!(
            refresh
                .rotate(&current.hash, next.clone(), at, Duration::ZERO)
                .await
                .unwrap(),
            Rotation::Rotated(_)
        ));
        current = next;
    }
    assert_eq!(
        refresh
            .rotate(
                &current.hash,
                token(family.expires_at),
                family.expires_at,
                Duration::ZERO
            )
            .await
            .unwrap(),
        Rotation::Invalid,
        "absolute lifetime"
    );

    // Moving the family to a later credentials epoch, never back.
    let (family, first) = new_family(users.as_ref(), refresh.as_ref()).await;
    assert!(
        refresh
            .advance_family_epoch(&family.session_id, 7)
            .await
            .unwrap()
    );
    assert!(
        refresh
            .advance_family_epoch(&family.session_id, 5)
            .await
            .unwrap()
    );
    let second = token(t0());
    assert_eq!(
        refresh
            .rotate(&first.hash, second.clone(), t0(), Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Rotated(RefreshFamily { epoch: 7, ..family }),
        "the epoch stays at the latest"
    );
    let unknown = SessionId::from_secret(&random_secret());
    assert!(!refresh.advance_family_epoch(&unknown, 9).await.unwrap());

    // Revoking the session's family.
    let (family, first) = new_family(users.as_ref(), refresh.as_ref()).await;
    assert!(
        refresh
            .revoke_session_family(&family.session_id)
            .await
            .unwrap()
    );
    assert!(
        !refresh
            .revoke_session_family(&family.session_id)
            .await
            .unwrap()
    );
    assert_eq!(
        refresh
            .rotate(&first.hash, token(t0()), t0() + MINUTE, Duration::ZERO)
            .await
            .unwrap(),
        Rotation::Invalid
    );
}

/// Refresh: a retry within the grace period replaces the successor instead of revoking; the
/// replaced successor is reuse if presented, a retry after the successor was used is reuse,
/// and so is a retry past [`MAX_GRACE_RETRIES`](crate::refresh::MAX_GRACE_RETRIES) or past the
/// period counted from the first exchange.
pub async fn refresh_reuse_grace_period_covers_quick_retries(
    users: Arc<dyn UserStore>,
    refresh: Arc<dyn RefreshStore>,
) {
    let grace = Duration::from_secs(10);
    let at = |seconds| t0() + MINUTE + Duration::from_secs(seconds);

    // A retry replaces the successor; the next token is used as normal; a retry after that is
    // reuse, even within the grace period.
    let (family, first) = new_family(users.as_ref(), refresh.as_ref()).await;
    let lost = token(at(0));
    assert!(matches!(
        refresh
            .rotate(&first.hash, lost.clone(), at(0), grace)
            .await
            .unwrap(),
        Rotation::Rotated(_)
    ));
    let retried = token(at(0));
    assert_eq!(
        refresh
            .rotate(&first.hash, retried.clone(), at(5), grace)
            .await
            .unwrap(),
        Rotation::Rotated(family.clone()),
        "a retry within the grace period"
    );
    assert!(matches!(
        refresh
            .rotate(&retried.hash, token(at(0)), at(7), grace)
            .await
            .unwrap(),
        Rotation::Rotated(_)
    ));
    assert_eq!(
        refresh
            .rotate(&first.hash, token(at(0)), at(8), grace)
            .await
            .unwrap(),
        Rotation::Reused(family),
        "within the grace period, but its successor was used: reuse"
    );

    // The successor a retry replaced, presented: reuse.
    let (family, first) = new_family(users.as_ref(), refresh.as_ref()).await;
    let lost = token(at(0));
    refresh
        .rotate(&first.hash, lost.clone(), at(0), grace)
        .await
        .unwrap();
    let retried = token(at(0));
    refresh
        .rotate(&first.hash, retried.clone(), at(1), grace)
        .await
        .unwrap();
    assert_eq!(
        refresh.current_token(&lost.hash, at(1)).await.unwrap(),
        None,
        "a successor a retry replaced is not current"
    );
    assert!(
        refresh
            .current_token(&retried.hash, at(1))
            .await
            .unwrap()
            .is_some(),
        "the retry's successor is"
    );
    assert_eq!(
        refresh
            .rotate(&lost.hash, token(at(0)), at(2), grace)
            .await
            .unwrap(),
        Rotation::Reused(family.clone()),
        "the replaced successor"
    );
    assert_eq!(
        refresh.live_family_of(&first.hash, at(2)).await.unwrap(),
        None,
        "the family is revoked"
    );

    // The period runs from the first exchange: a retry does not extend it.
    let (family, first) = new_family(users.as_ref(), refresh.as_ref()).await;
    refresh
        .rotate(&first.hash, token(at(0)), at(0), grace)
        .await
        .unwrap();
    assert!(matches!(
        refresh
            .rotate(&first.hash, token(at(0)), at(9), grace)
            .await
            .unwrap(),
        Rotation::Rotated(_)
    ));
    assert_eq!(
        refresh
            .rotate(&first.hash, token(at(0)), at(11), grace)
            .await
            .unwrap(),
        Rotation::Reused(family),
        "11 s after the first exchange, 2 s after the retry"
    );

    // Three retries, then the fourth is reuse.
    let (family, first) = new_family(users.as_ref(), refresh.as_ref()).await;
    assert_eq!(
        refresh.live_family_of(&first.hash, at(0)).await.unwrap(),
        Some(family.clone())
    );
    refresh
        .rotate(&first.hash, token(at(0)), at(0), grace)
        .await
        .unwrap();
    for retry in 1..=crate::refresh::MAX_GRACE_RETRIES {
        assert_eq!(
            refresh
                .rotate(&first.hash, token(at(0)), at(u64::from(retry)), grace)
                .await
                .unwrap(),
            Rotation::Rotated(family.clone()),
            "retry {retry}"
        );
    }
    assert_eq!(
        refresh
            .rotate(&first.hash, token(at(0)), at(5), grace)
            .await
            .unwrap(),
        Rotation::Reused(family),
        "one retry too many"
    );
}

/// Refresh: 20 concurrent retries of a spent token within the grace period get exactly
/// [`MAX_GRACE_RETRIES`](crate::refresh::MAX_GRACE_RETRIES) successors; the next is reuse.
pub async fn refresh_grace_retries_stay_bounded_under_concurrency(
    users: Arc<dyn UserStore>,
    refresh: Arc<dyn RefreshStore>,
) {
    let grace = Duration::from_secs(10);
    let (_, first) = new_family(users.as_ref(), refresh.as_ref()).await;
    let now = t0() + MINUTE;
    refresh
        .rotate(&first.hash, token(now), now, grace)
        .await
        .unwrap();
    let retries: Vec<_> = (0..20)
        .map(|_| {
            let refresh = refresh.clone();
            let hash = first.hash;
            tokio::spawn(async move {
                refresh
                    .rotate(&hash, token(now), now + Duration::from_secs(1), grace)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let (mut rotated, mut reused) = (0, 0);
    for retry in retries {
        match retry.await.unwrap() {
            Rotation::Rotated(_) => rotated += 1,
            Rotation::Reused(_) => reused += 1,
            Rotation::Invalid => {}
        }
    }
    assert_eq!(
        rotated,
        crate::refresh::MAX_GRACE_RETRIES,
        "retries that got a successor"
    );
    assert_eq!(
        reused, 1,
        "the first retry past the limit revokes the family"
    );
}

/// Refresh: 50 concurrent rotations of one token give exactly one success.
pub async fn refresh_rotation_is_single_use_under_concurrency(
    users: Arc<dyn UserStore>,
    refresh: Arc<dyn RefreshStore>,
) {
    let (_, first) = new_family(users.as_ref(), refresh.as_ref()).await;
    let now = t0() + MINUTE;
    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let refresh = refresh.clone();
            let hash = first.hash;
            tokio::spawn(async move {
                refresh
                    .rotate(&hash, token(now), now, Duration::ZERO)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut rotated = 0;
    for attempt in attempts {
        if matches!(attempt.await.unwrap(), Rotation::Rotated(_)) {
            rotated += 1;
        }
    }
    assert_eq!(
        rotated, 1,
        "exactly one of 50 concurrent refreshes succeeds"
    );
}

/// Sessions: expiry, touch, listing, revocation of one and of all others.
pub async fn sessions_expire_list_and_revoke(
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
) {
    let user = new_user(users.as_ref()).await;
    let first = new_session(&user, t0());
    sessions.create_session(first.clone()).await.unwrap();
    assert_eq!(
        sessions.session(&first.id, t0()).await.unwrap().as_ref(),
        Some(&first)
    );
    // A client's session keeps its grant, read back and touched alike.
    let mut granted = new_session(&user, t0());
    granted.grant = Some(crate::oauth::ClientGrant {
        client_id: crate::oauth::ClientId::generate(),
        scope: crate::authz::ScopeSet::parse("openid orders:read").unwrap(),
    });
    sessions.create_session(granted.clone()).await.unwrap();
    assert_eq!(
        sessions.session(&granted.id, t0()).await.unwrap().as_ref(),
        Some(&granted)
    );
    let touched = sessions
        .touch_session(&granted.id, t0(), granted.idle_expires_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.grant, granted.grant);
    assert!(
        sessions
            .revoke_session(&user.id, &granted.id)
            .await
            .unwrap()
    );
    assert_eq!(
        sessions
            .session(&first.id, first.idle_expires_at)
            .await
            .unwrap(),
        None,
        "idle expiry"
    );

    let touched_at = t0() + 30 * MINUTE;
    let touched = sessions
        .touch_session(&first.id, touched_at, touched_at + HOUR)
        .await
        .unwrap()
        .expect("alive");
    assert_eq!(touched.last_used_at, touched_at);
    assert!(
        sessions
            .session(&first.id, first.idle_expires_at)
            .await
            .unwrap()
            .is_some(),
        "touch extends idle expiry"
    );
    let capped = sessions
        .touch_session(&first.id, touched_at, first.expires_at + HOUR)
        .await
        .unwrap()
        .expect("alive");
    assert_eq!(
        capped.idle_expires_at, first.expires_at,
        "never past the absolute expiry"
    );
    assert_eq!(
        capped.auth_time, first.auth_time,
        "a touch is no authentication"
    );
    let stepped_up_at = touched_at + MINUTE;
    let stepped_up = sessions
        .reauthenticate_session(&first.id, stepped_up_at, stepped_up_at + HOUR)
        .await
        .unwrap()
        .expect("alive");
    assert_eq!(
        (stepped_up.auth_time, stepped_up.last_used_at),
        (stepped_up_at, stepped_up_at)
    );
    assert_eq!(
        sessions.session(&first.id, stepped_up_at).await.unwrap(),
        Some(stepped_up),
        "a fresh authentication is stored"
    );
    assert_eq!(
        sessions.session(&first.id, first.expires_at).await.unwrap(),
        None,
        "absolute expiry"
    );
    assert_eq!(
        sessions
            .touch_session(&first.id, first.expires_at, first.expires_at + HOUR)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        sessions
            .reauthenticate_session(&first.id, first.expires_at, first.expires_at + HOUR)
            .await
            .unwrap(),
        None,
        "an expired session cannot be stepped up"
    );

    let second = new_session(&user, t0() + MINUTE);
    let third = new_session(&user, t0() + 2 * MINUTE);
    let other_user = new_user(users.as_ref()).await;
    let theirs = new_session(&other_user, t0());
    for session in [&second, &third, &theirs] {
        sessions.create_session(session.clone()).await.unwrap();
    }
    let listed: Vec<SessionId> = sessions
        .sessions_of(&user.id, t0() + 3 * MINUTE)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        listed,
        vec![first.id.clone(), second.id.clone(), third.id.clone()],
        "oldest first"
    );

    assert!(
        !sessions.revoke_session(&user.id, &theirs.id).await.unwrap(),
        "not another user's"
    );
    assert!(sessions.revoke_session(&user.id, &second.id).await.unwrap());
    assert!(!sessions.revoke_session(&user.id, &second.id).await.unwrap());
    assert_eq!(
        sessions
            .session(&second.id, t0() + 3 * MINUTE)
            .await
            .unwrap(),
        None
    );

    let mut ended = sessions
        .revoke_sessions_of(&user.id, Some(&third.id))
        .await
        .unwrap();
    ended.sort();
    assert_eq!(ended, vec![first.id.clone()]);
    let left: Vec<SessionId> = sessions
        .sessions_of(&user.id, t0() + 3 * MINUTE)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, vec![third.id.clone()]);
    assert!(
        sessions.session(&theirs.id, t0()).await.unwrap().is_some(),
        "other users keep theirs"
    );

    // A session opened by a passkey whose counter did not increase keeps its flag.
    let flagged = Session {
        flagged: true,
        ..new_session(&user, t0())
    };
    sessions.create_session(flagged.clone()).await.unwrap();
    assert_eq!(
        sessions.session(&flagged.id, t0()).await.unwrap(),
        Some(flagged.clone())
    );
    let touched = sessions
        .touch_session(&flagged.id, t0() + MINUTE, t0() + HOUR)
        .await
        .unwrap()
        .expect("alive");
    assert!(touched.flagged, "a touch keeps the flag");

    // Where a session started, and what started it, are kept for its owner's list.
    let described = Session {
        client: Some(std::net::IpAddr::from([198, 51, 100, 7])),
        ..new_session(&user, t0())
    };
    sessions.create_session(described.clone()).await.unwrap();
    let agent = "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36 \"ünï\"";
    sessions
        .describe_session(&described.id, agent)
        .await
        .unwrap();
    let read = sessions
        .session(&described.id, t0())
        .await
        .unwrap()
        .expect("alive");
    assert_eq!(read.client, described.client);
    assert_eq!(read.user_agent.as_deref(), Some(agent));
    let touched = sessions
        .touch_session(&described.id, t0() + MINUTE, t0() + HOUR)
        .await
        .unwrap()
        .expect("alive");
    assert_eq!(
        (touched.client, touched.user_agent.as_deref()),
        (described.client, Some(agent)),
        "a touch keeps them"
    );
    let listed = sessions.sessions_of(&user.id, t0()).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|s| s.id == described.id && s.user_agent.as_deref() == Some(agent))
    );
    // Describing a session that is gone brings nothing back.
    let gone = new_session(&user, t0());
    sessions.describe_session(&gone.id, agent).await.unwrap();
    assert_eq!(sessions.session(&gone.id, t0()).await.unwrap(), None);
}

/// Throttle counters: reserving, giving back, confirming failures, windows, clearing, and each
/// concurrent reservation seeing its own count.
pub async fn throttle_counters_reserve_release_confirm_and_expire(
    throttle: Arc<dyn ThrottleStore>,
) {
    let key = format!("conformance:{}", UserId::new());
    let window = HOUR;
    let fields = |r: super::ThrottleRecord| (r.failures, r.window_started_at, r.last_failure_at);
    // The record as stored at `at`: (failures, window start, last failure).
    let stored = |key: String, at: SystemTime| {
        let throttle = throttle.clone();
        async move {
            throttle
                .throttle_record(&key, at, window)
                .await
                .unwrap()
                .map(fields)
        }
    };
    assert_eq!(stored(key.clone(), t0()).await, None);
    let free = 1;
    let first = throttle
        .reserve_attempt(&key, t0(), window, free)
        .await
        .unwrap();
    assert_eq!(fields(first), (1, t0(), t0()), "a window starts");
    let failed = throttle
        .confirm_failure(&key, t0() + MINUTE, window)
        .await
        .unwrap();
    assert_eq!(
        fields(failed),
        (1, t0(), t0() + MINUTE),
        "a confirmed failure moves the last failure, not the count"
    );
    let second = throttle
        .reserve_attempt(&key, t0() + 2 * MINUTE, window, free)
        .await
        .unwrap();
    assert_eq!(
        fields(second),
        (2, t0(), t0() + MINUTE),
        "a free reservation counts without moving the last failure"
    );
    let third = throttle
        .reserve_attempt(&key, t0() + 3 * MINUTE, window, free)
        .await
        .unwrap();
    assert_eq!(
        fields(third),
        (3, t0(), t0() + MINUTE),
        "beyond the free ones, the answer still carries the last failure from before"
    );
    assert_eq!(
        stored(key.clone(), t0() + 3 * MINUTE).await,
        Some((3, t0(), t0() + 3 * MINUTE)),
        "and the stored one moved to now"
    );
    throttle.release_attempt(&key).await.unwrap();
    throttle.release_attempt(&key).await.unwrap();
    assert_eq!(
        stored(key.clone(), t0() + 3 * MINUTE).await,
        Some((1, t0(), t0() + 3 * MINUTE)),
        "given back: the count, not the time"
    );
    let earlier = throttle.confirm_failure(&key, t0(), window).await.unwrap();
    assert_eq!(
        fields(earlier),
        (1, t0(), t0() + 3 * MINUTE),
        "the last failure never moves back"
    );
    assert_eq!(
        stored(key.clone(), t0() + window).await,
        None,
        "window over"
    );
    let fresh = throttle
        .reserve_attempt(&key, t0() + window, window, free)
        .await
        .unwrap();
    assert_eq!(
        fields(fresh),
        (1, t0() + window, t0() + window),
        "a new window"
    );
    throttle.clear_failures(&key).await.unwrap();
    assert_eq!(stored(key.clone(), t0() + window).await, None);
    let after_clear = throttle
        .confirm_failure(&key, t0() + window, window)
        .await
        .unwrap();
    assert_eq!(
        fields(after_clear),
        (1, t0() + window, t0() + window),
        "a failure confirmed after a clear starts a window of one"
    );
    for _ in 0..3 {
        throttle.release_attempt(&key).await.unwrap();
    }
    assert_eq!(
        stored(key.clone(), t0() + window)
            .await
            .map(|(failures, _, _)| failures),
        Some(0),
        "never below zero"
    );
    throttle
        .release_attempt("conformance:absent")
        .await
        .unwrap();

    let key = format!("conformance:{}", UserId::new());
    let reservations: Vec<_> = (0..50)
        .map(|_| {
            let throttle = throttle.clone();
            let key = key.clone();
            tokio::spawn(async move {
                throttle
                    .reserve_attempt(&key, t0(), window, 100)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut counts = Vec::new();
    for reservation in reservations {
        counts.push(reservation.await.unwrap().failures);
    }
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=50).collect::<Vec<u32>>(),
        "each concurrent reservation sees its own count"
    );
}

/// Single-use ids: used once until they expire, then usable again.
pub async fn single_use_ids_are_used_once_until_they_expire(revocations: Arc<dyn RevocationStore>) {
    let id = format!("conformance:{}", UserId::new());
    assert!(
        revocations
            .use_once(&id, t0(), t0() + MINUTE)
            .await
            .unwrap()
    );
    assert!(
        !revocations
            .use_once(&id, t0(), t0() + MINUTE)
            .await
            .unwrap(),
        "a second use"
    );
    assert!(
        revocations
            .use_once(&id, t0() + MINUTE, t0() + HOUR)
            .await
            .unwrap(),
        "forgotten once expired"
    );

    let racing = format!("conformance:{}", UserId::new());
    let uses: Vec<_> = (0..20)
        .map(|_| {
            let revocations = revocations.clone();
            let racing = racing.clone();
            tokio::spawn(async move {
                revocations
                    .use_once(&racing, t0(), t0() + MINUTE)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut used = 0;
    for attempt in uses {
        used += usize::from(attempt.await.unwrap());
    }
    assert_eq!(used, 1, "used once under concurrency");
}

/// Revoked session ids: revoked until the given time, then forgotten.
pub async fn revoked_sessions_are_refused_until_their_tokens_expire(
    revocations: Arc<dyn RevocationStore>,
) {
    let id = SessionId::from_secret(&random_secret());
    assert!(!revocations.is_sid_revoked(&id, t0()).await.unwrap());
    revocations
        .revoke_sid(&id, t0(), t0() + HOUR)
        .await
        .unwrap();
    assert!(revocations.is_sid_revoked(&id, t0()).await.unwrap());
    assert!(
        revocations
            .is_sid_revoked(&id, t0() + HOUR - MINUTE)
            .await
            .unwrap()
    );
    assert!(!revocations.is_sid_revoked(&id, t0() + HOUR).await.unwrap());
    // A later revocation of the same id is not shortened by an earlier deadline.
    revocations
        .revoke_sid(&id, t0(), t0() + 2 * HOUR)
        .await
        .unwrap();
    revocations
        .revoke_sid(&id, t0(), t0() + HOUR)
        .await
        .unwrap();
    assert!(
        revocations
            .is_sid_revoked(&id, t0() + HOUR + MINUTE)
            .await
            .unwrap()
    );
    let other = SessionId::from_secret(&random_secret());
    assert!(!revocations.is_sid_revoked(&other, t0()).await.unwrap());
}

/// The TOTP replay guard: each step once, never an older one, exactly once under concurrency,
/// and forgotten after its time.
pub async fn totp_replay_guard_accepts_each_step_once(guard: Arc<dyn TotpReplayGuard>) {
    let user = UserId::new();
    let forget = 3 * MINUTE;
    assert!(guard.accept_step(&user, 100, t0(), forget).await.unwrap());
    assert!(
        !guard.accept_step(&user, 100, t0(), forget).await.unwrap(),
        "replay"
    );
    assert!(
        !guard.accept_step(&user, 99, t0(), forget).await.unwrap(),
        "older step"
    );
    assert!(
        guard
            .accept_step(&user, 101, t0() + MINUTE, forget)
            .await
            .unwrap()
    );
    let other = UserId::new();
    assert!(
        guard.accept_step(&other, 100, t0(), forget).await.unwrap(),
        "steps are per user"
    );
    // After `forget_after`, the guard may forget: a much later step is accepted in any case.
    assert!(
        guard
            .accept_step(&user, 200, t0() + HOUR, forget)
            .await
            .unwrap()
    );

    let racing = UserId::new();
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let guard = guard.clone();
            tokio::spawn(async move { guard.accept_step(&racing, 7, t0(), forget).await.unwrap() })
        })
        .collect();
    let mut accepted = 0;
    for attempt in attempts {
        accepted += usize::from(attempt.await.unwrap());
    }
    assert_eq!(accepted, 1, "one step accepted once under concurrency");
}
