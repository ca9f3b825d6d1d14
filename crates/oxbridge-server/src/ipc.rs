//! The IPC bridge: the articles' JSON requests over a Unix socket, answered on
//! the same connection (the reply the article never got back).
//!
//! A connection carries any number of requests. Each request is one JSON
//! object; it needs no delimiter, because the server finds where the object
//! ends by itself, so a client that sends one object without a newline and
//! then waits gets its answer. Each reply is one JSON object and a newline.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::budget::{Budget, Held};
use crate::config::Limits;
use crate::error::CallError;
use crate::frames;
use crate::json_call;
use crate::wire;
use crate::StartError;

/// Binds the socket: a private directory, a 0600 socket, a stale file from a
/// crashed server replaced, a live server's socket left alone.
///
/// # Errors
/// [`StartError::SocketInUse`] when a server answers on `path`, or the I/O error.
pub fn bind(path: &Path, private_dir: bool) -> Result<UnixListener, StartError> {
    let io_err = |e: io::Error| StartError::Io(format!("{}: {e}", path.display()), e.kind());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if private_dir {
            ensure_private_dir(dir)?;
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(StartError::SocketInUse(path.to_path_buf()));
            }
            tracing::info!(path = %path.display(), "replacing a stale socket");
            std::fs::remove_file(path).map_err(io_err)?;
        }
        Ok(_) => {
            return Err(StartError::Io(
                format!(
                    "{} exists and is not a socket; not touching it",
                    path.display()
                ),
                io::ErrorKind::AlreadyExists,
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    let listener = UnixListener::bind(path).map_err(io_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io_err)?;
    Ok(listener)
}

/// Creates `dir` as 0700, or checks that an existing one is ours and private.
fn ensure_private_dir(dir: &Path) -> Result<(), StartError> {
    let io_err = |e: io::Error| StartError::Io(format!("{}: {e}", dir.display()), e.kind());
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io_err)?;
    let uid = rustix::process::getuid().as_raw();
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(StartError::Io(
            format!(
                "{} must be a directory owned by uid {uid} with mode 0700 (found mode {:o}, uid {})",
                dir.display(),
                meta.mode() & 0o7777,
                meta.uid()
            ),
            io::ErrorKind::PermissionDenied,
        ));
    }
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
        tracker.spawn(async move {
            if let Err(e) = connection(stream, &limits, &budget, &shutdown).await {
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
    crate::log_call_error("ipc", e);
    end_with(&mut stream, &error_reply(e)).await;
}

/// Writes a connection's last reply and closes it so that the client reads
/// that reply whatever its timing (see [`crate::linger`]).
async fn end_with(stream: &mut UnixStream, reply: &[u8]) {
    if stream.write_all(reply).await.is_ok() {
        crate::linger::close(stream).await;
    }
}

/// Where the next request in a connection's buffer ends.
#[derive(Default)]
struct Framer {
    /// Bytes of the buffer already scanned for the current request.
    scanned: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

/// What the framer found in the buffer.
#[derive(Debug, PartialEq)]
enum Scan {
    /// Only whitespace: nothing pending.
    Empty,
    /// A request starts but has not ended yet.
    Partial,
    /// A complete JSON request occupies `buffer[start..end]`.
    Json { start: usize, end: usize },
    /// A complete binary batch frame occupies `buffer[start..end]`.
    Binary { start: usize, end: usize },
    /// A binary frame of `version` has begun; it will be `total` bytes long.
    PartialBinary { total: usize, version: u8 },
    /// A binary frame header that cannot be served (bad magic, too large),
    /// to be answered in `version`.
    BadFrame(CallError, u8),
    /// The buffer does not start with a JSON object or array.
    Garbage,
    /// A complete JSON request, larger than the limit.
    TooLarge,
}

impl Framer {
    /// Scans `buf` for the end of the first request, resuming where the last
    /// call stopped: linear in the bytes received, however they are split.
    fn scan(&mut self, buf: &[u8], limit: usize) -> Scan {
        let Some(start) = buf.iter().position(|b| !b.is_ascii_whitespace()) else {
            return Scan::Empty;
        };
        if buf[start] == frames::FIRST_BYTE {
            let Some(header) = buf.get(start..start + frames::REQUEST_HEADER) else {
                return Scan::PartialBinary {
                    total: frames::REQUEST_HEADER,
                    version: 1,
                };
            };
            let version = frames::reply_version(header);
            return match frames::frame_len(header, limit) {
                Ok(total) if buf.len() - start >= total => Scan::Binary {
                    start,
                    end: start + total,
                },
                Ok(total) => Scan::PartialBinary { total, version },
                Err(e) => Scan::BadFrame(e, version),
            };
        }
        if !matches!(buf[start], b'{' | b'[') {
            return Scan::Garbage;
        }
        let from = self.scanned.max(start);
        for (i, &b) in buf.iter().enumerate().skip(from) {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        *self = Framer::default();
                        return Scan::Json { start, end: i + 1 };
                    }
                }
                _ => {}
            }
        }
        self.scanned = buf.len();
        Scan::Partial
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

async fn connection(
    mut stream: UnixStream,
    limits: &Limits,
    budget: &Budget,
    shutdown: &CancellationToken,
) -> io::Result<()> {
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
                Scan::Json { start, end } if end - start > limits.max_request_bytes => {
                    break Scan::TooLarge;
                }
                Scan::Json { start, end } => {
                    replies.extend_from_slice(&answer_request(&buf[start..end]));
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
            let Ok(written) =
                tokio::time::timeout(limits.idle_timeout, stream.write_all(&replies)).await
            else {
                tracing::debug!("ipc client stopped reading its reply; closing");
                return Ok(());
            };
            written?;
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
                crate::log_call_error("ipc", e);
                end_with(&mut stream, &frames::error_reply(*version, e)).await;
                return Ok(());
            }
            Scan::Garbage => {
                let e = CallError::BadRequest(
                    "expected a JSON object such as {\"command\": \"add\", ...}".into(),
                );
                crate::log_call_error("ipc", &e);
                end_with(&mut stream, &error_reply(&e)).await;
                return Ok(());
            }
            Scan::TooLarge | Scan::Partial if buf.len() > limits.max_request_bytes => {
                let e = CallError::TooLarge {
                    limit: limits.max_request_bytes,
                };
                crate::log_call_error("ipc", &e);
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
            Scan::Partial if buf.len() >= READ_BYTES => Some((limits.max_request_bytes, None)),
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
                    crate::log_call_error("ipc", &busy);
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
                    crate::log_call_error("ipc", &e);
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

/// Answers one JSON request with one line of JSON (public for the
/// benchmarks and the fuzzer, which drive it without a socket).
#[must_use]
pub fn answer_request(frame: &[u8]) -> Vec<u8> {
    let mut out = match answer(frame) {
        Ok(bytes) => bytes,
        Err(e) => {
            crate::log_call_error("ipc", &e);
            return error_reply(&e);
        }
    };
    out.push(b'\n');
    out
}

/// One IPC request: the article's `{"command": "add", "a": ..., "b": ...}`,
/// any exported function by name with its arguments as fields, or
/// `{"command": "health"}`.
fn answer(frame: &[u8]) -> Result<Vec<u8>, CallError> {
    let mut fields: json_call::Fields<'_> = wire::decode(frame)?;
    let command = fields
        .remove("command")
        .ok_or_else(|| CallError::BadRequest("the request needs field \"command\"".into()))?;
    let command: std::borrow::Cow<'_, str> = serde_json::from_str(command.get())
        .map_err(|_| CallError::BadRequest("field \"command\" must be a string".into()))?;
    if command == "health" {
        return Ok(to_json(
            &serde_json::json!({"status": "serving", "version": oxbridge_core::VERSION}),
        ));
    }
    let f = crate::library().get(&command).ok_or_else(|| {
        let known: Vec<&str> = crate::library().functions.iter().map(|f| f.name).collect();
        CallError::NotFound(format!(
            "unknown command {command:?}: expected {} or health",
            known.join(", ")
        ))
    })?;
    json_call::call(f, &fields)
}

/// `{"error": {"kind": ..., "message": ...}}` and a newline.
fn error_reply(e: &CallError) -> Vec<u8> {
    let mut out = serde_json::to_vec(&serde_json::json!({
        "error": {"kind": e.kind().name(), "message": e.to_string()}
    }))
    .unwrap_or_default();
    out.push(b'\n');
    out
}

/// A reply as JSON bytes; our replies are plain data, so this cannot fail.
fn to_json<T: serde::Serialize>(reply: &T) -> Vec<u8> {
    serde_json::to_vec(reply).unwrap_or_default()
}

/// A benchmarking floor: writes back whatever it reads, on any number of
/// connections, with no parsing. The same socket, runtime and process as the
/// IPC bridge, so the difference between the two is the cost of oxbridge itself.
pub async fn serve_echo(listener: UnixListener, shutdown: CancellationToken, tracker: TaskTracker) {
    loop {
        let mut stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let mut buf = vec![0_u8; 64 * 1024];
            loop {
                let n = tokio::select! {
                    () = shutdown.cancelled() => return,
                    r = stream.read(&mut buf) => match r {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    },
                };
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// Removes the socket file at shutdown, if it is still ours.
pub fn remove_socket(path: &PathBuf) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "could not remove the socket file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&[u8]]) -> Vec<String> {
        let mut framer = Framer::default();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Scan::Json { start, end } = framer.scan(&buf, usize::MAX) {
                out.push(String::from_utf8(buf[start..end].to_vec()).unwrap());
                buf.drain(..end);
            }
        }
        out
    }

    #[test]
    fn finds_objects_without_delimiters_across_any_split() {
        let text = br#"{"command":"add","a":[1,3],"b":[0,-5]}{"x":"}\"{"}  [1,[2]]"#;
        let whole = frames(&[text]);
        assert_eq!(
            whole,
            vec![
                r#"{"command":"add","a":[1,3],"b":[0,-5]}"#,
                r#"{"x":"}\"{"}"#,
                "[1,[2]]"
            ]
        );
        for cut in 1..text.len() {
            assert_eq!(
                frames(&[&text[..cut], &text[cut..]]),
                whole,
                "split at {cut}"
            );
        }
    }

    #[test]
    fn answers_the_article_request() {
        let reply = answer_request(br#"{"command":"add","a":[1.0,3.0],"b":[0.0,-5.0]}"#);
        assert_eq!(reply, b"{\"result\":[1.0,-2.0]}\n");
        let reply = answer_request(br#"{"command":"div","a":[1,0],"b":[0,0]}"#);
        assert_eq!(
            String::from_utf8(reply).unwrap(),
            "{\"error\":{\"kind\":\"zero_division\",\"message\":\"complex division by zero\"}}\n"
        );
    }

    #[test]
    fn garbage_and_unknown_commands_are_errors() {
        assert_eq!(Framer::default().scan(b"  hello", 100), Scan::Garbage);
        assert_eq!(
            Framer::default().scan(b"OXB", 100),
            Scan::PartialBinary {
                total: 32,
                version: 1
            }
        );
        let reply = String::from_utf8(answer_request(
            br#"{"command":"no-such-op","a":[1,0],"b":[1,0]}"#,
        ))
        .unwrap();
        assert!(reply.contains("\"kind\":\"not_found\""), "{reply}");
        let reply = String::from_utf8(answer_request(br#"{"command":"add","a":[1,0]}"#)).unwrap();
        assert!(reply.contains("needs field \\\"b\\\""), "{reply}");
    }
}
