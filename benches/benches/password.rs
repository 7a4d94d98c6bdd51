//! Argon2id hashing and verification at the default (OWASP) parameters, directly and through
//! the bounded `PasswordService`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use auth_core::password::{
    Argon2Params, NormalizedPassword, PasswordConfig, PasswordService, hash_password,
    verify_password,
};
use auth_core::secrecy::SecretString;
use criterion::{Criterion, criterion_group, criterion_main};

const PASSWORD: &str = "correct horse battery staple";

fn argon2(c: &mut Criterion) {
    let params = Argon2Params::default();
    let normalized = NormalizedPassword::new(PASSWORD);
    let stored = hash_password(params, &normalized).unwrap();

    let mut group = c.benchmark_group("password");
    group.sample_size(30);
    group.bench_function("hash/argon2id-m19456-t2-p1", |b| {
        b.iter(|| hash_password(params, black_box(&normalized)).unwrap())
    });
    group.bench_function("verify/argon2id-m19456-t2-p1", |b| {
        b.iter(|| verify_password(params, black_box(PASSWORD), black_box(&stored)).unwrap())
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let service = PasswordService::new(PasswordConfig::default()).unwrap();
    let secret = SecretString::from(PASSWORD);
    group.bench_function("service-verify/argon2id-m19456-t2-p1", |b| {
        b.to_async(&runtime)
            .iter(|| async { service.verify(black_box(&secret), &stored).await.unwrap() })
    });
    group.finish();
}

criterion_group!(benches, argon2);
criterion_main!(benches);
