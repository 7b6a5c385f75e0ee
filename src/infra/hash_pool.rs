//! The threads that run Argon2, and the memory they run it in.
//!
//! A fixed set of dedicated threads takes jobs from one queue: 500 simultaneous sign-ins
//! queue up instead of allocating 500 × 19 MiB, and the async workers stay free to serve
//! other pages. Dedicated threads rather than tokio's blocking pool: the blocking pool grows
//! a new thread whenever all are busy, and each new thread gets its own malloc arena that
//! keeps its 19 MiB after the hash is done.
//!
//! Each thread keeps one Argon2 memory area and reuses it while work keeps coming: left to
//! the allocator, a 19 MiB area per hash fragmented the heap so that a flood of 500
//! sign-ins peaked at 390 MiB instead of staying near threads × 19 MiB. Once a thread has
//! had nothing to do for a quiet period it gives its area back to the operating system, so
//! an idle service holds no Argon2 memory at all.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use argon2::{Argon2, Block, Params};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

/// How long a hashing thread keeps its memory area without work.
pub const IDLE_RELEASE: Duration = Duration::from_secs(2);

pub type Job = Box<dyn FnOnce() + Send>;

/// The default number of hashing threads: one fewer than the cores, at least one. Page
/// requests then always keep a core of their own, whatever the hashing load.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .max(1)
}

/// A fixed set of threads taking jobs from one queue. The threads end when the last clone
/// is dropped and the queue closes.
#[derive(Clone)]
pub struct HashPool {
    queue: Sender<Job>,
    /// Bytes of Argon2 memory the pool's threads hold right now.
    held: Arc<AtomicUsize>,
}

impl HashPool {
    pub fn new(threads: usize, idle_release: Duration) -> anyhow::Result<Self> {
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        let held = Arc::new(AtomicUsize::new(0));
        for n in 0..threads.max(1) {
            let (jobs, held) = (jobs.clone(), held.clone());
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || work(&jobs, &held, idle_release))
                .context("cannot start a hashing thread")?;
        }
        Ok(Self { queue, held })
    }

    pub fn submit(&self, job: Job) -> anyhow::Result<()> {
        self.queue
            .send(job)
            .map_err(|_| anyhow::anyhow!("hashing threads have stopped"))
    }

    /// Bytes of Argon2 memory held by the threads now (0 when they have been idle).
    pub fn memory_held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Jobs waiting for a thread.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

fn work(jobs: &Receiver<Job>, held: &AtomicUsize, idle_release: Duration) {
    lower_priority();
    loop {
        match jobs.recv_timeout(idle_release) {
            Ok(job) => {
                // A panicking job must not take the thread (and capacity) with it.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                account(held, memory_bytes(), true);
            }
            Err(RecvTimeoutError::Timeout) => {
                let released = memory_bytes();
                if released > 0 {
                    MEMORY.with(|m| drop(m.take()));
                    account(held, released, false);
                    return_freed_memory();
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Keeps `held` equal to the sum of the threads' areas: a thread reports its size after
/// each job (the first report adds it) and subtracts it when it lets the area go.
fn account(held: &AtomicUsize, bytes: usize, after_job: bool) {
    std::thread_local! {
        static REPORTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    REPORTED.with(|reported| {
        let before = reported.get();
        let now = if after_job { bytes } else { 0 };
        if now > before {
            held.fetch_add(now - before, Ordering::Relaxed);
        } else {
            held.fetch_sub(before - now, Ordering::Relaxed);
        }
        reported.set(now);
    });
}

std::thread_local! {
    /// This thread's Argon2 memory, grown to the largest cost seen and reused until idle.
    static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn memory_bytes() -> usize {
    MEMORY.with(|m| m.borrow().capacity() * std::mem::size_of::<Block>())
}

/// Runs Argon2 with this thread's reusable memory area.
pub fn argon2_into(
    argon: &Argon2<'_>,
    params: &Params,
    secret: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> anyhow::Result<()> {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        let needed = params.block_count();
        if memory.len() < needed {
            memory.resize(needed, Block::default());
        }
        argon
            .hash_password_into_with_memory(secret, salt, out, &mut memory[..needed])
            .map_err(|e| anyhow::anyhow!("argon2 failed: {e}"))
    })
}

/// glibc keeps a freed area of this size in the thread's arena for reuse; asking it to trim
/// hands the pages back to the kernel, which is the point of letting the area go. Also run
/// every half minute by the service (`startup`), for what a burst left freed but scattered
/// over the async workers' arenas (closed connections, their buffers).
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own arenas; it takes
    // a plain integer and touches no memory the program still uses.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Hashing threads yield to the async workers: a flood of sign-ins then slows sign-ins
/// down, not every other page. On Linux `setpriority(PRIO_PROCESS, 0, …)` applies to the
/// calling thread only; elsewhere the threads keep normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority takes plain integers and changes only this thread's nice value;
    // failure (returned, not raised) just leaves the priority as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_on(pool: &HashPool) {
        let (tx, rx) = std::sync::mpsc::channel();
        pool.submit(Box::new(move || {
            let params = Params::new(4096, 1, 1, None).unwrap();
            let argon = Argon2::new(
                argon2::Algorithm::Argon2id,
                argon2::Version::V0x13,
                params.clone(),
            );
            let mut out = [0u8; 32];
            argon2_into(&argon, &params, b"pw", b"saltsaltsalt", &mut out).unwrap();
            tx.send(()).unwrap();
        }))
        .unwrap();
        rx.recv().unwrap();
    }

    #[test]
    fn a_thread_keeps_its_area_while_busy_and_lets_it_go_when_idle() {
        let pool = HashPool::new(1, Duration::from_millis(300)).unwrap();
        assert_eq!(
            pool.memory_held(),
            0,
            "nothing allocated before the first hash"
        );
        hash_on(&pool);
        // The report comes right after the job; give the thread a moment to make it.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            pool.memory_held(),
            4096 * 1024,
            "the area is kept for the next hash"
        );
        hash_on(&pool);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(pool.memory_held(), 4096 * 1024, "reused, not grown");
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(pool.memory_held(), 0, "given back after the quiet period");
        hash_on(&pool);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(pool.memory_held(), 4096 * 1024, "and taken again on demand");
    }

    #[test]
    fn the_default_leaves_a_core_to_the_pages() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(default_threads(), cores.saturating_sub(1).max(1));
        assert!(cores == 1 || default_threads() < cores);
    }
}
