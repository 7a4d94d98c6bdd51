//! A bounded pool for CPU- and memory-heavy work, off the async runtime.
//!
//! At most `permits` jobs run at once, each on one of the pool's own `permits` threads; at
//! most `queue` more wait for a permit. Beyond that, [`HashPool::run`] answers [`Error::Busy`]
//! at once instead of queueing without bound, so a login storm cannot take unbounded memory
//! (each Argon2 hash holds `m` KiB) or starve the runtime.
//!
//! The threads are the pool's own rather than tokio's blocking pool, which starts a new thread
//! whenever its idle ones are still winding down: glibc keeps a freed Argon2 block in the arena
//! of the thread that freed it, so every thread that ever hashed kept up to `m` resident (340
//! MiB after 48 logins at two hashes at a time). With a fixed set, that is `permits` x `m` at
//! most, and each thread keeps and reuses one Argon2 buffer (see `memory.rs`) until it has
//! been idle for [`IDLE_RELEASE`].
//!
//! On Linux each thread can lower its own priority (raise its niceness) when it starts, so
//! that request handling on the same cores (the async runtime, a database on the same
//! machine) gets the CPU first; off by default (see `PasswordConfig::hash_thread_niceness`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::error::{Error, Result};

#[derive(Debug)]
pub(crate) struct HashPool {
    permits: Arc<Semaphore>,
    admitted: Arc<AtomicUsize>,
    refused: AtomicU64,
    max_running: usize,
    capacity: usize,
    workers: Workers,
    waits: WaitHistogram,
}

/// Upper bounds (seconds) of the buckets jobs' waits for a permit are counted in: from no
/// wait at all to the request deadline.
pub const HASH_WAIT_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How long jobs waited for a permit: counts per bucket of [`HASH_WAIT_BUCKETS`] (and one
/// over the last) and the sum. The count is the buckets' total, so a reading never has more
/// in its buckets than in its count.
#[derive(Debug, Default)]
struct WaitHistogram {
    buckets: [AtomicU64; HASH_WAIT_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

/// A wait for a permit, counted when it ends: with the permit, or abandoned (the caller gave
/// up, its request past its deadline), so the longest waits are counted too.
struct Waiting<'a> {
    waits: &'a WaitHistogram,
    since: Instant,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.waits.record(self.since.elapsed());
    }
}

/// A reading of the waits for a hashing slot: the time between a hash being admitted and its
/// starting to run (or its caller giving up). With the hash durations, it tells queueing from
/// hashing.
#[derive(Debug, Clone, PartialEq)]
pub struct HashWaits {
    /// `(upper bound in seconds, waits at most that long)`, cumulative, for each of
    /// [`HASH_WAIT_BUCKETS`].
    pub buckets: Vec<(f64, u64)>,
    /// Every wait, in seconds, added up.
    pub sum_seconds: f64,
    /// How many waits were counted (all of them, beyond the last bucket too).
    pub count: u64,
}

impl WaitHistogram {
    fn record(&self, waited: Duration) {
        let seconds = waited.as_secs_f64();
        let bucket = HASH_WAIT_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(HASH_WAIT_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn read(&self) -> HashWaits {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect();
        let mut cumulative = 0;
        let buckets = HASH_WAIT_BUCKETS
            .iter()
            .zip(&counts)
            .map(|(bound, count)| {
                cumulative += count;
                (*bound, cumulative)
            })
            .collect();
        HashWaits {
            buckets,
            sum_seconds: Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)).as_secs_f64(),
            count: counts.iter().sum(),
        }
    }
}

/// Counts one admitted job until dropped, whether it finished, failed or was abandoned.
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long a hashing thread keeps its Argon2 buffer with nothing to do. Under steady logins
/// the buffer is reused and never faulted in again; after a burst, an idle server goes back
/// to its idle footprint.
const IDLE_RELEASE: Duration = Duration::from_secs(10);

/// Jobs waiting for a thread, and whether the pool is gone.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

/// What the pool and its threads share.
#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Jobs run outside the lock and their panics are caught, so it is never held by a
        // panicking thread; if it were, the queue would still be consistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the threads to end once the queue is empty.
    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// The next job, or `None` once the pool is dropped and the queue is empty. While it
    /// waits, a thread that holds an Argon2 buffer lets it go after `idle_release`.
    fn next(&self, idle_release: Duration) -> Option<Job> {
        let mut queue = self.lock();
        loop {
            if let Some(job) = queue.jobs.pop_front() {
                return Some(job);
            }
            if queue.closed {
                return None;
            }
            if super::argon2_buffer::holds_buffer() {
                let (woken, wait) = self
                    .ready
                    .wait_timeout(queue, idle_release)
                    .unwrap_or_else(PoisonError::into_inner);
                queue = woken;
                if wait.timed_out() && queue.jobs.is_empty() {
                    super::argon2_buffer::release_buffer();
                }
            } else {
                queue = self
                    .ready
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
}

/// The pool's threads, started on first use and ended when the pool is dropped (after the
/// jobs already handed to them).
struct Workers {
    count: usize,
    niceness: u8,
    idle_release: Duration,
    /// `None` until the first job, or after a failed start (the next job tries again).
    shared: Mutex<Option<Arc<Shared>>>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("count", &self.count)
            .field("niceness", &self.niceness)
            .field("started", &self.started().is_some())
            .finish()
    }
}

impl Workers {
    fn started(&self) -> Option<Arc<Shared>> {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn submit(&self, job: Job) -> Result<()> {
        let shared = {
            let mut slot = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            match &*slot {
                Some(shared) => Arc::clone(shared),
                None => {
                    let shared = self.start().map_err(Error::Internal)?;
                    *slot = Some(Arc::clone(&shared));
                    shared
                }
            }
        };
        shared.lock().jobs.push_back(job);
        shared.ready.notify_one();
        Ok(())
    }

    /// Starts every thread, or none: if one cannot start (a process or memory limit), those
    /// already started are told to end, and the next job tries again.
    fn start(&self) -> std::result::Result<Arc<Shared>, String> {
        let shared = Arc::new(Shared::default());
        for index in 0..self.count {
            let worker = Arc::clone(&shared);
            let (niceness, idle_release) = (self.niceness, self.idle_release);
            let started = std::thread::Builder::new()
                .name(format!("auth-hash-{index}"))
                .spawn(move || {
                    lower_priority(niceness);
                    super::argon2_buffer::keep_buffer_on_this_thread();
                    while let Some(job) = worker.next(idle_release) {
                        job();
                    }
                });
            if let Err(error) = started {
                shared.close();
                return Err(format!("cannot start a hashing thread: {error}"));
            }
        }
        Ok(shared)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        if let Some(shared) = self.started() {
            shared.close();
        }
    }
}

/// Raises the calling thread's niceness to `niceness` (0 leaves it alone), unless it is
/// already that high: raising a niceness needs no privilege, and this never lowers one.
#[cfg(target_os = "linux")]
fn lower_priority(niceness: u8) {
    use rustix::process::{getpriority_process, setpriority_process};

    if niceness == 0 {
        return;
    }
    // On Linux a niceness belongs to a thread, and PRIO_PROCESS with a thread id sets that
    // thread's alone.
    let thread = Some(rustix::thread::gettid());
    let wanted = i32::from(niceness);
    let lowered = match getpriority_process(thread) {
        Ok(current) if current >= wanted => Ok(()),
        _ => setpriority_process(thread, wanted),
    };
    if let Err(error) = lowered {
        tracing::warn!(%error, niceness, "cannot lower the priority of a hashing thread");
    }
}

/// Thread priorities are left alone outside Linux.
#[cfg(not(target_os = "linux"))]
fn lower_priority(_niceness: u8) {}

impl HashPool {
    /// A pool whose threads run at `niceness` (on Linux; 0 leaves them at the niceness of the
    /// thread that starts them).
    pub(crate) fn new(max_running: usize, max_queued: usize, niceness: u8) -> Self {
        let max_running = max_running.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max_running)),
            admitted: Arc::new(AtomicUsize::new(0)),
            refused: AtomicU64::new(0),
            max_running,
            capacity: max_running.saturating_add(max_queued),
            workers: Workers {
                count: max_running,
                niceness,
                idle_release: IDLE_RELEASE,
                shared: Mutex::new(None),
            },
            waits: WaitHistogram::default(),
        }
    }

    /// The same pool, its threads letting their Argon2 buffers go after `idle` instead.
    #[cfg(test)]
    fn with_idle_release(mut self, idle: Duration) -> Self {
        self.workers.idle_release = idle;
        self
    }

    /// Jobs running or waiting right now.
    pub(crate) fn in_flight(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// Jobs refused as [`Error::Busy`] since the pool was made.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    pub(crate) fn max_running(&self) -> usize {
        self.max_running
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// How long admitted jobs waited for a permit, since the pool was made.
    pub(crate) fn waits(&self) -> HashWaits {
        self.waits.read()
    }

    /// [`Error::Busy`] (counted as a refusal) if a job submitted now would be refused; a
    /// cheap early answer for callers with costly work to do before their job.
    pub(crate) fn refuse_if_full(&self) -> Result<()> {
        if self.admitted.load(Ordering::Acquire) >= self.capacity {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Busy);
        }
        Ok(())
    }

    fn admit(&self) -> Result<Admission> {
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .map_err(|_| {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Error::Busy
            })?;
        Ok(Admission(Arc::clone(&self.admitted)))
    }

    /// Runs `job` on one of the pool's threads once a permit is free (a permit always finds a
    /// thread: there are as many of each). If the caller stops waiting, a job that already
    /// started still holds its permit until it ends, so the bound on concurrent work holds
    /// even for abandoned requests. A job that panics fails with [`Error::Internal`] and its
    /// thread lives on.
    pub(crate) async fn run<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let admission = self.admit()?;
        let waiting = Waiting {
            waits: &self.waits,
            since: Instant::now(),
        };
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::Internal("hashing pool closed".into()))?;
        drop(waiting);
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.workers.submit(Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            // The slot is free before the caller hears back, as the caller may count on it.
            drop((permit, admission));
            let _ = done.send(result);
        }))?;
        match outcome.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(Error::Internal("a hashing job panicked".into())),
            Err(_) => Err(Error::Internal("the hashing threads stopped".into())),
        }
    }
}

#[cfg(test)]
mod tests;
