//! Issuing and verifying through the public surface, for every algorithm.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::test_support::{issue, public_only, reject};
use super::*;
use crate::clock::ManualClock;
use crate::testing::{NOW, clock, issuer_and_verifier, key, token_config, verifier};

fn assert_roundtrip(algorithm: Algorithm) {
    let key = key(algorithm);
    let (issuer, verifier) = issuer_and_verifier(KeySet::new(key.clone()).unwrap());
    let issued = issuer
        .issue_access(
            NewToken::new("user-42")
                .session_id("session-7")
                .scope(["orders:read", "profile"])
                .amr(["pwd", "otp"]),
        )
        .unwrap();
    assert_eq!(issued.kid, *key.id());
    assert_eq!(issued.kind, TokenKind::Access);
    assert_eq!(
        issued.expires_at,
        UNIX_EPOCH + Duration::from_secs(NOW + 900)
    );

    let claims: Claims = verifier
        .verify_access(issued.token.expose_secret())
        .unwrap();
    let now = i64::try_from(NOW).unwrap();
    assert_eq!(claims.iss, "https://issuer.test");
    assert_eq!(claims.sub, "user-42");
    assert_eq!(claims.aud, Audience::from("api.test"));
    assert_eq!(
        (claims.iat, claims.nbf, claims.exp),
        (now, Some(now), now + 900)
    );
    assert_eq!(claims.jti, issued.jti);
    assert_eq!(claims.sid.as_deref(), Some("session-7"));
    assert_eq!(claims.scope, "orders:read profile");
    assert_eq!(claims.amr, ["pwd", "otp"]);
}

#[cfg(feature = "jwt")]
#[test]
fn an_eddsa_token_verifies_with_the_claims_it_was_issued_with() {
    assert_roundtrip(Algorithm::EdDsa);
}

#[cfg(feature = "jwt")]
#[test]
fn an_es256_token_verifies_with_the_claims_it_was_issued_with() {
    assert_roundtrip(Algorithm::Es256);
}

#[cfg(feature = "jwt")]
#[test]
fn an_rs256_token_verifies_with_the_claims_it_was_issued_with() {
    assert_roundtrip(Algorithm::Rs256);
}

#[cfg(feature = "jwt")]
#[test]
fn an_hs256_token_verifies_with_the_claims_it_was_issued_with() {
    assert_roundtrip(Algorithm::Hs256);
}

#[cfg(feature = "paseto")]
#[test]
fn a_paseto_v4_public_token_verifies_with_the_claims_it_was_issued_with() {
    assert_roundtrip(Algorithm::PasetoV4Public);
}

#[cfg(feature = "paseto")]
#[test]
fn a_paseto_v4_local_token_verifies_with_the_claims_it_was_issued_with() {
    assert_roundtrip(Algorithm::PasetoV4Local);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tenant {
    tenant: String,
    roles: Vec<String>,
}

#[test]
fn custom_claims_roundtrip_in_every_format() {
    for algorithm in Algorithm::all() {
        let (issuer, verifier) = issuer_and_verifier(KeySet::new(key(*algorithm)).unwrap());
        let tenant = Tenant {
            tenant: "acme".into(),
            roles: vec!["admin".into()],
        };
        let issued = issuer
            .issue_access(NewToken::new("user-1").custom(tenant.clone()))
            .unwrap();
        let claims: Claims<Tenant> = verifier
            .verify_access(issued.token.expose_secret())
            .unwrap();
        assert_eq!(claims.custom, tenant, "{algorithm}");
        let missing = verifier.verify_access::<Tenant>(&issue(&issuer));
        assert!(
            matches!(missing, Err(Error::InvalidToken(TokenRejection::Malformed))),
            "{algorithm}: a token without the custom claims does not parse as them"
        );
    }
}

#[test]
fn custom_claims_that_are_not_an_object_are_refused_at_issue() {
    let (issuer, _) = issuer_and_verifier(KeySet::new(key(Algorithm::default())).unwrap());
    let result = issuer.issue_access(NewToken::new("user-1").custom(42));
    assert!(matches!(result, Err(Error::Config(_))));
}

#[test]
fn an_mfa_challenge_is_never_accepted_as_an_access_token() {
    for algorithm in Algorithm::all() {
        let (issuer, verifier) = issuer_and_verifier(KeySet::new(key(*algorithm)).unwrap());
        let challenge = issuer
            .issue(TokenKind::MfaChallenge, NewToken::new("user-1"))
            .unwrap();
        let token = challenge.token.expose_secret();
        assert_eq!(
            reject(&verifier, token),
            TokenRejection::WrongType,
            "{algorithm}"
        );
        let claims: Claims = verifier.verify(token, TokenKind::MfaChallenge).unwrap();
        assert_eq!(
            claims.exp - claims.iat,
            300,
            "challenges live 300 s by default"
        );
    }
}

#[test]
fn an_access_token_is_never_accepted_as_an_mfa_challenge() {
    for algorithm in Algorithm::all() {
        let (issuer, verifier) = issuer_and_verifier(KeySet::new(key(*algorithm)).unwrap());
        let refused = verifier.verify::<NoCustomClaims>(&issue(&issuer), TokenKind::MfaChallenge);
        assert!(
            matches!(refused, Err(Error::InvalidToken(TokenRejection::WrongType))),
            "{algorithm}"
        );
    }
}

#[cfg(feature = "jwt")]
#[test]
fn an_id_token_is_signed_in_its_algorithm_for_its_audience_and_is_never_an_access_token() {
    let rs256 = key(Algorithm::Rs256);
    let keys = KeySet::new(key(Algorithm::EdDsa))
        .unwrap()
        .with_verification_key(rs256.clone())
        .unwrap();
    let (issuer, verifier) = issuer_and_verifier(keys);
    let issued = issuer
        .issue_as(
            Algorithm::Rs256,
            TokenKind::IdToken,
            NewToken::new("user-1").audience("client-1"),
        )
        .unwrap();
    assert_eq!(issued.kid, *rs256.id());
    let token = issued.token.expose_secret();
    assert_eq!(reject(&verifier, token), TokenRejection::WrongType);
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["alg"], "RS256");
    // Audience is checked by whoever verifies an ID token: this verifier's is not the client.
    let refused = verifier.verify::<NoCustomClaims>(token, TokenKind::IdToken);
    assert!(
        matches!(
            refused,
            Err(Error::InvalidToken(TokenRejection::WrongAudience))
        ),
        "{refused:?}"
    );
    // An algorithm the set has no signing key for is a configuration error, not a token.
    assert!(matches!(
        issuer.issue_as(
            Algorithm::Es256,
            TokenKind::IdToken,
            NewToken::new("user-1")
        ),
        Err(Error::Config(_))
    ));
}

/// An issuer and a verifier sharing one clock that the test moves.
fn with_clock(algorithm: Algorithm) -> (TokenIssuer, TokenVerifier, Arc<ManualClock>) {
    let keys = Arc::new(KeySet::new(key(algorithm)).unwrap());
    let clock = clock();
    let issuer = TokenIssuer::new(keys.clone(), token_config(), clock.clone()).unwrap();
    let verifier = TokenVerifier::new(keys, token_config(), clock.clone()).unwrap();
    (issuer, verifier, clock)
}

#[test]
fn an_expired_token_is_refused_once_the_leeway_has_passed() {
    for algorithm in Algorithm::all() {
        let (issuer, verifier, clock) = with_clock(*algorithm);
        let token = issue(&issuer);
        clock.advance(Duration::from_secs(900 + 29));
        assert!(
            verifier.verify_access::<NoCustomClaims>(&token).is_ok(),
            "{algorithm}: within the leeway"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            reject(&verifier, &token),
            TokenRejection::Expired,
            "{algorithm}"
        );
    }
}

#[test]
fn a_token_from_the_future_is_not_yet_valid() {
    for algorithm in Algorithm::all() {
        let (issuer, verifier, clock) = with_clock(*algorithm);
        let token = issue(&issuer);
        clock.rewind(Duration::from_secs(30));
        assert!(
            verifier.verify_access::<NoCustomClaims>(&token).is_ok(),
            "{algorithm}: within the leeway"
        );
        clock.rewind(Duration::from_secs(1));
        assert_eq!(
            reject(&verifier, &token),
            TokenRejection::NotYetValid,
            "{algorithm}"
        );
    }
}

#[test]
fn without_leeway_a_token_expires_at_its_exact_expiry() {
    let keys = Arc::new(KeySet::new(key(Algorithm::default())).unwrap());
    let clock = clock();
    let issuer = TokenIssuer::new(keys.clone(), token_config(), clock.clone()).unwrap();
    let strict = TokenConfig {
        leeway: Duration::ZERO,
        ..token_config()
    };
    let verifier = TokenVerifier::new(keys, strict, clock.clone()).unwrap();
    let token = issue(&issuer);
    clock.advance(Duration::from_secs(900));
    assert_eq!(reject(&verifier, &token), TokenRejection::Expired);
}

#[test]
fn another_issuer_is_refused() {
    for algorithm in Algorithm::all() {
        let keys = Arc::new(KeySet::new(key(*algorithm)).unwrap());
        let issuer = TokenIssuer::new(
            keys.clone(),
            TokenConfig {
                issuer: "https://evil.test".into(),
                ..token_config()
            },
            clock(),
        )
        .unwrap();
        let verifier = TokenVerifier::new(keys, token_config(), clock()).unwrap();
        assert_eq!(
            reject(&verifier, &issue(&issuer)),
            TokenRejection::WrongIssuer,
            "{algorithm}"
        );
    }
}

#[test]
fn another_audience_is_refused() {
    for algorithm in Algorithm::all() {
        let keys = Arc::new(KeySet::new(key(*algorithm)).unwrap());
        let issuer = TokenIssuer::new(keys.clone(), token_config(), clock()).unwrap();
        let verifier = TokenVerifier::new(
            keys,
            TokenConfig {
                audience: "billing.test".into(),
                ..token_config()
            },
            clock(),
        )
        .unwrap();
        assert_eq!(
            reject(&verifier, &issue(&issuer)),
            TokenRejection::WrongAudience,
            "{algorithm}"
        );
    }
}

/// A second key of the same algorithm, with another id (the RSA fixture is renamed).
fn another_key(first: &Key) -> Key {
    let second = key(first.algorithm());
    if second.id() == first.id() {
        second.with_id("second").unwrap()
    } else {
        second
    }
}

#[test]
fn a_token_signed_by_the_previous_key_still_verifies_after_rotation() {
    for algorithm in Algorithm::all() {
        let first = key(*algorithm);
        let mut keys = KeySet::new(first.clone()).unwrap();
        let (old_issuer, _) = issuer_and_verifier(keys.clone());
        let old_token = issue(&old_issuer);

        let second = another_key(&first);
        keys.rotate(second.clone()).unwrap();
        let (issuer, verifier) = issuer_and_verifier(keys);
        let new = issuer.issue_access(NewToken::new("user-1")).unwrap();
        assert_eq!(new.kid, *second.id(), "{algorithm}");
        assert!(verifier.verify_access::<NoCustomClaims>(&old_token).is_ok());
        assert!(
            verifier
                .verify_access::<NoCustomClaims>(new.token.expose_secret())
                .is_ok()
        );
    }
}

#[test]
fn a_retired_key_no_longer_verifies() {
    for algorithm in Algorithm::all() {
        let first = key(*algorithm);
        let mut keys = KeySet::new(first.clone()).unwrap();
        let (old_issuer, _) = issuer_and_verifier(keys.clone());
        let old_token = issue(&old_issuer);
        keys.rotate(another_key(&first)).unwrap();
        keys.retire(first.id().as_str()).unwrap();
        let verifier = verifier(keys);
        assert_eq!(
            reject(&verifier, &old_token),
            TokenRejection::UnknownKey,
            "{algorithm}"
        );
    }
}

#[test]
fn a_verifier_works_with_verification_keys_only() {
    for algorithm in Algorithm::all() {
        let private = key(*algorithm);
        let (issuer, _) = issuer_and_verifier(KeySet::new(private.clone()).unwrap());
        // Shared-secret keys verify with the secret itself; others with their public half.
        let verification = public_only(&private).unwrap_or(private);
        let verifier = verifier(
            KeySet::verification_only()
                .with_verification_key(verification)
                .unwrap(),
        );
        let claims: Claims = verifier.verify_access(&issue(&issuer)).unwrap();
        assert_eq!(claims.sub, "user-1", "{algorithm}");
    }
}

#[test]
fn issuing_without_an_active_key_is_a_config_error() {
    let keys = KeySet::verification_only()
        .with_verification_key(key(Algorithm::default()))
        .unwrap();
    let result = TokenIssuer::new(Arc::new(keys), token_config(), clock());
    assert!(matches!(result, Err(Error::Config(_))));
}

#[test]
fn an_invalid_configuration_is_refused_at_construction() {
    let keys = Arc::new(KeySet::new(key(Algorithm::default())).unwrap());
    let broken = TokenConfig {
        audience: String::new(),
        ..token_config()
    };
    assert!(matches!(
        TokenIssuer::new(keys.clone(), broken.clone(), clock()),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        TokenVerifier::new(keys, broken, clock()),
        Err(Error::Config(_))
    ));
}

#[test]
fn bad_issue_requests_are_refused() {
    let (issuer, _) = issuer_and_verifier(KeySet::new(key(Algorithm::default())).unwrap());
    for request in [
        NewToken::new(""),
        NewToken::new("user-1").scope(["read write"]),
        NewToken::new("user-1").ttl(Duration::from_millis(10)),
    ] {
        assert!(matches!(
            issuer.issue_access(request),
            Err(Error::Config(_))
        ));
    }
}

#[test]
fn the_lifetime_can_be_set_per_token() {
    let (issuer, verifier) = issuer_and_verifier(KeySet::new(key(Algorithm::default())).unwrap());
    let issued = issuer
        .issue_access(NewToken::new("user-1").ttl(Duration::from_secs(60)))
        .unwrap();
    let claims: Claims = verifier
        .verify_access(issued.token.expose_secret())
        .unwrap();
    assert_eq!(claims.exp - claims.iat, 60);
}

#[test]
fn an_oversized_token_is_refused_before_parsing() {
    let verifier = verifier(KeySet::new(key(Algorithm::default())).unwrap());
    let huge = "x".repeat(token_config().max_token_len + 1);
    assert_eq!(reject(&verifier, &huge), TokenRejection::TooLarge);
    let paseto_shaped = format!("v4.public.{huge}");
    assert_eq!(reject(&verifier, &paseto_shaped), TokenRejection::TooLarge);
}

#[test]
fn garbage_is_refused_as_malformed() {
    let verifier = verifier(KeySet::new(key(Algorithm::default())).unwrap());
    for garbage in [
        "",
        "x",
        "a.b.c",
        "Bearer abc",
        "v4.public",
        "\u{0}\u{1}",
        "日本語.トークン.です",
    ] {
        assert_eq!(
            reject(&verifier, garbage),
            TokenRejection::Malformed,
            "{garbage:?}"
        );
    }
}

#[cfg(all(feature = "jwt", feature = "paseto"))]
#[test]
fn a_key_of_the_other_format_is_an_algorithm_mismatch() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let jwt_key = key(Algorithm::EdDsa);
    let paseto_key = key(Algorithm::PasetoV4Public);
    let keys = KeySet::new(jwt_key.clone())
        .unwrap()
        .with_verification_key(paseto_key.clone())
        .unwrap();
    let (issuer, verifier) = issuer_and_verifier(keys.clone());

    // A JWT whose kid names the PASETO key.
    let token = issue(&issuer);
    let mut parts = token.splitn(2, '.');
    let header = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let mut header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"] = serde_json::json!(paseto_key.id().as_str());
    let forged = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
        parts.next().unwrap()
    );
    assert_eq!(
        reject(&verifier, &forged),
        TokenRejection::AlgorithmMismatch
    );

    // A PASETO token whose footer names the JWT key.
    let (paseto_issuer, _) = issuer_and_verifier(KeySet::new(paseto_key).unwrap());
    let token = issue(&paseto_issuer);
    let (body, _) = token.rsplit_once('.').unwrap();
    let footer = serde_json::json!({"kid": jwt_key.id().as_str(), "typ": "at+jwt"});
    let forged = format!(
        "{body}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&footer).unwrap())
    );
    assert_eq!(
        reject(&verifier, &forged),
        TokenRejection::AlgorithmMismatch
    );
}

#[test]
fn jti_is_128_random_bits_in_base64url() {
    let (issuer, _) = issuer_and_verifier(KeySet::new(key(Algorithm::default())).unwrap());
    let first = issuer.issue_access(NewToken::new("user-1")).unwrap();
    let second = issuer.issue_access(NewToken::new("user-1")).unwrap();
    assert_eq!(first.jti.len(), 22, "16 bytes, unpadded base64url");
    assert!(
        first
            .jti
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_ne!(first.jti, second.jti);
}

#[test]
fn debug_output_never_shows_tokens_or_key_material() {
    for algorithm in Algorithm::all() {
        let key = key(*algorithm);
        let secret = key.export_private().unwrap();
        let keys = KeySet::new(key.clone()).unwrap();
        let (issuer, verifier) = issuer_and_verifier(keys.clone());
        let issued = issuer.issue_access(NewToken::new("user-1")).unwrap();
        let token = issued.token.expose_secret();

        let debug = format!("{key:?} {keys:?} {issuer:?} {verifier:?} {issued:?}");
        assert!(!debug.contains(token), "{algorithm}: token in {debug}");
        let signature = token.rsplit('.').find(|part| part.len() > 20).unwrap();
        assert!(!debug.contains(signature), "{algorithm}");
        for line in secret.expose_secret().lines() {
            let material = line.rsplit('.').next().unwrap();
            if !material.starts_with("-----") && material.len() > 8 {
                assert!(
                    !debug.contains(material),
                    "{algorithm}: key material in {debug}"
                );
            }
        }
        assert!(debug.contains("[redacted]"));
        assert!(debug.contains(key.id().as_str()));
    }
}

/// Why `verifier` refuses `token` through its cache; panics if it accepts it.
fn reject_cached(verifier: &TokenVerifier, token: &str) -> TokenRejection {
    match verifier.verify_access_cached(token) {
        Err(Error::InvalidToken(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn the_cache_answers_a_repeat_with_the_same_claims() {
    for algorithm in Algorithm::all() {
        let (issuer, verifier, _) = with_clock(*algorithm);
        let verifier = verifier.with_cache(16);
        let token = issue(&issuer);
        let first = verifier.verify_access_cached(&token).unwrap();
        assert_eq!(verifier.cached_tokens(), 1, "{algorithm}");
        let again = verifier.verify_access_cached(&token).unwrap();
        assert_eq!(first, again, "{algorithm}");
        assert_eq!(
            first,
            verifier.verify_access::<NoCustomClaims>(&token).unwrap()
        );
        // Clones share the cache.
        assert_eq!(verifier.clone().cached_tokens(), 1, "{algorithm}");
    }
}

#[test]
fn a_cached_token_expires_at_the_same_second_as_an_uncached_one() {
    for algorithm in Algorithm::all() {
        let (issuer, verifier, clock) = with_clock(*algorithm);
        let verifier = verifier.with_cache(16);
        let token = issue(&issuer);
        verifier.verify_access_cached(&token).unwrap();
        clock.advance(Duration::from_secs(900 + 29));
        assert!(verifier.verify_access_cached(&token).is_ok(), "{algorithm}");
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            reject_cached(&verifier, &token),
            TokenRejection::Expired,
            "{algorithm}"
        );
        assert_eq!(verifier.cached_tokens(), 0, "{algorithm}: dropped");
    }
}

#[test]
fn a_cached_token_is_checked_against_the_clock_on_every_hit() {
    // The clock stepping back (an NTP correction) makes a cached token not yet valid, as it
    // would an uncached one.
    let (issuer, verifier, clock) = with_clock(Algorithm::default());
    let verifier = verifier.with_cache(16);
    let token = issue(&issuer);
    verifier.verify_access_cached(&token).unwrap();
    clock.rewind(Duration::from_secs(31));
    assert_eq!(
        reject_cached(&verifier, &token),
        TokenRejection::NotYetValid
    );
}

#[test]
fn only_tokens_that_verified_are_cached() {
    for algorithm in Algorithm::all() {
        let (issuer, verifier, _) = with_clock(*algorithm);
        let verifier = verifier.with_cache(16);
        let token = issue(&issuer);
        // One byte changed in the signature or tag: refused, and nothing is cached.
        let mut tampered = token.clone().into_bytes();
        let at = tampered.len() - 3;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(
            verifier.verify_access_cached(&tampered).is_err(),
            "{algorithm}"
        );
        assert_eq!(verifier.cached_tokens(), 0, "{algorithm}");
        // The genuine token is cached, and the tampered one is still refused afterwards.
        verifier.verify_access_cached(&token).unwrap();
        assert!(
            verifier.verify_access_cached(&tampered).is_err(),
            "{algorithm}"
        );
        assert_eq!(verifier.cached_tokens(), 1, "{algorithm}");
    }
}

#[test]
fn the_cache_checks_the_audience_asked_for_on_every_hit() {
    // One cache serves the server's audience and a resource server's own (introspection): an
    // entry vouches for the signature only.
    let (issuer, verifier, _) = with_clock(Algorithm::default());
    let verifier = verifier.with_cache(16);
    let theirs = issuer
        .issue_access(NewToken::new("service").audience("https://rs.test"))
        .unwrap();
    let theirs = theirs.token.expose_secret();
    let claims = verifier
        .verify_access_cached_for(theirs, "https://rs.test")
        .unwrap();
    assert_eq!(claims.aud, Audience::from("https://rs.test"));
    assert_eq!(verifier.cached_tokens(), 1);
    // A repeat is answered from the cache, with the same claims.
    assert_eq!(
        verifier
            .verify_access_cached_for(theirs, "https://rs.test")
            .unwrap(),
        claims
    );
    assert_eq!(verifier.cached_tokens(), 1);
    for refused in [
        verifier.verify_access_cached_for(theirs, "https://other.test"),
        verifier.verify_access_cached(theirs),
    ] {
        assert!(
            matches!(
                refused,
                Err(Error::InvalidToken(TokenRejection::WrongAudience))
            ),
            "{refused:?}"
        );
    }
    // The server's own token is not one for the resource server, cached or not.
    let ours = issue(&issuer);
    verifier.verify_access_cached(&ours).unwrap();
    assert!(matches!(
        verifier.verify_access_cached_for(&ours, "https://rs.test"),
        Err(Error::InvalidToken(TokenRejection::WrongAudience))
    ));
    // Without a cache, the same answers.
    let uncached = verifier.clone().with_cache(0);
    assert!(
        uncached
            .verify_access_cached_for(theirs, "https://rs.test")
            .is_ok()
    );
    assert!(matches!(
        uncached.verify_access_cached_for(theirs, "https://other.test"),
        Err(Error::InvalidToken(TokenRejection::WrongAudience))
    ));
}

#[test]
fn the_cache_never_accepts_a_token_of_another_kind() {
    let (issuer, verifier, _) = with_clock(Algorithm::default());
    let verifier = verifier.with_cache(16);
    let challenge = issuer
        .issue(TokenKind::MfaChallenge, NewToken::new("user-1"))
        .unwrap();
    let challenge = challenge.token.expose_secret();
    assert_eq!(
        reject_cached(&verifier, challenge),
        TokenRejection::WrongType
    );
    assert_eq!(
        reject_cached(&verifier, challenge),
        TokenRejection::WrongType
    );
    assert_eq!(verifier.cached_tokens(), 0);
}

#[test]
fn the_cache_is_bounded_and_can_be_turned_off() {
    let (issuer, verifier, _) = with_clock(Algorithm::default());
    let bounded = verifier.clone().with_cache(3);
    for i in 0..10 {
        let issued = issuer
            .issue_access(NewToken::new(format!("user-{i}")))
            .unwrap();
        let claims = bounded
            .verify_access_cached(issued.token.expose_secret())
            .unwrap();
        assert_eq!(claims.sub, format!("user-{i}"));
        assert!((1..=3).contains(&bounded.cached_tokens()));
    }
    let off = verifier.with_cache(0);
    off.verify_access_cached(&issue(&issuer)).unwrap();
    assert_eq!(off.cached_tokens(), 0);
}

#[test]
fn an_oversized_token_is_refused_before_it_is_hashed() {
    let (_, verifier, _) = with_clock(Algorithm::default());
    let verifier = verifier.with_cache(16);
    let huge = "a".repeat(token_config().max_token_len + 1);
    assert_eq!(reject_cached(&verifier, &huge), TokenRejection::TooLarge);
}
