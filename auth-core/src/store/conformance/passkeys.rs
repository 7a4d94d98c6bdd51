//! Conformance of [`PasskeyStore`]: credentials, user handles, the counter check, ceremonies.

use std::sync::Arc;
use std::time::SystemTime;

use uuid::Uuid;

use super::{MINUTE, new_user, random_secret, t0};
use crate::error::Error;
use crate::passkey::{
    Ceremony, CeremonyId, CeremonyKind, CounterCheck, PasskeyId, PasskeyRecord, PasskeyUse,
};
use crate::store::{PasskeyStore, UserStore};

fn passkey_of(user: &crate::store::User, name: &str, created_at: SystemTime) -> PasskeyRecord {
    PasskeyRecord {
        id: PasskeyId::from_bytes(random_secret().to_vec()).unwrap(),
        user_id: user.id,
        name: name.into(),
        credential: br#"{"key":"opaque to the store"}"#.to_vec(),
        sign_count: 0,
        backup_eligible: true,
        backup_state: true,
        transports: vec!["internal".into(), "hybrid".into()],
        aaguid: Uuid::from_bytes([7; 16]),
        created_at,
        last_used_at: None,
    }
}

fn use_at(sign_count: u32, at: SystemTime) -> PasskeyUse {
    PasskeyUse {
        sign_count,
        backup_eligible: true,
        backup_state: false,
        at,
    }
}

fn ceremony(kind: CeremonyKind, user: Option<&crate::store::User>, at: SystemTime) -> Ceremony {
    Ceremony {
        id: CeremonyId::generate(),
        kind,
        user_id: user.map(|user| user.id),
        binding: Some("bound-to".into()),
        state: br#"{"challenge":"state"}"#.to_vec(),
        created_at: at,
        expires_at: at + 5 * MINUTE,
    }
}

/// Passkeys: stored with every field, listed oldest first per account, unique across
/// accounts, renamed and deleted by their owner only; user handles made once and looked up.
pub async fn passkeys_are_stored_listed_renamed_and_deleted(
    users: Arc<dyn UserStore>,
    passkeys: Arc<dyn PasskeyStore>,
) {
    let (ada, bob) = (
        new_user(users.as_ref()).await,
        new_user(users.as_ref()).await,
    );
    let first = passkey_of(&ada, "laptop", t0());
    let second = passkey_of(&ada, "phone", t0() + MINUTE);
    passkeys.add_passkey(second.clone()).await.unwrap();
    passkeys.add_passkey(first.clone()).await.unwrap();
    assert_eq!(
        passkeys.passkeys_of(&ada.id).await.unwrap(),
        vec![first.clone(), second.clone()],
        "every field kept, oldest first"
    );
    assert_eq!(
        passkeys.passkey(&first.id).await.unwrap(),
        Some(first.clone())
    );
    assert!(passkeys.passkeys_of(&bob.id).await.unwrap().is_empty());

    let mut stolen = passkey_of(&bob, "copy", t0());
    stolen.id = first.id.clone();
    assert!(
        matches!(passkeys.add_passkey(stolen).await, Err(Error::Conflict(_))),
        "a credential id is registered to one account"
    );

    assert!(
        !passkeys
            .rename_passkey(&bob.id, &first.id, "mine")
            .await
            .unwrap(),
        "only the owner renames"
    );
    assert!(
        passkeys
            .rename_passkey(&ada.id, &first.id, "work laptop")
            .await
            .unwrap()
    );
    assert_eq!(
        passkeys.passkey(&first.id).await.unwrap().unwrap().name,
        "work laptop"
    );
    assert!(!passkeys.delete_passkey(&bob.id, &first.id).await.unwrap());
    assert!(passkeys.delete_passkey(&ada.id, &first.id).await.unwrap());
    assert!(!passkeys.delete_passkey(&ada.id, &first.id).await.unwrap());
    assert_eq!(passkeys.passkey(&first.id).await.unwrap(), None);
    assert_eq!(passkeys.passkeys_of(&ada.id).await.unwrap(), vec![second]);

    let handle = passkeys
        .passkey_handle(&ada.id, Uuid::new_v4())
        .await
        .unwrap();
    assert_eq!(
        passkeys
            .passkey_handle(&ada.id, Uuid::new_v4())
            .await
            .unwrap(),
        handle,
        "made once"
    );
    assert_eq!(
        passkeys.user_of_passkey_handle(&handle).await.unwrap(),
        Some(ada.id)
    );
    assert_eq!(
        passkeys
            .user_of_passkey_handle(&Uuid::new_v4())
            .await
            .unwrap(),
        None
    );

    // An account recovery takes every passkey, the handle and the ceremonies; others keep
    // theirs.
    let bobs = passkey_of(&bob, "bob's", t0());
    passkeys.add_passkey(bobs.clone()).await.unwrap();
    passkeys
        .add_passkey(passkey_of(&ada, "third", t0()))
        .await
        .unwrap();
    let pending = ceremony(CeremonyKind::Registration, Some(&ada), t0());
    passkeys.save_ceremony(pending.clone()).await.unwrap();
    assert_eq!(passkeys.delete_passkeys_of(&ada.id).await.unwrap(), 2);
    assert!(passkeys.passkeys_of(&ada.id).await.unwrap().is_empty());
    assert_eq!(
        passkeys.user_of_passkey_handle(&handle).await.unwrap(),
        None
    );
    assert_ne!(
        passkeys
            .passkey_handle(&ada.id, Uuid::new_v4())
            .await
            .unwrap(),
        handle,
        "a new handle"
    );
    assert_eq!(
        passkeys.take_ceremony(&pending.id, t0()).await.unwrap(),
        None
    );
    assert_eq!(passkeys.passkeys_of(&bob.id).await.unwrap(), vec![bobs]);
    assert_eq!(passkeys.delete_passkeys_of(&ada.id).await.unwrap(), 0);
}

/// The counter check: both zero is no counter, an increase is stored, anything else is a
/// regression that leaves the counter (and, unless accepted, everything) as it was.
pub async fn passkey_counters_are_checked_with_the_update(
    users: Arc<dyn UserStore>,
    passkeys: Arc<dyn PasskeyStore>,
) {
    let user = new_user(users.as_ref()).await;
    let synced = passkey_of(&user, "synced", t0());
    passkeys.add_passkey(synced.clone()).await.unwrap();
    for minute in 1..=2 {
        let at = t0() + minute * MINUTE;
        assert_eq!(
            passkeys
                .record_passkey_use(&synced.id, use_at(0, at), false)
                .await
                .unwrap(),
            Some(CounterCheck::NoCounter)
        );
        let stored = passkeys.passkey(&synced.id).await.unwrap().unwrap();
        assert_eq!(stored.last_used_at, Some(at));
        assert!(!stored.backup_state, "the flags the assertion carried");
    }

    let key = passkey_of(&user, "security key", t0());
    passkeys.add_passkey(key.clone()).await.unwrap();
    let at = t0() + MINUTE;
    assert_eq!(
        passkeys
            .record_passkey_use(&key.id, use_at(5, at), false)
            .await
            .unwrap(),
        Some(CounterCheck::Advanced)
    );
    for presented in [5, 4, 0] {
        assert_eq!(
            passkeys
                .record_passkey_use(&key.id, use_at(presented, at + MINUTE), false)
                .await
                .unwrap(),
            Some(CounterCheck::Regressed { stored: 5 }),
            "{presented} after 5"
        );
    }
    let stored = passkeys.passkey(&key.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.sign_count, stored.last_used_at),
        (5, Some(at)),
        "a refused regression changes nothing"
    );
    assert_eq!(
        passkeys
            .record_passkey_use(&key.id, use_at(3, at + 2 * MINUTE), true)
            .await
            .unwrap(),
        Some(CounterCheck::Regressed { stored: 5 })
    );
    let stored = passkeys.passkey(&key.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.sign_count, stored.last_used_at),
        (5, Some(at + 2 * MINUTE)),
        "an accepted regression is recorded as a use, never lowering the counter"
    );
    let unknown = PasskeyId::from_bytes(random_secret().to_vec()).unwrap();
    assert_eq!(
        passkeys
            .record_passkey_use(&unknown, use_at(1, at), true)
            .await
            .unwrap(),
        None
    );

    // Two assertions with the same counter at once: one advances, the other regressed.
    let results = (0..10).map(|_| {
        let passkeys = passkeys.clone();
        let id = key.id.clone();
        tokio::spawn(async move {
            passkeys
                .record_passkey_use(&id, use_at(9, t0() + 3 * MINUTE), false)
                .await
                .unwrap()
        })
    });
    let mut advanced = 0;
    for result in results.collect::<Vec<_>>() {
        match result.await.unwrap() {
            Some(CounterCheck::Advanced) => advanced += 1,
            Some(CounterCheck::Regressed { stored: 9 }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(advanced, 1, "a counter value is accepted once");
}

/// Ceremonies: kept whole until taken, taken once (also under concurrency), absent once
/// expired.
pub async fn passkey_ceremonies_are_taken_once_before_they_expire(
    users: Arc<dyn UserStore>,
    passkeys: Arc<dyn PasskeyStore>,
) {
    let user = new_user(users.as_ref()).await;
    let registration = ceremony(CeremonyKind::Registration, Some(&user), t0());
    passkeys.save_ceremony(registration.clone()).await.unwrap();
    assert!(matches!(
        passkeys.save_ceremony(registration.clone()).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(
        passkeys
            .take_ceremony(&registration.id, t0())
            .await
            .unwrap(),
        Some(registration.clone()),
        "every field kept"
    );
    assert_eq!(
        passkeys
            .take_ceremony(&registration.id, t0())
            .await
            .unwrap(),
        None
    );

    let discoverable = ceremony(CeremonyKind::SignIn, None, t0());
    passkeys.save_ceremony(discoverable.clone()).await.unwrap();
    assert_eq!(
        passkeys
            .take_ceremony(&discoverable.id, discoverable.expires_at)
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        passkeys
            .take_ceremony(&discoverable.id, t0())
            .await
            .unwrap(),
        None,
        "an expired ceremony looked at is gone"
    );

    let raced = ceremony(CeremonyKind::SecondFactor, Some(&user), t0());
    passkeys.save_ceremony(raced.clone()).await.unwrap();
    let takers = (0..10).map(|_| {
        let passkeys = passkeys.clone();
        let id = raced.id.clone();
        tokio::spawn(async move { passkeys.take_ceremony(&id, t0()).await.unwrap() })
    });
    let mut taken = 0;
    for taker in takers.collect::<Vec<_>>() {
        taken += usize::from(taker.await.unwrap().is_some());
    }
    assert_eq!(taken, 1, "a ceremony is finished once");
}
