//! The IPC bridge: the articles' JSON requests over a Unix socket, answered on
//! the same connection (the reply the article never got back).
//!
//! A connection carries any number of requests. Each request is one JSON
//! object; it needs no delimiter, because the server finds where the object
//! ends by itself, so a client that sends one object without a newline and
//! then waits gets its answer. Each reply is one JSON object and a newline.

use std::sync::Arc;

use tokio::net::UnixListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::ground::budget::Budget;
use crate::ground::config::Limits;
use crate::ground::error::StartError;
use crate::ground::tasks::Tasks;

mod connection;
mod dispatch;
mod echo;
mod framer;
mod reply;
mod shared;
mod socket;

use connection::connection;
pub use dispatch::answer_request;
pub use echo::serve_echo;
use reply::{refuse, refuse_user};
pub use shared::Stop;
pub use socket::{bind, remove_socket};

/// Serves IPC on `listener` in the background of `tasks`.
///
/// # Errors
/// When no shutdown pipe can be made for shared-memory connections.
pub fn serve_in(
    tasks: &Tasks,
    listener: UnixListener,
    budget: Budget,
    allow_other_users: bool,
) -> Result<(), StartError> {
    let stop = Stop::on(&tasks.shutdown)
        .map_err(|e| StartError::Io(format!("ipc: a shutdown pipe: {e}"), e.kind()))?;
    tasks.spawn(serve(
        listener,
        tasks.limits.clone(),
        budget,
        allow_other_users,
        tasks.shutdown.clone(),
        stop,
        tasks.tracker.clone(),
    ));
    Ok(())
}

/// Serves connections until `shutdown`, then lets open ones finish their
/// current request.
pub async fn serve(
    listener: UnixListener,
    limits: Limits,
    budget: Budget,
    allow_other_users: bool,
    shutdown: CancellationToken,
    stop: Stop,
    tracker: TaskTracker,
) {
    let our_uid = rustix::process::getuid().as_raw();
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let limits = Arc::new(limits);
    loop {
        let accepted =
            crate::ground::accept::next(&shutdown, "ipc accept", || listener.accept()).await;
        let Some((stream, _)) = accepted else { break };
        if !allow_other_users {
            // The socket is 0600, but a directory or mode can be changed by
            // mistake: the kernel's word on who connected is the check.
            match stream.peer_cred() {
                Ok(cred) if cred.uid() == our_uid => {}
                Ok(cred) => {
                    tracker.spawn(refuse_user(stream, cred.uid()));
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ipc: cannot read the peer's credentials; refusing");
                    continue;
                }
            }
        }
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracker.spawn(refuse(stream, limits.max_connections));
            continue;
        };
        let (limits, budget, shutdown) = (limits.clone(), budget.clone(), shutdown.clone());
        let stop = stop.clone();
        tracker.spawn(async move {
            if let Err(e) = connection(stream, &limits, &budget, &shutdown, &stop).await {
                tracing::debug!(error = %e, "ipc connection ended with an error");
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests;
