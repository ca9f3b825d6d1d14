//! The gRPC bridge's client: tonic inside the extension, so the bridge needs
//! no grpcio.
//!
//! Python writes each request's protobuf message (`bridges/_protobuf.py`) and
//! reads the reply's; this module moves them. A [`GrpcChannel`] keeps one
//! lazily connected HTTP/2 channel per server, on the runtime every client
//! of the process shares (`grpc_runtime`), driven by the thread that waits
//! for a call. A call releases the GIL
//! while it waits and wakes every 50 ms to let Python's signal handlers run,
//! so Ctrl-C interrupts it (the stream is reset; no later call can see its
//! reply). Over several servers, calls go round-robin to those whose
//! `grpc.health.v1` watch says SERVING. A failed call maps here, once, to the
//! kinds of `oxbridge.errors`.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView};
use tokio::task::AbortHandle;
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use oxbridge_server::grpc_message::{self, Slots};
use oxbridge_server::pieces::PieceBuf;
use tower::ServiceExt as _;

use crate::errors;
use crate::grpc_runtime::{self, Driver};

/// How long a waiting call keeps the GIL released before Python's signal
/// handlers get their turn.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// HTTP/2 flow control: what a server may send before the client reads it.
/// Wide enough for a batch's reply in few round trips, and for h2's guard
/// against small DATA frames (its budget is half the connection window) to
/// let a thousand concurrent calls' replies wait for their readers.
const STREAM_WINDOW: u32 = 8 << 20;
const CONNECTION_WINDOW: u32 = 32 << 20;

/// The largest DATA frame a server may send: a batch's reply in few frames
/// (HTTP/2's default of 16 KiB makes 256 of them per MiB).
const MAX_FRAME: u32 = 1 << 20;

/// How long a call retries a server that something listens for but that
/// does not take it (a restarted server the channel has not reconnected
/// to yet), before it is unavailable.
const RECONNECT: Duration = Duration::from_secs(1);

/// The longest pause between two attempts at a server's health watch.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A request's message: Python's `bytes` objects and byte `memoryview`s,
/// one after another, read in place without the GIL (the large ones by h2,
/// for as long as it holds them: see [`Message::chunks`]).
struct Message {
    /// What keeps each piece's memory alive and in place.
    owners: Vec<Py<PyAny>>,
    pieces: Vec<(*const u8, usize)>,
}

// SAFETY: each piece points into a `bytes` object (which never moves or
// changes) or into the exporter of a `memoryview` (pinned until the view is
// released, and the bridge never releases the views it hands over), both
// kept alive by `owners`; the pieces are only ever read, from any thread.
unsafe impl Send for Message {}
// SAFETY: as for `Send`: the bytes are only ever read.
unsafe impl Sync for Message {}

impl Message {
    /// The message of `parts`: `bytes` objects, and contiguous byte
    /// `memoryview`s that nothing releases until the call is over.
    fn new(parts: &[Bound<'_, PyAny>]) -> PyResult<Self> {
        let mut message = Self {
            owners: Vec::with_capacity(parts.len()),
            pieces: Vec::with_capacity(parts.len()),
        };
        for part in parts {
            let piece = if let Ok(bytes) = part.cast::<PyBytes>() {
                let data = bytes.as_bytes();
                (data.as_ptr(), data.len())
            } else if part.is_instance_of::<PyMemoryView>() {
                let view = PyBuffer::<u8>::get(part)?;
                if !view.is_c_contiguous() {
                    return Err(PyValueError::new_err("a request piece must be contiguous"));
                }
                let piece = (view.buf_ptr().cast_const().cast::<u8>(), view.len_bytes());
                // The view's own export keeps the memory in place from here.
                drop(view);
                piece
            } else {
                let kind = part.get_type().name()?;
                let message = format!("a request piece must be bytes or a memoryview, not {kind}");
                return Err(PyTypeError::new_err(message));
            };
            message.pieces.push(piece);
            message.owners.push(part.clone().unbind());
        }
        Ok(message)
    }

    /// Piece `i`.
    fn piece(&self, i: usize) -> &[u8] {
        let _ = &self.owners;
        let (ptr, len) = self.pieces[i];
        // SAFETY: see `unsafe impl Send for Message`.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }

    /// The message as gRPC frames it, in chunks for the HTTP/2 body (see
    /// [`frame`]): its large pieces lent where Python keeps them (h2 writes
    /// them to the socket from there), each chunk holding the message alive.
    ///
    /// # Errors
    /// As for [`frame`].
    fn chunks(self: &Arc<Self>, limit: usize) -> Result<Vec<Bytes>, Status> {
        let pieces: Vec<&[u8]> = (0..self.pieces.len()).map(|i| self.piece(i)).collect();
        frame(&pieces, limit, |piece| {
            Bytes::from_owner(Lent {
                message: Arc::clone(self),
                piece,
            })
        })
    }
}

/// A gRPC message of `pieces` as it is framed (a 5-byte prefix: not
/// compressed, and its length), in chunks: small pieces copied together,
/// each large one as `lend` makes it of its number.
///
/// # Errors
/// `OUT_OF_RANGE` for a message over `limit` bytes, in tonic's words.
fn frame(
    pieces: &[&[u8]],
    limit: usize,
    mut lend: impl FnMut(usize) -> Bytes,
) -> Result<Vec<Bytes>, Status> {
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    if len > limit {
        return Err(Status::out_of_range(format!(
            "Error, encoded message length too large: found {len} bytes, the limit is: {limit} bytes"
        )));
    }
    let prefix =
        u32::try_from(len).map_err(|_| Status::out_of_range("a message of 4 GiB or more"))?;
    let mut chunks = Vec::new();
    let mut small = bytes::BytesMut::with_capacity(5 + len.min(LENT_FROM));
    small.put_u8(0);
    small.put_u32(prefix);
    for (i, piece) in pieces.iter().enumerate() {
        if piece.len() < LENT_FROM {
            small.put_slice(piece);
            continue;
        }
        if !small.is_empty() {
            chunks.push(small.split().freeze());
        }
        chunks.push(lend(i));
    }
    if !small.is_empty() {
        chunks.push(small.freeze());
    }
    Ok(chunks)
}

/// Pieces from this size on are lent to the HTTP/2 body, not copied.
const LENT_FROM: usize = 64 * 1024;

/// One piece of a message, lent to the HTTP/2 body: the message stays alive
/// (and Python's memory in place) for as long as h2 holds it.
struct Lent {
    message: Arc<Message>,
    piece: usize,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        self.message.piece(self.piece)
    }
}

/// A request's HTTP/2 body: the message's chunks (see [`Message::chunks`]).
struct MessageBody {
    chunks: std::vec::IntoIter<Bytes>,
}

impl http_body::Body for MessageBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        Poll::Ready(
            self.get_mut()
                .chunks
                .next()
                .map(|chunk| Ok(http_body::Frame::data(chunk))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.len() == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.chunks.as_slice().iter().map(|c| c.len() as u64).sum())
    }
}

/// Requests as Python wrote them, replies as they came. Its encoder writes
/// nothing: the request's body is replaced by the message itself on its way
/// to the channel (see `Call::attempt`), so that tonic's encoding buffer
/// never holds a copy of it. Its decoder takes the reply's message in the
/// pieces h2 received it in, read off the body before tonic sees it (see
/// `grpc_message`), so tonic's decoding buffer holds none either; for a
/// batch only: a small reply is cheaper copied than kept in pieces.
#[derive(Clone)]
struct RawCodec(Option<Arc<Slots>>, u8);

/// A reply's message, in the pieces it arrived in.
type Reply = Vec<Bytes>;

impl Codec for RawCodec {
    type Encode = Arc<Message>;
    type Decode = Reply;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        self.clone()
    }

    fn decoder(&mut self) -> Self {
        self.clone()
    }
}

impl Encoder for RawCodec {
    type Item = Arc<Message>;
    type Error = Status;

    fn encode(&mut self, _: Arc<Message>, _: &mut EncodeBuf<'_>) -> Result<(), Status> {
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Reply;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Reply>, Status> {
        // tonic drains a unary reply's body for its trailers: a second
        // message comes here too, and is a broken reply, not one to ignore.
        self.1 = self.1.saturating_add(1);
        if self.1 > 1 {
            return Err(bad_reply("more than one reply to one request".into()));
        }
        Ok(Some(
            match self.0.as_ref().and_then(|slots| slots.message()) {
                Some(message) => message.into_vec(),
                None => vec![src.copy_to_bytes(src.remaining())],
            },
        ))
    }
}

/// One server: its channel, and whether its health watch last said SERVING.
struct Server {
    host: Arc<str>,
    port: u16,
    channel: Channel,
    serving: Arc<AtomicBool>,
}

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

fn netloc(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[pymethods]
impl GrpcChannel {
    /// A channel to `servers` (`(host, port)`, the first one's name being the
    /// `:authority` of every call and the name TLS verifies). `ca`: `None`
    /// for plaintext, else TLS verified against these PEM roots (empty: the
    /// system's). `health_service`: when set, each server's health watch of
    /// that service decides whether it gets calls. `lane`: which of the
    /// process's client runtimes (`grpc_runtime::LANES`) carries its
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
        let driver = grpc_runtime::driver(py, lane)?;
        // Endpoints spawn their connections' tasks: made inside the runtime.
        let _entered = driver.enter();
        let mut made = Vec::with_capacity(servers.len());
        for (host, port) in &servers {
            let uri = format!("{scheme}://{}", netloc(host, *port));
            let mut endpoint = Endpoint::from_shared(uri)
                .map_err(|e| invalid(format!("grpc://{target}: {e}")))?
                .origin(origin.clone())
                .tcp_nodelay(true)
                .initial_stream_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .max_frame_size(MAX_FRAME);
            if let Some(tls) = &tls {
                endpoint = endpoint.tls_config(tls.clone()).map_err(|e| {
                    errors::error(py, "transport", format!("grpc://{target}: TLS: {e}"))
                })?;
            }
            made.push(Server {
                host: host.as_str().into(),
                port: *port,
                channel: endpoint.connect_lazy(),
                serving: Arc::new(AtomicBool::new(false)),
            });
        }
        let watches = match health_service {
            Some(service) if made.len() > 1 => made
                .iter()
                .map(|s| {
                    let watch = watch(s.channel.clone(), service.clone(), s.serving.clone());
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
                    Err(status) => self.failure(py, &status).into_value(py).into_any(),
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
                Some(Err(status)) => return Err(self.failure(py, &status)),
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

    /// The `OxbridgeError` of a failed call: the server's own kind when it
    /// sent one, else what the gRPC status means.
    fn failure(&self, py: Python<'_>, status: &Status) -> PyErr {
        let target = &self.target;
        let details = status.message();
        let kind = status
            .metadata()
            .get(oxbridge_server::grpc::ERROR_KIND_KEY)
            .and_then(|v| v.to_str().ok());
        if let Some(kind) = kind {
            return errors::error(py, kind, details.to_owned());
        }
        if status.metadata().contains_key(BAD_REPLY) {
            // As the IPC and HTTP clients say it.
            let message = format!("bad reply from grpc://{target}: {details}");
            return errors::error(py, "protocol", message);
        }
        let local = local_cause(status);
        match status.code() {
            Code::DeadlineExceeded => errors::error(
                py,
                "timeout",
                format!("no reply from grpc://{target} in time"),
            ),
            Code::Unavailable => {
                let why = local.map_or_else(|| details.to_owned(), |(words, _)| words);
                let message = format!("grpc://{target} is unavailable: {why}");
                errors::error(py, "transport", message)
            }
            _ if local.as_ref().is_some_and(|(_, io)| *io) => {
                let (words, _) = local.unwrap_or_default();
                let message = format!("grpc://{target} is unavailable: {words}");
                errors::error(py, "transport", message)
            }
            _ if local.is_some() => {
                let (words, _) = local.unwrap_or_default();
                let message = format!("grpc://{target} broke the HTTP/2 protocol: {words}");
                errors::error(py, "protocol", message)
            }
            Code::OutOfRange if decode_limit(details).is_some() => {
                let limit = decode_limit(details).unwrap_or_default();
                let message = format!("request is larger than the server's limit of {limit} bytes");
                errors::error(py, "payload_too_large", message)
            }
            code => errors::error(
                py,
                "internal",
                format!("gRPC {} from grpc://{target}: {details}", code_name(code)),
            ),
        }
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
                    let body = grpc_message::take(body, limit, &slots).await;
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

/// A plain HTTP error response (a proxy's 502 when no server is behind it)
/// as the gRPC status it means, by gRPC's own mapping: tonic would read its
/// HTML as gRPC frames and fail with INTERNAL.
fn as_grpc_status(response: http::Response<Body>) -> http::Response<Body> {
    let status = response.status();
    if status == http::StatusCode::OK || response.headers().contains_key("grpc-status") {
        return response;
    }
    let code = match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    let reason = status.canonical_reason().unwrap_or("");
    let words = if matches!(status.as_u16(), 502..=504) {
        format!(
            "no server answered behind the proxy: HTTP {} {reason}",
            status.as_u16()
        )
    } else {
        format!("HTTP {} {reason}", status.as_u16())
    };
    let mut mapped = http::Response::new(Body::empty());
    let headers = mapped.headers_mut();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", http::HeaderValue::from(code as i32));
    if let Ok(message) = http::HeaderValue::from_str(words.trim_end()) {
        headers.insert("grpc-message", message);
    }
    mapped
}

/// Whether a status is a broken or refused link, not a server's answer:
/// UNAVAILABLE without a kind of the server's, or a socket's error here.
fn is_unavailable(status: &Status) -> bool {
    let kind = status.metadata().get(oxbridge_server::grpc::ERROR_KIND_KEY);
    kind.is_none()
        && (status.code() == Code::Unavailable || causes(status).any(|e| e.is::<std::io::Error>()))
}

/// A status's causes, nearest first (none for a status the server sent).
fn causes(status: &Status) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(std::error::Error::source(status), |e| e.source())
}

/// Whether a TCP connection to either server can be made now.
async fn any_listening(servers: &[(Channel, Arc<str>, u16)]) -> bool {
    for (_, host, port) in servers {
        if tokio::net::TcpStream::connect((&**host, *port))
            .await
            .is_ok()
        {
            return true;
        }
    }
    false
}

/// An error and its causes, each said once, for the message of a broken
/// link ("tcp connect error: Connection refused (os error 111)").
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(cause) = next {
        let said = cause.to_string();
        if !words.contains(&said) {
            words.push(said);
        }
        next = cause.source();
    }
    words.join(": ")
}

/// What failed on this side of the link, when a status was made here from
/// an error (a received status has no source): the error, and whether it
/// was the socket's (else the peer broke HTTP/2).
fn local_cause(status: &Status) -> Option<(String, bool)> {
    let cause = std::error::Error::source(status)?;
    let io = causes(status).any(|e| e.is::<std::io::Error>());
    let said = describe(cause);
    let details = status.message();
    let words = if said.contains(details) {
        said
    } else {
        format!("{details}: {said}")
    };
    Some((words, io))
}

/// The bytes of the last field 1 (length-delimited) of a protobuf message,
/// as a `<Name>ManyReply` holds its results, in the pieces they lie in;
/// empty when there is none. `None` when the message is malformed.
fn many_results(message: &[Bytes]) -> Option<Vec<Bytes>> {
    let mut rest = PieceBuf::new(message.iter().cloned());
    let mut results = Vec::new();
    while rest.has_remaining() {
        let key = varint(&mut rest)?;
        let skip = match key & 7 {
            0 => {
                varint(&mut rest)?;
                0
            }
            1 => 8,
            2 => usize::try_from(varint(&mut rest)?).ok()?,
            5 => 4,
            _ => return None,
        };
        if skip > rest.remaining() {
            return None;
        }
        let value = rest.take_pieces(skip);
        if key >> 3 == 1 && key & 7 == 2 {
            results = value;
        }
    }
    Some(results)
}

/// A protobuf varint read off the front of `data`.
fn varint(data: &mut impl Buf) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        if !data.has_remaining() {
            return None;
        }
        let byte = data.get_u8();
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The number of bytes in `pieces`.
fn len(pieces: &[Bytes]) -> usize {
    pieces.iter().map(Bytes::len).sum()
}

/// Copies `pieces`, one after another, into `target` (exactly as long).
fn copy_pieces(pieces: &[Bytes], target: &mut [u8]) {
    let mut at = 0;
    for piece in pieces {
        target[at..at + piece.len()].copy_from_slice(piece);
        at += piece.len();
    }
}

/// `pieces` joined into one Python `bytes`.
fn py_bytes<'py>(py: Python<'py>, pieces: &[Bytes]) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, len(pieces), |target| {
        copy_pieces(pieces, target);
        Ok(())
    })
}

/// No limit of this side's on a request's size: the largest gRPC can frame.
const UNLIMITED: usize = u32::MAX as usize;

/// The metadata key of a status made here for a reply that broke the
/// protocol (see [`bad_reply`]). No oxbridge server sends it; one that
/// did would be reported as a broken reply, which it would be.
const BAD_REPLY: &str = "x-oxbridge-bad-reply";

/// The status of a reply that broke the protocol, in `words`: the
/// client's `ProtocolError`, "bad reply from grpc://...", as IPC's and
/// HTTP's.
fn bad_reply(words: String) -> Status {
    let mut status = Status::internal(words);
    status
        .metadata_mut()
        .insert(BAD_REPLY, AsciiMetadataValue::from_static("1"));
    status
}

/// Whether `status`, of a reply that came as more than a status, is tonic's
/// refusal of that reply as over this side's limit. Its words are those of
/// a server refusing a request ("decoded message length too large"), but a
/// server refuses with a status alone, before any message.
fn is_reply_too_large(status: &Status) -> bool {
    status.code() == Code::OutOfRange
        && status
            .message()
            .contains("decoded message length too large")
}

/// Whether `status`, of a reply that came as more than a status, is
/// tonic's refusal of the reply's gRPC framing (a compression flag it
/// cannot read, a message cut short, an OK with no message): a reply that broke the protocol, as
/// IPC's and HTTP's clients call one, not an `INTERNAL` error of the server.
fn is_malformed(status: &Status) -> bool {
    const BROKEN: [&str; 3] = [
        "protocol error: received message",
        "Unexpected EOF decoding stream",
        "Missing response message",
    ];
    status.code() == Code::Internal && BROKEN.iter().any(|w| status.message().starts_with(w))
}

/// The limit in tonic's words for a message over it ("...message length too
/// large: found N bytes, the limit is: M bytes"): the server refused the
/// request in its codec, before oxbridge saw it, like HTTP's 413.
fn decode_limit(details: &str) -> Option<u64> {
    let (_, rest) = details.split_once("message length too large: found ")?;
    let (_, limit) = rest.split_once("the limit is: ")?;
    limit.strip_suffix(" bytes")?.parse().ok()
}

/// A gRPC code's name as gRPC spells it (`UNIMPLEMENTED`).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Keeps `serving` to what a server's health watch of `service` says, for
/// as long as the channel lives: not serving while the watch is broken,
/// serving for a server without the health service (as grpc's own client).
async fn watch(channel: Channel, service: String, serving: Arc<AtomicBool>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let request = HealthCheckRequest {
            service: service.clone(),
        };
        match HealthClient::new(channel.clone()).watch(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                while let Ok(Some(reply)) = stream.message().await {
                    let ok = reply.status == ServingStatus::Serving as i32;
                    serving.store(ok, Ordering::Relaxed);
                    backoff = Duration::from_millis(100);
                }
            }
            Err(status) if status.code() == Code::Unimplemented => {
                serving.store(true, Ordering::Relaxed);
                return;
            }
            Err(_) => {}
        }
        serving.store(false, Ordering::Relaxed);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_framed_with_small_pieces_copied_and_large_ones_lent() {
        static LARGE: [u8; LENT_FROM] = [7; LENT_FROM];
        let pieces: [&'static [u8]; 5] = [b"ab", b"c", &LARGE, b"de", &LARGE];
        let chunks = frame(&pieces, 1 << 20, |i| Bytes::from_static(pieces[i])).unwrap();
        let sizes: Vec<usize> = chunks.iter().map(Bytes::len).collect();
        assert_eq!(sizes, [5 + 3, LENT_FROM, 2, LENT_FROM]);
        // The lent chunks are the pieces themselves, not copies.
        assert_eq!(chunks[1].as_ptr(), LARGE.as_ptr());
        let len = u32::try_from(3 + 2 + 2 * LENT_FROM).unwrap();
        let expected = [&[0][..], &len.to_be_bytes(), b"abc", &LARGE, b"de", &LARGE].concat();
        assert_eq!(chunks.concat(), expected);
    }

    #[test]
    fn a_message_over_the_limit_is_refused_as_tonic_refuses_it() {
        let status = frame(&[b"ab", b"cd"], 3, |_| Bytes::new()).unwrap_err();
        assert_eq!(status.code(), Code::OutOfRange);
        assert_eq!(decode_limit(status.message()), Some(3));
    }

    #[test]
    fn the_decode_limit_is_read_from_tonics_words() {
        let words =
            "Error, decoded message length too large: found 70 bytes, the limit is: 64 bytes";
        assert_eq!(decode_limit(words), Some(64));
        assert_eq!(decode_limit("message length too large"), None);
        assert_eq!(decode_limit("something else"), None);
    }

    #[test]
    fn a_batch_replys_results_are_its_last_field_one() {
        // Field 1 twice (the last counts), a varint, a fixed64 and a fixed32 between.
        let message = [
            0x0a, 2, 1, 2, 0x10, 0x96, 0x01, 0x19, 0, 0, 0, 0, 0, 0, 0, 0, 0x25, 0, 0, 0, 0, 0x0a,
            3, 7, 8, 9,
        ];
        let results = |message: &[u8], cut: usize| {
            let pieces: Vec<Bytes> = message.chunks(cut).map(Bytes::copy_from_slice).collect();
            many_results(&pieces).map(|r| r.concat())
        };
        for cut in [1, 2, 3, 5, 100] {
            assert_eq!(results(&message, cut), Some(vec![7, 8, 9]), "cut {cut}");
            assert_eq!(results(&[], cut), Some(vec![]));
            // A length past the end, a group (wire type 3), a varint that never ends.
            assert_eq!(results(&[0x0a, 5, 1], cut), None);
            assert_eq!(results(&[0x0b], cut), None);
            assert_eq!(results(&[0x08, 0xff], cut), None);
        }
    }

    #[test]
    fn a_proxys_http_error_is_the_grpc_status_it_means() {
        let reply = |code: u16| {
            let mut response = http::Response::new(Body::empty());
            *response.status_mut() = http::StatusCode::from_u16(code).unwrap_or_default();
            let mapped = as_grpc_status(response);
            let header = |name| mapped.headers().get(name).cloned();
            (
                mapped.status(),
                header("grpc-status"),
                header("grpc-message"),
            )
        };
        let (status, code, message) = reply(502);
        assert_eq!(status, http::StatusCode::OK);
        assert_eq!(code, Some(http::HeaderValue::from(14)));
        let message = message.unwrap_or_else(|| http::HeaderValue::from_static(""));
        assert_eq!(
            message,
            "no server answered behind the proxy: HTTP 502 Bad Gateway"
        );
        assert_eq!(reply(404).1, Some(http::HeaderValue::from(12)));
        assert_eq!(reply(500).1, Some(http::HeaderValue::from(2)));
        // A gRPC answer passes as it came.
        assert_eq!(reply(200).1, None);
    }

    #[test]
    fn every_code_has_grpcs_name() {
        assert_eq!(code_name(Code::Unimplemented), "UNIMPLEMENTED");
        assert_eq!(code_name(Code::from_i32(8)), "RESOURCE_EXHAUSTED");
    }
}
