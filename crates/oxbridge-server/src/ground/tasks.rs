//! Where a bridge's background work runs: the server's task tracker, and the
//! token on which its listeners stop and its connections drain.

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ground::config::Limits;

/// What a bridge needs to serve in the background of a started server.
#[derive(Clone)]
pub struct Tasks {
    /// Cancelled when the listeners close and connections drain.
    pub shutdown: CancellationToken,
    /// Every task of the server, waited for (at most the drain timeout).
    pub tracker: TaskTracker,
    /// The server's limits.
    pub limits: Limits,
}

impl Tasks {
    /// Runs `task` in the server's background, waited for on a stop.
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }
}
