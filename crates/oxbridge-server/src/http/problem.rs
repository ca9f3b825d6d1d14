//! An HTTP error: an RFC 9457 problem document made from the call's error,
//! carried by its response to be logged and counted once.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::ground::error::CallError;

/// An RFC 9457 problem document, the body of every HTTP error.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Problem {
    #[serde(rename = "type")]
    type_: String,
    title: &'static str,
    status: u16,
    detail: String,
    /// The stable error kind, as on every bridge.
    kind: &'static str,
}

/// The HTTP face of [`CallError`].
pub struct AppError(pub CallError);

impl From<CallError> for AppError {
    fn from(e: CallError) -> Self {
        AppError(e)
    }
}

impl AppError {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.kind().http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let kind = self.0.kind().name();
        let problem = Problem {
            type_: format!("urn:oxbridge:error:{kind}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.0.to_string(),
            kind,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        // Not logged here: `observe` logs it once, from the response.
        response.extensions_mut().insert(Failed(Arc::new(self.0)));
        response
    }
}

/// A failed call's error, carried by its response to the logging layer.
#[derive(Clone)]
struct Failed(Arc<CallError>);

/// Counts and times every request, refused ones included (see `metrics`),
/// and logs a failure once, after its response is made.
pub(super) fn observe(call: crate::ground::metrics::Call, response: &Response) {
    match response.extensions().get::<Failed>() {
        Some(Failed(e)) => {
            crate::ground::log::log_call_error("http", e);
            call.finish(Some(e.kind()));
        }
        None if response.status().is_success() => call.finish(None),
        None => call.finish_other_error(),
    }
}
