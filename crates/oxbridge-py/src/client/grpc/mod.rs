//! The gRPC bridge's client: tonic inside the extension, so the bridge needs
//! no grpcio.
//!
//! Python writes each request's protobuf message (`bridges/_protobuf.py`) and
//! reads the reply's; this module moves them. A [`GrpcChannel`] keeps one
//! lazily connected HTTP/2 channel per server, on the runtime every client
//! of the process shares (`client::runtime`), driven by the thread that waits
//! for a call. A call releases the GIL
//! while it waits and wakes every 50 ms to let Python's signal handlers run,
//! so Ctrl-C interrupts it (the stream is reset; no later call can see its
//! reply). Over several servers, calls go round-robin to those whose
//! `grpc.health.v1` watch says SERVING.
//!
//! This file is the call's life cycle as Python sees it; the message on the
//! wire is `frame`, the servers and their health `pool`, and the mapping of
//! a failure to the kinds of `oxbridge.errors`, once, `failure`.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::PathAndQuery;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::task::AbortHandle;
use tonic::body::Body;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::Status;

use oxbridge_server::grpc::message::{self, Slots};
use tower::ServiceExt as _;

use crate::client::runtime::{self, Driver};
use crate::errors;

mod failure;
mod frame;
mod pool;

use failure::{
    as_grpc_status, bad_reply, causes, describe, is_malformed, is_reply_too_large, is_unavailable,
};
use frame::{copy_pieces, len, many_results, Message, MessageBody, RawCodec, Reply, UNLIMITED};
use pool::{any_listening, netloc, Server, MAX_BACKOFF};

/// How long a waiting call keeps the GIL released before Python's signal
/// handlers get their turn.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// How long a call retries a server that something listens for but that
/// does not take it (a restarted server the channel has not reconnected
/// to yet), before it is unavailable.
const RECONNECT: Duration = Duration::from_secs(1);

/// A gRPC client's connection to one server, or round-robin to several.
#[pyclass(frozen, module = "oxbridge._native")]
pub struct GrpcChannel {
    servers: Vec<Server>,
    next: AtomicUsize,
    /// The servers as the user named them, for messages (`grpc://<target>`).
    target: String,
    authorization: Option<AsciiMetadataValue>,
    max_message: usize,
    driver: &'static Driver,
    pid: u32,
    watches: Mutex<Vec<AbortHandle>>,
    finished: OnceLock<Arc<Finished>>,
}

#[pymethods]
impl GrpcChannel {
    /// A channel to `servers` (`(host, port)`, the first one's name being the
    /// `:authority` of every call and the name TLS verifies). `ca`: `None`
    /// for plaintext, else TLS verified against these PEM roots (empty: the
    /// system's). `health_service`: when set, each server's health watch of
    /// that service decides whether it gets calls. `lane`: which of the
    /// process's client runtimes (`runtime::LANES`) carries its
    /// connections; channels on different lanes move bytes in parallel.
    #[new]
    #[pyo3(signature = (servers, target, *, ca = None, token = None, health_service = None, max_message = 67_108_864, lane = 0))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments, one by one
    fn new(
        py: Python<'_>,
        servers: Vec<(String, u16)>,
        target: String,
        ca: Option<Vec<u8>>,
        token: Option<&str>,
        health_service: Option<String>,
        max_message: usize,
        lane: usize,
    ) -> PyResult<Self> {
        let invalid = |message: String| errors::error(py, "invalid_argument", message);
        let Some((first_host, first_port)) = servers.first() else {
            return Err(invalid(
                "a gRPC channel needs at least one server".to_owned(),
            ));
        };
        let scheme = if ca.is_some() { "https" } else { "http" };
        let origin: http::Uri = format!("{scheme}://{}", netloc(first_host, *first_port))
            .parse()
            .map_err(|e| invalid(format!("grpc://{target}: {e}")))?;
        let tls = ca.map(|pem| {
            let config = ClientTlsConfig::new().domain_name(first_host.clone());
            if pem.is_empty() {
                config.with_enabled_roots()
            } else {
                config.ca_certificate(Certificate::from_pem(pem))
            }
        });
        let authorization = token
            .map(|t| format!("Bearer {t}").parse::<AsciiMetadataValue>())
            .transpose()
            .map_err(|_| invalid("the token is not printable ASCII".to_owned()))?;
        let driver = runtime::driver(py, lane)?;
        // Endpoints spawn their connections' tasks: made inside the runtime.
        let _entered = driver.enter();
        let made = servers
            .iter()
            .map(|(host, port)| {
                pool::Server::lazy(host, *port, &origin, tls.as_ref()).map_err(|e| match e {
                    pool::Refused::Uri(e) => invalid(format!("grpc://{target}: {e}")),
                    pool::Refused::Tls(e) => {
                        errors::error(py, "transport", format!("grpc://{target}: TLS: {e}"))
                    }
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let watches = match health_service {
            Some(service) if made.len() > 1 => made
                .iter()
                .map(|s| {
                    let watch = pool::watch(s.channel.clone(), service.clone(), s.serving.clone());
                    driver.spawn(watch)
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            servers: made,
            next: AtomicUsize::new(0),
            target,
            authorization,
            max_message,
            driver,
            pid: std::process::id(),
            watches: Mutex::new(watches),
            finished: OnceLock::new(),
        })
    }

    /// One unary call of `path` (`/<package>.v1.Functions/<Name>`) with the
    /// encoded `request`; the reply's message. Raises the `OxbridgeError`
    /// of the failure. A server that refused the call as unavailable while
    /// something listens at its address (restarted: the channel reconnects)
    /// is tried again until it answers or the deadline has passed.
    fn call<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        request: &Bound<'py, PyBytes>,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let message = Message::new(std::slice::from_ref(request.as_any()))?;
        let reply = self.wait(py, self.prepare(py, path, message, timeout)?)?;
        py_bytes(py, &reply)
    }

    /// A batch's call: the request written from `parts` (`bytes` and byte
    /// `memoryview`s of the arrays, read in place), the reply's results
    /// (the bytes of field 1 of a `<Name>ManyReply`) written straight into
    /// `out`. `None` when they were; the whole reply when it does not hold
    /// exactly `len(out)` bytes of results, for Python to say what is wrong.
    fn call_many<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        parts: Vec<Bound<'py, PyAny>>,
        out: &Bound<'py, PyAny>,
        timeout: f64,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let out = PyBuffer::<u8>::get(out)?;
        if out.readonly() || !out.is_c_contiguous() {
            return Err(PyValueError::new_err(
                "out must be a writable contiguous buffer",
            ));
        }
        let message = Message::new(&parts)?;
        let call = Call {
            in_pieces: true,
            ..self.prepare(py, path, message, timeout)?
        };
        let reply = self.wait(py, call)?;
        let results = many_results(&reply).filter(|r| len(r) == out.len_bytes());
        let Some(results) = results else {
            return py_bytes(py, &reply).map(Some);
        };
        // SAFETY: `out` is a writable, contiguous export of `len_bytes`
        // bytes, held (so in place) until this function returns.
        let target =
            unsafe { std::slice::from_raw_parts_mut(out.buf_ptr().cast::<u8>(), out.len_bytes()) };
        py.detach(|| copy_pieces(&results, target));
        Ok(None)
    }

    /// Starts the call [`call`](Self::call) makes, without waiting: its
    /// number, which [`completed`](Self::completed) hands back with its
    /// outcome once it ends (and `wake_fd` becomes readable). For asyncio.
    fn submit(
        &self,
        py: Python<'_>,
        path: &str,
        request: &Bound<'_, PyBytes>,
        timeout: f64,
    ) -> PyResult<u64> {
        let message = Message::new(std::slice::from_ref(request.as_any()))?;
        let call = self.prepare(py, path, message, timeout)?;
        let finished = self.finished(py)?;
        let id = finished.next_id.fetch_add(1, Ordering::Relaxed);
        let done = finished.clone();
        let task = self.driver.spawn(async move {
            let outcome = call.run().await;
            done.push(id, outcome);
        });
        lock(&finished.running).insert(id, task);
        Ok(id)
    }

    /// The calls [`submit`](Self::submit)ted that have ended since the last
    /// look: `(number, reply bytes or the OxbridgeError)`.
    fn completed(&self, py: Python<'_>) -> PyResult<Vec<(u64, Py<PyAny>)>> {
        let finished = self.finished(py)?;
        finished.woken.store(false, Ordering::SeqCst);
        let done = std::mem::take(&mut *lock(&finished.done));
        let mut running = lock(&finished.running);
        done.into_iter()
            .map(|(id, outcome)| {
                running.remove(&id);
                let value = match outcome {
                    Ok(reply) => py_bytes(py, &reply)?.into_any().unbind(),
                    Err(status) => failure::raised(py, &self.target, &status)
                        .into_value(py)
                        .into_any(),
                };
                Ok((id, value))
            })
            .collect()
    }

    /// Stops a [`submit`](Self::submit)ted call (its stream is reset); it is
    /// never reported.
    fn cancel(&self, py: Python<'_>, id: u64) -> PyResult<()> {
        if let Some(task) = lock(&self.finished(py)?.running).remove(&id) {
            task.abort();
        }
        Ok(())
    }

    /// A descriptor that becomes readable when a submitted call has ended:
    /// read what it holds, then take [`completed`](Self::completed).
    fn wake_fd(&self, py: Python<'_>) -> PyResult<i32> {
        use std::os::fd::AsRawFd;
        Ok(self.finished(py)?.reader.as_raw_fd())
    }

    /// Stops the health watches; calls made after this still work (each
    /// channel reconnects on demand) until the object is gone.
    fn close(&self) {
        let watches = std::mem::take(&mut *lock(&self.watches));
        for watch in watches {
            watch.abort();
        }
    }
}

impl Drop for GrpcChannel {
    fn drop(&mut self) {
        self.close();
        if let Some(finished) = self.finished.get() {
            for (_, task) in lock(&finished.running).drain() {
                task.abort();
            }
        }
    }
}

impl GrpcChannel {
    /// The reply of `call`, waited for with the GIL released; Python's
    /// signal handlers run every [`SIGNAL_CHECK`] (an exception they raise
    /// drops the call, which resets its stream).
    fn wait(&self, py: Python<'_>, call: Call) -> PyResult<Reply> {
        let mut reply = std::pin::pin!(call.run());
        loop {
            let done = py.detach(|| self.driver.run(reply.as_mut(), SIGNAL_CHECK));
            match done {
                Some(Ok(bytes)) => return Ok(bytes),
                Some(Err(status)) => return Err(failure::raised(py, &self.target, &status)),
                None => py.check_signals()?,
            }
        }
    }

    /// A call of `path` with `request`, to the next server (and the one after
    /// it for a retry).
    fn prepare(
        &self,
        py: Python<'_>,
        path: &str,
        message: Message,
        timeout: f64,
    ) -> PyResult<Call> {
        if self.pid != std::process::id() {
            let message = format!(
                "grpc://{}: this client was made before a fork; connect again in this process",
                self.target
            );
            return Err(errors::error(py, "transport", message));
        }
        let path = PathAndQuery::try_from(path)
            .map_err(|e| errors::error(py, "internal", format!("bad gRPC path {path:?}: {e}")))?;
        // Not positive (or NaN): at once; beyond any clock: no deadline.
        let timeout = if timeout > 0.0 {
            Duration::try_from_secs_f64(timeout).unwrap_or(Duration::MAX)
        } else {
            Duration::ZERO
        }
        .max(Duration::from_millis(1));
        Ok(Call {
            path,
            message: Arc::new(message),
            authorization: self.authorization.clone(),
            max_message: self.max_message,
            deadline: Instant::now().checked_add(timeout),
            timeout,
            in_pieces: false,
            servers: self
                .pick()
                .map(|s| (s.channel.clone(), s.host.clone(), s.port)),
        })
    }

    /// What the asyncio calls share, made on the first.
    fn finished(&self, py: Python<'_>) -> PyResult<&Arc<Finished>> {
        if let Some(finished) = self.finished.get() {
            return Ok(finished);
        }
        let (reader, writer) = UnixStream::pair()
            .and_then(|(r, w)| {
                r.set_nonblocking(true)?;
                w.set_nonblocking(true)?;
                Ok((r, w))
            })
            .map_err(|e| {
                errors::error(py, "transport", format!("cannot make a socket pair: {e}"))
            })?;
        let made = Arc::new(Finished {
            next_id: AtomicU64::new(0),
            done: Mutex::new(Vec::new()),
            running: Mutex::new(HashMap::new()),
            woken: AtomicBool::new(false),
            reader,
            writer,
        });
        Ok(self.finished.get_or_init(|| made))
    }
    /// The next server round-robin among those whose health says SERVING
    /// (among all, while none does yet), and the one after it for a retry.
    fn pick(&self) -> [&Server; 2] {
        let n = self.servers.len();
        if n == 1 {
            return [&self.servers[0]; 2];
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut serving = (0..n)
            .map(|i| (start + i) % n)
            .filter(|&i| self.servers[i].serving.load(Ordering::Relaxed));
        let first = serving.next().unwrap_or(start % n);
        let second = serving.next().unwrap_or((first + 1) % n);
        [&self.servers[first], &self.servers[second]]
    }
}

/// The asyncio calls of a channel: those running, those ended and not yet
/// taken, and the socket pair that says so.
struct Finished {
    next_id: AtomicU64,
    done: Mutex<Vec<(u64, Result<Reply, Status>)>>,
    running: Mutex<HashMap<u64, AbortHandle>>,
    /// Whether a byte is in the pair since the last look: one says enough.
    woken: AtomicBool,
    reader: UnixStream,
    writer: UnixStream,
}

impl Finished {
    fn push(&self, id: u64, outcome: Result<Reply, Status>) {
        lock(&self.done).push((id, outcome));
        if !self.woken.swap(true, Ordering::SeqCst) {
            // Full only when the reader has a byte to read already.
            let _ = (&self.writer).write(&[1]);
        }
    }
}

/// A lock's contents, also after a panic elsewhere (they stay consistent:
/// every critical section is one push, take or insert).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A call in flight, owned by its future (the GIL is not held while it runs).
struct Call {
    path: PathAndQuery,
    message: Arc<Message>,
    authorization: Option<AsciiMetadataValue>,
    max_message: usize,
    deadline: Option<Instant>,
    timeout: Duration,
    /// Whether the reply is kept in the pieces it arrives in (a batch's).
    in_pieces: bool,
    /// Where it goes, and where a retry goes: (channel, host, port).
    servers: [(Channel, Arc<str>, u16); 2],
}

impl Call {
    /// The call on the first server; on UNAVAILABLE while something listens
    /// there or at the second, again on the second (the same server, when
    /// there is one) until it is ready or the deadline has passed.
    async fn run(self) -> Result<Reply, Status> {
        let servers = &self.servers;
        let Some(deadline) = self.deadline else {
            // A timeout beyond any clock: only the caller's interrupt ends it.
            return self.attempt(&servers[0].0, self.timeout).await;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        let run = async {
            let first = self.attempt(&servers[0].0, self.timeout).await;
            match first {
                Err(status) if is_unavailable(&status) => {
                    let listening = any_listening(servers).await;
                    if !listening {
                        return Err(status);
                    }
                    // As grpc's wait-for-ready, for a while: the channel
                    // reconnects to a server that restarted within
                    // milliseconds. One that keeps closing its connections
                    // (or sending GOAWAY) is unavailable, as IPC and HTTP
                    // say of a server that closed theirs, not a timeout
                    // after the whole deadline.
                    let given_up = tokio::time::Instant::now() + RECONNECT;
                    let mut backoff = Duration::from_millis(10);
                    loop {
                        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                        let again = self
                            .attempt(&servers[1].0, left.max(Duration::from_millis(1)))
                            .await;
                        match again {
                            Err(status)
                                if is_unavailable(&status)
                                    && tokio::time::Instant::now() + backoff < given_up =>
                            {
                                tokio::time::sleep(backoff).await;
                                backoff = (backoff * 2).min(MAX_BACKOFF);
                            }
                            other => return other,
                        }
                    }
                }
                other => other,
            }
        };
        match tokio::time::timeout_at(deadline, run).await {
            Ok(result) => result,
            Err(_) => Err(Status::deadline_exceeded("the call's deadline passed")),
        }
    }

    async fn attempt(&self, channel: &Channel, timeout: Duration) -> Result<Reply, Status> {
        // The server's limit decides whether a request is too large (it
        // says so, with its limit); this side only caps its replies.
        let mut chunks = Some(self.message.chunks(UNLIMITED)?);
        // tonic framed the empty message `RawCodec` wrote: the body sent is
        // the message's own chunks instead (one request per attempt).
        let with_message =
            tower::util::MapRequest::new(channel.clone(), move |request: http::Request<Body>| {
                let chunks = chunks.take().unwrap_or_default().into_iter();
                request.map(|_| Body::new(MessageBody { chunks }))
            });
        // A batch's reply is read off the body in its pieces (see `RawCodec`).
        let slots = self.in_pieces.then(|| Arc::new(Slots::default()));
        let (limit, reading) = (self.max_message, slots.clone());
        // Whether the reply was a status alone (no message): how a server
        // refuses a request, where a reply over this side's limit comes
        // with its message under way (see `is_reply_too_large`).
        let status_alone = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&status_alone);
        let service =
            tower::util::MapResponse::new(with_message, move |response: http::Response<Body>| {
                seen.store(
                    response.headers().contains_key("grpc-status"),
                    Ordering::Relaxed,
                );
                as_grpc_status(response)
            })
            .and_then(move |response: http::Response<Body>| {
                let slots = reading.clone();
                async move {
                    let Some(slots) = slots else {
                        return Ok::<_, tonic::transport::Error>(response);
                    };
                    let (parts, body) = response.into_parts();
                    let body = message::take(body, limit, &slots).await;
                    Ok(http::Response::from_parts(parts, Body::new(body)))
                }
            });
        let mut grpc = tonic::client::Grpc::new(service)
            .max_decoding_message_size(self.max_message)
            .max_encoding_message_size(UNLIMITED);
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(describe(&e)))?;
        let mut request = tonic::Request::new(self.message.clone());
        if self.deadline.is_some() {
            request.set_timeout(timeout);
        }
        if let Some(authorization) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        grpc.unary(request, self.path.clone(), RawCodec(slots, 0))
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| {
                // The channel's own timer of the request's grpc-timeout.
                let expired = causes(&status).any(|e| e.is::<tonic::TimeoutExpired>());
                if expired {
                    Status::deadline_exceeded("the call's deadline passed")
                } else if status_alone.load(Ordering::Relaxed) {
                    status
                } else if is_reply_too_large(&status) {
                    bad_reply(format!(
                        "the reply is larger than {} bytes",
                        self.max_message
                    ))
                } else if is_malformed(&status) {
                    bad_reply(status.message().to_owned())
                } else {
                    status
                }
            })
    }
}

/// `pieces` joined into one Python `bytes`.
fn py_bytes<'py>(py: Python<'py>, pieces: &[Bytes]) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, len(pieces), |target| {
        copy_pieces(pieces, target);
        Ok(())
    })
}
