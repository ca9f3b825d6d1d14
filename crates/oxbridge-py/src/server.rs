//! `oxbridge._native.Server`: the Rust server, run from Python.
//!
//! The server runs on its own tokio runtime in a background thread; every
//! blocking method releases the GIL, so Python stays responsive (Ctrl-C
//! included) while Rust serves.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use oxbridge_server::{config, Config, Limits, Listen, StartError};
use pyo3::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::errors;

fn listen(addrs: Option<Vec<String>>, port: u16, bridge: &str) -> PyResult<Listen> {
    let Some(addrs) = addrs else {
        return Ok(Listen::Loopback(port));
    };
    if addrs.is_empty() {
        return Ok(Listen::Off);
    }
    let parsed = addrs
        .iter()
        .map(|a| {
            a.parse::<SocketAddr>().map_err(|_| {
                pyo3::exceptions::PyValueError::new_err(format!(
                    "{bridge} address {a:?} is not HOST:PORT (e.g. 127.0.0.1:3000 or [::1]:3000)"
                ))
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(Listen::Addrs(parsed))
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
    token: CancellationToken,
    /// Set, with a notification, when the server thread has finished.
    done: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[pymethods]
impl Server {
    /// Binds every listener and starts serving in the background.
    ///
    /// `http`/`grpc`: `None` for the loopback defaults, `[]` for off, or a
    /// list of `HOST:PORT`. `unix`: `None` for the default private socket,
    /// `""` for off, or a path.
    #[new]
    // One keyword argument per server setting, as Python callers expect.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (
        *, http=None, grpc=None, unix=None, max_request_bytes=None, idle_timeout=None,
        memory_budget=None,
        echo_unix=None, allow_remote=false, token=None, allow_other_users=false,
        tls_cert=None, tls_key=None,
    ))]
    fn new(
        py: Python<'_>,
        http: Option<Vec<String>>,
        grpc: Option<Vec<String>>,
        unix: Option<String>,
        max_request_bytes: Option<usize>,
        idle_timeout: Option<f64>,
        memory_budget: Option<usize>,
        echo_unix: Option<PathBuf>,
        allow_remote: bool,
        token: Option<String>,
        allow_other_users: bool,
        tls_cert: Option<PathBuf>,
        tls_key: Option<PathBuf>,
    ) -> PyResult<Self> {
        let defaults = Limits::default();
        let idle_timeout = match idle_timeout {
            Some(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s),
            Some(_) => {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "idle_timeout must be a positive number of seconds",
                ))
            }
            None => defaults.idle_timeout,
        };
        let config = Config {
            library: crate::library(),
            http: listen(http, config::DEFAULT_HTTP_PORT, "http")?,
            grpc: listen(grpc, config::DEFAULT_GRPC_PORT, "grpc")?,
            unix: match unix.as_deref() {
                None => Some(config::default_socket_path()),
                Some("") => None,
                Some(path) => Some(PathBuf::from(path)),
            },
            limits: Limits {
                max_request_bytes: max_request_bytes.unwrap_or(defaults.max_request_bytes),
                idle_timeout,
                memory_budget: memory_budget.unwrap_or(defaults.memory_budget),
                ..defaults
            },
            echo_unix,
            access: oxbridge_server::Access {
                allow_remote,
                token: token.filter(|t| !t.is_empty()),
                allow_other_users,
            },
            tls: match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(oxbridge_server::TlsFiles { cert, key }),
                (None, None) => None,
                _ => {
                    return Err(pyo3::exceptions::PyValueError::new_err(
                        "tls_cert and tls_key go together: give both or neither",
                    ))
                }
            },
        };
        oxbridge_server::init_tracing("warn");
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
            Ok(Ok((http, grpc, unix, token))) => Ok(Server {
                http,
                grpc,
                unix,
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

type Started = (Vec<String>, Vec<String>, Option<String>, CancellationToken);

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
                let _ = started.send(Ok((
                    addrs(&running.http),
                    addrs(&running.grpc),
                    unix,
                    running.shutdown_token(),
                )));
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
