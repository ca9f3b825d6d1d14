//! Where a batch is computed: on the blocking pool when it is large enough
//! to hold up the connections sharing a runtime worker, in place when it is
//! not (handing a call to another thread costs more, on these machines, than
//! computing a few thousand elements).

use crate::ground::error::CallError;

/// Request bytes up to which a batch is computed in place: 2,048 pairs of
/// complex numbers, some microseconds of work.
pub(crate) const IN_PLACE_BYTES: usize = 64 * 1024;

/// `compute()`, in place for a request of at most [`IN_PLACE_BYTES`],
/// else on the blocking pool.
///
/// # Errors
/// [`CallError::Internal`] when the computation panicked or the runtime is
/// shutting down; [`CallError::Unavailable`] when the system has no thread
/// to give the pool (tokio panics then, in the caller: caught here, it is
/// this call's "busy", not the end of the connection or the server).
pub(crate) async fn run<T, F>(request_bytes: usize, compute: F) -> Result<T, CallError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if request_bytes <= IN_PLACE_BYTES {
        // As the pool would: a panic is this call's failure, not the server's.
        return std::panic::catch_unwind(std::panic::AssertUnwindSafe(compute)).map_err(|_| {
            CallError::Internal("batch task failed: the computation panicked".to_owned())
        });
    }
    let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        tokio::task::spawn_blocking(compute)
    }))
    .map_err(|_| {
        CallError::Unavailable(
            "server busy: it cannot start a thread for this batch; try again".to_owned(),
        )
    })?;
    spawned
        .await
        .map_err(|e| CallError::Internal(format!("batch task failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_batches_run_in_place_large_ones_on_the_pool() {
        let here = std::thread::current().id();
        let small = run(IN_PLACE_BYTES, move || std::thread::current().id()).await;
        assert_eq!(small.ok(), Some(here));
        let large = run(IN_PLACE_BYTES + 1, move || std::thread::current().id()).await;
        let large = large.expect("the pool ran it");
        assert_ne!(large, here);
    }
}
