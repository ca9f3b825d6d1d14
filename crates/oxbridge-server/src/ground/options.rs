//! The server's options, defined once: the `oxbridge-server` binary, `oxbridge
//! serve` and every library's `python -m PACKAGE serve` parse their command
//! line with this one definition (help, environment variables, defaults and
//! validation included).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use oxbridge_core::export::Library;

use crate::ground::config::{self, Access, Config, Limits, Listen, TlsFiles};

/// Serve a library over HTTP, a Unix socket and gRPC until Ctrl-C or SIGTERM.
///
/// With no flags: HTTP on localhost:3000, gRPC on localhost:50051 (IPv4 and
/// IPv6 loopback), IPC on a socket in a private per-user directory.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct ServeOptions {
    /// HTTP address(es) to listen on, HOST:PORT or http://HOST:PORT (repeatable, or comma-separated).
    #[arg(
        long,
        env = "OXBRIDGE_HTTP",
        value_delimiter = ',',
        value_name = "ADDR",
        value_parser = |text: &str| address(text, &["http", "https"])
    )]
    pub http: Vec<SocketAddr>,
    /// Do not serve HTTP.
    #[arg(long, conflicts_with = "http")]
    pub no_http: bool,
    /// gRPC address(es) to listen on, HOST:PORT or grpc://HOST:PORT (repeatable, or comma-separated).
    #[arg(
        long,
        env = "OXBRIDGE_GRPC",
        value_delimiter = ',',
        value_name = "ADDR",
        value_parser = |text: &str| address(text, &["grpc", "grpcs"])
    )]
    pub grpc: Vec<SocketAddr>,
    /// Do not serve gRPC.
    #[arg(long, conflicts_with = "grpc")]
    pub no_grpc: bool,
    /// Path of the IPC socket, or a unix:///path URL [default: a private per-user directory].
    #[arg(long, env = "OXBRIDGE_UNIX", value_name = "PATH", value_parser = socket_path)]
    pub unix: Option<PathBuf>,
    /// Do not serve IPC.
    #[arg(long, conflicts_with = "unix")]
    pub no_ipc: bool,
    /// Largest request, in bytes.
    #[arg(long, env = "OXBRIDGE_MAX_REQUEST_BYTES", value_name = "BYTES",
          default_value_t = Limits::default().max_request_bytes,
          value_parser = positive_bytes)]
    pub max_request_bytes: usize,
    /// Most bytes of shared-memory regions one IPC connection may have
    /// attached at once for its batches; 0 keeps every batch on the socket.
    #[arg(long, env = "OXBRIDGE_MAX_SHARED_BYTES", value_name = "BYTES",
          default_value_t = Limits::default().max_shared_bytes,
          value_parser = clap::value_parser!(usize))]
    pub max_shared_bytes: usize,
    /// Seconds a connection may stay idle (or stalled mid-request) before it is closed.
    #[arg(long, env = "OXBRIDGE_IDLE_TIMEOUT", value_name = "SECONDS",
          default_value_t = Limits::default().idle_timeout.as_secs_f64(), value_parser = positive_seconds,
          allow_negative_numbers = true)]
    pub idle_timeout: f64,
    /// Bytes held at once for requests and replies in flight, all bridges
    /// together; beyond it a request waits briefly, then is refused as busy.
    #[arg(long, env = "OXBRIDGE_MEMORY_BUDGET", value_name = "BYTES",
          default_value_t = Limits::default().memory_budget,
          value_parser = positive_bytes)]
    pub memory_budget: usize,
    /// Seconds a server asked to stop keeps serving while its health checks
    /// say it is draining, before its listeners close: time for balancers
    /// that probe health to stop sending to it.
    #[arg(long, env = "OXBRIDGE_DRAIN_DELAY", value_name = "SECONDS",
          default_value_t = Limits::default().drain_delay.as_secs_f64(), value_parser = seconds,
          allow_negative_numbers = true)]
    pub drain_delay: f64,
    /// Serve HTTP and gRPC on non-loopback addresses (other hosts can connect).
    #[arg(long)]
    pub allow_remote: bool,
    /// Require `Authorization: Bearer TOKEN` on HTTP and gRPC calls.
    #[arg(
        long,
        env = "OXBRIDGE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Accept IPC connections from other users.
    #[arg(long)]
    pub allow_other_users: bool,
    /// Serve HTTP and gRPC over TLS with this PEM certificate chain.
    #[arg(
        long,
        env = "OXBRIDGE_TLS_CERT",
        requires = "tls_key",
        value_name = "PEM"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        env = "OXBRIDGE_TLS_KEY",
        requires = "tls_cert",
        value_name = "PEM"
    )]
    pub tls_key: Option<PathBuf>,
    /// Also serve `GET /metrics` (Prometheus) on ADDR, HOST:PORT, for a server
    /// without HTTP; with HTTP, /metrics is on the HTTP port too.
    #[arg(long, env = "OXBRIDGE_METRICS", value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Also serve this library: an installed Python package that ships one
    /// (`pystd`), or the path of a library's shared object (repeatable).
    #[arg(long = "library", value_name = "LIBRARY")]
    pub libraries: Vec<String>,
    /// Print the bound addresses as one JSON line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Stop when stdin closes (for a parent process).
    #[arg(long)]
    pub watch_stdin: bool,
    /// Also serve a raw echo socket at PATH: the benchmark's IPC floor.
    #[arg(long, hide = true, value_name = "PATH")]
    pub bench_echo: Option<PathBuf>,
}

/// `HOST:PORT`, or a URL of one of `schemes` (what the clients' variables
/// of the same name accept, so one setting serves both).
fn address(text: &str, schemes: &[&str]) -> Result<SocketAddr, String> {
    let bare = match text.split_once("://") {
        Some((scheme, rest)) if schemes.contains(&scheme) => rest.trim_end_matches('/'),
        Some((scheme, _)) => {
            return Err(format!(
                "{text:?}: a {scheme}:// URL, expected {}",
                schemes.join(":// or ") + "://"
            ))
        }
        None => text,
    };
    bare.parse().map_err(|_| {
        format!("{text:?} is not HOST:PORT with an IP address (such as 127.0.0.1:3000)")
    })
}

/// A socket path, or a `unix:///path` URL of one.
fn socket_path(text: &str) -> Result<PathBuf, String> {
    match text.strip_prefix("unix://") {
        Some("") => Err(format!(
            "{text:?} has no path: write unix:///path/to/socket"
        )),
        Some(path) => Ok(PathBuf::from(path)),
        None => Ok(PathBuf::from(text)),
    }
}

fn positive_bytes(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?} is not a positive number of bytes")),
    }
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(s),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..1e9).contains(&s) => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds (0 or more)")),
    }
}

/// The environment prefix of the definition above, replaced per library.
const PREFIX: &str = "OXBRIDGE_";

impl ServeOptions {
    /// The command line of `prog`, with its environment variables named
    /// `<env_prefix>_HTTP`, `<env_prefix>_GRPC`... (`OXBRIDGE_` as defined).
    #[must_use]
    pub fn command_for(prog: &str, env_prefix: &str) -> clap::Command {
        // clap keeps names for the life of the command; there are a few per
        // process.
        let prog: &'static str = Box::leak(prog.to_owned().into_boxed_str());
        let mut command = <Self as CommandFactory>::command()
            .name(prog)
            .bin_name(prog);
        let renamed: Vec<(clap::Id, String)> = command
            .get_arguments()
            .filter_map(|a| {
                let env = a.get_env()?.to_str()?;
                let suffix = env.strip_prefix(PREFIX)?;
                Some((a.get_id().clone(), format!("{env_prefix}_{suffix}")))
            })
            .collect();
        for (id, env) in renamed {
            let env: &'static str = Box::leak(env.into_boxed_str());
            command = command.mut_arg(id, |a| a.env(env));
        }
        command
    }

    /// Every option's environment variable for a server whose variables
    /// start with `env_prefix`, by the option's long name (`unix` →
    /// `OXBRIDGE_UNIX`): the one list the clients and the CLI read too.
    #[must_use]
    pub fn environment(env_prefix: &str) -> Vec<(String, String)> {
        Self::command_for("serve", env_prefix)
            .get_arguments()
            .filter_map(|a| {
                let env = a.get_env()?.to_str()?.to_owned();
                Some((a.get_long()?.to_owned(), env))
            })
            .collect()
    }

    /// Parses `args` (without the program's name) as `prog` does.
    ///
    /// # Errors
    /// clap's error: a bad option, or `--help` / `--version` (its kind says
    /// which, and `render()` gives the text to print).
    pub fn parse(prog: &str, env_prefix: &str, args: &[String]) -> Result<Self, clap::Error> {
        let mut command = Self::command_for(prog, env_prefix);
        let matches = command.try_get_matches_from_mut(
            std::iter::once(prog.to_owned()).chain(args.iter().cloned()),
        )?;
        Self::from_arg_matches(&matches).map_err(|e| e.format(&mut command))
    }

    /// The server's configuration for `library` (and the libraries of
    /// `--library`, which the caller loads: see [`Config::serving`]).
    #[must_use]
    pub fn config(&self, library: &'static Library) -> Config {
        let listen = |off: bool, addrs: &[SocketAddr], port| match (off, addrs.is_empty()) {
            (true, _) => Listen::Off,
            (false, true) => Listen::Loopback(port),
            (false, false) => Listen::Addrs(addrs.to_vec()),
        };
        Config {
            libraries: vec![library],
            http: listen(self.no_http, &self.http, config::DEFAULT_HTTP_PORT),
            grpc: listen(self.no_grpc, &self.grpc, config::DEFAULT_GRPC_PORT),
            unix: (!self.no_ipc).then(|| {
                self.unix
                    .clone()
                    .unwrap_or_else(config::default_socket_path)
            }),
            limits: Limits {
                max_request_bytes: self.max_request_bytes,
                max_shared_bytes: self.max_shared_bytes,
                idle_timeout: Duration::from_secs_f64(self.idle_timeout),
                memory_budget: self.memory_budget,
                drain_delay: Duration::from_secs_f64(self.drain_delay),
                ..Limits::default()
            },
            echo_unix: self.bench_echo.clone(),
            metrics: self.metrics,
            access: Access {
                allow_remote: self.allow_remote,
                token: self.token.clone().filter(|t| !t.is_empty()),
                allow_other_users: self.allow_other_users,
            },
            tls: self
                .tls_cert
                .clone()
                .zip(self.tls_key.clone())
                .map(|(cert, key)| TlsFiles { cert, key }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ServeOptions, clap::Error> {
        let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
        ServeOptions::parse("pystd serve", "PYSTD", &args)
    }

    #[test]
    fn environment_variables_are_named_after_the_library() {
        let help = ServeOptions::command_for("pystd serve", "PYSTD")
            .render_long_help()
            .to_string();
        assert!(help.contains("PYSTD_HTTP"), "{help}");
        assert!(help.contains("PYSTD_MEMORY_BUDGET"), "{help}");
        assert!(!help.contains("OXBRIDGE_"), "{help}");
        assert!(help.contains("[default: 60]"), "{help}");
    }

    #[test]
    fn flags_become_the_configuration() {
        let o = parse(&[
            "--http",
            "127.0.0.1:0,[::1]:0",
            "--no-grpc",
            "--idle-timeout",
            "0.5",
            "--drain-delay",
            "1.5",
        ])
        .unwrap();
        let c = o.config(&oxbridge_core::CALCULATOR);
        assert!(matches!(c.http, Listen::Addrs(ref a) if a.len() == 2));
        assert!(matches!(c.grpc, Listen::Off));
        assert_eq!(c.limits.idle_timeout, Duration::from_millis(500));
        assert_eq!(c.limits.drain_delay, Duration::from_millis(1500));
        let c = parse(&[]).unwrap().config(&oxbridge_core::CALCULATOR);
        assert_eq!(c.limits.drain_delay, Duration::ZERO);
        assert!(c.tls.is_none());
    }

    #[test]
    fn addresses_take_the_clients_url_forms_too() {
        let o = parse(&[
            "--http",
            "http://127.0.0.1:8080/",
            "--grpc",
            "grpcs://[::1]:9090",
            "--unix",
            "unix:///tmp/x.sock",
        ])
        .unwrap();
        assert_eq!(o.http, vec!["127.0.0.1:8080".parse().unwrap()]);
        assert_eq!(o.grpc, vec!["[::1]:9090".parse().unwrap()]);
        assert_eq!(o.unix, Some(PathBuf::from("/tmp/x.sock")));
        for (args, says) in [
            (
                &["--http", "grpc://127.0.0.1:1"][..],
                "expected http:// or https://",
            ),
            (
                &["--grpc", "http://127.0.0.1:1"][..],
                "expected grpc:// or grpcs://",
            ),
            (&["--unix", "unix://"][..], "has no path"),
        ] {
            let e = parse(args).unwrap_err().to_string();
            assert!(e.contains(says), "{args:?}: {e}");
        }
    }

    #[test]
    fn bad_values_and_conflicts_are_refused_by_name() {
        for (args, says) in [
            (&["--idle-timeout", "0"][..], "positive number of seconds"),
            (&["--drain-delay", "-1"][..], "0 or more"),
            (&["--http", "localhost"][..], "--http"),
            (
                &["--no-http", "--http", "127.0.0.1:1"][..],
                "cannot be used with",
            ),
            (&["--tls-cert", "c.pem"][..], "--tls-key"),
            (&["--memory-budget", "0"][..], "--memory-budget"),
        ] {
            let e = parse(args).unwrap_err().to_string();
            assert!(e.contains(says), "{args:?}: {e}");
        }
        let help = parse(&["--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    }
}
