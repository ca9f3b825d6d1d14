//! An IPC connection in shared-memory mode (see [`crate::frames::shared`]):
//! the client's first message passed a region, and every message after it is
//! a small version-3 message, read with `recvmsg` so that the descriptor of a
//! region passed again is received rather than dropped.
//!
//! The region is this connection's alone (the peer's uid was checked when it
//! connected), at most `--max-shared-bytes`, and unmapped when the
//! connection ends.

use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;

use oxbridge_shm::{Region, RegionError};
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags};
use tokio::io::Interest;
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::connection::{end_with, write_within};
use crate::config::Limits;
use crate::error::CallError;
use crate::frames::shared::{self as v3, ATTACH, CALL, MAX_MESSAGE, VERSION};
use crate::frames::{self, REQUEST_HEADER};

/// Whether the connection's first message is a shared-memory one, which it
/// then serves to its end (`Ok(true)`); `Ok(false)` leaves the connection,
/// its bytes unread, to the ordinary loop.
pub(super) async fn served(
    stream: &mut UnixStream,
    limits: &Limits,
    shutdown: &CancellationToken,
) -> io::Result<bool> {
    let mut magic = [0_u8; 4];
    let peeked = loop {
        let ready = tokio::select! {
            // An idle new connection: the ordinary loop handles its end.
            () = shutdown.cancelled() => return Ok(false),
            r = tokio::time::timeout(limits.idle_timeout, stream.readable()) => r,
        };
        if !matches!(ready, Ok(Ok(()))) {
            return Ok(false);
        }
        let peek = || Ok(rustix::net::recv(&*stream, &mut magic, RecvFlags::PEEK)?.0);
        match stream.try_io(Interest::READABLE, peek) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => break other?,
        }
    };
    if peeked < 4 || frames::version(&magic).ok() != Some(VERSION) {
        return Ok(false);
    }
    serve(stream, limits, shutdown).await?;
    Ok(true)
}

/// Answers version-3 messages until the client leaves, idles or breaks the
/// protocol, or the server stops.
async fn serve(
    stream: &mut UnixStream,
    limits: &Limits,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_MESSAGE);
    let mut chunk = vec![0_u8; MAX_MESSAGE];
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut region: Option<Region> = None;
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
                Err(e) => return refuse(stream, &e).await,
            };
            if buf.len() < total {
                break;
            }
            let reply = match v3::kind(&buf) {
                ATTACH => match attach(fds.pop(), limits) {
                    Ok(mapped) => {
                        region = Some(mapped);
                        v3::attached()
                    }
                    Err(e) => {
                        super::refused(&e);
                        frames::error_reply(VERSION, &e)
                    }
                },
                CALL => {
                    let message = &buf[..total];
                    // A call computes for up to milliseconds: other
                    // connections move to another worker meanwhile.
                    tokio::task::block_in_place(|| v3::call("ipc", message, region.as_mut()))
                }
                other => {
                    let e = CallError::BadRequest(format!("unknown shared-memory message {other}"));
                    return refuse(stream, &e).await;
                }
            };
            buf.drain(..total);
            if !write_within(stream, &reply, limits).await? {
                return Ok(());
            }
        }
        let idle = buf.is_empty();
        let read = tokio::select! {
            () = shutdown.cancelled(), if idle => return Ok(()),
            r = tokio::time::timeout(limits.idle_timeout, read_with_fds(stream, &mut chunk, &mut fds)) => r,
        };
        match read {
            Err(_elapsed) => return Ok(()),
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) if e.kind() == io::ErrorKind::InvalidData => {
                let e = CallError::BadRequest(e.to_string());
                return refuse(stream, &e).await;
            }
            Ok(Err(e)) => return Err(e),
        }
        // Checked before the message they came with is answered.
        if fds.len() > 1 {
            let e = CallError::BadRequest("more than one descriptor passed for one region".into());
            return refuse(stream, &e).await;
        }
    }
}

/// The region the client passed with its attach message.
fn attach(fd: Option<OwnedFd>, limits: &Limits) -> Result<Region, CallError> {
    if limits.max_shared_bytes == 0 {
        return Err(CallError::Unavailable(
            "this server takes no shared-memory regions (--max-shared-bytes 0)".into(),
        ));
    }
    let fd = fd.ok_or_else(|| {
        CallError::BadRequest("an attach message must carry the region's descriptor".into())
    })?;
    // Mapping pre-faults the region's pages: milliseconds for a large one.
    tokio::task::block_in_place(|| Region::map(fd, limits.max_shared_bytes)).map_err(|e| match e {
        RegionError::TooLarge { limit, .. } => CallError::TooLarge { limit },
        RegionError::Unusable(_) => CallError::BadRequest(e.to_string()),
    })
}

/// Answers `e` and ends the connection.
async fn refuse(stream: &mut UnixStream, e: &CallError) -> io::Result<()> {
    super::refused(e);
    end_with(stream, &frames::error_reply(VERSION, e)).await;
    Ok(())
}

/// Reads what the socket has into `chunk`, and any descriptors sent with it
/// into `fds`; `InvalidData` when more were sent than one message may carry.
async fn read_with_fds(
    stream: &UnixStream,
    chunk: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_io(Interest::READABLE, || recv_with_fds(stream, chunk, fds)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
    }
}

fn recv_with_fds(
    stream: &UnixStream,
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
