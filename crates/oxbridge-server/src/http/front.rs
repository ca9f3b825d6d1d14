//! What every HTTP request passes before its route, in one layer (each
//! layer costs every request a boxed future, and the calls are small): it is
//! observed, closes its connection while the server drains, has its bearer
//! token checked, then holds its share of the memory budget.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::problem::{observe, AppError};
use crate::ground::auth;
use crate::ground::budget::{Budget, HeldBody};
use crate::ground::config::Access;
use crate::ground::readiness::Readiness;

/// What every request passes before its route: one layer, because each
/// layer costs every request a boxed future and the calls are small.
pub(super) struct Front {
    access: Access,
    budget: Budget,
    ready: Readiness,
    max_request_bytes: usize,
}

impl Front {
    /// Observes the request (see `observe`), closes its connection while the
    /// server drains (see `close_when_draining`), checks its token, then
    /// holds its share of the memory budget (see `within_budget`). The token
    /// is checked first: a refused caller holds no memory.
    pub(super) async fn handle(
        self: Arc<Self>,
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> Response {
        let mut call = crate::ground::metrics::Call::start("http");
        call.function(crate::ground::metrics::function(
            request.uri().path().trim_start_matches('/'),
        ));
        let response = if self.ready.is_serving() {
            self.guarded(request, next).await
        } else {
            close_when_draining(request, |request| self.guarded(request, next)).await
        };
        observe(call, &response);
        response
    }

    /// The token, then the budget.
    async fn guarded(
        &self,
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> Response {
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(axum::http::HeaderValue::as_bytes);
        let checked = match request.uri().path() {
            "/healthz" => Ok(()),
            _ => auth::check(&self.access, header),
        };
        if let Err(e) = checked {
            let mut response = AppError(e).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            response
        } else {
            within_budget(&self.budget, self.max_request_bytes, request, next).await
        }
    }
}

/// While the server drains: `/healthz` answers 503, and every reply closes
/// its keep-alive connection, so a client (or a balancer's pool) reconnects,
/// to another replica once this one stops listening. All but `/catalogue`:
/// a client's first request on a new connection, whose call follows on it.
async fn close_when_draining<F: std::future::Future<Output = Response>>(
    request: axum::extract::Request,
    next: impl FnOnce(axum::extract::Request) -> F,
) -> Response {
    if request.uri().path() == "/catalogue" {
        return next(request).await;
    }
    let mut response = if request.uri().path() == "/healthz" {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "draining" })),
        )
            .into_response()
    } else {
        next(request).await
    };
    response.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

impl Front {
    /// The front of a router, shared by its requests (not cloned per
    /// request: a clone of its tokens takes their locks).
    pub(super) fn new(
        access: &Access,
        budget: &Budget,
        ready: &Readiness,
        max_request_bytes: usize,
    ) -> Arc<Self> {
        Arc::new(Front {
            access: access.clone(),
            budget: budget.clone(),
            ready: ready.clone(),
            max_request_bytes,
        })
    }
}

/// Runs a request with a body only once its share of the memory budget is
/// held, and keeps that share until the reply has gone out (see `budget`).
/// Requests without a body (health, version) pass freely.
async fn within_budget(
    budget: &Budget,
    max_body_bytes: usize,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = request.headers().contains_key(header::TRANSFER_ENCODING);
    let size = match declared {
        Some(n) => n.min(max_body_bytes),
        None if chunked => max_body_bytes,
        None => return next.run(request).await,
    };
    match budget.hold(size).await {
        Ok(held) => next
            .run(request)
            .await
            .map(|body| axum::body::Body::new(HeldBody::new(body, Some(held)))),
        Err(busy) => {
            let mut response = AppError(busy).into_response();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
            response
        }
    }
}
