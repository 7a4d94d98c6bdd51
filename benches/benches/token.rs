//! Issuing and verifying an access token in every format.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use auth_core::clock::SystemClock;
use auth_core::secrecy::ExposeSecret as _;
use auth_core::token::{
    Algorithm, Claims, Key, KeySet, NewToken, TokenConfig, TokenIssuer, TokenVerifier,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn tokens(c: &mut Criterion) {
    let config = TokenConfig::new("https://auth.example.com", "api");
    let clock = Arc::new(SystemClock);
    for &algorithm in Algorithm::all() {
        let keys = Arc::new(KeySet::new(Key::generate(algorithm).unwrap()).unwrap());
        let issuer = TokenIssuer::new(keys.clone(), config.clone(), clock.clone()).unwrap();
        let verifier = TokenVerifier::new(keys, config.clone(), clock.clone()).unwrap();
        let new_token = || {
            NewToken::new("user-42")
                .session_id("session-1")
                .scope(["orders:read", "orders:write"])
                .amr(["pwd"])
        };
        let issued = issuer.issue_access(new_token()).unwrap();
        let token = issued.token.expose_secret().to_owned();

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
        group.finish();
    }
}

criterion_group!(benches, tokens);
criterion_main!(benches);
