//! Refresh rotation on PostgreSQL and session lookup on Redis, against the real services named
//! by `AUTH_TEST_DATABASE_URL` and `AUTH_TEST_REDIS_URL` (each bench skips, saying so, without
//! its variable). PostgreSQL work happens in a schema of its own, dropped at the end; Redis keys
//! carry a prefix of their own and are deleted at the end.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::id::{Amr, FamilyId, SecretHash, SessionId, UserId};
use auth_core::refresh::{RefreshFamily, RefreshTokenRecord, Rotation};
use auth_core::store::redis::{RedisConfig, RedisStore};
use auth_core::store::{RefreshStore, Session, SessionStore, User, UserStore};
use criterion::{Criterion, criterion_group, criterion_main};
use support::scratch::Scratch;
use tokio::runtime::Runtime;

mod support {
    pub(crate) mod scratch;
}

const DAY: Duration = Duration::from_secs(24 * 3600);

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn hash(n: u64) -> SecretHash {
    SecretHash::of(&n.to_le_bytes())
}

fn refresh_rotation_on_postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("AUTH_TEST_DATABASE_URL") else {
        eprintln!("SKIPPED: AUTH_TEST_DATABASE_URL is not set");
        return;
    };
    let rt = runtime();
    let scratch = Scratch::create(&rt, &url, "refresh");
    let store = scratch.store.clone();
    let counter = Arc::new(AtomicU64::new(1));
    let current = rt.block_on(async {
        let user = User {
            id: UserId::new(),
            email: "bench@example.com".into(),
            password_hash: "$argon2id$bench".into(),
            disabled: false,
            created_at: t0(),
            epoch: 0,
            email_verified_at: None,
            locale: None,
        };
        store.create_user(user.clone()).await.unwrap();
        let family = RefreshFamily {
            id: FamilyId::new(),
            user_id: user.id,
            session_id: SessionId::from_secret(b"bench session"),
            created_at: t0(),
            expires_at: t0() + 30 * DAY,
            epoch: 0,
        };
        let first = RefreshTokenRecord {
            hash: hash(0),
            issued_at: t0(),
            idle_expires_at: t0() + DAY,
        };
        store.create_family(family, first).await.unwrap();
        hash(0)
    });
    let current = Arc::new(std::sync::Mutex::new(current));
    c.bench_function("refresh/rotate/postgres", |b| {
        b.to_async(&rt).iter(|| {
            let store = store.clone();
            let counter = counter.clone();
            let current = current.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let presented = *current.lock().unwrap();
                let successor = RefreshTokenRecord {
                    hash: hash(n),
                    issued_at: t0(),
                    idle_expires_at: t0() + DAY,
                };
                let rotation = store
                    .rotate(&presented, successor, t0(), Duration::ZERO)
                    .await
                    .unwrap();
                assert!(matches!(rotation, Rotation::Rotated(_)));
                *current.lock().unwrap() = hash(n);
                black_box(rotation)
            }
        })
    });
    scratch.drop_in(&rt);
}

fn session_lookup_on_redis(c: &mut Criterion) {
    let Ok(url) = std::env::var("AUTH_TEST_REDIS_URL") else {
        eprintln!("SKIPPED: AUTH_TEST_REDIS_URL is not set");
        return;
    };
    let rt = runtime();
    let mut config = RedisConfig::from_url(url);
    config.key_prefix = format!("auth-bench:{:016x}:", rand_u64());
    let store = rt.block_on(RedisStore::connect(config)).unwrap();
    let user = UserId::new();
    let session = Session {
        id: SessionId::from_secret(b"bench session"),
        user_id: user,
        amr: Amr::Password,
        created_at: t0(),
        auth_time: t0(),
        flagged: false,
        client: None,
        user_agent: None,
        grant: None,
        last_used_at: t0(),
        idle_expires_at: t0() + DAY,
        expires_at: t0() + 30 * DAY,
    };
    rt.block_on(store.create_session(session.clone())).unwrap();
    c.bench_function("session/lookup/redis", |b| {
        b.to_async(&rt).iter(|| async {
            let found = store.session(&session.id, t0()).await.unwrap();
            assert!(found.is_some());
            black_box(found)
        })
    });
    rt.block_on(async {
        store.revoke_sessions_of(&user, None).await.unwrap();
    });
}

fn rand_u64() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

criterion_group!(
    benches,
    refresh_rotation_on_postgres,
    session_lookup_on_redis
);
criterion_main!(benches);
