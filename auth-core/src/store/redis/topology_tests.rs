//! The Redis store on a Redis Cluster and behind Sentinel, both run from `redis-server`
//! processes of the test's own (`crate::testing::topologies`): the conformance checks pass,
//! the keys spread over the cluster's primaries, and while a primary fails over under a load
//! of counter calls every call answers, or answers `unavailable` within its timeout, and calls
//! succeed again once the failover is done.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{RedisConfig, RedisStore};
use crate::error::Error;
use crate::id::UserId;
use crate::store::memory::MemoryStore;
use crate::store::{ThrottleStore, conformance};
use crate::testing::needs::{Need, require};
use crate::testing::topologies::{RedisCluster, RedisSentinels};

const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

async fn store(url: String) -> RedisStore {
    let mut config = RedisConfig::from_url(url);
    config.key_prefix = format!("auth-topology:{:08x}:", rand::random::<u32>());
    config.command_timeout = COMMAND_TIMEOUT;
    config.connect_timeout = Duration::from_secs(5);
    config.pool_size = 2;
    RedisStore::connect(config).await.unwrap()
}

/// Every conformance check the Redis store takes part in.
async fn conformance_checks(store: &RedisStore) {
    let shared = Arc::new(store.clone());
    conformance::sessions_expire_list_and_revoke(Arc::new(MemoryStore::new()), shared.clone())
        .await;
    conformance::throttle_counters_reserve_release_confirm_and_expire(shared.clone()).await;
    conformance::revoked_sessions_are_refused_until_their_tokens_expire(shared.clone()).await;
    conformance::single_use_ids_are_used_once_until_they_expire(shared.clone()).await;
    conformance::totp_replay_guard_accepts_each_step_once(shared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_the_checks_pass_and_the_keys_spread_over_the_primaries() {
    if !require(Need::RedisServer) {
        return;
    }
    let cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .unwrap();
    let store = store(cluster.url()).await;
    conformance_checks(&store).await;
    // Counters for forty accounts: one key each, in forty slots.
    for account in 0..40 {
        let key = format!("spread:{account}");
        store
            .reserve_attempt(&key, crate::testing::now(), Duration::from_secs(3600), 5)
            .await
            .unwrap();
    }
    let by_node = store.keys_by_node().await.unwrap();
    assert_eq!(by_node.len(), 3, "one entry per primary: {by_node:?}");
    let holding = by_node.iter().filter(|(_, keys)| !keys.is_empty()).count();
    assert!(holding >= 2, "keys on {holding} primary: {by_node:?}");
    let total: usize = by_node.iter().map(|(_, keys)| keys.len()).sum();
    assert!(total >= 40, "{total} keys");
    assert_eq!(store.delete_every_key().await.unwrap(), total);
    assert!(
        store
            .keys_by_node()
            .await
            .unwrap()
            .iter()
            .all(|(_, keys)| keys.is_empty())
    );
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_sentinels_the_checks_pass() {
    if !require(Need::RedisServer) {
        return;
    }
    let sentinels = tokio::task::spawn_blocking(RedisSentinels::start)
        .await
        .unwrap();
    let store = store(sentinels.url()).await;
    conformance_checks(&store).await;
    store.delete_every_key().await.unwrap();
    drop(sentinels);
}

/// What a load of counter calls met: how many answered, how many were `unavailable`, what
/// else came back, and the longest call.
#[derive(Debug, Default)]
struct Load {
    answered: usize,
    unavailable: usize,
    other: Vec<String>,
    longest: Duration,
}

/// Counter calls over fifty accounts, one after another on each of two tasks, until `stop`.
async fn counter_load(store: RedisStore, stop: Arc<AtomicBool>) -> Load {
    let runs = (0..2).map(|task| {
        let store = store.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut load = Load::default();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let key = format!("load:{task}:{}", n % 50);
                let started = Instant::now();
                let outcome = store
                    .reserve_attempt(&key, crate::testing::now(), Duration::from_secs(60), 1_000)
                    .await;
                load.longest = load.longest.max(started.elapsed());
                match outcome {
                    Ok(_) => load.answered += 1,
                    Err(Error::Unavailable(_)) => load.unavailable += 1,
                    Err(other) => load.other.push(format!("{other:?}")),
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            load
        })
    });
    let mut total = Load::default();
    for run in runs.collect::<Vec<_>>() {
        let load = run.await.unwrap();
        total.answered += load.answered;
        total.unavailable += load.unavailable;
        total.other.extend(load.other);
        total.longest = total.longest.max(load.longest);
    }
    total
}

/// Calls succeed again within 20 s of a failover.
async fn answers_again(store: &RedisStore) {
    let key = format!("after:{}", UserId::new());
    for _ in 0..200 {
        if store
            .reserve_attempt(&key, crate::testing::now(), Duration::from_secs(60), 5)
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no counter call succeeded within 20 s of the failover");
}

/// Every call answered or was `unavailable`, none hung: the longest stayed within twice the
/// command timeout (a call is cut at the timeout; the margin is for a busy machine).
fn check(load: &Load, what: &str) {
    eprintln!("{what}: {load:?}");
    assert!(load.other.is_empty(), "{what}: {:?}", load.other);
    assert!(load.answered > 0, "{what}: nothing answered");
    assert!(
        load.longest < COMMAND_TIMEOUT * 2,
        "{what}: a call took {:?}",
        load.longest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_failovers_under_load_answer_or_are_unavailable_and_calls_come_back() {
    if !require(Need::RedisServer) {
        return;
    }
    let mut cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .unwrap();
    let store = store(cluster.url()).await;

    // A manual failover: a replica takes over from a running primary.
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(counter_load(store.clone(), stop.clone()));
    let primaries = cluster.primaries();
    let replica = cluster.replica_of(primaries[0]);
    tokio::task::block_in_place(|| cluster.failover_to(replica));
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    check(&load.await.unwrap(), "CLUSTER FAILOVER");
    answers_again(&store).await;

    // A crash: a primary is killed and its replica promoted.
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(counter_load(store.clone(), stop.clone()));
    let victim = cluster.primaries()[1];
    let heir = cluster.replica_of(victim);
    tokio::task::block_in_place(|| {
        cluster.kill(victim);
        cluster.wait_for_promotion(heir);
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    check(&load.await.unwrap(), "a killed primary");
    answers_again(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_promotion_under_load_answers_or_is_unavailable_and_calls_come_back() {
    if !require(Need::RedisServer) {
        return;
    }
    let mut sentinels = tokio::task::spawn_blocking(RedisSentinels::start)
        .await
        .unwrap();
    let store = store(sentinels.url()).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(counter_load(store.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::block_in_place(|| sentinels.kill_primary_and_wait_for_promotion());
    answers_again(&store).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    check(&load.await.unwrap(), "a sentinel promotion");
    store.close().await;
}
