//! A watchdog on a long reply: unless the reply reports progress at least
//! once per idle timeout, the token of its connection is cancelled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

/// A reply under watch (see [`Progress::watch`]); the watch ends when dropped.
#[derive(Debug)]
pub struct Progress {
    made: Arc<AtomicBool>,
    watchdog: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Watches a reply: unless [`Progress::made`] is called at least once per
    /// `idle`, `stalled` is cancelled (its connection closes).
    #[must_use]
    pub fn watch(idle: Duration, stalled: CancellationToken) -> Progress {
        let made = Arc::new(AtomicBool::new(false));
        let seen = made.clone();
        let watchdog = tokio::spawn(async move {
            loop {
                sleep(idle).await;
                if !seen.swap(false, Ordering::Relaxed) {
                    tracing::debug!("a reply made no progress: its connection is closed");
                    stalled.cancel();
                    return;
                }
            }
        });
        Progress { made, watchdog }
    }

    /// The reply took a slice.
    pub fn made(&self) {
        self.made.store(true, Ordering::Relaxed);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.watchdog.abort();
    }
}
