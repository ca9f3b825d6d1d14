//! Serving the HTTP router over plain TCP with what `axum::serve` does not
//! offer: hyper's HTTP/1 with a read timeout for request heads that is also
//! the idle timeout between requests, the same timeout for a reply the
//! client stops reading, clients that half-close their side answered rather
//! than dropped, a lingering close (see `linger`), and a graceful drain on
//! shutdown.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::Pin;

use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::ground::config::Limits;
use crate::ground::error::StartError;
use crate::ground::tasks::Tasks;
use crate::ground::write_timeout::WriteTimeout;

/// Serves `app` on every listener in the background of `tasks`: over TLS
/// when `tls` holds a certificate and key.
///
/// # Errors
/// An invalid TLS certificate or key, or a listener TLS cannot take.
pub async fn serve_all(
    tasks: &Tasks,
    listeners: Vec<TcpListener>,
    app: &axum::Router,
    tls: Option<&(Vec<u8>, Vec<u8>)>,
) -> Result<(), StartError> {
    if let Some((cert, key)) = tls {
        return super::tls::serve(tasks, listeners, app, cert, key).await;
    }
    for listener in listeners {
        let (app, token, tracker) = (app.clone(), tasks.shutdown.clone(), tasks.tracker.clone());
        let limits = tasks.limits.clone();
        tasks.spawn(async move {
            serve(listener, app, &limits, token, tracker).await;
        });
    }
    Ok(())
}

/// Serves `app` on `listener` until `shutdown`, then lets each connection
/// finish the request it is in.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: &Limits,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Runs from the moment a connection waits for a request: a client
        // that sends nothing, or a head byte by byte, is closed in time.
        .header_read_timeout(limits.idle_timeout)
        .half_close(true)
        .keep_alive(true);
    loop {
        let accepted =
            crate::ground::accept::next(&shutdown, "http accept", || listener.accept()).await;
        let Some((stream, _)) = accepted else { break };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        // Boxed, so that the connection is Unpin and can hand its socket
        // back when it ends (for the lingering close).
        let service = hyper::service::service_fn(move |request: axum::http::Request<Incoming>| {
            let app = app.clone();
            let response: Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>> =
                Box::pin(async move { app.oneshot(request).await });
            response
        });
        let stream = WriteTimeout::new(stream, limits.idle_timeout);
        let mut connection = builder.serve_connection(TokioIo::new(stream), service);
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let served = tokio::select! {
                served = poll_fn(|cx| connection.poll_without_shutdown(cx)) => served,
                () = shutdown.cancelled() => {
                    Pin::new(&mut connection).graceful_shutdown();
                    poll_fn(|cx| connection.poll_without_shutdown(cx)).await
                }
            };
            if served.is_ok() {
                let mut stream = connection.into_parts().io.into_inner().into_inner();
                crate::ground::linger::close(&mut stream).await;
            }
            if let Err(e) = served {
                tracing::debug!(error = %e, "http connection ended with an error");
            }
        });
    }
}
