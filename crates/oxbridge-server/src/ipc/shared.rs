//! An IPC connection in shared-memory mode (see [`crate::codec::frames::shared`]):
//! the client's first message passed a region, and every message after it is
//! a small version-3 message, read with `recvmsg` so that the descriptor of
//! each further region passed is received rather than dropped.
//!
//! Such a connection is served on a thread of its own, its socket taken out
//! of the runtime's reactor. A large batch comes as pieces sent back to back
//! while this side computes: through the reactor, every piece that arrived
//! woke a runtime thread that preempted the computing one (a quarter of the
//! server's time on a 1e6-element batch, on two cores). Here the pieces wait
//! in the socket until the thread that computes reads them.
//!
//! The regions are this connection's alone (the peer's uid was checked when
//! it connected), at most `--max-shared-bytes` together, and unmapped when
//! the client detaches them or the connection ends.

use std::io::{self, IoSliceMut, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxbridge_shm::{RegionError, Regions};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags};
use tokio::io::Interest;
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::reply::{end_with, refused};
use crate::codec::frames::shared::{self as v3, ATTACH, CALL, DETACH, MAX_MESSAGE, VERSION};
use crate::codec::frames::{self, REQUEST_HEADER};
use crate::ground::budget::Budget;
use crate::ground::config::Limits;
use crate::ground::error::CallError;

/// How long this thread polls for the next message before it sleeps. The
/// pieces of a batch come a few tens of µs apart, as fast as the client
/// copies them: a thread that slept between them was woken by the client's
/// every send, and the scheduler, seeing the two wake each other, often
/// moved it onto the client's core, where the copying and the computing
/// no longer overlapped (a 1e6 `mul_many` took ~2.1 ms instead of ~1.25).
const SPIN: Duration = Duration::from_micros(200);

/// Serves the connection to its end if its first message is a shared-memory
/// one (`Ok(None)`); otherwise hands it back, its bytes unread, for the
/// ordinary loop.
pub(super) async fn served(
    stream: UnixStream,
    limits: &Limits,
    budget: &Budget,
    shutdown: &CancellationToken,
    stop: &Stop,
) -> io::Result<Option<UnixStream>> {
    let mut magic = [0_u8; 4];
    let peeked = loop {
        let ready = tokio::select! {
            // An idle new connection: the ordinary loop handles its end.
            () = shutdown.cancelled() => return Ok(Some(stream)),
            r = tokio::time::timeout(limits.idle_timeout, stream.readable()) => r,
        };
        if !matches!(ready, Ok(Ok(()))) {
            return Ok(Some(stream));
        }
        let peek = || Ok(rustix::net::recv(&stream, &mut magic, RecvFlags::PEEK)?.0);
        match stream.try_io(Interest::READABLE, peek) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => break other?,
        }
    };
    if peeked < 4 || frames::version(&magic).ok() != Some(VERSION) {
        return Ok(Some(stream));
    }
    // Blocking, for writes bounded by the kernel's timeout; reads poll.
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    let (stop, limits, budget) = (stop.clone(), limits.clone(), budget.clone());
    let (done, ended) = tokio::sync::oneshot::channel();
    // The thread is started before it is handed the stream: when the system
    // has no thread to give, the client is told the server is busy.
    let (hand, handed) = std::sync::mpsc::sync_channel::<StdUnixStream>(1);
    let started = std::thread::Builder::new()
        .name("oxbridge-ipc-shm".into())
        .spawn(move || {
            let Ok(stream) = handed.recv() else { return };
            let ended = serve(&stream, &limits, &budget, &stop.0);
            let _ = done.send((stream, ended));
        });
    let (stream, ended) = match started {
        Ok(_) => {
            hand.send(stream).map_err(io::Error::other)?;
            ended.await.map_err(io::Error::other)?
        }
        Err(e) => {
            tracing::warn!(error = %e, "ipc: cannot start a thread for a shared-memory connection");
            let busy = CallError::Unavailable(
                "server busy: it cannot start a thread for this connection; try again".into(),
            );
            (stream, Ok(Some(busy)))
        }
    };
    if let Some(e) = ended? {
        stream.set_nonblocking(true)?;
        let mut stream = UnixStream::from_std(stream)?;
        refused(&e);
        end_with(&mut stream, &frames::error_reply(VERSION, &e)).await;
    }
    Ok(None)
}

/// A pipe that becomes readable when the server stops and stays so: what
/// wakes the threads of idle shared-memory connections, which wait in
/// `poll` rather than in the runtime. One per server, made at start.
#[derive(Clone)]
pub struct Stop(Arc<std::io::PipeReader>);

impl Stop {
    /// The pipe, written once `shutdown` is cancelled.
    ///
    /// # Errors
    /// When no pipe can be made (out of descriptors).
    pub fn on(shutdown: &CancellationToken) -> io::Result<Self> {
        let (wake, mut signal) = std::io::pipe()?;
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            shutdown.cancelled().await;
            let _ = signal.write_all(&[1]);
        });
        Ok(Stop(Arc::new(wake)))
    }
}

/// Answers version-3 messages until the client leaves, idles or stops
/// reading, or the server stops (`Ok(None)`); `Ok(Some(e))` when the client
/// broke the protocol, to be answered with `e` before the connection closes.
fn serve(
    stream: &StdUnixStream,
    limits: &Limits,
    budget: &Budget,
    stop: &std::io::PipeReader,
) -> io::Result<Option<CallError>> {
    stream.set_write_timeout(Some(limits.idle_timeout))?;
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_MESSAGE);
    let mut chunk = vec![0_u8; MAX_MESSAGE];
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut regions = Regions::new(limits.max_shared_bytes);
    loop {
        while buf.len() >= REQUEST_HEADER {
            let total = match frames::version(&buf)
                .and_then(|v| match v {
                    VERSION => Ok(()),
                    _ => Err(CallError::BadRequest(
                        "a shared-memory connection carries only version-3 messages".into(),
                    )),
                })
                .and_then(|()| frames::frame_len(&buf, MAX_MESSAGE))
            {
                Ok(total) => total,
                Err(e) => return Ok(Some(e)),
            };
            if buf.len() < total {
                break;
            }
            let reply = match v3::kind(&buf) {
                ATTACH => match attach(&mut regions, &buf, fds.pop(), limits, budget) {
                    Ok(id) => v3::attached(id),
                    Err(e) => {
                        refused(&e);
                        frames::error_reply(VERSION, &e)
                    }
                },
                DETACH => match v3::region_id(&buf) {
                    Ok(id) => {
                        regions.detach(id);
                        v3::attached(id)
                    }
                    Err(e) => frames::error_reply(VERSION, &e),
                },
                CALL => v3::call("ipc", &buf[..total], &mut regions),
                other => {
                    let e = CallError::BadRequest(format!("unknown shared-memory message {other}"));
                    return Ok(Some(e));
                }
            };
            buf.drain(..total);
            match (&*stream).write_all(&reply) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    tracing::debug!("ipc client stopped reading its replies; closing");
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
        // Only an idle connection ends at shutdown: a message half received
        // is waited for, within the idle timeout.
        let stop = buf.is_empty().then_some(stop);
        let spin = Instant::now() + SPIN;
        match read_within(
            stream,
            &mut chunk,
            &mut fds,
            stop,
            (spin, limits.idle_timeout),
        ) {
            Ok(None | Some(0)) => return Ok(None),
            Ok(Some(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Ok(Some(CallError::BadRequest(e.to_string())));
            }
            Err(e) => return Err(e),
        }
        // Checked before the message they came with is answered.
        if fds.len() > 1 {
            let e = CallError::BadRequest("more than one descriptor passed for one region".into());
            return Ok(Some(e));
        }
    }
}

/// Maps the region the client passed with its attach message `message`,
/// under the id the message gives, once its bytes and its mapping are held
/// in the server's budget (as long as it stays attached); that id.
fn attach(
    regions: &mut Regions,
    message: &[u8],
    fd: Option<OwnedFd>,
    limits: &Limits,
    budget: &Budget,
) -> Result<u8, CallError> {
    if limits.max_shared_bytes == 0 {
        return Err(CallError::Unavailable(
            "this server takes no shared-memory regions (--max-shared-bytes 0)".into(),
        ));
    }
    let fd = fd.ok_or_else(|| {
        CallError::BadRequest("an attach message must carry the region's descriptor".into())
    })?;
    let id = v3::region_id(message)?;
    let refused = |e: RegionError| match e {
        RegionError::TooLarge { limit, .. } => CallError::TooLarge { limit },
        RegionError::Full(_) => CallError::Unavailable(e.to_string()),
        RegionError::Unusable(_) => CallError::BadRequest(e.to_string()),
    };
    // The region this id named is gone from here on (with what it held of
    // the budget), whatever follows.
    let checked = regions.check(id, fd).map_err(refused)?;
    let holding = budget.hold_region(checked.len())?;
    // Mapping pre-faults the region's pages: milliseconds for a large one,
    // on this connection's own thread.
    regions
        .attach_checked(id, checked, Box::new(holding))
        .map_err(refused)?;
    Ok(id)
}

/// Reads what the socket has into `chunk`, and any descriptors sent with it
/// into `fds`: the count (0 at end of stream), or `None` when nothing came
/// within `idle` or `stop` became readable; `InvalidData` when more
/// descriptors were sent than one message may carry. Until `spin` it polls
/// without sleeping (see [`SPIN`]).
fn read_within(
    stream: &StdUnixStream,
    chunk: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    stop: Option<&std::io::PipeReader>,
    (spin, idle): (Instant, Duration),
) -> io::Result<Option<usize>> {
    let deadline = Instant::now() + idle;
    loop {
        // The next piece of a batch is usually there already, or about to
        // be: no poll.
        match recv_with_fds(stream, chunk, fds) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                if Instant::now() < spin {
                    std::hint::spin_loop();
                    continue;
                }
            }
            other => return other.map(Some),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let left = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        let watched = stop.map_or(stream.as_fd(), AsFd::as_fd);
        let mut polled = [
            PollFd::new(stream, PollFlags::IN),
            PollFd::from_borrowed_fd(watched, PollFlags::IN),
        ];
        let count = if stop.is_some() { 2 } else { 1 };
        match rustix::event::poll(&mut polled[..count], Some(&left)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        if count == 2 && !polled[1].revents().is_empty() {
            return Ok(None);
        }
    }
}

fn recv_with_fds(
    stream: &StdUnixStream,
    chunk: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = rustix::net::recvmsg(
        stream,
        &mut [IoSliceMut::new(chunk)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT,
    )?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    if got.flags.contains(ReturnFlags::CTRUNC) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "more descriptors passed at once than one region needs",
        ));
    }
    Ok(got.bytes)
}
