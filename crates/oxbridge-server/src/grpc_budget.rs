//! The memory budget on the gRPC bridge: a tower layer around the tonic
//! services. A gRPC request declares no length before its message arrives,
//! so a call of the large kind (a batch, a vectorized call, a function of
//! arrays) holds the share of a request at the size limit; other calls are
//! small and pass freely. The share is kept
//! until the reply has gone out (see `budget`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tonic::body::Body;
use tower::{Layer, Service};

use crate::budget::{Budget, HeldBody};

/// Whether a call of the method at `path` is one of the large kind: a batch,
/// a vectorized call, or a function that takes arrays. (Text and bytes
/// arguments are as bounded by the request limit, but are usually small:
/// holding a whole share for each greeting would throttle them needlessly.)
fn may_be_large(path: &str) -> bool {
    if path.ends_with("/Batch") {
        return true;
    }
    let Some((service, method)) = path.rsplit_once('/') else {
        return false;
    };
    let functions = format!(
        "/{}.Functions",
        crate::grpc_functions::package(crate::library())
    );
    service == functions
        && crate::library().functions.iter().any(|f| {
            let arrays = f.params.iter().any(|p| p.ty.element().is_some());
            method == crate::grpc_many::many_method(f)
                || (method == crate::grpc_functions::method_name(f.name) && arrays)
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
            let held = if large {
                match budget.hold(size).await {
                    Ok(held) => Some(held),
                    Err(busy) => {
                        // Refused before the router: its logging layer
                        // never sees this call.
                        crate::log_call_error("grpc", &busy);
                        let refusal = crate::grpc::status(&busy).into_http::<Body>();
                        return Ok(refusal.map(|body| HeldBody::new(body, None)));
                    }
                }
            } else {
                None
            };
            let response = inner.call(request).await?;
            Ok(response.map(|body| HeldBody::new(body, held)))
        })
    }
}
