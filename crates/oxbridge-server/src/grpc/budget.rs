//! The memory budget on the gRPC bridge: a tower layer around the tonic
//! services. A gRPC request declares no length before its message arrives,
//! so a call of the large kind (a batch, a vectorized call, a function of
//! arrays) holds the share of a request at the size limit; other calls are
//! small and pass freely. The share is kept
//! until the reply has gone out (see `budget`).

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Frame;
use http_body_util::BodyExt;
use oxbridge_core::export::Library;
use tonic::body::Body;
use tonic::transport::server::TlsConnectInfo;
use tower::{Layer, Service};

use crate::ground::budget::{Budget, HeldBody};
use crate::grpc::conn::ConnectionInfo;
use crate::grpc::message::Replay;

/// Whether a call of the method at `path` is one of the large kind: a batch,
/// a vectorized call, or a function that takes arrays. (Text and bytes
/// arguments are as bounded by the request limit, but are usually small:
/// holding a whole share for each greeting would throttle them needlessly.)
fn may_be_large(path: &str) -> bool {
    if path.ends_with("/Batch") {
        return true;
    }
    // The paths, derived once: this runs on every call.
    static LARGE: OnceLock<(usize, HashSet<String>)> = OnceLock::new();
    let libraries = crate::ground::library::libraries();
    let key = libraries.as_ptr() as usize;
    let (of, large) = LARGE.get_or_init(|| (key, large_paths(libraries)));
    if *of == key {
        large.contains(path)
    } else {
        large_paths(libraries).contains(path)
    }
}

/// The paths of the vectorized calls of `libraries` and of their functions
/// that take arrays.
fn large_paths(libraries: &[&Library]) -> HashSet<String> {
    let mut paths = HashSet::new();
    for library in libraries {
        let service = format!("/{}.Functions", crate::grpc::names::package(library));
        for f in library.functions {
            paths.insert(format!("{service}/{}", crate::grpc::names::many_method(f)));
            if f.params.iter().any(|p| p.ty.element().is_some()) {
                paths.insert(format!(
                    "{service}/{}",
                    crate::grpc::names::method_name(f.name)
                ));
            }
        }
    }
    paths
}

/// The length a gRPC request body declares for its message (the 5-byte
/// prefix of the first message), read from its first bytes, and the body
/// as it was. `None` when the body ends or fails first: the router answers
/// that call (and its share is then that of the largest request).
async fn declared_length(mut body: Body) -> (Option<usize>, Body) {
    let mut read = VecDeque::new();
    let mut head = Vec::with_capacity(5);
    let mut ended = false;
    while head.len() < 5 && !ended {
        let Some(frame) = body.frame().await else {
            break;
        };
        match frame.as_ref().map(Frame::data_ref) {
            Ok(Some(data)) => head.extend_from_slice(&data[..data.len().min(5 - head.len())]),
            _ => ended = true, // trailers, or an error: nothing follows
        }
        read.push_back(frame);
    }
    let declared = (head.len() == 5)
        .then(|| u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize + 5);
    let rest = (!ended).then_some(body);
    (declared, Body::new(Replay::new(read, rest)))
}

/// The connection a request came on, with TLS or without.
fn connection_of<B>(request: &Request<B>) -> Option<ConnectionInfo> {
    let extensions = request.extensions();
    extensions.get::<ConnectionInfo>().cloned().or_else(|| {
        extensions
            .get::<TlsConnectInfo<ConnectionInfo>>()
            .map(|tls| tls.get_ref().clone())
    })
}

/// Wraps a service so that its batch calls run within the budget.
#[derive(Clone, Debug)]
pub struct BudgetLayer {
    budget: Budget,
    max_request_bytes: usize,
}

impl BudgetLayer {
    /// A layer holding shares of `budget` for requests of up to `max_request_bytes`.
    #[must_use]
    pub fn new(budget: Budget, max_request_bytes: usize) -> Self {
        BudgetLayer {
            budget,
            max_request_bytes,
        }
    }
}

impl<S> Layer<S> for BudgetLayer {
    type Service = WithinBudget<S>;

    fn layer(&self, inner: S) -> WithinBudget<S> {
        WithinBudget {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`BudgetLayer`].
#[derive(Clone, Debug)]
pub struct WithinBudget<S> {
    inner: S,
    layer: BudgetLayer,
}

type Reply<E> = Result<Response<HeldBody<Body>>, E>;

impl<S> Service<Request<Body>> for WithinBudget<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response<HeldBody<Body>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Reply<S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was made ready is the one that serves this call.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let large = may_be_large(request.uri().path());
        let (budget, size) = (self.layer.budget.clone(), self.layer.max_request_bytes);
        Box::pin(async move {
            if !large {
                let response = inner.call(request).await?;
                return Ok(response.map(|body| HeldBody::new(body, None)));
            }
            let connection = connection_of(&request);
            // The share is that of the message the call declares (in its
            // first five bytes), not of the largest request allowed.
            let (parts, body) = request.into_parts();
            let (declared, body) = declared_length(body).await;
            let request = Request::from_parts(parts, body);
            let bytes = declared.map_or(size, |declared| declared.min(size));
            let held = match &connection {
                Some(connection) => budget.hold_in(connection.shares(), bytes).await,
                None => budget.hold(bytes).await,
            };
            let held = match held {
                Ok(held) => held,
                Err(busy) => {
                    // Refused before the router: its logging layer never
                    // sees this call.
                    crate::ground::log::log_call_error("grpc", &busy);
                    let refusal = crate::grpc::status(&busy).into_http::<Body>();
                    return Ok(refusal.map(|body| HeldBody::new(body, None)));
                }
            };
            let response = inner.call(request).await?;
            let progress = connection.map(|connection| connection.watch());
            Ok(response.map(|body| {
                let body = HeldBody::new(body, Some(held));
                match progress {
                    Some(progress) => body.watched(progress),
                    None => body,
                }
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn batches_and_vectorized_calls_are_large_scalar_calls_are_not() {
        for (path, large) in [
            ("/calculator.v1.Functions/AddMany", true),
            ("/calculator.v1.Functions/PowMany", true),
            ("/oxbridge.v1.Calculator/Batch", true),
            ("/calculator.v1.Functions/Add", false),
            ("/calculator.v1.Functions/Greet", false),
            ("/other.v1.Functions/AddMany", false),
            ("/calculator.v1.Functions/Nope", false),
            ("", false),
        ] {
            assert_eq!(may_be_large(path), large, "{path}");
        }
        let calculator = large_paths(&[&oxbridge_core::CALCULATOR]);
        assert!(calculator.contains("/calculator.v1.Functions/MulMany"));
        assert!(!calculator.contains("/calculator.v1.Functions/Mul"));
    }

    /// A body of `chunks`, as they would arrive.
    fn body_of(chunks: &[&'static [u8]]) -> Body {
        let frames = chunks
            .iter()
            .map(|c| Ok::<_, tonic::Status>(Frame::data(Bytes::from_static(c))));
        Body::new(http_body_util::StreamBody::new(tokio_stream::iter(
            frames.collect::<Vec<_>>(),
        )))
    }

    #[tokio::test]
    async fn the_declared_length_is_read_across_chunks_and_the_body_kept_whole() {
        let chunks: &[&'static [u8]] = &[b"\x00\x00", b"\x00\x01\x02abc", b"def"];
        let (declared, body) = declared_length(body_of(chunks)).await;
        assert_eq!(declared, Some(0x0102 + 5));
        let whole = body.collect().await.unwrap().to_bytes();
        assert_eq!(&whole[..], b"\x00\x00\x00\x01\x02abcdef");
    }

    #[tokio::test]
    async fn a_body_too_short_to_declare_a_length_is_passed_on_as_it_was() {
        for chunks in [&[][..], &[&b"\x00\x00"[..]][..]] {
            let (declared, body) = declared_length(body_of(chunks)).await;
            assert_eq!(declared, None);
            let whole = body.collect().await.unwrap().to_bytes();
            assert_eq!(whole, chunks.concat());
        }
    }
}
