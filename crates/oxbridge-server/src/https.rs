//! TLS for the TCP bridges: the certificate and key loaded once, and HTTPS
//! served (axum over rustls) with the same drain on shutdown as plain HTTP.

use std::io;
use std::path::PathBuf;

use tokio::net::TcpListener;

use crate::config::TlsFiles;
use crate::{Running, StartError};

/// Reads the certificate and key, so that a bad file stops the start.
pub(crate) fn load_tls(files: &TlsFiles) -> Result<(Vec<u8>, Vec<u8>), StartError> {
    let read = |path: &PathBuf, what: &str| {
        std::fs::read(path).map_err(|e| {
            StartError::Io(
                format!("cannot read the TLS {what} {}: {e}", path.display()),
                e.kind(),
            )
        })
    };
    Ok((read(&files.cert, "certificate")?, read(&files.key, "key")?))
}

pub(crate) fn tls_error(e: impl std::fmt::Display) -> StartError {
    StartError::Io(
        format!("invalid TLS certificate or key: {e}"),
        io::ErrorKind::InvalidData,
    )
}

/// Serves HTTPS on `listeners` (axum over rustls), draining on shutdown.
pub(crate) async fn serve(
    running: &Running,
    listeners: Vec<TcpListener>,
    app: &axum::Router,
    cert: &[u8],
    key: &[u8],
) -> Result<(), StartError> {
    let rustls_config =
        axum_server::tls_rustls::RustlsConfig::from_pem(cert.to_vec(), key.to_vec())
            .await
            .map_err(tls_error)?;
    let listener_error = |e: io::Error| StartError::Io(format!("https listener: {e}"), e.kind());
    for listener in listeners {
        let std_listener = listener.into_std().map_err(listener_error)?;
        let server = axum_server::from_tcp_rustls(std_listener, rustls_config.clone())
            .map_err(listener_error)?;
        let handle = axum_server::Handle::new();
        let (token, drain, stopper) = (
            running.shutdown.clone(),
            running.limits.drain_timeout,
            handle.clone(),
        );
        running.tracker.spawn(async move {
            token.cancelled().await;
            stopper.graceful_shutdown(Some(drain));
        });
        let app = app.clone();
        running.tracker.spawn(async move {
            if let Err(e) = server.handle(handle).serve(app.into_make_service()).await {
                tracing::error!(error = %e, "https server failed");
            }
        });
    }
    Ok(())
}
