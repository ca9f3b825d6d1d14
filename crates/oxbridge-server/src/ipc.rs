//! The IPC bridge: the articles' JSON requests over a Unix socket, answered on
//! the same connection (the reply the article never got back).
//!
//! A connection carries any number of requests. Each request is one JSON
//! object; it needs no delimiter, because the server finds where the object
//! ends by itself, so a client that sends one object without a newline and
//! then waits gets its answer. Each reply is one JSON object and a newline.

use std::sync::Arc;

use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::budget::Budget;
use crate::config::Limits;
use crate::error::CallError;

mod connection;
mod dispatch;
mod echo;
mod framer;
mod shared;
mod socket;

use connection::{connection, end_with};
pub use dispatch::answer_request;
use dispatch::error_reply;
pub use echo::serve_echo;
pub use shared::Stop;
pub use socket::{bind, remove_socket};

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
        let accepted = crate::accept::next(&shutdown, "ipc accept", || listener.accept()).await;
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

async fn refuse_user(stream: UnixStream, uid: u32) {
    let e = CallError::PermissionDenied(format!(
        "uid {uid} may not use this server (it serves its own user only; start it with --allow-other-users to share it)"
    ));
    refuse_with(stream, &e).await;
}

async fn refuse(stream: UnixStream, max: usize) {
    let e = CallError::Unavailable(format!(
        "server busy: {max} connections already open; try again later"
    ));
    refuse_with(stream, &e).await;
}

/// Answers a connection that will not be served with `e`, then closes it.
async fn refuse_with(mut stream: UnixStream, e: &CallError) {
    refused(e);
    end_with(&mut stream, &error_reply(e)).await;
}

/// A request refused before it reached a function (a busy server, garbage,
/// a frame over the limit): logged, and counted as a call of no function.
fn refused(e: &CallError) {
    crate::log_call_error("ipc", e);
    crate::metrics::Call::start("ipc").finish(Some(e.kind()));
}

#[cfg(test)]
mod tests;
