//! `oxbridge._native.Server`: the Rust server, run from Python.
//!
//! The server runs on its own tokio runtime in a background thread; every
//! blocking method releases the GIL, so Python stays responsive (Ctrl-C
//! included) while Rust serves.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use oxbridge_server::ground::config;
use oxbridge_server::{Config, StartError};
use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::errors;

/// A `serve` command line, parsed by the server's one definition of its
/// options ([`oxbridge_server::ServeOptions`]).
#[pyclass(module = "oxbridge._native", frozen)]
pub struct ServeOptions {
    options: oxbridge_server::ServeOptions,
    /// The library these options serve: the module's that parsed them.
    library: &'static oxbridge_core::export::Library,
}

#[pymethods]
impl ServeOptions {
    /// `--json`: print the bound addresses as one JSON line.
    #[getter]
    fn json(&self) -> bool {
        self.options.json
    }

    /// `--watch-stdin`: stop when stdin closes.
    #[getter]
    fn watch_stdin(&self) -> bool {
        self.options.watch_stdin
    }

    /// `--library`: the libraries to serve beside this one, as given.
    #[getter]
    fn libraries(&self) -> Vec<String> {
        self.options.libraries.clone()
    }

    /// Whether HTTP and gRPC are served over TLS.
    #[getter]
    fn tls(&self) -> bool {
        self.options.tls_cert.is_some()
    }
}

/// Parses a `serve` command line (`args`, without the program's name) for
/// the program `prog`, whose environment variables start with `env_prefix`:
/// `(options, "", 0)`, or `(None, text, exit status)` for `--help`,
/// `--version` (status 0, text for stdout) or a mistake (status 2, text for
/// stderr), every word of it clap's.
#[pyfunction]
#[pyo3(pass_module)]
pub fn parse_serve_args(
    m: &Bound<'_, PyModule>,
    prog: &str,
    env_prefix: &str,
    args: Vec<String>,
) -> PyResult<(Option<ServeOptions>, String, i32)> {
    let library = crate::registry::library_of(m)?;
    Ok(
        match oxbridge_server::ServeOptions::parse(prog, env_prefix, &args) {
            Ok(options) => (Some(ServeOptions { options, library }), String::new(), 0),
            Err(e) => (None, e.render().to_string(), e.exit_code()),
        },
    )
}

/// Every server option's environment variable for a library whose
/// variables start with `env_prefix`, by the option's long name (`unix` →
/// `OXBRIDGE_UNIX`): the server's one definition, which the clients read.
#[pyfunction]
pub fn serve_environment(env_prefix: &str) -> std::collections::HashMap<String, String> {
    oxbridge_server::ServeOptions::environment(env_prefix)
        .into_iter()
        .collect()
}

/// A running oxbridge server (HTTP, IPC and gRPC on one tokio runtime).
#[pyclass(module = "oxbridge._native", frozen)]
pub struct Server {
    #[pyo3(get)]
    http: Vec<String>,
    #[pyo3(get)]
    grpc: Vec<String>,
    #[pyo3(get)]
    unix: Option<String>,
    /// The address serving only `/metrics` (`--metrics`), if any.
    #[pyo3(get)]
    metrics: Option<String>,
    token: CancellationToken,
    /// Set, with a notification, when the server thread has finished.
    done: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[pymethods]
impl Server {
    /// Binds every listener of `options` and starts serving this module's
    /// library in the background, and the libraries of the modules in
    /// `libraries` (`--library`, which the Python layer loads).
    #[new]
    #[pyo3(signature = (options, libraries = Vec::new()))]
    fn new(
        py: Python<'_>,
        options: &ServeOptions,
        libraries: Vec<Bound<'_, PyModule>>,
    ) -> PyResult<Self> {
        let mut chosen = vec![options.library];
        for module in &libraries {
            chosen.push(crate::registry::library_of(module)?);
        }
        let config = options
            .options
            .config(options.library)
            .serving(&chosen)
            .map_err(|e| errors::error(py, "startup", e))?;
        oxbridge_server::ground::log::init_tracing("warn");
        let (started_tx, started_rx) = mpsc::channel();
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let done_in_thread = done.clone();
        let thread = std::thread::Builder::new()
            .name("oxbridge-server".into())
            .spawn(move || {
                run(config, &started_tx);
                let (lock, cvar) = &*done_in_thread;
                if let Ok(mut stopped) = lock.lock() {
                    *stopped = true;
                }
                cvar.notify_all();
            })
            .map_err(|e| {
                errors::error(
                    py,
                    "startup",
                    format!("cannot start the server thread: {e}"),
                )
            })?;
        let started = py.detach(move || started_rx.recv());
        match started {
            Ok(Ok(Started {
                http,
                grpc,
                unix,
                metrics,
                token,
            })) => Ok(Server {
                http,
                grpc,
                unix,
                metrics,
                token,
                done,
                thread: Mutex::new(Some(thread)),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(errors::error(py, "startup", e.to_string()))
            }
            Err(_) => Err(errors::error(
                py,
                "internal",
                "the server thread died while starting".into(),
            )),
        }
    }

    /// Starts a graceful shutdown and waits until in-flight requests finish.
    fn stop(&self, py: Python<'_>) {
        self.token.cancel();
        let handle = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(handle) = handle {
            py.detach(|| {
                let _ = handle.join();
            });
        }
    }

    /// Waits until the server has stopped, or `timeout` seconds pass.
    /// Returns whether it has stopped.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> bool {
        let done = self.done.clone();
        py.detach(move || {
            let (lock, cvar) = &*done;
            let Ok(guard) = lock.lock() else { return true };
            match timeout {
                None => cvar
                    .wait_while(guard, |stopped| !*stopped)
                    .map_or(true, |g| *g),
                Some(t) => cvar
                    .wait_timeout_while(guard, Duration::from_secs_f64(t.max(0.0)), |stopped| {
                        !*stopped
                    })
                    .map_or(true, |(g, _)| *g),
            }
        })
    }

    /// Whether the server is still serving.
    #[getter]
    fn running(&self) -> bool {
        !self.token.is_cancelled()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(&self, py: Python<'_>, _t: Py<PyAny>, _v: Py<PyAny>, _tb: Py<PyAny>) {
        self.stop(py);
    }

    fn __repr__(&self) -> String {
        format!(
            "<oxbridge Server http={:?} grpc={:?} unix={:?}>",
            self.http, self.grpc, self.unix
        )
    }
}

/// Where a started server listens, and how to stop it.
struct Started {
    http: Vec<String>,
    grpc: Vec<String>,
    unix: Option<String>,
    metrics: Option<String>,
    token: CancellationToken,
}

fn run(config: Config, started: &mpsc::Sender<Result<Started, StartError>>) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("oxbridge-worker")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = started.send(Err(StartError::Io(
                format!("cannot start the tokio runtime: {e}"),
                e.kind(),
            )));
            return;
        }
    };
    runtime.block_on(async {
        match oxbridge_server::start(config).await {
            Ok(running) => {
                let addrs = |v: &[SocketAddr]| v.iter().map(ToString::to_string).collect();
                let unix = running.unix.as_ref().map(|p| p.display().to_string());
                let _ = started.send(Ok(Started {
                    http: addrs(&running.http),
                    grpc: addrs(&running.grpc),
                    unix,
                    metrics: running.metrics.map(|a| a.to_string()),
                    token: running.shutdown_token(),
                }));
                running.wait().await;
            }
            Err(e) => {
                let _ = started.send(Err(e));
            }
        }
    });
}

/// The default IPC socket path, the one `Server(unix=None)` binds.
#[pyfunction]
pub fn default_socket_path() -> String {
    config::default_socket_path().display().to_string()
}
