#![allow(clippy::unwrap_used)]

use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

use super::*;

/// Starts a job that holds the pool's only permit until the returned sender is used.
async fn occupy(pool: &Arc<HashPool>) -> (tokio::task::JoinHandle<Result<()>>, mpsc::Sender<()>) {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let pool = Arc::clone(pool);
    let running = tokio::spawn(async move {
        pool.run(move || {
            let _ = started_tx.send(());
            release_rx.recv().unwrap();
        })
        .await
    });
    started_rx.await.unwrap();
    (running, release_tx)
}

/// Submits a job answering 7 behind the one occupying the pool; returns once it waits.
async fn queue_behind(pool: &Arc<HashPool>) -> tokio::task::JoinHandle<Result<i32>> {
    let queued = tokio::spawn({
        let pool = Arc::clone(pool);
        async move { pool.run(|| 7).await }
    });
    while pool.in_flight() < 2 {
        tokio::task::yield_now().await;
    }
    queued
}

#[tokio::test]
async fn a_thread_keeps_its_argon2_buffer_between_jobs_and_lets_it_go_when_idle() {
    use crate::password::argon2_buffer;
    let idle = Duration::from_millis(500);
    let pool = HashPool::new(1, 0, 0).with_idle_release(idle);
    let held = pool
        .run(|| {
            argon2_buffer::with_blocks(16, 16, |_| ()).unwrap();
            argon2_buffer::retained_blocks()
        })
        .await
        .unwrap();
    assert_eq!(held, 16);
    assert_eq!(pool.run(argon2_buffer::retained_blocks).await.unwrap(), 16);
    tokio::time::sleep(idle * 4).await;
    assert_eq!(pool.run(argon2_buffer::retained_blocks).await.unwrap(), 0);
}

#[tokio::test]
async fn dropping_the_pool_ends_its_threads() {
    let pool = HashPool::new(2, 0, 0);
    let (tx, rx) = std::sync::mpsc::channel();
    pool.run(move || {
        // Dropped when the thread ends: the receiver then sees the channel close.
        thread_local!(static GUARD: std::cell::RefCell<Option<std::sync::mpsc::Sender<()>>> = const { std::cell::RefCell::new(None) });
        GUARD.with(|guard| *guard.borrow_mut() = Some(tx));
    })
    .await
    .unwrap();
    drop(pool);
    let ended = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(ended, Err(std::sync::mpsc::RecvTimeoutError::Disconnected));
}

#[tokio::test]
async fn a_full_pool_and_queue_answers_busy_at_once() {
    let pool = Arc::new(HashPool::new(1, 1, 0));
    let (running, release_tx) = occupy(&pool).await;
    let queued = queue_behind(&pool).await;
    assert!(matches!(pool.run(|| 0).await, Err(Error::Busy)));
    release_tx.send(()).unwrap();
    running.await.unwrap().unwrap();
    assert_eq!(queued.await.unwrap().unwrap(), 7);
    assert_eq!(pool.in_flight(), 0);
    assert_eq!(pool.run(|| 1).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_than_the_permitted_jobs_run_at_once() {
    let pool = Arc::new(HashPool::new(2, 64, 0));
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let jobs: Vec<_> = (0..16)
        .map(|_| {
            let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
            tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            })
        })
        .collect();
    for job in jobs {
        job.await.unwrap().unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= 2);
    assert_eq!(pool.in_flight(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn jobs_do_not_block_the_async_runtime() {
    // On a single-threaded runtime, a job that ran on the runtime thread would stop every
    // other task until it finished. Here the job waits until another task has run.
    let pool = HashPool::new(1, 0, 0);
    let other_task_ran = Arc::new(AtomicBool::new(false));
    let flag = other_task_ran.clone();
    let ticker = tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
    let seen = other_task_ran.clone();
    let saw_other_task = pool
        .run(move || {
            // Bounded, so a regression fails instead of hanging.
            let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !seen.load(Ordering::SeqCst) && std::time::Instant::now() < give_up {
                std::thread::yield_now();
            }
            seen.load(Ordering::SeqCst)
        })
        .await
        .unwrap();
    assert!(saw_other_task);
    ticker.await.unwrap();
}

#[tokio::test]
async fn an_abandoned_wait_gives_its_place_back() {
    let pool = Arc::new(HashPool::new(1, 1, 0));
    let (running, release_tx) = occupy(&pool).await;
    let waiting = tokio::spawn({
        let pool = Arc::clone(&pool);
        async move { pool.run(|| ()).await }
    });
    while pool.in_flight() < 2 {
        tokio::task::yield_now().await;
    }
    waiting.abort();
    let _ = waiting.await;
    assert_eq!(pool.in_flight(), 1);
    assert_eq!(pool.waits().count, 2, "the abandoned wait is counted too");
    release_tx.send(()).unwrap();
    running.await.unwrap().unwrap();
    assert_eq!(pool.in_flight(), 0);
}

#[tokio::test]
async fn a_panicking_job_fails_alone_and_its_thread_lives_on() {
    let pool = HashPool::new(1, 0, 0);
    let failed = pool.run(|| -> u8 { panic!("job bug") }).await;
    assert!(matches!(failed, Err(Error::Internal(_))), "{failed:?}");
    assert_eq!(pool.in_flight(), 0);
    assert_eq!(pool.run(|| 3).await.unwrap(), 3);
}

/// The niceness of the calling thread.
#[cfg(target_os = "linux")]
fn own_niceness() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn pool_threads_run_at_the_configured_niceness_and_callers_keep_theirs() {
    let before = own_niceness();
    let pool = HashPool::new(2, 4, 10);
    for _ in 0..4 {
        assert_eq!(pool.run(own_niceness).await.unwrap(), before.max(10));
    }
    assert_eq!(own_niceness(), before);
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn niceness_zero_leaves_pool_threads_at_the_process_niceness() {
    let pool = HashPool::new(1, 0, 0);
    assert_eq!(pool.run(own_niceness).await.unwrap(), own_niceness());
}

#[cfg(target_os = "linux")]
#[test]
fn pool_threads_never_raise_their_priority() {
    // Threads inherit the niceness of the thread that starts them: start the pool from a
    // thread already nicer than configured.
    let seen = std::thread::spawn(|| {
        let nicer = own_niceness().max(15);
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), nicer).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let pool = HashPool::new(1, 0, 10);
        (nicer, runtime.block_on(pool.run(own_niceness)).unwrap())
    })
    .join()
    .unwrap();
    assert_eq!(seen.1, seen.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_on_the_pools_own_threads_only() {
    let pool = Arc::new(HashPool::new(2, 64, 0));
    let jobs: Vec<_> = (0..32)
        .map(|_| {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move {
                pool.run(|| std::thread::current().name().map(str::to_owned))
                    .await
            })
        })
        .collect();
    let mut names = std::collections::BTreeSet::new();
    for job in jobs {
        names.insert(job.await.unwrap().unwrap().unwrap_or_default());
    }
    assert!(
        names.iter().all(|name| name.starts_with("auth-hash-")) && names.len() <= 2,
        "{names:?}"
    );
}

#[tokio::test]
async fn the_wait_for_a_permit_is_counted_apart_from_the_job() {
    let pool = Arc::new(HashPool::new(1, 1, 0));
    let (running, release_tx) = occupy(&pool).await;
    let queued = queue_behind(&pool).await;
    // The queued job waits for as long as the first one holds the permit.
    let held = Duration::from_millis(300);
    tokio::time::sleep(held).await;
    release_tx.send(()).unwrap();
    running.await.unwrap().unwrap();
    assert_eq!(queued.await.unwrap().unwrap(), 7);

    let waits = pool.waits();
    assert_eq!(waits.count, 2);
    assert!(waits.sum_seconds >= held.as_secs_f64(), "{waits:?}");
    let at_most = |bound: f64| {
        waits
            .buckets
            .iter()
            .find(|(upper, _)| *upper == bound)
            .unwrap()
            .1
    };
    assert_eq!(
        at_most(0.25),
        1,
        "only the first job found the permit free: {waits:?}"
    );
    assert_eq!(waits.buckets.len(), HASH_WAIT_BUCKETS.len());
    assert!(
        waits.buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1),
        "cumulative"
    );
}
