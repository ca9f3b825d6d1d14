//! The accept loop's one step, shared by the bridges that accept their own
//! connections (HTTP and IPC).

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The next accepted connection, or `None` once `shutdown` is cancelled.
///
/// A failing accept (EMFILE and friends: out of descriptors) backs off
/// instead of spinning, and is logged at most once a second (`key` names it).
pub async fn next<S, F, Fut>(
    shutdown: &CancellationToken,
    key: &'static str,
    mut accept: F,
) -> Option<S>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return None,
            accepted = accept() => match accepted {
                Ok(stream) => return Some(stream),
                Err(e) => {
                    if let Some(left_out) = crate::rate_limit::admit(key) {
                        tracing::warn!(error = %e, left_out, "{key} failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}
