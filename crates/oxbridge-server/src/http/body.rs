//! A request's body, read within its limits: its media type checked, its
//! declared length within the limit, taking turns with other bodies, and
//! given up on when it stops arriving.

use std::future::Future;
use std::task::Poll;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};

use super::frame_body::{self, FrameBody, GatherError};
use super::problem::AppError;
use crate::ground::config::Limits;
use crate::ground::error::CallError;

pub(super) const JSON: &str = "application/json";
pub(super) const FRAME: &str = "application/octet-stream";

/// The request body, read once its declared media type is `want` and its
/// declared length within the limit.
///
/// The type is checked because a web page can make a browser send a
/// `text/plain` or form body to any origin without asking first, but never
/// an `application/json` one: so a page a developer happens to visit cannot
/// call this server on their behalf. A declared length over the limit is
/// refused before a byte of the body is awaited.
pub(super) async fn read_body(
    request: Request,
    want: &str,
    limits: &Limits,
) -> Result<Bytes, AppError> {
    let request = checked_body(request, want, limits)?;
    within_idle_timeout(Bytes::from_request(request, &()), limits)
        .await?
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large(limits)
            } else {
                unreadable(rejection)
            }
        })
}

/// A batch frame's body, checked as [`read_body`] checks a body, kept in
/// the pieces it arrived in (see `frame_body`).
pub(super) async fn read_frame(request: Request, limits: &Limits) -> Result<FrameBody, AppError> {
    let request = checked_body(request, FRAME, limits)?;
    let gathering = frame_body::gather(request.into_body(), limits.max_request_bytes);
    within_idle_timeout(gathering, limits)
        .await?
        .map_err(|e| match e {
            GatherError::TooLarge => too_large(limits),
            GatherError::Body(e) => unreadable(e),
        })
}

/// The request, its media type and declared length checked (see
/// [`read_body`]), its body taking turns with others (see `fair`).
fn checked_body(request: Request, want: &str, limits: &Limits) -> Result<Request, AppError> {
    check_media_type(request.headers(), want)?;
    let declared_len = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let most = if want == JSON {
        limits.max_json_bytes()
    } else {
        limits.max_request_bytes
    };
    if declared_len.is_some_and(|n| n > most as u64) {
        return Err(too_large(limits));
    }
    Ok(request.map(|body| axum::body::Body::new(crate::ground::fair::Yielding::new(body))))
}

/// `reading`'s outcome: a body that stops arriving is not waited for
/// longer than an idle client.
async fn within_idle_timeout<T>(
    reading: impl Future<Output = T>,
    limits: &Limits,
) -> Result<T, AppError> {
    let mut reading = std::pin::pin!(reading);
    // A small body is usually whole already: no timer for it.
    match std::future::poll_fn(|cx| Poll::Ready(reading.as_mut().poll(cx))).await {
        Poll::Ready(body) => Ok(body),
        Poll::Pending => tokio::time::timeout(limits.idle_timeout, reading)
            .await
            .map_err(|_| {
                AppError(CallError::Timeout(format!(
                    "the request body did not arrive within {:?}",
                    limits.idle_timeout
                )))
            }),
    }
}

fn too_large(limits: &Limits) -> AppError {
    AppError(CallError::TooLarge {
        limit: limits.max_request_bytes,
    })
}

fn unreadable(e: impl std::fmt::Display) -> AppError {
    AppError(CallError::BadRequest(format!(
        "could not read the request body: {e}"
    )))
}

/// Refuses a body not declared as `want` (see [`read_body`]).
fn check_media_type(headers: &HeaderMap, want: &str) -> Result<(), AppError> {
    let declared = headers.get(header::CONTENT_TYPE);
    let essence = declared
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim());
    if !essence.is_some_and(|t| t.eq_ignore_ascii_case(want)) {
        let found = declared.map_or_else(
            || "none".to_owned(),
            |v| format!("{:?}", String::from_utf8_lossy(v.as_bytes())),
        );
        return Err(AppError(CallError::UnsupportedMediaType(format!(
            "the request body must be declared as Content-Type: {want} (found {found})"
        ))));
    }
    Ok(())
}
