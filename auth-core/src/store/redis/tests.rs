//! Tests against a real Redis at `AUTH_TEST_REDIS_URL`; each uses its own key prefix and
//! deletes its keys when done. Without the variable they say so loudly and pass.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fred::prelude::{HashesInterface, KeysInterface, SortedSetsInterface};

use super::{RedisConfig, RedisStore, decode_time, encode_time, redact_url};
use crate::error::Error;
use crate::id::{Amr, SessionId, UserId};
use crate::store::memory::MemoryStore;
use crate::store::{RevocationStore, Session, SessionStore, ThrottleStore, conformance};

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

fn redis_url() -> Option<String> {
    crate::testing::needs::redis_url()
}

fn random_prefix() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("auth-test:{}:", data_encoding::HEXLOWER.encode(&bytes))
}

fn test_config(url: &str) -> RedisConfig {
    let mut config = RedisConfig::from_url(url);
    config.key_prefix = random_prefix();
    config.pool_size = 2;
    config.command_timeout = Duration::from_millis(500);
    config.connect_timeout = Duration::from_secs(2);
    config
}

/// A store under a fresh prefix whose keys are deleted when it is dropped, even by a failing
/// test.
pub(crate) struct Fixture {
    pub(crate) store: RedisStore,
}

impl Fixture {
    async fn new() -> Option<Self> {
        Self::with_pool(2).await
    }

    /// A fixture whose store holds `pool_size` connections.
    pub(crate) async fn with_pool(pool_size: usize) -> Option<Self> {
        let url = redis_url()?;
        let mut config = test_config(&url);
        config.pool_size = pool_size;
        let store = RedisStore::connect(config)
            .await
            .expect("connect to AUTH_TEST_REDIS_URL");
        Some(Self { store })
    }

    fn prefix(&self) -> &str {
        &self.store.inner.prefix
    }

    /// Every key under the fixture's prefix.
    async fn keys(&self) -> Vec<String> {
        self.store.keys_under_prefix().await.expect("SCAN")
    }

    async fn pttl(&self, key: &str) -> i64 {
        self.store.client().pttl(key).await.expect("PTTL")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let cleanup = async {
            self.store.delete_every_key().await.expect("DEL");
        };
        // Tests run on a multi-threaded runtime, where blocking in place is allowed.
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(cleanup));
    }
}

fn t0() -> SystemTime {
    crate::testing::now()
}

fn new_session(user: UserId, created_at: SystemTime) -> Session {
    let secret: [u8; 32] = rand::random();
    Session {
        id: SessionId::from_secret(&secret),
        user_id: user,
        amr: Amr::PasswordAndTotp,
        created_at,
        auth_time: created_at - HOUR,
        flagged: false,
        client: None,
        user_agent: None,
        grant: None,
        last_used_at: created_at,
        idle_expires_at: created_at + HOUR,
        expires_at: created_at + 24 * HOUR,
    }
}

fn assert_unavailable<T: std::fmt::Debug>(result: crate::Result<T>, what: &str) {
    match result {
        Err(Error::Unavailable(message)) => eprintln!("{what}: unavailable: {message}"),
        other => panic!("{what}: expected Error::Unavailable, got {other:?}"),
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local_addr").port();
    drop(listener);
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sessions_pass_the_conformance_checks() {
    let Some(fixture) = Fixture::new().await else {
        return;
    };
    conformance::sessions_expire_list_and_revoke(
        Arc::new(MemoryStore::new()),
        Arc::new(fixture.store.clone()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_throttle_counters_pass_the_conformance_checks() {
    let Some(fixture) = Fixture::new().await else {
        return;
    };
    conformance::throttle_counters_reserve_release_confirm_and_expire(Arc::new(
        fixture.store.clone(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_revocations_pass_the_conformance_checks() {
    let Some(fixture) = Fixture::new().await else {
        return;
    };
    conformance::revoked_sessions_are_refused_until_their_tokens_expire(Arc::new(
        fixture.store.clone(),
    ))
    .await;
    conformance::single_use_ids_are_used_once_until_they_expire(Arc::new(fixture.store.clone()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_totp_replay_guard_passes_the_conformance_checks() {
    let Some(fixture) = Fixture::new().await else {
        return;
    };
    conformance::totp_replay_guard_accepts_each_step_once(Arc::new(fixture.store.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_carry_the_prefix_and_expire() {
    let Some(fixture) = Fixture::new().await else {
        return;
    };
    let store = &fixture.store;
    let prefix = fixture.prefix().to_owned();
    let user = UserId::new();
    let session = new_session(user, t0());
    store.create_session(session.clone()).await.unwrap();
    store
        .reserve_attempt("acct:ada@example.com", t0(), 15 * MINUTE, 5)
        .await
        .unwrap();
    let revoked = new_session(user, t0()).id;
    let real_now = SystemTime::now();
    store
        .revoke_sid(&revoked, real_now, real_now + 15 * MINUTE)
        .await
        .unwrap();

    let session_key = format!("{prefix}sess:{{{}}}", session.id);
    let index_key = format!("{prefix}user:{{{user}}}:sessions");
    let throttle_key = format!(
        "{prefix}throttle:{{{}}}",
        data_encoding::HEXLOWER.encode(&<sha2::Sha256 as sha2::Digest>::digest(
            b"acct:ada@example.com"
        ))
    );
    let revoked_key = format!("{prefix}revoked:{{{revoked}}}");
    let mut expected = vec![
        session_key.clone(),
        index_key.clone(),
        throttle_key.clone(),
        revoked_key.clone(),
    ];
    expected.sort();
    assert_eq!(fixture.keys().await, expected, "every key under the prefix");

    let within = |pttl: i64, max: Duration, slack: Duration| {
        let max = i64::try_from(max.as_millis()).unwrap();
        let slack = i64::try_from(slack.as_millis()).unwrap();
        pttl > max - slack && pttl <= max
    };
    // Session: idle expiry - last use (computed from the passed times, not the clock).
    let pttl = fixture.pttl(&session_key).await;
    assert!(within(pttl, HOUR, 10 * MINUTE), "session PTTL {pttl}");
    // Index: until the absolute expiry of its longest session.
    let pttl = fixture.pttl(&index_key).await;
    assert!(within(pttl, 24 * HOUR, 10 * MINUTE), "index PTTL {pttl}");
    // Throttle: the window plus 60 s of slack.
    let pttl = fixture.pttl(&throttle_key).await;
    assert!(
        within(pttl, 15 * MINUTE + MINUTE, MINUTE),
        "throttle PTTL {pttl}"
    );
    // Revocation: until the deadline plus 60 s of slack.
    let pttl = fixture.pttl(&revoked_key).await;
    assert!(
        within(pttl, 15 * MINUTE + MINUTE, MINUTE),
        "revocation PTTL {pttl}"
    );

    // Touching moves the session's TTL with the idle expiry; an earlier revocation deadline
    // never shortens the key.
    store
        .touch_session(
            &session.id,
            t0() + 10 * MINUTE,
            t0() + 10 * MINUTE + 2 * HOUR,
        )
        .await
        .unwrap()
        .expect("alive");
    let pttl = fixture.pttl(&session_key).await;
    assert!(within(pttl, 2 * HOUR, 10 * MINUTE), "touched PTTL {pttl}");
    store
        .revoke_sid(&revoked, real_now, real_now)
        .await
        .unwrap();
    let pttl = fixture.pttl(&revoked_key).await;
    assert!(
        within(pttl, 15 * MINUTE + MINUTE, MINUTE),
        "revocation PTTL after an earlier deadline {pttl}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_stored_without_auth_time_counts_from_its_login() {
    let Some(fixture) = Fixture::new().await else {
        return;
    };
    let store = &fixture.store;
    let session = new_session(UserId::new(), t0());
    store.create_session(session.clone()).await.unwrap();
    // As a release before step-up stored it.
    let removed: i64 = store
        .client()
        .hdel(store.session_key(session.id.as_str()), "auth_time")
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let read = store.session(&session.id, t0()).await.unwrap().unwrap();
    assert_eq!(read.auth_time, session.created_at);
    let touched = store
        .touch_session(&session.id, t0() + MINUTE, t0() + HOUR)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(touched.auth_time, session.created_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expired_in_redis_leave_the_index() {
    let Some(fixture) = Fixture::new().await else {
        return;
    };
    let store = &fixture.store;
    let user = UserId::new();
    let gone = new_session(user, t0());
    let kept = new_session(user, t0() + MINUTE);
    store.create_session(gone.clone()).await.unwrap();
    store.create_session(kept.clone()).await.unwrap();
    let index_key = store.user_sessions_key(&user);
    let client = store.client();
    let indexed: i64 = client.zcard(&index_key).await.unwrap();
    assert_eq!(indexed, 2);

    // Expire the first record in Redis now, without waiting: a deadline in the past.
    let expired: bool = client
        .pexpire_at(store.session_key(gone.id.as_str()), 1, None)
        .await
        .unwrap();
    assert!(expired);

    let listed = store.sessions_of(&user, t0() + 2 * MINUTE).await.unwrap();
    assert_eq!(listed, vec![kept.clone()]);
    let indexed: Vec<String> = client
        .zrange(&index_key, 0, -1, None, false, None, false)
        .await
        .unwrap();
    assert_eq!(indexed, vec![kept.id.to_string()], "the index was pruned");
    assert_eq!(store.session(&gone.id, t0()).await.unwrap(), None);
    assert!(!store.revoke_session(&user, &gone.id).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_racing_touch_never_resurrects() {
    let Some(fixture) = Fixture::new().await else {
        return;
    };
    let store = &fixture.store;
    let user = UserId::new();
    // Rounds in which the revocation landed between two touches, not before or after them all.
    let mut interleaved = 0;
    for round in 0..50u32 {
        let session = new_session(user, t0());
        store.create_session(session.clone()).await.unwrap();
        let touches = {
            let store = store.clone();
            let id = session.id.clone();
            tokio::spawn(async move {
                let mut alive = 0;
                for i in 1..=20u64 {
                    let now = t0() + Duration::from_secs(i);
                    if store
                        .touch_session(&id, now, now + HOUR)
                        .await
                        .unwrap()
                        .is_some()
                    {
                        alive += 1;
                    }
                }
                alive
            })
        };
        let revoke = {
            let store = store.clone();
            let id = session.id.clone();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                store.revoke_session(&user, &id).await.unwrap()
            })
        };
        let (touched, revoked) = (touches.await.unwrap(), revoke.await.unwrap());
        assert!(revoked, "round {round}: the revocation found the session");
        if (1..20).contains(&touched) {
            interleaved += 1;
        }
        let key = store.session_key(session.id.as_str());
        let exists: i64 = store.client().exists(&key).await.unwrap();
        assert_eq!(exists, 0, "round {round}: revoked after {touched} touches");
        let later = t0() + MINUTE;
        assert_eq!(store.session(&session.id, later).await.unwrap(), None);
        assert_eq!(
            store
                .touch_session(&session.id, later, later + HOUR)
                .await
                .unwrap(),
            None
        );
    }
    assert!(store.sessions_of(&user, t0()).await.unwrap().is_empty());
    eprintln!("revocation landed mid-touches in {interleaved} of 50 rounds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_closed_port_is_unavailable_at_once() {
    let mut config = RedisConfig::from_url(format!("redis://127.0.0.1:{}", closed_port()));
    config.connect_timeout = Duration::from_secs(1);
    let started = Instant::now();
    assert_unavailable(RedisStore::connect(config).await, "connect");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out() {
    if !crate::testing::needs::require(crate::testing::needs::Need::RedisServer) {
        return;
    }
    // A Redis of the test's own, frozen: the kernel accepts connections, nothing answers.
    let redis = tokio::task::spawn_blocking(crate::testing::private::PrivateRedis::start)
        .await
        .unwrap();
    redis.pause();
    let mut config = RedisConfig::from_url(redis.url());
    config.connect_timeout = Duration::from_millis(800);
    config.command_timeout = Duration::from_millis(300);
    let started = Instant::now();
    match RedisStore::connect(config).await {
        Err(error) => assert_unavailable::<()>(Err(error), "connect"),
        Ok(store) => {
            assert_unavailable(
                store
                    .session(&new_session(UserId::new(), t0()).id, t0())
                    .await,
                "read",
            );
            assert_unavailable(store.ping(Duration::from_millis(300)).await, "ping");
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_down_makes_calls_unavailable_promptly() {
    if !crate::testing::needs::require(crate::testing::needs::Need::RedisServer) {
        return;
    }
    // A Redis of the test's own, killed under a connected store.
    let mut redis = tokio::task::spawn_blocking(crate::testing::private::PrivateRedis::start)
        .await
        .unwrap();
    let mut config = test_config(&redis.url());
    config.command_timeout = Duration::from_millis(300);
    let store = RedisStore::connect(config).await.expect("connect");
    store.ping(Duration::from_secs(1)).await.expect("ping");
    let id = new_session(UserId::new(), t0()).id;
    assert_eq!(store.session(&id, t0()).await.unwrap(), None);

    redis.kill();
    let started = Instant::now();
    assert_unavailable(store.session(&id, t0()).await, "read");
    assert_unavailable(store.touch_session(&id, t0(), t0() + HOUR).await, "script");
    assert_unavailable(store.reserve_attempt("k", t0(), HOUR, 5).await, "throttle");
    assert_unavailable(store.is_sid_revoked(&id, t0()).await, "revocation");
    assert_unavailable(store.ping(Duration::from_millis(300)).await, "ping");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_or_setting_is_a_config_error() {
    let result = RedisStore::connect(RedisConfig::from_url("not a url")).await;
    assert!(matches!(result, Err(Error::Config(_))), "{result:?}");
    let mut tls = RedisConfig::from_url("rediss://:pw@127.0.0.1:6380");
    tls.ca_file = Some("/nonexistent/ca.pem".into());
    let result = RedisStore::connect(tls).await;
    assert!(
        matches!(&result, Err(Error::Config(why)) if why.contains("CA file")),
        "an unreadable CA file: {result:?}"
    );
    let mut config = RedisConfig::from_url("redis://127.0.0.1:6379");
    config.pool_size = 0;
    let result = RedisStore::connect(config).await;
    assert!(matches!(result, Err(Error::Config(_))), "{result:?}");
}

#[test]
fn debug_output_hides_credentials() {
    let config = RedisConfig::from_url("redis://user:s3cret@redis.internal:6379/2");
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(
        debug.contains("redis://***@redis.internal:6379/2"),
        "{debug}"
    );
    assert_eq!(
        redact_url("redis-sentinel://:pw@a:26379,b:26379/mymaster"),
        "redis-sentinel://***@a:26379,b:26379/mymaster"
    );
    assert_eq!(redact_url("redis://h:1"), "redis://h:1");
    assert_eq!(
        redact_url("redis-sentinel://a:26379/0?sentinelServiceName=m&sentinelPassword=pw2"),
        "redis-sentinel://a:26379/0?sentinelServiceName=m&sentinelPassword=***"
    );
}

#[test]
fn stored_times_round_trip_and_sort() {
    let times = [
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::new(1, 1),
        t0(),
        t0() + Duration::from_nanos(1),
        t0() + Duration::new(9, 999_999_999),
        UNIX_EPOCH + Duration::new(u64::MAX / 2, 123),
    ];
    let encoded: Vec<String> = times.iter().map(|t| encode_time(*t)).collect();
    for (time, text) in times.iter().zip(&encoded) {
        assert_eq!(text.len(), 29);
        assert_eq!(decode_time(text), Some(*time));
    }
    assert!(encoded.windows(2).all(|w| w[0] < w[1]), "{encoded:?}");
    assert_eq!(decode_time("12"), None);
    assert_eq!(decode_time("0000000000000000000x000000000"), None);
}

/// TLS: a Redis of the test's own speaking TLS only, its certificate from a CA the test makes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_verifies_the_certificate_and_refuses_a_plaintext_port() {
    let Some(shared) = redis_url() else {
        return;
    };
    use crate::testing::needs::{Need, require_all};
    if !require_all(&[Need::RedisServer, Need::Openssl]) {
        return;
    }
    let (redis, ca, other_ca) = tokio::task::spawn_blocking(|| {
        let ca = crate::testing::private::TestCa::new();
        let redis = crate::testing::private::PrivateRedis::start_tls(&ca);
        (redis, ca, crate::testing::private::TestCa::new())
    })
    .await
    .unwrap();
    let with_ca = |url: String, ca: &crate::testing::private::TestCa| {
        let mut config = test_config(&url);
        config.ca_file = Some(ca.cert.clone());
        config
    };
    assert!(redis.url().starts_with("rediss://"));
    let store = RedisStore::connect(with_ca(redis.url(), &ca))
        .await
        .expect("TLS with the issuing CA");
    let id = new_session(UserId::new(), t0()).id;
    store.ping(Duration::from_secs(1)).await.unwrap();
    assert_eq!(store.session(&id, t0()).await.unwrap(), None);
    assert!(
        RedisConfig::from_url(redis.url())
            .plaintext_hosts()
            .unwrap()
            .is_empty()
    );
    store.close().await;

    for (why, config, reason) in [
        (
            "another CA",
            with_ca(redis.url(), &other_ca),
            "UnknownIssuer",
        ),
        (
            "the system's roots",
            test_config(&redis.url()),
            "UnknownIssuer",
        ),
        // No TLS answer comes: the handshake waits out the connect timeout.
        (
            "a plaintext port",
            with_ca(shared.replacen("redis://", "rediss://", 1), &ca),
            "",
        ),
        // Redis drops a connection that does not start with a handshake.
        (
            "plaintext to the TLS port",
            with_ca(redis.url().replacen("rediss://", "redis://", 1), &ca),
            "",
        ),
    ] {
        let mut config = config;
        config.connect_timeout = Duration::from_secs(3);
        let refused = RedisStore::connect(config).await;
        eprintln!("{why}: {:?}", refused.as_ref().err());
        assert!(
            matches!(&refused, Err(Error::Unavailable(message)) if message.contains(reason)),
            "{why}: {:?}",
            refused.as_ref().err()
        );
    }
}

#[test]
fn plaintext_hosts_are_those_of_a_url_without_tls() {
    let hosts = |url: &str| RedisConfig::from_url(url).plaintext_hosts().unwrap();
    assert_eq!(
        hosts("redis://:pw@cache.internal:6379/0"),
        ["cache.internal"]
    );
    assert!(hosts("rediss://:pw@cache.internal:6380").is_empty());
    assert!(hosts("valkeys://cache.internal:6380").is_empty());
    assert_eq!(
        super::tls_url_as_plain("rediss-cluster://a:1").as_deref(),
        Some("redis-cluster://a:1")
    );
    assert_eq!(
        super::tls_url_as_plain("VALKEYS://a:1").as_deref(),
        Some("valkey://a:1")
    );
    assert_eq!(super::tls_url_as_plain("redis://a:1"), None);
}
