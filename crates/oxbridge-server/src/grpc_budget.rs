//! The memory budget on the gRPC bridge: a tower layer around the tonic
//! services. A gRPC request declares no length before its message arrives,
//! so a batch (the only large call) holds the share of a request at the
//! size limit; scalar calls are small and pass freely. The share is kept
//! until the reply has gone out (see `budget`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tonic::body::Body;
use tower::{Layer, Service};

use crate::budget::{Budget, HeldBody};

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
        let large = request.uri().path().ends_with("/Batch");
        let (budget, size) = (self.layer.budget.clone(), self.layer.max_request_bytes);
        Box::pin(async move {
            let held = if large {
                match budget.hold(size).await {
                    Ok(held) => Some(held),
                    Err(busy) => {
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
