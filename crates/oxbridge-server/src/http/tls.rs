//! HTTPS: the HTTP router served by axum over rustls, with the same drain on
//! shutdown as plain HTTP.

use std::io;

use tokio::net::TcpListener;

use crate::ground::error::StartError;
use crate::ground::tasks::Tasks;
use crate::ground::tls::tls_error;

/// Serves HTTPS on `listeners` (axum over rustls), draining on shutdown.
pub async fn serve(
    tasks: &Tasks,
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
            tasks.shutdown.clone(),
            tasks.limits.drain_timeout,
            handle.clone(),
        );
        tasks.tracker.spawn(async move {
            token.cancelled().await;
            stopper.graceful_shutdown(Some(drain));
        });
        let app = app.clone();
        tasks.tracker.spawn(async move {
            if let Err(e) = server.handle(handle).serve(app.into_make_service()).await {
                tracing::error!(error = %e, "https server failed");
            }
        });
    }
    Ok(())
}
