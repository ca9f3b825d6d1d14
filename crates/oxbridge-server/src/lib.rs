//! oxbridge's network bridges: HTTP (axum), IPC over a Unix socket, and gRPC
//! (tonic), served from one tokio runtime over the same core.
//!
//! [`start`] binds every listener first, so a busy port or a live socket is
//! reported before anything is served; the returned [`Running`] server stops
//! gracefully when its token is cancelled.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub mod anchors;
pub mod codec;
pub mod ground;
pub mod grpc;
pub mod http;
pub mod ipc;

pub use ground::config::{Access, Config, Limits, Listen, TlsFiles};
pub use ground::error::{CallError, StartError};
pub use ground::library::{hosted, libraries, library, not_hosted, resolve, resolve_in, Args};
pub use ground::log::{init_tracing, log_call_error, log_failure};
pub use ground::options::ServeOptions;

use ground::accept::{bind_tcp, local_addrs};
use ground::budget::Budget;
use ground::config;
use ground::readiness::Readiness;
use ground::tasks::Tasks;

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
    ready: Readiness,
    /// Every bridge's tasks, stopped by the stopping token of `ready`.
    tasks: Tasks,
}

/// Binds everything in `config`, then serves it in the background.
///
/// # Errors
/// A busy port, a live socket, or another I/O failure, before anything is served.
pub async fn start(config: Config) -> Result<Running, StartError> {
    ground::library::serve_libraries(&config.libraries)?;
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
    let ready = Readiness::new();
    let tasks = Tasks {
        shutdown: ready.stopping_token(),
        tracker: TaskTracker::new(),
        limits: config.limits.clone(),
    };
    let running = Running {
        http: local_addrs(&http_listeners),
        grpc: local_addrs(&grpc_listeners),
        unix: config.unix.clone(),
        echo_unix: config.echo_unix.clone(),
        metrics: local_addrs(&metrics_listeners).first().copied(),
        ready: ready.clone(),
        tasks: tasks.clone(),
    };

    let tls = config.tls.as_ref().map(ground::tls::load_tls).transpose()?;
    // One budget for every bridge: a request on any of them counts against it.
    let budget = Budget::new(tasks.limits.memory_budget, tasks.limits.budget_wait);
    budget.give_back_when_quiet(tasks.shutdown.clone());

    let app = http::app_with_access(&tasks.limits, &config.access, &budget, &ready);
    http::serve::serve_all(&tasks, http_listeners, &app, tls.as_ref()).await?;
    let metrics_app = http::metrics_app(&config.access);
    http::serve::serve_all(&tasks, metrics_listeners, &metrics_app, None).await?;
    if !grpc_listeners.is_empty() {
        let routes = grpc::routes(&tasks.limits, &config.access, &ready).await?;
        grpc::serve::serve(&tasks, grpc_listeners, routes, tls.as_ref(), &budget)?;
    }
    if let Some(listener) = unix_listener {
        ipc::serve_in(&tasks, listener, budget, config.access.allow_other_users)?;
    }
    if let Some(listener) = echo_listener {
        let (token, tracker) = (tasks.shutdown.clone(), tasks.tracker.clone());
        tasks.spawn(ipc::serve_echo(listener, token, tracker));
    }
    tasks.tracker.close();
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
        if !self.tasks.limits.drain_delay.is_zero() {
            tracing::info!(delay = ?self.tasks.limits.drain_delay, "not ready: serving on until the drain delay ends");
            tokio::time::sleep(self.tasks.limits.drain_delay).await;
        }
        self.ready.stop();
        if tokio::time::timeout(self.tasks.limits.drain_timeout, self.tasks.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(timeout = ?self.tasks.limits.drain_timeout, "in-flight requests did not finish in time");
        }
        for path in self.unix.iter().chain(&self.echo_unix) {
            ipc::remove_socket(path);
        }
    }
}
