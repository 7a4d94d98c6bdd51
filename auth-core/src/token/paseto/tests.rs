#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::json;

use super::*;
use crate::testing::{clock, issuer_and_verifier, key, token_config, verifier};
use crate::token::test_support::{issue, reject};
use crate::token::{Key, NewToken, TokenConfig, TokenIssuer, TokenVerifier};

fn paseto(key: &Key) -> &PasetoKey {
    key.as_paseto().unwrap()
}

/// Splits a token into its prefix + body and its decoded footer.
fn split(token: &str) -> (String, Value) {
    let (body, footer) = token.rsplit_once('.').unwrap();
    let footer = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(footer).unwrap()).unwrap();
    (body.to_owned(), footer)
}

fn with_footer(body: &str, footer: &Value) -> String {
    format!(
        "{body}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(footer).unwrap())
    )
}

/// Signs an arbitrary payload and footer with a `v4.public` key.
fn sign_raw(key: &Key, payload: &Value, footer: &Value) -> String {
    let PasetoMaterial::Public {
        secret: Some(secret),
        ..
    } = &paseto(key).material
    else {
        panic!("not a v4.public signing key")
    };
    PublicToken::sign(
        secret,
        &serde_json::to_vec(payload).unwrap(),
        Some(&serde_json::to_vec(footer).unwrap()),
        None,
    )
    .unwrap()
}

/// The signed payload of a `v4.public` token (it is not encrypted).
fn public_payload(token: &str) -> Value {
    let body = token
        .strip_prefix("v4.public.")
        .unwrap()
        .split('.')
        .next()
        .unwrap();
    let message = URL_SAFE_NO_PAD.decode(body).unwrap();
    serde_json::from_slice(&message[..message.len() - 64]).unwrap()
}

#[test]
fn footer_names_the_key_by_paserk_id_and_the_type() {
    for algorithm in [Algorithm::PasetoV4Public, Algorithm::PasetoV4Local] {
        let key = key(algorithm);
        let prefix = match algorithm {
            Algorithm::PasetoV4Public => "k4.pid.",
            _ => "k4.lid.",
        };
        assert!(key.id().as_str().starts_with(prefix), "{}", key.id());
        let (issuer, _) = issuer_and_verifier(KeySet::new(key.clone()).unwrap());
        let token = issue(&issuer);
        assert!(token.starts_with(&format!("{}.", algorithm.name())));
        let (_, footer) = split(&token);
        assert_eq!(footer, json!({"kid": key.id().as_str(), "typ": "at+jwt"}));
    }
}

#[test]
fn time_claims_travel_as_rfc_3339_strings() {
    let (issuer, _) = issuer_and_verifier(KeySet::new(key(Algorithm::PasetoV4Public)).unwrap());
    let payload = public_payload(&issue(&issuer));
    // The fixtures' clock stands at 2023-11-14T22:13:20Z.
    assert_eq!(payload["iat"], "2023-11-14T22:13:20Z");
    assert_eq!(payload["nbf"], "2023-11-14T22:13:20Z");
    assert_eq!(payload["exp"], "2023-11-14T22:28:20Z");
}

#[test]
fn numeric_or_unparsable_time_claims_are_malformed() {
    let key = key(Algorithm::PasetoV4Public);
    let (issuer, verifier) = issuer_and_verifier(KeySet::new(key.clone()).unwrap());
    let token = issue(&issuer);
    let (_, footer) = split(&token);
    let good = public_payload(&token);
    for (name, value) in [
        ("exp", json!(1_700_000_900)),
        ("iat", json!("yesterday")),
        ("nbf", json!("2023-11-14 22:13:20")),
    ] {
        let mut payload = good.clone();
        payload[name] = value;
        let forged = sign_raw(&key, &payload, &footer);
        assert_eq!(
            reject(&verifier, &forged),
            TokenRejection::Malformed,
            "{name}"
        );
    }
    let fractional = {
        let mut payload = good;
        payload["iat"] = json!("2023-11-14T22:13:20.75+00:00");
        sign_raw(&key, &payload, &footer)
    };
    let claims: Claims = verifier.verify_access(&fractional).unwrap();
    assert_eq!(claims.iat, 1_700_000_000);
}

#[test]
fn local_token_offered_to_a_public_keys_id_is_refused() {
    let local = key(Algorithm::PasetoV4Local);
    let public = key(Algorithm::PasetoV4Public);
    let keys = KeySet::new(local.clone())
        .unwrap()
        .with_verification_key(public.clone())
        .unwrap();
    let (issuer, verifier) = issuer_and_verifier(keys);
    let (body, mut footer) = split(&issue(&issuer));
    footer["kid"] = json!(public.id().as_str());
    assert_eq!(
        reject(&verifier, &with_footer(&body, &footer)),
        TokenRejection::AlgorithmMismatch
    );
}

#[test]
fn public_token_offered_to_a_local_keys_id_is_refused() {
    let local = key(Algorithm::PasetoV4Local);
    let public = key(Algorithm::PasetoV4Public);
    let keys = KeySet::new(public)
        .unwrap()
        .with_verification_key(local.clone())
        .unwrap();
    let (issuer, verifier) = issuer_and_verifier(keys);
    let (body, mut footer) = split(&issue(&issuer));
    footer["kid"] = json!(local.id().as_str());
    assert_eq!(
        reject(&verifier, &with_footer(&body, &footer)),
        TokenRejection::AlgorithmMismatch
    );
}

#[test]
fn tampered_payloads_are_refused() {
    for algorithm in [Algorithm::PasetoV4Public, Algorithm::PasetoV4Local] {
        let (issuer, verifier) = issuer_and_verifier(KeySet::new(key(algorithm)).unwrap());
        let token = issue(&issuer);
        let (body, footer) = token.rsplit_once('.').unwrap();
        let (prefix, message) = body.split_at(algorithm.name().len() + 1);
        let mut message = URL_SAFE_NO_PAD.decode(message).unwrap();
        let middle = message.len() / 2;
        message[middle] ^= 1;
        let forged = format!("{prefix}{}.{footer}", URL_SAFE_NO_PAD.encode(&message));
        assert_eq!(
            reject(&verifier, &forged),
            TokenRejection::BadSignature,
            "{algorithm}"
        );
    }
}

#[test]
fn the_footer_is_authenticated() {
    for algorithm in [Algorithm::PasetoV4Public, Algorithm::PasetoV4Local] {
        let (issuer, verifier) = issuer_and_verifier(KeySet::new(key(algorithm)).unwrap());
        let challenge = issuer
            .issue(TokenKind::MfaChallenge, NewToken::new("user-1"))
            .unwrap();
        let (body, mut footer) = split(challenge.token.expose_secret());
        footer["typ"] = json!("at+jwt");
        assert_eq!(
            reject(&verifier, &with_footer(&body, &footer)),
            TokenRejection::BadSignature,
            "{algorithm}"
        );
    }
}

#[test]
fn a_wrong_implicit_assertion_is_refused() {
    for algorithm in [Algorithm::PasetoV4Public, Algorithm::PasetoV4Local] {
        let keys = Arc::new(KeySet::new(key(algorithm)).unwrap());
        let bound = |assertion: &[u8]| TokenConfig {
            implicit_assertion: Some(assertion.to_vec()),
            ..token_config()
        };
        let issuer = TokenIssuer::new(keys.clone(), bound(b"tenant-a"), clock()).unwrap();
        let token = issue(&issuer);
        let same = TokenVerifier::new(keys.clone(), bound(b"tenant-a"), clock()).unwrap();
        assert!(
            same.verify_access::<crate::token::NoCustomClaims>(&token)
                .is_ok()
        );
        let other = TokenVerifier::new(keys.clone(), bound(b"tenant-b"), clock()).unwrap();
        assert_eq!(
            reject(&other, &token),
            TokenRejection::BadSignature,
            "{algorithm}"
        );
        let none = TokenVerifier::new(keys, token_config(), clock()).unwrap();
        assert_eq!(
            reject(&none, &token),
            TokenRejection::BadSignature,
            "{algorithm}"
        );
    }
}

#[test]
fn a_token_without_footer_or_kid_names_no_key() {
    let key = key(Algorithm::PasetoV4Public);
    let (issuer, verifier) = issuer_and_verifier(KeySet::new(key.clone()).unwrap());
    let token = issue(&issuer);
    let payload = public_payload(&token);
    let PasetoMaterial::Public {
        secret: Some(secret),
        ..
    } = &paseto(&key).material
    else {
        unreachable!()
    };
    let bare =
        PublicToken::sign(secret, &serde_json::to_vec(&payload).unwrap(), None, None).unwrap();
    assert_eq!(reject(&verifier, &bare), TokenRejection::UnknownKey);
    let no_kid = sign_raw(&key, &payload, &json!({"typ": "at+jwt"}));
    assert_eq!(reject(&verifier, &no_kid), TokenRejection::UnknownKey);
}

#[test]
fn hostile_or_unknown_kids_are_just_unknown_keys() {
    let key = key(Algorithm::PasetoV4Public);
    let (issuer, verifier) = issuer_and_verifier(KeySet::new(key.clone()).unwrap());
    let payload = public_payload(&issue(&issuer));
    let stranger = self::key(Algorithm::PasetoV4Public);
    for kid in [
        "../../etc/passwd",
        "' OR 1=1 --",
        "k4.secret.AAAA",
        stranger.id().as_str(),
    ] {
        let token = sign_raw(&key, &payload, &json!({"kid": kid, "typ": "at+jwt"}));
        assert_eq!(
            reject(&verifier, &token),
            TokenRejection::UnknownKey,
            "{kid}"
        );
    }
}

#[test]
fn a_footer_that_is_not_json_is_malformed() {
    let (issuer, verifier) =
        issuer_and_verifier(KeySet::new(key(Algorithm::PasetoV4Local)).unwrap());
    let (body, _) = split(&issue(&issuer));
    let token = format!("{body}.{}", URL_SAFE_NO_PAD.encode("k4.lid.plain-text"));
    assert_eq!(reject(&verifier, &token), TokenRejection::Malformed);
}

#[test]
fn other_versions_and_purposes_are_malformed() {
    let verifier = verifier(KeySet::new(key(Algorithm::PasetoV4Public)).unwrap());
    for token in [
        "v2.local.AAAA",
        "v3.public.AAAA",
        "v4.secret.AAAA",
        "v4.public.",
        "v4.public.AAAA",
        "v4.local.!!!!",
    ] {
        assert_eq!(
            reject(&verifier, token),
            TokenRejection::Malformed,
            "{token}"
        );
    }
}

#[test]
fn paserk_keys_load_and_keep_their_id() {
    for algorithm in [Algorithm::PasetoV4Public, Algorithm::PasetoV4Local] {
        let key = key(algorithm);
        let exported = key.export_private().unwrap();
        let prefix = match algorithm {
            Algorithm::PasetoV4Public => "k4.secret.",
            _ => "k4.local.",
        };
        assert!(exported.expose_secret().starts_with(prefix));
        let loaded = Key::from_paserk(exported.expose_secret()).unwrap();
        assert_eq!(loaded.id(), key.id());
    }
    let public = key(Algorithm::PasetoV4Public);
    let exported = public.export_public().unwrap();
    assert!(exported.starts_with("k4.public."));
    let loaded = Key::from_paserk(&exported).unwrap();
    assert_eq!(loaded.id(), public.id());
    assert!(!loaded.can_sign());
}

#[test]
fn malformed_paserk_is_refused_without_panicking() {
    let zero_seed = format!("k4.secret.{}", URL_SAFE_NO_PAD.encode([0u8; 64]));
    let wrong_half = {
        let good = key(Algorithm::PasetoV4Public).export_private().unwrap();
        let body = good
            .expose_secret()
            .strip_prefix("k4.secret.")
            .unwrap()
            .to_owned();
        let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
        bytes[40] ^= 1;
        format!("k4.secret.{}", URL_SAFE_NO_PAD.encode(bytes))
    };
    for bad in [
        zero_seed.as_str(),
        wrong_half.as_str(),
        "k4.local.AAAA",
        "k4.public.",
        "k3.public.AAAA",
        "k4.pid.AAAA",
        "",
    ] {
        assert!(
            matches!(Key::from_paserk(bad), Err(Error::InvalidKey(_))),
            "{bad:.20}"
        );
    }
}

#[test]
fn paseto_keys_keep_their_paserk_id() {
    let key = key(Algorithm::PasetoV4Local);
    assert!(matches!(key.with_id("mine"), Err(Error::Config(_))));
}

#[test]
fn local_keys_have_no_public_half() {
    assert!(matches!(
        key(Algorithm::PasetoV4Local).export_public(),
        Err(Error::Config(_))
    ));
}
