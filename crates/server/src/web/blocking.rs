//! Image checks (decoding, hashing) off the async workers: on the blocking pool, at most one
//! per core at a time, so that a burst of uploads neither stalls every request nor takes the
//! memory of many full decodes at once. (Password hashing has its own cap, in `auth`.)

use std::sync::OnceLock;
use tokio::sync::Semaphore;

static IMAGE_WORK: OnceLock<Semaphore> = OnceLock::new();

/// Runs `work` on the blocking pool under the image cap; `None` if it panicked.
pub(crate) async fn image_work<T, F>(work: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let cap = std::thread::available_parallelism().map_or(2, |n| n.get());
    let semaphore = IMAGE_WORK.get_or_init(|| Semaphore::new(cap));
    // The semaphore is never closed: acquiring cannot fail.
    let _permit = semaphore.acquire().await.ok();
    tokio::task::spawn_blocking(work).await.ok()
}
