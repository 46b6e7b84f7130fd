//! CPU-heavy work off the async workers: on the blocking pool, at most one per core at a time
//! for each kind of work, so that a burst neither stalls every request nor takes the memory of
//! many at once. Password hashing (argon2id, 19 MiB each) and image checks (decoding, hashing)
//! each have their own cap.

use std::sync::OnceLock;
use tokio::sync::Semaphore;

/// The machine's cores, read once.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// One kind of capped work.
pub(crate) struct Capped {
    turns: OnceLock<Semaphore>,
}

impl Capped {
    pub(crate) const fn new() -> Self {
        Capped {
            turns: OnceLock::new(),
        }
    }

    /// Runs `work` on the blocking pool when a turn is free; `started` is told how many run
    /// now (this one included). `None` if the work panicked.
    pub(crate) async fn run<T, F>(&self, started: impl FnOnce(usize), work: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let turns = self.turns.get_or_init(|| Semaphore::new(cores()));
        // The semaphore is never closed: acquiring cannot fail.
        let _turn = turns.acquire().await.ok();
        started(cores() - turns.available_permits());
        tokio::task::spawn_blocking(work).await.ok()
    }
}

/// Password hashing (argon2id).
pub(crate) static PASSWORD_HASHING: Capped = Capped::new();

/// Image checks of uploads, transfer receipts and face photos.
static IMAGE_CHECKS: Capped = Capped::new();

/// Runs an image check under its cap; `None` if it panicked.
pub(crate) async fn image_work<T, F>(work: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    IMAGE_CHECKS.run(|_| {}, work).await
}
