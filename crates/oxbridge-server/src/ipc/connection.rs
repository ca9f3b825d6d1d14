//! One IPC connection: read requests as they arrive (within the memory
//! budget and the idle timeout), answer each in order, close on a mistake
//! that leaves the stream unframeable.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::dispatch::{answer_request, error_reply};
use super::framer::{Framer, Scan};
use super::reply::{end_with, refused};
use super::shared::{served, Stop};
use crate::codec::frames;
use crate::ground::budget::{Budget, Held};
use crate::ground::config::Limits;
use crate::ground::error::CallError;

/// Writes `bytes`, or gives up on a client that has not read them within
/// the idle timeout (`Ok(false)`: the connection is to be closed).
pub(super) async fn write_within(
    stream: &mut UnixStream,
    bytes: &[u8],
    limits: &Limits,
) -> io::Result<bool> {
    match tokio::time::timeout(limits.idle_timeout, stream.write_all(bytes)).await {
        Ok(written) => written.map(|()| true),
        Err(_elapsed) => {
            tracing::debug!("ipc client stopped reading its replies; closing");
            Ok(false)
        }
    }
}

/// The least room made for the next read.
const READ_BYTES: usize = 64 * 1024;
/// The most room made ahead of the bytes that have arrived.
const GROW_BYTES: usize = 4 * 1024 * 1024;
/// Buffers larger than this are shrunk once their request is answered...
const SHRINK_ABOVE: usize = 1024 * 1024;
/// ... to this.
const KEEP_BYTES: usize = 128 * 1024;

pub(super) async fn connection(
    stream: UnixStream,
    limits: &Limits,
    budget: &Budget,
    shutdown: &CancellationToken,
    stop: &Stop,
) -> io::Result<()> {
    let Some(mut stream) = served(stream, limits, budget, shutdown, stop).await? else {
        return Ok(());
    };
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut framer = Framer::default();
    let mut replies: Vec<u8> = Vec::new();
    // The share of the memory budget held for a large request in progress,
    // until its reply has been written.
    let mut held: Option<Held> = None;
    loop {
        // Answer every complete request already received, in one write.
        let scan = loop {
            match framer.scan(&buf, limits.max_request_bytes) {
                // A whole request can arrive in one read: the limit holds all the same.
                Scan::Json { start, end } if end - start > limits.max_json_bytes() => {
                    break Scan::TooLarge;
                }
                Scan::Json { start, end } => {
                    replies.extend_from_slice(&answer_request(&buf[start..end], limits));
                    buf.drain(..end);
                }
                Scan::Binary { start, end } => {
                    let frame = &buf[start..end];
                    // A large batch computes for milliseconds: tell the
                    // runtime, so other connections move to another worker.
                    let reply = if frame.len() > 1 << 20 {
                        tokio::task::block_in_place(|| frames::handle("ipc", frame))
                    } else {
                        frames::handle("ipc", frame)
                    };
                    if replies.is_empty() {
                        replies = reply; // no copy of a large reply
                    } else {
                        replies.extend_from_slice(&reply);
                    }
                    buf.drain(..end);
                }
                other => break other,
            }
        };
        let replied = !replies.is_empty();
        if replied {
            // A client that stops reading its replies is closed like an idle
            // one, and gives back its share of the budget.
            if !write_within(&mut stream, &replies, limits).await? {
                return Ok(());
            }
            held = None;
            replies.clear();
            // What one large request needed is not kept for an idle
            // connection (small buffers stay: reallocating them per request
            // would cost more than the request).
            if replies.capacity() > SHRINK_ABOVE {
                replies = Vec::new();
            }
            if buf.capacity() > SHRINK_ABOVE {
                buf.shrink_to(KEEP_BYTES.max(buf.len()));
            }
        }
        match &scan {
            Scan::BadFrame(e, version) => {
                refused(e);
                end_with(&mut stream, &frames::error_reply(*version, e)).await;
                return Ok(());
            }
            Scan::Garbage => {
                let e = CallError::BadRequest(
                    "expected a JSON object such as {\"command\": \"add\", ...}".into(),
                );
                refused(&e);
                end_with(&mut stream, &error_reply(&e)).await;
                return Ok(());
            }
            Scan::TooLarge | Scan::Partial if buf.len() > limits.max_json_bytes() => {
                let e = CallError::TooLarge {
                    limit: limits.max_request_bytes,
                };
                refused(&e);
                end_with(&mut stream, &error_reply(&e)).await;
                return Ok(());
            }
            Scan::TooLarge
            | Scan::Empty
            | Scan::Partial
            | Scan::PartialBinary { .. }
            | Scan::Json { .. }
            | Scan::Binary { .. } => {}
        }
        let idle = scan == Scan::Empty;
        if idle && shutdown.is_cancelled() {
            return Ok(());
        }
        // A large request holds its share of the budget before more of it
        // is read (small ones are covered by the budget's margin).
        let large = match scan {
            Scan::PartialBinary { total, version } if total > READ_BYTES => {
                Some((total, Some(version)))
            }
            Scan::Partial if buf.len() >= READ_BYTES => Some((limits.max_json_bytes(), None)),
            _ => None,
        };
        if let (Some((size, frame_version)), None) = (large, &held) {
            match budget.hold(size).await {
                Ok(share) => {
                    held = Some(share);
                    // Counted now: one allocation for the whole frame, not
                    // a growing buffer copied as it goes.
                    if frame_version.is_some() {
                        buf.reserve_exact(size.saturating_sub(buf.len()));
                    }
                }
                Err(busy) => {
                    refused(&busy);
                    let reply = match frame_version {
                        Some(version) => frames::error_reply(version, &busy),
                        None => error_reply(&busy),
                    };
                    end_with(&mut stream, &reply).await;
                    return Ok(());
                }
            }
        }
        // Room for the rest of a frame whose length is known, but at most a
        // step at a time: memory follows the bytes that arrive, never what a
        // header claims.
        let wanted = match scan {
            Scan::PartialBinary { total, .. } => total.saturating_sub(buf.len()),
            _ => 0,
        };
        buf.reserve(wanted.clamp(READ_BYTES, GROW_BYTES));
        if replied && busy_poll(&stream, &mut buf, limits.busy_poll).await? {
            continue;
        }
        let read = tokio::select! {
            // Between requests, shutdown closes the connection at once; in
            // the middle of one, the request is finished first.
            () = shutdown.cancelled(), if idle => return Ok(()),
            r = tokio::time::timeout(limits.idle_timeout, stream.read_buf(&mut buf)) => r,
        };
        match read {
            Err(_elapsed) => {
                tracing::debug!("ipc connection idle for too long; closing");
                return Ok(());
            }
            Ok(Ok(0)) => {
                if !idle {
                    let e = CallError::BadRequest(
                        "connection closed in the middle of a request".into(),
                    );
                    refused(&e);
                    let _ = stream.write_all(&error_reply(&e)).await;
                }
                return Ok(());
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// After a reply, a client that calls again soon sends its next request
/// within microseconds. Waiting for it in epoll lets this worker go to sleep,
/// and waking it again costs more than the whole call; so for a short, bounded
/// time the connection polls the socket without sleeping, yielding to other
/// tasks in between. Returns whether data arrived (`Ok(true)`), or `Ok(false)`
/// when the budget ran out and the caller should wait normally.
async fn busy_poll(
    stream: &UnixStream,
    buf: &mut Vec<u8>,
    budget: std::time::Duration,
) -> io::Result<bool> {
    if budget.is_zero() {
        return Ok(false);
    }
    let deadline = std::time::Instant::now() + budget;
    while std::time::Instant::now() < deadline {
        match stream.try_read_buf(buf) {
            // End of stream: let the normal read path see and report it.
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => tokio::task::yield_now().await,
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
