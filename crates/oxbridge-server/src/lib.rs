//! oxbridge's network bridges: HTTP (axum), IPC over a Unix socket, and gRPC
//! (tonic), served from one tokio runtime over the same core.
//!
//! [`start`] binds every listener first, so a busy port or a live socket is
//! reported before anything is served; the returned [`Running`] server stops
//! gracefully when its token is cancelled.
#![forbid(unsafe_code)]

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use oxbridge_core::export::Library;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

mod accept;
pub mod anchors;
pub mod budget;
pub mod catalogue;
pub mod config;
pub mod error;
mod fair;
mod frame_body;
pub mod frames;
pub mod grpc;
pub mod grpc_budget;
mod grpc_conn;
pub mod grpc_functions;
pub mod grpc_many;
pub mod grpc_message;
mod grpc_observe;
mod grpc_serve;
pub mod http;
mod http_serve;
mod https;
pub mod ipc;
pub mod json_call;
mod linger;
pub mod metrics;
mod offload;
mod openapi;
pub mod options;
pub mod pieces;
pub mod rate_limit;
pub mod readiness;
pub mod wire;
mod write_timeout;

pub use config::{Access, Config, Limits, Listen, TlsFiles};
pub use error::CallError;
pub use options::ServeOptions;

/// A call's arguments, decoded: inline up to four, without an allocation.
pub type Args = smallvec::SmallVec<[oxbridge_core::export::Value; 4]>;

/// The libraries this process serves, chosen by the first [`start`].
static SERVED: std::sync::OnceLock<&'static [&'static Library]> = std::sync::OnceLock::new();

/// The calculator alone: what a process serves until a server starts.
static CALCULATOR_ONLY: [&Library; 1] = [&oxbridge_core::CALCULATOR];

/// The libraries this process serves on every bridge, the first one's
/// functions also under their bare names (see [`Config::libraries`]).
#[must_use]
pub fn libraries() -> &'static [&'static Library] {
    SERVED.get().copied().unwrap_or(&CALCULATOR_ONLY)
}

/// The first library served: its functions answer to their bare names
/// (`/add`, the IPC command `add`), as a server of one library always did.
#[must_use]
pub fn library() -> &'static Library {
    libraries()[0]
}

/// The served library called `name`.
#[must_use]
pub fn hosted(name: &str) -> Option<&'static Library> {
    libraries().iter().copied().find(|l| l.name == name)
}

/// The error for a library this server does not serve, naming those it does.
#[must_use]
pub fn not_hosted(name: &str) -> oxbridge_core::CoreError {
    let names: Vec<&str> = libraries().iter().map(|l| l.name).collect();
    oxbridge_core::CoreError::new(
        oxbridge_core::ErrorKind::NotFound,
        format!(
            "this server does not host the library {name:?} (it hosts {})",
            names.join(", ")
        ),
    )
}

/// The function a call names: `library.function`, or a bare name of the
/// first library's.
///
/// # Errors
/// A library this server does not host ([`not_hosted`]), or a function its
/// library does not export ([`oxbridge_core::CoreError::UnknownOperation`]).
pub fn resolve(
    name: &str,
) -> Result<(&'static Library, &'static oxbridge_core::export::Function), oxbridge_core::CoreError>
{
    match name.split_once('.') {
        Some((library, function)) => resolve_in(Some(library), function),
        None => resolve_in(None, name),
    }
}

/// The function `function` of the served library `library`, or of the
/// first library without one.
///
/// # Errors
/// As [`resolve`].
pub fn resolve_in(
    library: Option<&str>,
    function: &str,
) -> Result<(&'static Library, &'static oxbridge_core::export::Function), oxbridge_core::CoreError>
{
    let library = match library {
        Some(name) => hosted(name).ok_or_else(|| not_hosted(name))?,
        None => self::library(),
    };
    Ok((library, library.lookup(function)?))
}

/// Chooses the libraries this process serves: one set for the process.
fn serve_libraries(chosen: &[&'static Library]) -> Result<(), StartError> {
    let served = *SERVED.get_or_init(|| Box::leak(chosen.to_vec().into_boxed_slice()));
    let same = served.len() == chosen.len()
        && served.iter().zip(chosen).all(|(a, b)| std::ptr::eq(*a, *b));
    if same {
        Ok(())
    } else {
        let names = |set: &[&Library]| set.iter().map(|l| l.name).collect::<Vec<_>>().join(", ");
        Err(StartError::Io(
            format!(
                "cannot serve {}: this process already serves {}",
                names(chosen),
                names(served)
            ),
            io::ErrorKind::AlreadyExists,
        ))
    }
}

/// Why a server could not start.
#[derive(Debug)]
pub enum StartError {
    /// A TCP address is taken by another process.
    AddrInUse(&'static str, SocketAddr),
    /// A live server already answers on this socket path.
    SocketInUse(PathBuf),
    /// A non-loopback address without `allow_remote`.
    NotLoopback(&'static str, SocketAddr),
    /// Any other I/O failure, with what was being done.
    Io(String, io::ErrorKind),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::AddrInUse(bridge, addr) => write!(
                f,
                "cannot serve {bridge} on {addr}: the address is already in use (another server running?)"
            ),
            StartError::SocketInUse(path) => write!(
                f,
                "cannot serve ipc on {}: a live server already answers there",
                path.display()
            ),
            StartError::NotLoopback(bridge, addr) => write!(
                f,
                "refusing to serve {bridge} on {addr}: not a loopback address; pass --allow-remote to serve other hosts"
            ),
            StartError::Io(what, _) => f.write_str(what),
        }
    }
}

impl std::error::Error for StartError {}

/// Installs the `tracing` subscriber once: stderr, filtered by `RUST_LOG`
/// (else `default_filter`), colours only on a terminal. Later calls do nothing.
pub fn init_tracing(default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Logs a failed call: a client's mistake at DEBUG (WARN for a limit hit),
/// a fault of ours at ERROR. Never the request body.
pub fn log_call_error(bridge: &'static str, e: &CallError) {
    log_failure(bridge, e.kind(), &e.to_string());
}

/// Logs a failure of `kind` with its message, as [`log_call_error`]: what the
/// bridges' logging layers call once per failed call, after its reply.
pub fn log_failure(bridge: &'static str, kind: oxbridge_core::ErrorKind, message: &str) {
    use oxbridge_core::ErrorKind;
    match kind {
        ErrorKind::Internal => tracing::error!(bridge, kind = kind.name(), "{message}"),
        ErrorKind::PayloadTooLarge
        | ErrorKind::PermissionDenied
        | ErrorKind::Timeout
        | ErrorKind::Unavailable => {
            // A client can cause these at will: at most one line a second.
            if let Some(left_out) = rate_limit::admit(kind.name()) {
                tracing::warn!(bridge, kind = kind.name(), left_out, "{message}");
            }
        }
        _ => tracing::debug!(bridge, kind = kind.name(), "{message}"),
    }
}

/// A started server.
pub struct Running {
    /// The HTTP addresses actually bound (port 0 resolved).
    pub http: Vec<SocketAddr>,
    /// The gRPC addresses actually bound.
    pub grpc: Vec<SocketAddr>,
    /// The IPC socket.
    pub unix: Option<PathBuf>,
    /// The benchmarking echo socket.
    pub echo_unix: Option<PathBuf>,
    /// The address serving only `/metrics`, if any.
    pub metrics: Option<SocketAddr>,
    /// Draining once a stop is asked; `drain_delay` later, stopping.
    ready: readiness::Readiness,
    /// The stopping token of `ready`: the listeners close and connections drain.
    shutdown: CancellationToken,
    tracker: TaskTracker,
    limits: Limits,
}

async fn bind_tcp(
    bridge: &'static str,
    listen: &Listen,
    access: &config::Access,
) -> Result<Vec<TcpListener>, StartError> {
    let mut listeners = Vec::new();
    for (addr, optional) in listen.candidates() {
        if !addr.ip().is_loopback() && !access.allow_remote {
            return Err(StartError::NotLoopback(bridge, addr));
        }
        match TcpListener::bind(addr).await {
            Ok(l) => listeners.push(l),
            Err(e) if optional && e.kind() != io::ErrorKind::AddrInUse => {
                tracing::warn!(bridge, %addr, error = %e, "skipping an address this host lacks");
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                return Err(StartError::AddrInUse(bridge, addr))
            }
            Err(e) => {
                return Err(StartError::Io(
                    format!("cannot serve {bridge} on {addr}: {e}"),
                    e.kind(),
                ))
            }
        }
    }
    Ok(listeners)
}

fn local_addrs(listeners: &[TcpListener]) -> Vec<SocketAddr> {
    listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect()
}

/// Binds everything in `config`, then serves it in the background.
///
/// # Errors
/// A busy port, a live socket, or another I/O failure, before anything is served.
pub async fn start(config: Config) -> Result<Running, StartError> {
    serve_libraries(&config.libraries)?;
    oxbridge_shm::heap::keep_large_buffers();
    let http_listeners = bind_tcp("http", &config.http, &config.access).await?;
    let grpc_listeners = bind_tcp("grpc", &config.grpc, &config.access).await?;
    let metrics_listeners = match config.metrics {
        Some(addr) => bind_tcp("metrics", &Listen::Addrs(vec![addr]), &config.access).await?,
        None => Vec::new(),
    };
    let unix_listener = match &config.unix {
        Some(path) => {
            let private = *path == config::default_socket_path();
            Some(ipc::bind(path, private)?)
        }
        None => None,
    };
    let echo_listener = match &config.echo_unix {
        Some(path) => Some(ipc::bind(path, false)?),
        None => None,
    };
    let ready = readiness::Readiness::new();
    let running = Running {
        http: local_addrs(&http_listeners),
        grpc: local_addrs(&grpc_listeners),
        unix: config.unix.clone(),
        echo_unix: config.echo_unix.clone(),
        metrics: local_addrs(&metrics_listeners).first().copied(),
        ready: ready.clone(),
        shutdown: ready.stopping_token(),
        tracker: TaskTracker::new(),
        limits: config.limits.clone(),
    };
    let limits = &config.limits;

    let tls = config.tls.as_ref().map(https::load_tls).transpose()?;
    if tls.is_some() {
        // One crypto provider for rustls, chosen here rather than by features.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    // One budget for every bridge: a request on any of them counts against it.
    let budget = budget::Budget::new(limits.memory_budget, limits.budget_wait);
    budget.give_back_when_quiet(running.shutdown.clone());
    let app = http::app_with_access(limits, &config.access, &budget, &running.ready);
    let http_listeners = match &tls {
        Some((cert, key)) => {
            https::serve(&running, http_listeners, &app, cert, key).await?;
            Vec::new()
        }
        None => http_listeners,
    };
    for listener in http_listeners {
        let (app, token, tracker) = (
            app.clone(),
            running.shutdown.clone(),
            running.tracker.clone(),
        );
        let limits = limits.clone();
        running.tracker.spawn(async move {
            http_serve::serve(listener, app, &limits, token, tracker).await;
        });
    }

    for listener in metrics_listeners {
        let (app, token, tracker) = (
            http::metrics_app(&config.access),
            running.shutdown.clone(),
            running.tracker.clone(),
        );
        let limits = limits.clone();
        running.tracker.spawn(async move {
            http_serve::serve(listener, app, &limits, token, tracker).await;
        });
    }

    if !grpc_listeners.is_empty() {
        let routes = grpc::routes(limits, &config.access, &running.ready).await?;
        grpc_serve::serve(&running, grpc_listeners, routes, tls.as_ref(), &budget)?;
    }

    if let Some(listener) = unix_listener {
        let (limits, token, tracker) = (
            limits.clone(),
            running.shutdown.clone(),
            running.tracker.clone(),
        );
        let stop = ipc::Stop::on(&token)
            .map_err(|e| StartError::Io(format!("ipc: a shutdown pipe: {e}"), e.kind()))?;
        running.tracker.spawn(ipc::serve(
            listener,
            limits,
            budget.clone(),
            config.access.allow_other_users,
            token,
            stop,
            tracker,
        ));
    }
    if let Some(listener) = echo_listener {
        let (token, tracker) = (running.shutdown.clone(), running.tracker.clone());
        running
            .tracker
            .spawn(ipc::serve_echo(listener, token, tracker));
    }
    running.tracker.close();
    Ok(running)
}

impl Running {
    /// Cancelling this token stops the server: readiness turns to draining
    /// at once (`/healthz` answers 503, gRPC health `NOT_SERVING`), calls
    /// are still served for the drain delay, then the listeners close and
    /// in-flight requests finish.
    #[must_use]
    pub fn shutdown_token(&self) -> CancellationToken {
        self.ready.draining_token()
    }

    /// Waits for a stop to be asked, serves on (reporting not ready) for the
    /// drain delay, closes the listeners, waits for in-flight requests to
    /// finish (at most the drain timeout), and removes the socket file.
    pub async fn wait(self) {
        self.ready.draining().await;
        if !self.limits.drain_delay.is_zero() {
            tracing::info!(delay = ?self.limits.drain_delay, "not ready: serving on until the drain delay ends");
            tokio::time::sleep(self.limits.drain_delay).await;
        }
        self.ready.stop();
        if tokio::time::timeout(self.limits.drain_timeout, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(timeout = ?self.limits.drain_timeout, "in-flight requests did not finish in time");
        }
        for path in self.unix.iter().chain(&self.echo_unix) {
            ipc::remove_socket(path);
        }
    }
}
