//! The server's logging: one subscriber, and one rule for how loud a failed
//! call is, whichever bridge it came by.

use oxbridge_core::ErrorKind;

use crate::ground::error::CallError;
use crate::ground::rate_limit;

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
pub fn log_failure(bridge: &'static str, kind: ErrorKind, message: &str) {
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
