//! Argon2's working memory: one block buffer per thread, reused by every hash that thread
//! computes.
//!
//! The argon2 crate's own `hash_password` allocates `m` KiB for each hash and frees it after.
//! Above glibc's mmap threshold (our containers pin it at 1 MiB with
//! `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576` to keep RSS down), that is a fresh
//! `mmap` whose 19 MiB the hash then page-faults in, every time: about a third more time per
//! hash than on memory already mapped. Below the threshold, glibc instead keeps freed blocks
//! resident in per-thread arenas anyway. Reusing one buffer per thread costs no more memory
//! than that and no faults after the first hash.
//!
//! Only threads that opt in ([`keep_buffer_on_this_thread`]) keep a buffer: the fixed hashing
//! threads of [`PasswordService`](super::PasswordService), which live as long as the service,
//! so at most `max_concurrent_hashes` x `m` in all. Each keeps a buffer the size of the
//! configured parameters (`keep`) from its first hash until it ends. Any other thread (an
//! application calling `hash_password` from tokio's blocking pool, say, whose threads come
//! and go) gets a buffer per hash, freed after it, as with the argon2 crate. A job that needs
//! more than `keep` (verifying a stored hash at a larger `m`, within the limits checked
//! before) gets a buffer that is dropped after it, so one such hash does not pin its memory
//! for the thread's lifetime.
//!
//! The buffer is zeroed after every hash (the crate does not wipe Argon2's memory itself, and
//! its first blocks are cheap functions of the password), so at rest it holds nothing.

use std::cell::Cell;

use argon2::Block;
use zeroize::Zeroize;

use crate::error::{Error, Result};

thread_local! {
    static BLOCKS: Cell<Vec<Block>> = const { Cell::new(Vec::new()) };
    static KEEP: Cell<bool> = const { Cell::new(false) };
}

/// Lets the calling thread keep its buffer between hashes; for threads that hash again and
/// again for as long as they live.
pub(super) fn keep_buffer_on_this_thread() {
    KEEP.set(true);
}

/// Whether this thread holds a buffer now.
pub(super) fn holds_buffer() -> bool {
    BLOCKS
        .try_with(|slot| {
            let blocks = slot.take();
            let holds = !blocks.is_empty();
            slot.set(blocks);
            holds
        })
        .unwrap_or(false)
}

/// Frees this thread's buffer; the next hash allocates a new one.
pub(super) fn release_buffer() {
    let _ = BLOCKS.try_with(Cell::take);
}

/// Runs `job` on at least `needed` blocks of this thread's buffer, then keeps the buffer only
/// if it is no larger than `keep` blocks and the thread opted in.
///
/// The buffer is out of its slot while `job` runs: a job that hashed inside a hash (this crate
/// never does) would get a buffer of its own, as would a hash during thread teardown.
pub(super) fn with_blocks<T>(
    needed: usize,
    keep: usize,
    job: impl FnOnce(&mut [Block]) -> T,
) -> Result<T> {
    let keep = if KEEP.try_with(Cell::get).unwrap_or(false) {
        keep
    } else {
        0
    };
    let mut blocks = BLOCKS.try_with(Cell::take).unwrap_or_default();
    let result = run(&mut blocks, needed, keep, job);
    // Fails only while the thread ends, and then the buffer is dropped here.
    let _ = BLOCKS.try_with(|slot| slot.set(blocks));
    result
}

fn run<T>(
    blocks: &mut Vec<Block>,
    needed: usize,
    keep: usize,
    job: impl FnOnce(&mut [Block]) -> T,
) -> Result<T> {
    if blocks.len() < needed {
        // Free the old buffer before taking the new one, so both are never held at once.
        *blocks = Vec::new();
        let wanted = needed.max(keep);
        blocks.try_reserve_exact(wanted).map_err(|_| {
            Error::Internal(format!("cannot allocate {wanted} KiB of argon2 memory"))
        })?;
        blocks.resize(wanted, Block::new());
    }
    let result = {
        // Wiped after the job even if it panics: the first blocks of an Argon2 memory are
        // cheap functions of the password, so a dump of them would let candidates be tested
        // without the memory-hard work.
        let wipe = Wipe(blocks.as_mut_slice());
        job(&mut *wipe.0)
    };
    if blocks.len() > keep {
        *blocks = Vec::new();
    }
    Ok(result)
}

/// Zeroes the blocks it holds when dropped.
struct Wipe<'a>(&'a mut [Block]);

impl Drop for Wipe<'_> {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(Zeroize::zeroize);
    }
}

/// Blocks held by this thread's buffer right now.
#[cfg(test)]
pub(super) fn retained_blocks() -> usize {
    let blocks = BLOCKS.take();
    let len = blocks.len();
    BLOCKS.set(blocks);
    len
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Runs a job on a fresh thread that keeps its buffer, so the tests do not share one.
    fn on_a_new_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(|| {
            keep_buffer_on_this_thread();
            f()
        })
        .join()
        .unwrap()
    }

    #[test]
    fn the_buffer_is_zeroed_after_every_job() {
        on_a_new_thread(|| {
            let mut marked = Block::new();
            marked.as_mut().fill(7);
            let first = with_blocks(4, 4, |blocks| {
                blocks.fill(marked);
                blocks.as_ptr()
            })
            .unwrap();
            let (second, zeroed) = with_blocks(4, 4, |blocks| {
                let zeroed = blocks.iter().all(|b| b.as_ref().iter().all(|w| *w == 0));
                (blocks.as_ptr(), zeroed)
            })
            .unwrap();
            assert_eq!(first, second, "the same buffer");
            assert!(zeroed, "wiped between the jobs");
        });
    }

    #[test]
    fn a_thread_that_did_not_opt_in_keeps_nothing() {
        std::thread::spawn(|| {
            let len = with_blocks(16, 16, |blocks| blocks.len()).unwrap();
            assert_eq!(len, 16);
            assert_eq!(retained_blocks(), 0);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_thread_reuses_one_buffer_of_the_kept_size() {
        on_a_new_thread(|| {
            let first = with_blocks(8, 16, |blocks| (blocks.len(), blocks.as_ptr())).unwrap();
            assert_eq!(first.0, 16, "grown to the kept size at once");
            let second = with_blocks(16, 16, |blocks| (blocks.len(), blocks.as_ptr())).unwrap();
            assert_eq!(second, first, "the same buffer, not a new one");
            assert_eq!(retained_blocks(), 16);
        });
    }

    #[test]
    fn a_job_larger_than_the_kept_size_does_not_pin_its_memory() {
        on_a_new_thread(|| {
            with_blocks(16, 16, |_| ()).unwrap();
            let len = with_blocks(64, 16, |blocks| blocks.len()).unwrap();
            assert_eq!(len, 64);
            assert_eq!(retained_blocks(), 0);
            assert_eq!(with_blocks(16, 16, |blocks| blocks.len()).unwrap(), 16);
            assert_eq!(retained_blocks(), 16);
        });
    }

    #[test]
    fn a_job_inside_a_job_gets_a_buffer_of_its_own() {
        on_a_new_thread(|| {
            let (outer, inner) = with_blocks(8, 8, |outer| {
                let inner = with_blocks(8, 8, |inner| inner.as_ptr()).unwrap();
                (outer.as_ptr(), inner)
            })
            .unwrap();
            assert_ne!(outer, inner);
        });
    }

    #[test]
    fn an_impossible_allocation_is_an_error_not_an_abort() {
        let result = with_blocks(usize::MAX / 2, 0, |_| ());
        assert!(matches!(result, Err(Error::Internal(_))), "{result:?}");
    }
}
