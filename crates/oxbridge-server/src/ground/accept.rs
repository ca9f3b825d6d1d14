//! The accept loop's one step, shared by the bridges that accept their own
//! connections (HTTP and IPC).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::ground::config::{Access, Listen};
use crate::ground::error::StartError;

/// The next accepted connection, or `None` once `shutdown` is cancelled.
///
/// A failing accept (EMFILE and friends: out of descriptors) backs off
/// instead of spinning, and is logged at most once a second (`key` names it).
pub async fn next<S, F, Fut>(
    shutdown: &CancellationToken,
    key: &'static str,
    mut accept: F,
) -> Option<S>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return None,
            accepted = accept() => match accepted {
                Ok(stream) => return Some(stream),
                Err(e) => {
                    if let Some(left_out) = crate::ground::rate_limit::admit(key) {
                        tracing::warn!(error = %e, left_out, "{key} failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Binds every address of `listen` for `bridge`: a remote one only with
/// `allow_remote`, an optional one skipped where the host lacks it.
///
/// # Errors
/// A taken port, a refused remote address, or another I/O failure.
pub(crate) async fn bind_tcp(
    bridge: &'static str,
    listen: &Listen,
    access: &Access,
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

/// The addresses `listeners` are bound to, ports resolved.
pub(crate) fn local_addrs(listeners: &[TcpListener]) -> Vec<SocketAddr> {
    listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect()
}
