//! What a server listens on, and the limits it enforces.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The article's HTTP port.
pub const DEFAULT_HTTP_PORT: u16 = 3000;
/// The article's gRPC port.
pub const DEFAULT_GRPC_PORT: u16 = 50051;

/// Limits that keep a server alive and its memory bounded under any input.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body, JSON document or gRPC message, in bytes.
    pub max_request_bytes: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Requests handled at once per bridge; more wait their turn.
    pub max_in_flight: usize,
    /// Open IPC connections at once; more are refused with an error reply.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests before giving up.
    pub drain_timeout: Duration,
    /// How long a server asked to stop keeps serving while it reports not
    /// ready, so that balancers probing its health stop sending first.
    pub drain_delay: Duration,
    /// Bytes held at once for requests and their replies in flight, on all
    /// bridges together (see `budget`).
    pub memory_budget: usize,
    /// How long a request waits for its share of the budget before it is
    /// refused as busy.
    pub budget_wait: Duration,
    /// How long an IPC connection keeps polling for the next request after a
    /// reply before it sleeps (zero: never poll).
    pub busy_poll: Duration,
    /// Most bytes of shared-memory regions an IPC connection may have
    /// attached at once (zero: IPC batches always cross the socket).
    pub max_shared_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 16 * 1024 * 1024,
            idle_timeout: Duration::from_secs(60),
            max_in_flight: 256,
            max_connections: 1024,
            drain_timeout: Duration::from_secs(10),
            drain_delay: Duration::ZERO,
            memory_budget: 512 * 1024 * 1024,
            budget_wait: Duration::from_secs(2),
            busy_poll: Duration::from_micros(50),
            max_shared_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Room in a JSON document beyond its arguments' own encoding: field names,
/// punctuation, numbers written out.
const JSON_ROOM: usize = 64 * 1024;

impl Limits {
    /// The largest JSON document (an HTTP body, an IPC request) that may
    /// carry arguments of [`Limits::max_request_bytes`]: `bytes` travel as
    /// base64, a third larger. The arguments themselves are then held to
    /// the limit ([`Limits::check_arguments`]), so that a call is too large
    /// on every bridge or on none, whatever its encoding.
    #[must_use]
    pub fn max_json_bytes(&self) -> usize {
        self.max_request_bytes
            .saturating_add(self.max_request_bytes.div_ceil(3))
            .saturating_add(JSON_ROOM)
    }

    /// Whether a call's decoded arguments fit [`Limits::max_request_bytes`]:
    /// the bytes of its text, its `bytes` and its arrays, and 16 for each
    /// number (what they take on the binary bridges, near enough).
    ///
    /// # Errors
    /// [`CallError::TooLarge`] when they do not.
    pub fn check_arguments(
        &self,
        args: &[oxbridge_core::export::Value],
    ) -> Result<(), crate::ground::error::CallError> {
        use oxbridge_core::export::Value;
        let size: usize = args
            .iter()
            .map(|v| match v {
                Value::Str(s) => s.len(),
                Value::Bytes(b) => b.len(),
                Value::F64Array(a) => a.len() * 8,
                Value::I64Array(a) => a.len() * 8,
                Value::ComplexArray(a) => a.len() * 16,
                Value::Bool(_) | Value::I64(_) | Value::F64(_) | Value::Complex(_) => 16,
            })
            .sum();
        if size > self.max_request_bytes {
            return Err(crate::ground::error::CallError::TooLarge {
                limit: self.max_request_bytes,
            });
        }
        Ok(())
    }
}

/// Addresses of one TCP bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// Not served.
    Off,
    /// The loopback defaults: IPv4 and IPv6 on the given port. IPv6 is skipped
    /// with a warning on a host without it.
    Loopback(u16),
    /// Exactly these addresses; each must bind.
    Addrs(Vec<SocketAddr>),
}

impl Listen {
    /// The addresses to bind, and whether a failure to bind may be skipped.
    #[must_use]
    pub fn candidates(&self) -> Vec<(SocketAddr, bool)> {
        match self {
            Listen::Off => Vec::new(),
            Listen::Loopback(port) => vec![
                (SocketAddr::from((Ipv4Addr::LOCALHOST, *port)), false),
                (SocketAddr::from((Ipv6Addr::LOCALHOST, *port)), true),
            ],
            Listen::Addrs(addrs) => addrs.iter().map(|a| (*a, false)).collect(),
        }
    }
}

/// Everything a server needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// The libraries served on every bridge, each under its name (`/pystd/gcd`,
    /// the IPC command `pystd.gcd`, the gRPC service `pystd.v1.Functions`);
    /// the first one's functions also under their bare names (`/add`). Made
    /// by [`Config::serving`]: no two of one name, the calculator first.
    pub libraries: Vec<&'static oxbridge_core::export::Library>,
    /// HTTP addresses.
    pub http: Listen,
    /// gRPC addresses.
    pub grpc: Listen,
    /// The Unix socket's path, or `None` for no IPC.
    pub unix: Option<PathBuf>,
    /// Limits for every bridge.
    pub limits: Limits,
    /// A raw echo socket beside the bridges, as a benchmarking floor.
    pub echo_unix: Option<PathBuf>,
    /// An address serving only `GET /metrics` (plain HTTP), if any.
    pub metrics: Option<SocketAddr>,
    /// Access control for every bridge.
    pub access: Access,
    /// Serve HTTP and gRPC over TLS with this certificate and key.
    pub tls: Option<TlsFiles>,
}

/// A PEM certificate chain and its private key.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
}

/// Who may call the server.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// Serve TCP addresses other than loopback. Off by default: reaching the
    /// core from other hosts is a decision, not an accident.
    pub allow_remote: bool,
    /// When set, HTTP and gRPC calls must carry `Authorization: Bearer <token>`
    /// (health checks excepted, for load balancers).
    pub token: Option<String>,
    /// Accept IPC connections from other users (beyond the socket's 0600 mode,
    /// the peer's uid is checked with `SO_PEERCRED`).
    pub allow_other_users: bool,
}

impl Access {}

impl Config {
    /// This configuration serving `libraries`, in their order but with the
    /// calculator first when it is one of them (the articles' clients call
    /// its functions by their bare names), each once.
    ///
    /// # Errors
    /// No library, or two different libraries of one name.
    pub fn serving(
        mut self,
        libraries: &[&'static oxbridge_core::export::Library],
    ) -> Result<Self, String> {
        let mut chosen: Vec<&'static oxbridge_core::export::Library> = Vec::new();
        for &library in libraries {
            match chosen.iter().find(|l| l.name == library.name) {
                Some(same) if std::ptr::eq(*same, library) => {}
                Some(_) => {
                    return Err(format!(
                        "two different libraries are called {:?}: a server serves one of a name",
                        library.name
                    ))
                }
                None => chosen.push(library),
            }
        }
        if chosen.is_empty() {
            return Err("a server serves at least one library".to_owned());
        }
        chosen.sort_by_key(|l| !std::ptr::eq(*l, &oxbridge_core::CALCULATOR));
        self.libraries = chosen;
        Ok(self)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            libraries: vec![&oxbridge_core::CALCULATOR],
            http: Listen::Loopback(DEFAULT_HTTP_PORT),
            grpc: Listen::Loopback(DEFAULT_GRPC_PORT),
            unix: Some(default_socket_path()),
            limits: Limits::default(),
            echo_unix: None,
            metrics: None,
            access: Access::default(),
            tls: None,
        }
    }
}

/// `$XDG_RUNTIME_DIR/oxbridge/oxbridge.sock`, or `/tmp/oxbridge-<uid>/oxbridge.sock`
/// where there is no runtime directory. Either directory is private (0700).
#[must_use]
pub fn default_socket_path() -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| PathBuf::from(d).join("oxbridge"))
        .unwrap_or_else(|| {
            PathBuf::from(format!(
                "/tmp/oxbridge-{}",
                rustix::process::getuid().as_raw()
            ))
        });
    base.join("oxbridge.sock")
}
