//! Issuing and verifying an access token in every format, beside the bare library primitive
//! each verification wraps (measured in the same run, on the same token and key), and a hit in
//! the verified-token cache.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use auth_core::clock::SystemClock;
use auth_core::secrecy::ExposeSecret as _;
use auth_core::testing::{AUDIENCE, ISSUER, token_config};
use auth_core::token::{Algorithm, Claims, Key, KeySet, NewToken, TokenIssuer, TokenVerifier};
use criterion::{Criterion, criterion_group, criterion_main};
use pasetors::claims::ClaimsValidationRules;
use pasetors::keys::{AsymmetricPublicKey, SymmetricKey};
use pasetors::token::UntrustedToken;
use pasetors::version4::V4;
use pasetors::{Local, Public};

/// What the library alone does to accept a token: parse, check the signature or tag with a key
/// built once, deserialize and validate the claims (expiry, issuer, audience).
enum Primitive {
    Jwt(jsonwebtoken::DecodingKey, jsonwebtoken::Validation),
    PasetoPublic(AsymmetricPublicKey<V4>, ClaimsValidationRules),
    PasetoLocal(SymmetricKey<V4>, ClaimsValidationRules),
}

impl Primitive {
    fn for_key(key: &Key, hmac_secret: &[u8]) -> Self {
        let jwt = |algorithm, decoding| {
            let mut validation = jsonwebtoken::Validation::new(algorithm);
            validation.set_issuer(&[ISSUER]);
            validation.set_audience(&[AUDIENCE]);
            Self::Jwt(decoding, validation)
        };
        let paseto_rules = || {
            let mut rules = ClaimsValidationRules::new();
            rules.validate_issuer_with(ISSUER);
            rules.validate_audience_with(AUDIENCE);
            rules
        };
        let public = || key.export_public().unwrap();
        match key.algorithm() {
            Algorithm::EdDsa => jwt(
                jsonwebtoken::Algorithm::EdDSA,
                jsonwebtoken::DecodingKey::from_ed_pem(public().as_bytes()).unwrap(),
            ),
            Algorithm::Es256 => jwt(
                jsonwebtoken::Algorithm::ES256,
                jsonwebtoken::DecodingKey::from_ec_pem(public().as_bytes()).unwrap(),
            ),
            Algorithm::Rs256 => jwt(
                jsonwebtoken::Algorithm::RS256,
                jsonwebtoken::DecodingKey::from_rsa_pem(public().as_bytes()).unwrap(),
            ),
            Algorithm::Hs256 => jwt(
                jsonwebtoken::Algorithm::HS256,
                jsonwebtoken::DecodingKey::from_secret(hmac_secret),
            ),
            Algorithm::PasetoV4Public => Self::PasetoPublic(
                AsymmetricPublicKey::<V4>::try_from(public().as_str()).unwrap(),
                paseto_rules(),
            ),
            Algorithm::PasetoV4Local => {
                let paserk = key.export_private().unwrap();
                Self::PasetoLocal(
                    SymmetricKey::<V4>::try_from(paserk.expose_secret()).unwrap(),
                    paseto_rules(),
                )
            }
            other => panic!("no primitive for {other:?}"),
        }
    }

    /// Verifies `token`; panics if the library refuses it, so the bench measures acceptance.
    fn verify(&self, token: &str) -> usize {
        match self {
            Self::Jwt(key, validation) => {
                let data = jsonwebtoken::decode::<Claims>(token, key, validation).unwrap();
                data.claims.sub.len()
            }
            Self::PasetoPublic(key, rules) => {
                let untrusted = UntrustedToken::<Public, V4>::try_from(token).unwrap();
                let trusted = pasetors::public::verify(key, &untrusted, rules, None, None).unwrap();
                trusted.payload().len()
            }
            Self::PasetoLocal(key, rules) => {
                let untrusted = UntrustedToken::<Local, V4>::try_from(token).unwrap();
                let trusted = pasetors::local::decrypt(key, &untrusted, rules, None, None).unwrap();
                trusted.payload().len()
            }
        }
    }
}

fn tokens(c: &mut Criterion) {
    let config = token_config();
    let clock = Arc::new(SystemClock);
    let hmac_secret = [7u8; 32];
    for &algorithm in Algorithm::all() {
        let key = match algorithm {
            Algorithm::Hs256 => Key::from_hmac_secret(&hmac_secret).unwrap(),
            other => Key::generate(other).unwrap(),
        };
        let primitive = Primitive::for_key(&key, &hmac_secret);
        let keys = Arc::new(KeySet::new(key).unwrap());
        let issuer = TokenIssuer::new(keys.clone(), config.clone(), clock.clone()).unwrap();
        let verifier = TokenVerifier::new(keys, config.clone(), clock.clone()).unwrap();
        let cached = verifier.clone().with_cache(10_000);
        let new_token = || {
            NewToken::new("user-42")
                .session_id("session-1")
                .scope(["orders:read", "orders:write"])
                .amr(["pwd"])
        };
        let issued = issuer.issue_access(new_token()).unwrap();
        let token = issued.token.expose_secret().to_owned();
        // Both accept the very token measured.
        primitive.verify(&token);
        cached.verify_access_cached(&token).unwrap();

        let mut group = c.benchmark_group(format!("token/{}", algorithm.name()));
        group.bench_function("issue", |b| {
            b.iter(|| issuer.issue_access(black_box(new_token())).unwrap())
        });
        group.bench_function("verify", |b| {
            b.iter(|| {
                let claims: Claims = verifier.verify_access(black_box(&token)).unwrap();
                claims
            })
        });
        group.bench_function("primitive", |b| {
            b.iter(|| primitive.verify(black_box(&token)))
        });
        group.bench_function("verify_cached_hit", |b| {
            b.iter(|| cached.verify_access_cached(black_box(&token)).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, tokens);
criterion_main!(benches);
