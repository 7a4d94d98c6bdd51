//! The flows that take an address, for an address with an account and one without: the
//! answers are the same (tests prove it), and this measures how close their costs are, on the
//! memory stores and on PostgreSQL (`AUTH_TEST_DATABASE_URL`, a schema of its own, dropped at
//! the end). The mail limits are lifted so the bench measures the work, not the refusals.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auth_core::clock::SystemClock;
use auth_core::flows::{
    Authenticator, EmailConfig, EmailVerification, LoginOutcome, Origin, Stores,
};
use auth_core::secrecy::{ExposeSecret, SecretString};
use auth_core::throttle::{Throttle, ThrottlePolicy};
use criterion::{Criterion, criterion_group, criterion_main};
use support::scratch::Scratch;
use tokio::runtime::Runtime;

mod support {
    pub(crate) mod scratch;
}

const HOUR: Duration = Duration::from_secs(3600);
const PASSWORD: &str = "correct horse battery staple";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// An authenticator over `stores` with verification required and every rate lifted.
fn authenticator(stores: Stores) -> Authenticator {
    let unlimited = || ThrottlePolicy::rate(HOUR, 100_000_000).unwrap();
    let throttle = Throttle::new(stores.throttle.clone(), Arc::new(SystemClock))
        .with_mail_policies(unlimited(), unlimited())
        .with_registration_policy(unlimited())
        .with_registrations_overall(unlimited());
    let mut config = auth_core::testing::authenticator_config();
    config.email = EmailConfig {
        verification: EmailVerification::Required,
        ..EmailConfig::default()
    };
    auth_core::testing::authenticator_builder(config)
        .stores(stores)
        .throttle(throttle)
        .build()
        .unwrap()
}

static NEXT: AtomicU64 = AtomicU64::new(0);

fn fresh_address() -> String {
    format!(
        "nobody-{}@example.com",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Each flow, for the known address and for a fresh unknown one per call.
fn flows(c: &mut Criterion, backend: &str, rt: &Runtime, stores: Stores) {
    let auth = &authenticator(stores.clone());
    let origin = Origin::default();
    let password = SecretString::from(PASSWORD);
    let known = format!("known-{backend}@example.com");
    let mover = format!("mover-{backend}@example.com");
    let principal = rt.block_on(async {
        auth.register(&known, &password).await.unwrap();
        let user = auth.register(&mover, &password).await.unwrap();
        // Verified (through the store: set-up, not measured) so it signs in under `required`.
        stores
            .users
            .mark_email_verified(&user.id, &user.email, std::time::SystemTime::now())
            .await
            .unwrap();
        let LoginOutcome::Authenticated(tokens) =
            auth.login(&mover, &password, None).await.unwrap()
        else {
            panic!("no second factor is enrolled");
        };
        auth.authenticate(tokens.access_token.expose_secret())
            .await
            .unwrap()
    });

    let mut group = c.benchmark_group(format!("email/{backend}"));
    group.measurement_time(Duration::from_secs(8));
    for (name, known_address) in [("known", true), ("unknown", false)] {
        let address = || {
            if known_address {
                known.clone()
            } else {
                fresh_address()
            }
        };
        group.bench_function(format!("password_forgot/{name}"), |b| {
            b.to_async(rt)
                .iter(|| async { auth.forgot_password(&address(), &origin).await.unwrap() });
        });
        group.bench_function(format!("login_email/{name}"), |b| {
            b.to_async(rt)
                .iter(|| async { auth.request_login_email(&address(), &origin).await.unwrap() });
        });
        group.bench_function(format!("email_change/{name}"), |b| {
            b.to_async(rt).iter(|| async {
                auth.request_email_change(&principal, &address(), &origin)
                    .await
                    .unwrap()
            });
        });
    }
    group.finish();

    // A sign-up hashes the password either way: tens of milliseconds, fewer samples.
    let mut group = c.benchmark_group(format!("email/{backend}"));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    for (name, known_address) in [("known", true), ("unknown", false)] {
        group.bench_function(format!("register_required/{name}"), |b| {
            b.to_async(rt).iter(|| async {
                let email = if known_address {
                    known.clone()
                } else {
                    fresh_address()
                };
                auth.sign_up(&email, &password, &origin).await.unwrap()
            });
        });
    }
    group.finish();
}

fn on_memory(c: &mut Criterion) {
    let rt = runtime();
    flows(c, "memory", &rt, Stores::memory());
}

fn on_postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("AUTH_TEST_DATABASE_URL") else {
        eprintln!("SKIPPED: AUTH_TEST_DATABASE_URL is not set");
        return;
    };
    let rt = runtime();
    let scratch = Scratch::create(&rt, &url, "email");
    flows(c, "postgres", &rt, Stores::postgres(scratch.store.clone()));
    scratch.drop_in(&rt);
}

criterion_group!(benches, on_memory, on_postgres);
criterion_main!(benches);
