#![allow(clippy::unwrap_used)]

use super::*;
use crate::testing::key;
use crate::token::test_support::public_only;
use secrecy::ExposeSecret;

#[test]
fn key_ids_must_be_short_visible_ascii() {
    assert!(KeyId::new("2024-01-signing").is_ok());
    assert!(KeyId::new("a".repeat(256)).is_ok());
    for bad in [
        String::new(),
        "a".repeat(257),
        "with space".into(),
        "tab\t".into(),
        "newline\n".into(),
        "caf\u{e9}".into(),
        "nul\0".into(),
    ] {
        assert!(matches!(KeyId::new(bad), Err(Error::Config(_))));
    }
}

#[test]
fn algorithm_names_parse_back_ignoring_case() {
    for algorithm in Algorithm::all() {
        assert_eq!(algorithm.name().parse::<Algorithm>().unwrap(), *algorithm);
        let upper = algorithm.name().to_ascii_uppercase();
        assert_eq!(upper.parse::<Algorithm>().unwrap(), *algorithm);
    }
    assert!(matches!("none".parse::<Algorithm>(), Err(Error::Config(_))));
    assert!(matches!(
        "HS512".parse::<Algorithm>(),
        Err(Error::Config(_))
    ));
}

#[test]
fn exported_keys_import_back_to_the_same_key() {
    for algorithm in Algorithm::all() {
        let original = key(*algorithm);
        let exported = original.export_private().unwrap();
        let imported = Key::import(*algorithm, exported.expose_secret()).unwrap();
        assert_eq!(imported.id(), original.id(), "{algorithm}");
        assert_eq!(imported.algorithm(), *algorithm);
        assert!(imported.can_sign());
    }
}

#[test]
fn import_refuses_a_key_of_another_algorithm() {
    let pem = key(Algorithm::default()).export_private().unwrap();
    let other = Algorithm::all()
        .iter()
        .copied()
        .find(|algorithm| *algorithm != Algorithm::default())
        .unwrap();
    assert!(matches!(
        Key::import(other, pem.expose_secret()),
        Err(Error::InvalidKey(_))
    ));
}

#[test]
fn debug_output_shows_no_key_material() {
    for algorithm in Algorithm::all() {
        let key = key(*algorithm);
        let exported = key.export_private().unwrap();
        let debug = format!("{key:?} {:?}", KeySet::new(key.clone()).unwrap());
        let secret = exported.expose_secret();
        // The distinctive part of the encoding: PEM body, base64url secret or PASERK body.
        let body: String = secret
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let body = body.rsplit('.').next().unwrap();
        assert!(!debug.contains(body), "{algorithm}: {debug}");
        assert!(debug.contains(key.id().as_str()));
    }
}

#[test]
fn a_key_set_refuses_two_keys_with_the_same_id() {
    let first = key(Algorithm::default());
    let mut keys = KeySet::new(first.clone()).unwrap();
    assert!(matches!(
        keys.add_verification_key(first.clone()),
        Err(Error::Config(_))
    ));
    assert!(matches!(keys.rotate(first), Err(Error::Config(_))));
    assert_eq!(keys.len(), 1);
}

#[test]
fn rotation_keeps_the_previous_key_for_verification() {
    let first = key(Algorithm::default());
    let second = key(Algorithm::default());
    let mut keys = KeySet::new(first.clone()).unwrap();
    keys.rotate(second.clone()).unwrap();
    assert_eq!(keys.active().unwrap().id(), second.id());
    assert!(keys.get(first.id().as_str()).is_some());
    let ids: Vec<_> = keys.iter().map(|key| key.id().clone()).collect();
    assert_eq!(ids, [second.id().clone(), first.id().clone()]);
}

#[test]
fn retiring_removes_a_verification_key_but_never_the_active_one() {
    let first = key(Algorithm::default());
    let second = key(Algorithm::default());
    let mut keys = KeySet::new(first.clone()).unwrap();
    keys.rotate(second.clone()).unwrap();
    assert!(matches!(
        keys.retire(second.id().as_str()),
        Err(Error::Config(_))
    ));
    let retired = keys.retire(first.id().as_str()).unwrap();
    assert_eq!(retired.id(), first.id());
    assert!(keys.get(first.id().as_str()).is_none());
    assert!(matches!(
        keys.retire(first.id().as_str()),
        Err(Error::Config(_))
    ));
}

#[test]
fn a_verification_only_key_cannot_become_the_signing_key() {
    let public = public_only(&key(Algorithm::default())).unwrap();
    assert!(!public.can_sign());
    assert!(matches!(KeySet::new(public.clone()), Err(Error::Config(_))));
    let keys = KeySet::verification_only()
        .with_verification_key(public)
        .unwrap();
    assert!(keys.active().is_none());
    assert_eq!(keys.len(), 1);
}

#[test]
fn public_halves_keep_the_id_and_export_no_private_material() {
    for algorithm in Algorithm::all() {
        let private = key(*algorithm);
        let Some(public) = public_only(&private) else {
            assert!(private.export_public().is_err(), "{algorithm} is symmetric");
            continue;
        };
        assert_eq!(public.id(), private.id());
        assert_eq!(public.algorithm(), *algorithm);
        assert!(public.export_private().is_err());
    }
}

#[cfg(feature = "jwt")]
#[test]
fn each_algorithm_signs_with_its_first_key_that_holds_private_material() {
    let active = key(Algorithm::EdDsa);
    let published = public_only(&key(Algorithm::Es256));
    let es256 = key(Algorithm::Es256);
    let rs256 = key(Algorithm::Rs256);
    let keys = KeySet::new(active.clone())
        .unwrap()
        .with_verification_key(published.unwrap())
        .unwrap()
        .with_verification_key(es256.clone())
        .unwrap()
        .with_verification_key(rs256.clone())
        .unwrap();
    assert_eq!(
        keys.signing_key(Algorithm::EdDsa).unwrap().id(),
        active.id()
    );
    // A public key cannot sign: the next ES256 key in the set does.
    assert_eq!(keys.signing_key(Algorithm::Es256).unwrap().id(), es256.id());
    assert_eq!(keys.signing_key(Algorithm::Rs256).unwrap().id(), rs256.id());
    assert!(keys.signing_key(Algorithm::Hs256).is_none());
    // A verification-only set signs nothing, whatever it holds.
    let only = KeySet::verification_only()
        .with_verification_key(public_only(&rs256).unwrap())
        .unwrap();
    assert!(only.signing_key(Algorithm::Rs256).is_none());
}
