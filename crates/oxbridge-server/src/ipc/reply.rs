//! How a connection ends when it is refused or broken: its last reply written
//! and the socket closed so the client reads it, the refusal logged and
//! counted as a call of no function.

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use super::dispatch::error_reply;
use crate::ground::error::CallError;

/// Writes a connection's last reply and closes it so that the client reads
/// that reply whatever its timing (see [`crate::ground::linger`]).
pub(super) async fn end_with(stream: &mut UnixStream, reply: &[u8]) {
    if stream.write_all(reply).await.is_ok() {
        crate::ground::linger::close(stream).await;
    }
}

pub(super) async fn refuse_user(stream: UnixStream, uid: u32) {
    let e = CallError::PermissionDenied(format!(
        "uid {uid} may not use this server (it serves its own user only; start it with --allow-other-users to share it)"
    ));
    refuse_with(stream, &e).await;
}

pub(super) async fn refuse(stream: UnixStream, max: usize) {
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
pub(super) fn refused(e: &CallError) {
    crate::ground::log::log_call_error("ipc", e);
    crate::ground::metrics::Call::start("ipc").finish(Some(e.kind()));
}
