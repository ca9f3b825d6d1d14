//! `oxbridge-server`: HTTP, IPC and gRPC over the oxbridge core.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use oxbridge_server::{config, Config, Limits, Listen};

/// Serve the oxbridge core over HTTP, a Unix socket and gRPC.
///
/// With no flags: HTTP on localhost:3000, gRPC on localhost:50051 (IPv4 and
/// IPv6 loopback), IPC on a socket in a private per-user directory.
#[derive(Parser, Debug)]
#[command(name = "oxbridge-server", version)]
struct Args {
    /// HTTP address(es) to listen on (repeatable).
    #[arg(long, env = "OXBRIDGE_HTTP", value_delimiter = ',')]
    http: Vec<SocketAddr>,
    /// Do not serve HTTP.
    #[arg(long, conflicts_with = "http")]
    no_http: bool,
    /// gRPC address(es) to listen on (repeatable).
    #[arg(long, env = "OXBRIDGE_GRPC", value_delimiter = ',')]
    grpc: Vec<SocketAddr>,
    /// Do not serve gRPC.
    #[arg(long, conflicts_with = "grpc")]
    no_grpc: bool,
    /// Path of the IPC socket.
    #[arg(long, env = "OXBRIDGE_UNIX")]
    unix: Option<PathBuf>,
    /// Do not serve IPC.
    #[arg(long, conflicts_with = "unix")]
    no_ipc: bool,
    /// Largest request, in bytes.
    #[arg(long, env = "OXBRIDGE_MAX_REQUEST_BYTES", default_value_t = Limits::default().max_request_bytes)]
    max_request_bytes: usize,
    /// Seconds a connection may stay idle.
    #[arg(long, env = "OXBRIDGE_IDLE_TIMEOUT", default_value_t = 60)]
    idle_timeout: u64,
    /// Bytes held at once for requests and replies in flight, all bridges together.
    #[arg(long, env = "OXBRIDGE_MEMORY_BUDGET", default_value_t = Limits::default().memory_budget)]
    memory_budget: usize,
    /// Allow HTTP and gRPC on addresses other than loopback.
    #[arg(long)]
    allow_remote: bool,
    /// Require `Authorization: Bearer TOKEN` on HTTP and gRPC calls.
    #[arg(long, env = "OXBRIDGE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Accept IPC connections from other users.
    #[arg(long)]
    allow_other_users: bool,
    /// Serve HTTP and gRPC over TLS with this PEM certificate chain.
    #[arg(long, env = "OXBRIDGE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "OXBRIDGE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

impl Args {
    fn config(self) -> Config {
        let listen = |off: bool, addrs: Vec<SocketAddr>, port| match (off, addrs.is_empty()) {
            (true, _) => Listen::Off,
            (false, true) => Listen::Loopback(port),
            (false, false) => Listen::Addrs(addrs),
        };
        Config {
            library: &oxbridge_core::CALCULATOR,
            http: listen(self.no_http, self.http, config::DEFAULT_HTTP_PORT),
            grpc: listen(self.no_grpc, self.grpc, config::DEFAULT_GRPC_PORT),
            unix: (!self.no_ipc).then(|| self.unix.unwrap_or_else(config::default_socket_path)),
            limits: Limits {
                max_request_bytes: self.max_request_bytes,
                idle_timeout: Duration::from_secs(self.idle_timeout),
                memory_budget: self.memory_budget,
                ..Limits::default()
            },
            echo_unix: None,
            access: oxbridge_server::Access {
                allow_remote: self.allow_remote,
                token: self.token.filter(|t| !t.is_empty()),
                allow_other_users: self.allow_other_users,
            },
            tls: self
                .tls_cert
                .zip(self.tls_key)
                .map(|(cert, key)| oxbridge_server::TlsFiles { cert, key }),
        }
    }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler cannot fail on Unix");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    oxbridge_server::init_tracing("info");
    let config = Args::parse().config();
    let running = match oxbridge_server::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("oxbridge-server: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for addr in &running.http {
        tracing::info!("http listening on http://{addr}");
    }
    for addr in &running.grpc {
        tracing::info!("grpc listening on grpc://{addr}");
    }
    if let Some(path) = &running.unix {
        tracing::info!("ipc listening on unix://{}", path.display());
    }
    let token = running.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        token.cancel();
    });
    running.wait().await;
    ExitCode::SUCCESS
}
