//! Serving the gRPC routes (tonic) on each listener: TLS when configured,
//! connections closed when silent or stalled for the idle timeout (see
//! `conn`), a per-connection limit of concurrent streams and of large
//! calls, every large call within the memory budget, and a graceful drain
//! on shutdown.

use tokio::net::TcpListener;

use crate::ground::budget::Budget;
use crate::ground::error::StartError;
use crate::ground::tasks::Tasks;
use crate::grpc::budget::BudgetLayer;
use crate::grpc::conn;

/// The largest DATA frame a client may send (HTTP/2's default is 16 KiB).
const MAX_FRAME: u32 = 1 << 20;

/// Serves `routes` on every listener in the background of `tasks`.
///
/// # Errors
/// An invalid TLS certificate or key.
pub fn serve(
    tasks: &Tasks,
    listeners: Vec<TcpListener>,
    routes: tonic::service::Routes,
    tls: Option<&(Vec<u8>, Vec<u8>)>,
    budget: &Budget,
) -> Result<(), StartError> {
    let limits = &tasks.limits;
    for listener in listeners {
        let (routes, token) = (routes.clone(), tasks.shutdown.clone());
        let incoming = conn::incoming(listener, limits.idle_timeout, budget.clone(), token.clone());
        let mut builder = tonic::transport::Server::builder();
        if let Some((cert, key)) = tls {
            let identity = tonic::transport::Identity::from_pem(cert, key);
            builder = builder
                .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
                .map_err(crate::ground::tls::tls_error)?;
        }
        let mut builder = builder
            .concurrency_limit_per_connection(limits.max_in_flight)
            // Pings at half the idle timeout: a live client answers them in
            // time, so only a silent one is closed (see `conn`).
            .http2_keepalive_interval(Some(limits.idle_timeout / 2))
            .http2_keepalive_timeout(Some(limits.idle_timeout / 2))
            // A batch's request in few frames: no more memory than the
            // window already allows, 64 times fewer frames than the default.
            .max_frame_size(Some(MAX_FRAME))
            .layer(BudgetLayer::new(budget.clone(), limits.max_request_bytes));
        tasks.tracker.spawn(async move {
            let served = builder
                .add_routes(routes)
                .serve_with_incoming_shutdown(incoming, token.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "grpc server failed");
            }
        });
    }
    Ok(())
}
