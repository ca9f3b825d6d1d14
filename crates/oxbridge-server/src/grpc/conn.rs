//! The gRPC bridge's connections, accepted by the shared accept loop rather
//! than tonic's (which spins on a failing accept), each wrapped so that it
//! ends when the client goes silent or stops taking its replies:
//!
//! - silent: no byte read for the idle timeout. The server pings every half
//!   of it, so a live client, even one with no call in flight, always
//!   answers in time; one that never sends a request (not even the HTTP/2
//!   preface) is closed, as on the other bridges.
//! - stalled: one of its large replies took no slice for a whole idle
//!   timeout (a flow-control window that never opens), checked once per
//!   idle timeout, so within twice it. HTTP/2 writes nothing then, so the
//!   socket never blocks and only the reply can tell.
//!
//! Each connection also carries its own part of the memory budget (see
//! `grpc::budget`): many streams on one connection cannot hold all of it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{sleep, Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::ground::budget::Budget;
use crate::ground::progress::Progress;
use crate::ground::write_timeout::WriteTimeout;

/// What a connection's calls see of it (a request extension). Shared:
/// tonic copies it into every request.
#[derive(Clone, Debug)]
pub struct ConnectionInfo(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    shares: Arc<Semaphore>,
    stalled: CancellationToken,
    idle: Duration,
}

impl ConnectionInfo {
    /// The part of the memory budget this connection may hold at once.
    #[must_use]
    pub fn shares(&self) -> &Arc<Semaphore> {
        &self.0.shares
    }

    /// Watches a reply: unless it calls [`Progress::made`] at least once per
    /// idle timeout, its connection is closed. Stops watching when dropped.
    #[must_use]
    pub fn watch(&self) -> Progress {
        Progress::watch(self.0.idle, self.0.stalled.clone())
    }
}

/// An accepted gRPC connection (see the module's documentation).
pub struct Connection {
    inner: WriteTimeout<TcpStream>,
    info: ConnectionInfo,
    last_read: Instant,
    silent: Pin<Box<Sleep>>,
    stalled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Connection {
    fn new(stream: TcpStream, idle: Duration, budget: &Budget) -> Self {
        let stalled = CancellationToken::new();
        let info = ConnectionInfo(Arc::new(Shared {
            shares: budget.connection_part(),
            stalled: stalled.clone(),
            idle,
        }));
        Connection {
            inner: WriteTimeout::new(stream, idle),
            info,
            last_read: Instant::now(),
            silent: Box::pin(sleep(idle)),
            stalled: Box::pin(stalled.cancelled_owned()),
        }
    }

    /// Why the connection must end, if it must (registering the wake-ups).
    fn ended(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        if self.stalled.as_mut().poll(cx).is_ready() {
            return Some(io::Error::new(
                io::ErrorKind::TimedOut,
                "a reply made no progress: the client does not take it",
            ));
        }
        // The timer is moved on lazily, when it fires, not at every read.
        while self.silent.as_mut().poll(cx).is_ready() {
            let due = self.last_read + self.info.0.idle;
            if due <= Instant::now() {
                return Some(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent nothing for the idle timeout",
                ));
            }
            self.silent.as_mut().reset(due);
        }
        None
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                this.last_read = Instant::now();
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.ended(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
            other => other,
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for Connection {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        self.info.clone()
    }
}

/// The connections accepted on `listener` until `shutdown`, each closed
/// when idle or stalled for `idle`, each with its part of `budget`.
pub fn incoming(
    listener: TcpListener,
    idle: Duration,
    budget: Budget,
    shutdown: CancellationToken,
) -> impl tokio_stream::Stream<Item = io::Result<Connection>> {
    let (send, receive) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = crate::ground::accept::next(&shutdown, "grpc accept", || listener.accept()) => accepted,
                // tonic stopped taking connections: it is shutting down.
                () = send.closed() => None,
            };
            let Some((stream, _)) = accepted else { break };
            let _ = stream.set_nodelay(true);
            if send
                .send(Ok(Connection::new(stream, idle, &budget)))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receive)
}
