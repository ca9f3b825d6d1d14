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
    /// How long an IPC connection keeps polling for the next request after a
    /// reply before it sleeps (zero: never poll).
    pub busy_poll: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 16 * 1024 * 1024,
            idle_timeout: Duration::from_secs(60),
            max_in_flight: 256,
            max_connections: 1024,
            drain_timeout: Duration::from_secs(10),
            busy_poll: Duration::from_micros(50),
        }
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http: Listen::Loopback(DEFAULT_HTTP_PORT),
            grpc: Listen::Loopback(DEFAULT_GRPC_PORT),
            unix: Some(default_socket_path()),
            limits: Limits::default(),
            echo_unix: None,
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
