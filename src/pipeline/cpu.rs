//! The CPU pool of the pipeline: parsing, normalising, language detection and tagging run on a
//! rayon pool with one thread per core (`available_parallelism`, or `RAYON_NUM_THREADS`), never
//! on the async reactor threads, so fetching keeps its requests in flight while every core works.
//! It also hands the memory a round freed back to the system ([`release_freed_memory`]).

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::PipelineError;

/// Runs `f` on the CPU pool and waits for it without blocking the reactor. A panic in `f` becomes
/// [`PipelineError::Join`] instead of taking the process down.
pub(super) async fn run<T, F>(f: F) -> Result<T, PipelineError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(panic)) => Err(PipelineError::Join(panic_message(&panic))),
        Err(_) => Err(PipelineError::Join("a CPU task was dropped".into())),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into());
    format!("a CPU task panicked: {what}")
}

/// Returns the heap pages a fetch round (or a step of a digest build) freed to the operating
/// system. glibc keeps freed memory in per-thread arenas (the pool's, the reactor's, the
/// writer's): an idle daemon would go on holding a round's peak, and memory grouping freed on the
/// pool's threads would not serve the next step on another thread. `malloc_trim` releases every
/// arena's free pages. Elsewhere a no-op.
pub(super) fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointer from us
    // and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
