//! The servers of a channel: one lazily connected HTTP/2 channel each, with
//! the window and frame sizes a batch needs, and a health watch that says
//! which of them get calls.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// HTTP/2 flow control: what a server may send before the client reads it.
/// Wide enough for a batch's reply in few round trips, and for h2's guard
/// against small DATA frames (its budget is half the connection window) to
/// let a thousand concurrent calls' replies wait for their readers.
pub(super) const STREAM_WINDOW: u32 = 8 << 20;
pub(super) const CONNECTION_WINDOW: u32 = 32 << 20;

/// The largest DATA frame a server may send: a batch's reply in few frames
/// (HTTP/2's default of 16 KiB makes 256 of them per MiB).
pub(super) const MAX_FRAME: u32 = 1 << 20;

/// The longest pause between two attempts at a server's health watch.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// One server: its channel, and whether its health watch last said SERVING.
pub(super) struct Server {
    pub(super) host: Arc<str>,
    pub(super) port: u16,
    pub(super) channel: Channel,
    pub(super) serving: Arc<AtomicBool>,
}

/// Why a server's channel cannot be made.
pub(super) enum Refused {
    /// Its address makes no URI.
    Uri(tonic::transport::Error),
    /// TLS refused its configuration.
    Tls(tonic::transport::Error),
}

impl Server {
    /// A channel to `host:port` that connects on its first call (inside the
    /// client runtime: its connection's tasks are spawned there), as
    /// `origin`, over TLS when `tls` is set; not serving until a health
    /// watch says so.
    pub(super) fn lazy(
        host: &str,
        port: u16,
        origin: &http::Uri,
        tls: Option<&ClientTlsConfig>,
    ) -> Result<Self, Refused> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let uri = format!("{scheme}://{}", netloc(host, port));
        let mut endpoint = Endpoint::from_shared(uri)
            .map_err(Refused::Uri)?
            .origin(origin.clone())
            .tcp_nodelay(true)
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_frame_size(MAX_FRAME);
        if let Some(tls) = tls {
            endpoint = endpoint.tls_config(tls.clone()).map_err(Refused::Tls)?;
        }
        Ok(Server {
            host: host.into(),
            port,
            channel: endpoint.connect_lazy(),
            serving: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// `host:port`, bracketed for an IPv6 host.
pub(super) fn netloc(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Whether a TCP connection to either server can be made now.
pub(super) async fn any_listening(servers: &[(Channel, Arc<str>, u16)]) -> bool {
    for (_, host, port) in servers {
        if tokio::net::TcpStream::connect((&**host, *port))
            .await
            .is_ok()
        {
            return true;
        }
    }
    false
}

/// Keeps `serving` to what a server's health watch of `service` says, for
/// as long as the channel lives: not serving while the watch is broken,
/// serving for a server without the health service (as grpc's own client).
pub(super) async fn watch(channel: Channel, service: String, serving: Arc<AtomicBool>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let request = HealthCheckRequest {
            service: service.clone(),
        };
        match HealthClient::new(channel.clone()).watch(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                while let Ok(Some(reply)) = stream.message().await {
                    let ok = reply.status == ServingStatus::Serving as i32;
                    serving.store(ok, Ordering::Relaxed);
                    backoff = Duration::from_millis(100);
                }
            }
            Err(status) if status.code() == Code::Unimplemented => {
                serving.store(true, Ordering::Relaxed);
                return;
            }
            Err(_) => {}
        }
        serving.store(false, Ordering::Relaxed);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
