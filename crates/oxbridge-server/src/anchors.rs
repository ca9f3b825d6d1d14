//! The benchmark's anchors for server throughput: the least an axum handler
//! and a tonic service can do to answer the calculator's `add`, with none of
//! oxbridge's machinery (no limits, metrics, access checks or functions
//! derived from definitions). `oxbridge bench` loads them and the real
//! server with the same requests from a load generator that is not Python
//! (`wrk`, `h2load`), so the server's cost is measured against its floor.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use axum::routing::post;
use axum::serve::ListenerExt as _;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// The HTTP anchor's request: `POST /add` with `{"a": [re, im], "b": [re, im]}`,
/// as the oxbridge server takes it.
#[derive(Deserialize)]
struct AddJson {
    a: [f64; 2],
    b: [f64; 2],
}

/// The HTTP anchor's reply: `{"result": [re, im]}`.
#[derive(Serialize)]
struct ResultJson {
    result: [f64; 2],
}

/// A complex number as the calculator's protobuf contract has it.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Complex {
    /// The real part.
    #[prost(double, optional, tag = "1")]
    pub re: Option<f64>,
    /// The imaginary part.
    #[prost(double, optional, tag = "2")]
    pub im: Option<f64>,
}

/// `calculator.v1.AddRequest`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct AddRequest {
    /// The first operand.
    #[prost(message, optional, tag = "1")]
    pub a: Option<Complex>,
    /// The second operand.
    #[prost(message, optional, tag = "2")]
    pub b: Option<Complex>,
}

/// `calculator.v1.AddReply`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct AddReply {
    /// The sum.
    #[prost(message, optional, tag = "1")]
    pub result: Option<Complex>,
}

/// The gRPC method both the anchor and the oxbridge server answer.
pub const GRPC_ADD: &str = "/calculator.v1.Functions/Add";

/// A minimal axum router: `POST /add`, parsed, added and answered by serde.
pub fn http_app() -> Router {
    Router::new().route(
        "/add",
        post(|Json(r): Json<AddJson>| async move {
            Json(ResultJson {
                result: [r.a[0] + r.b[0], r.a[1] + r.b[1]],
            })
        }),
    )
}

/// A minimal tonic service: [`GRPC_ADD`] alone, with prost's codec.
pub fn grpc_routes() -> tonic::service::Routes {
    let router = axum::Router::new().route(
        GRPC_ADD,
        post(|request: axum::extract::Request| async move {
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            let add = tower::service_fn(|request: tonic::Request<AddRequest>| async move {
                let AddRequest { a, b } = request.into_inner();
                let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
                let part =
                    |x: Option<f64>, y: Option<f64>| Some(x.unwrap_or(0.0) + y.unwrap_or(0.0));
                let result = Complex {
                    re: part(a.re, b.re),
                    im: part(a.im, b.im),
                };
                Ok::<_, tonic::Status>(tonic::Response::new(AddReply {
                    result: Some(result),
                }))
            });
            grpc.unary(add, request).await.map(axum::body::Body::new)
        }),
    );
    tonic::service::Routes::from(router)
}

/// Where the anchors listen.
#[derive(Debug, Clone, Copy)]
pub struct Addresses {
    /// The axum anchor.
    pub http: SocketAddr,
    /// The tonic anchor.
    pub grpc: SocketAddr,
}

/// Binds both anchors on free loopback ports: their addresses, and the
/// future that serves them (until it is dropped, or a listener fails).
///
/// # Errors
/// A port cannot be bound.
pub async fn bind() -> io::Result<(Addresses, impl Future<Output = io::Result<()>>)> {
    let http = TcpListener::bind("127.0.0.1:0").await?;
    let grpc = TcpListener::bind("127.0.0.1:0").await?;
    let addresses = Addresses {
        http: http.local_addr()?,
        grpc: grpc.local_addr()?,
    };
    // Both with TCP_NODELAY, as the server's connections have it (and as
    // tonic's `serve` sets it by default): with Nagle's algorithm an anchor
    // would send fewer, later packets, and be measured for that, not for
    // the work it does per request.
    let serving = async move {
        let http = http.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        let http = async { axum::serve(http, http_app()).await };
        let grpc = async {
            let incoming =
                tonic::transport::server::TcpIncoming::from(grpc).with_nodelay(Some(true));
            tonic::transport::Server::builder()
                .add_routes(grpc_routes())
                .serve_with_incoming(incoming)
                .await
                .map_err(io::Error::other)
        };
        tokio::try_join!(http, grpc).map(|_| ())
    };
    Ok((addresses, serving))
}

/// Serves both anchors on a runtime of their own, in a background thread
/// that lives as long as the process: where they listen.
///
/// # Errors
/// The runtime or the thread cannot start, or a port cannot be bound.
pub fn spawn() -> io::Result<Addresses> {
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("oxbridge-anchors".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("oxbridge-anchor")
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = bound_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async {
                match bind().await {
                    Ok((addresses, serving)) => {
                        let _ = bound_tx.send(Ok(addresses));
                        if let Err(e) = serving.await {
                            tracing::error!(error = %e, "an anchor failed");
                        }
                    }
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                    }
                }
            });
        })?;
    bound_rx
        .recv()
        .map_err(|_| io::Error::other("the anchors' thread died while starting"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[tokio::test]
    async fn the_http_anchor_adds() {
        let request = axum::http::Request::post("/add")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"a":[1.0,3.0],"b":[-0.0,-5.0]}"#))
            .unwrap();
        let response = http_app().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"result":[1.0,-2.0]}"#);
    }
}
