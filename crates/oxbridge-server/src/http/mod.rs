//! The HTTP bridge (axum): every library's functions as JSON, their `_many`
//! forms as binary frames, the articles' routes, problem+json errors.

pub mod frame_body;
pub mod openapi;
pub mod serve;
mod tls;

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use oxbridge_core::export::Function;
use serde::Serialize;
use tower::limit::GlobalConcurrencyLimitLayer;

use crate::codec::json_call;
use crate::codec::wire::{self, WireComplex};
use crate::ground::auth;
use crate::ground::budget::{Budget, HeldBody};
use crate::ground::config::{Access, Limits};
use crate::ground::error::CallError;
use crate::ground::readiness::Readiness;
use frame_body::{FrameBody, GatherError};
#[allow(unused_imports)]
use utoipa::OpenApi as _;

/// The router with no access control, testable without a socket.
pub fn app(limits: &Limits) -> Router {
    let budget = Budget::new(limits.memory_budget, limits.budget_wait);
    app_with_access(limits, &Access::default(), &budget, &Readiness::new())
}

/// The router, guarded by `access` (a bearer token on everything but
/// `/healthz`), its requests held within `budget`, its `/healthz` telling
/// `ready`.
pub fn app_with_access(
    limits: &Limits,
    access: &Access,
    budget: &Budget,
    ready: &Readiness,
) -> Router {
    // Shared, not cloned per request: a clone of its tokens takes their locks.
    let front = Arc::new(Front {
        access: access.clone(),
        budget: budget.clone(),
        ready: ready.clone(),
        max_request_bytes: limits.max_json_bytes(),
    });
    routes(limits).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            Arc::clone(&front).handle(request, next)
        },
    ))
}

/// What every request passes before its route: one layer, because each
/// layer costs every request a boxed future and the calls are small.
struct Front {
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
    async fn handle(
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

/// The router of `--metrics ADDR`: `GET /metrics` alone, guarded by `access`
/// as the HTTP bridge is.
pub fn metrics_app(access: &Access) -> Router {
    let access = Arc::new(access.clone());
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let access = access.clone();
                async move {
                    let header = request.headers().get(header::AUTHORIZATION);
                    match auth::check(&access, header.map(axum::http::HeaderValue::as_bytes)) {
                        Ok(()) => next.run(request).await,
                        Err(e) => AppError(e).into_response(),
                    }
                }
            },
        ))
}

/// `GET /metrics`: the server's metrics (see `metrics`), for Prometheus.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Calls by bridge, function and outcome; latency; calls in flight; batch bytes", body = String, content_type = "application/openmetrics-text")))]
async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, crate::ground::metrics::CONTENT_TYPE)],
        crate::ground::metrics::text(),
    )
        .into_response()
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

fn routes(limits: &Limits) -> Router {
    let state = Arc::new(limits.clone());
    let calls = Router::new().route("/batch", post(batch));
    // One route per exported function, derived from its definition.
    let calls = function_paths()
        .into_iter()
        .fold(calls, |router, (path, f)| {
            router.route(
                &path,
                post(move |state: State<Arc<Limits>>, request: Request| call(f, state, request)),
            )
        });
    let calls = calls
        // Calls take turns; health, version and the API document never wait
        // behind them (not even behind uploads that stall).
        .route_layer(GlobalConcurrencyLimitLayer::new(limits.max_in_flight));
    Router::new()
        .merge(calls)
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(health))
        .route("/version", get(version))
        .route("/catalogue", get(catalogue))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        // The body limit answers 413 through our own rejection below.
        .layer(DefaultBodyLimit::max(limits.max_json_bytes()))
}

/// An RFC 9457 problem document, the body of every HTTP error.
#[derive(Serialize, utoipa::ToSchema)]
struct Problem {
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
fn observe(call: crate::ground::metrics::Call, response: &Response) {
    match response.extensions().get::<Failed>() {
        Some(Failed(e)) => {
            crate::ground::log::log_call_error("http", e);
            call.finish(Some(e.kind()));
        }
        None if response.status().is_success() => call.finish(None),
        None => call.finish_other_error(),
    }
}

/// `POST /<function>`: its arguments as one JSON object, its result as
/// `{"<result field>": value}` (see `json_call`).
async fn call(
    f: &'static Function,
    State(limits): State<Arc<Limits>>,
    request: Request,
) -> Result<Response, AppError> {
    let body = read_body(request, JSON, &limits).await?;
    let fields: json_call::Fields<'_> = wire::decode(&body)?;
    let reply = json_call::call(f, &fields, &limits)?;
    Ok(([(header::CONTENT_TYPE, JSON)], reply).into_response())
}

const JSON: &str = "application/json";
const FRAME: &str = "application/octet-stream";

/// The request body, read once its declared media type is `want` and its
/// declared length within the limit.
///
/// The type is checked because a web page can make a browser send a
/// `text/plain` or form body to any origin without asking first, but never
/// an `application/json` one: so a page a developer happens to visit cannot
/// call this server on their behalf. A declared length over the limit is
/// refused before a byte of the body is awaited.
async fn read_body(request: Request, want: &str, limits: &Limits) -> Result<Bytes, AppError> {
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
async fn read_frame(request: Request, limits: &Limits) -> Result<FrameBody, AppError> {
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

/// `POST /batch`: a binary batch frame in (`application/octet-stream`), its
/// reply frame out; errors as problem documents like every other route.
#[utoipa::path(post, path = "/batch",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "A batch frame (see frames.rs)"),
    responses(
        (status = 200, description = "The reply frame", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = "4XX", description = "A refused or unreadable frame, or a body not declared application/octet-stream (415)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn batch(State(limits): State<Arc<Limits>>, request: Request) -> Result<Response, AppError> {
    let body = read_frame(request, &limits).await?;
    let received = body.len();
    let compute = move || body.reply();
    let frame = crate::ground::offload::run(received, compute).await??;
    crate::ground::metrics::batch_bytes("http", received, frame.len());
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], frame).into_response())
}

/// Readiness, for load balancers (open even when a token is required); 503
/// once the server drains (see `close_when_draining`).
#[utoipa::path(get, path = "/healthz", responses(
    (status = 200, description = "Serving", body = Object),
    (status = 503, description = "Draining: asked to stop, finishing its calls", body = Object),
))]
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "serving" }))
}

/// The server's name and version, and each library it serves with its
/// version and the checksum of its catalogue.
#[utoipa::path(get, path = "/version", responses((status = 200, description = "Name and version", body = Object)))]
async fn version() -> Json<serde_json::Value> {
    Json(crate::ground::catalogue::version())
}

/// Each library served, with its whole contract (one line per function):
/// what a client checks its own catalogue against when it connects.
#[utoipa::path(get, path = "/catalogue", responses((status = 200, description = "The libraries served and their contracts", body = Object)))]
async fn catalogue() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::ground::catalogue::catalogue(),
    )
}

/// The OpenAPI document of this API, generated from the handlers and types.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "oxbridge",
        description = "The oxbridge core over HTTP: results bit for bit what CPython gives."
    ),
    paths(batch, health, version, catalogue, metrics, openapi),
    components(schemas(WireComplex, Problem))
)]
pub struct ApiDoc;

/// The path of every function served: `/<library>/<function>` for each
/// library, and `/<function>` for the first one's.
fn function_paths() -> Vec<(String, &'static oxbridge_core::export::Function)> {
    let first = crate::ground::library::library()
        .functions
        .iter()
        .map(|f| (format!("/{}", f.name), f));
    let named = crate::ground::library::libraries()
        .iter()
        .flat_map(|library| {
            library
                .functions
                .iter()
                .map(move |f| (format!("/{}/{}", library.name, f.name), f))
        });
    first.chain(named).collect()
}

/// The whole OpenAPI document: the fixed routes above and one route per
/// exported function, derived from its definition.
#[must_use]
pub fn api_document() -> utoipa::openapi::OpenApi {
    let mut doc = <ApiDoc as utoipa::OpenApi>::openapi();
    let names: Vec<&str> = crate::ground::library::libraries()
        .iter()
        .map(|l| l.name)
        .collect();
    doc.info.title = names.join(" + ");
    doc.info.description = Some(format!(
        "The libraries {} over HTTP, served by oxbridge {}: each function at /<library>/<function>, the first library's also at /<function>.",
        names.join(", "),
        oxbridge_core::VERSION
    ));
    let fixed = std::mem::take(&mut doc.paths.paths);
    for (path, f) in function_paths() {
        doc.paths.paths.insert(path, openapi::function_path(f));
    }
    doc.paths.paths.extend(fixed);
    doc
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "The OpenAPI document", body = Object)))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(api_document())
}

async fn not_found(uri: axum::http::Uri) -> AppError {
    AppError(CallError::NotFound(format!("no such path: {}", uri.path())))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> AppError {
    AppError(CallError::MethodNotAllowed(format!(
        "{method} is not allowed on {}",
        uri.path()
    )))
}

#[cfg(test)]
mod tests {
    use axum::body::{to_bytes, Body};
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn call(method: &str, path: &str, body: impl Into<Body>) -> (StatusCode, String, String) {
        call_as(method, path, Some(JSON), body).await
    }

    async fn call_as(
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> (StatusCode, String, String) {
        let limits = Limits {
            max_request_bytes: 1024,
            ..Limits::default()
        };
        let mut request = Request::builder().method(method).uri(path);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = app(&limits)
            .oneshot(request.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn draining_fails_the_health_check_and_closes_keep_alive() {
        let limits = Limits::default();
        let budget = Budget::new(limits.memory_budget, limits.budget_wait);
        let ready = Readiness::new();
        let app = app_with_access(&limits, &Access::default(), &budget, &ready);
        let send = |path: &str, body: &'static str| {
            let method = if body.is_empty() { "GET" } else { "POST" };
            let request = Request::builder()
                .method(method)
                .uri(path)
                .header(header::CONTENT_TYPE, JSON)
                .body(Body::from(body))
                .unwrap();
            app.clone().oneshot(request)
        };
        let health = send("/healthz", "").await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        assert!(health.headers().get(header::CONNECTION).is_none());
        ready.drain();
        let health = send("/healthz", "").await.unwrap();
        assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = to_bytes(health.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], br#"{"status":"draining"}"#);
        // Calls are still answered, each closing its connection.
        let add = send("/add", r#"{"a":[1,2],"b":[3,4]}"#).await.unwrap();
        assert_eq!(add.status(), StatusCode::OK);
        assert_eq!(add.headers()[header::CONNECTION], "close");
    }

    #[tokio::test]
    async fn article_request_gets_article_reply() {
        let (status, _, body) = call("POST", "/add", r#"{"a":[1.0,3.0],"b":[0.0,-5.0]}"#).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, r#"{"result":[1.0,-2.0]}"#)
        );
        let (_, _, body) = call(
            "POST",
            "/greet",
            r#"{"greeting":"Welcome","name":"traveler"}"#,
        )
        .await;
        assert_eq!(body, r#"{"message":"Welcome, traveler"}"#);
    }

    #[tokio::test]
    async fn errors_are_problem_documents() {
        let (status, ct, body) = call("POST", "/div", r#"{"a":[1,0],"b":[0,0]}"#).await;
        assert_eq!(
            (status, ct.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "application/problem+json")
        );
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["kind"], "zero_division");
        assert_eq!(doc["detail"], "complex division by zero");
        assert_eq!(doc["status"], 422);

        for (method, path, body, want) in [
            ("POST", "/add", "{not json", StatusCode::BAD_REQUEST),
            ("POST", "/no-such-op", "{}", StatusCode::NOT_FOUND),
            ("GET", "/nope", "", StatusCode::NOT_FOUND),
            ("GET", "/add", "", StatusCode::METHOD_NOT_ALLOWED),
        ] {
            let (status, ct, _) = call(method, path, body.to_owned()).await;
            assert_eq!(
                (status, ct.as_str()),
                (want, "application/problem+json"),
                "{method} {path}"
            );
        }
    }

    #[tokio::test]
    async fn a_body_not_declared_as_its_media_type_is_415() {
        let operands = r#"{"a":[1,0],"b":[2,0]}"#;
        for (path, declared) in [
            ("/add", None),
            ("/add", Some("text/plain")),
            ("/add", Some("application/x-www-form-urlencoded")),
            ("/greet", Some("multipart/form-data; boundary=x")),
            ("/batch", Some("text/plain")),
            ("/batch", Some(JSON)),
        ] {
            let (status, ct, body) = call_as("POST", path, declared, operands).await;
            assert_eq!(
                (status, ct.as_str()),
                (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "application/problem+json"
                ),
                "{path} {declared:?}"
            );
            let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(doc["kind"], "unsupported_media_type");
            assert_eq!(doc["status"], 415);
        }
        for declared in ["application/json; charset=utf-8", "Application/JSON"] {
            let (status, _, body) = call_as("POST", "/add", Some(declared), operands).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::OK, r#"{"result":[3.0,0.0]}"#)
            );
        }
    }

    #[tokio::test]
    async fn an_oversized_body_is_413_not_a_crash() {
        let huge = format!(r#"{{"greeting":"{}","name":"x"}}"#, "a".repeat(4096));
        let (status, _, body) = call("POST", "/greet", huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            body.contains("larger than the server's limit of 1024 bytes"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn health_and_version() {
        let (status, _, body) = call("GET", "/healthz", "").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, r#"{"status":"serving"}"#)
        );
        let (_, _, body) = call("GET", "/version", "").await;
        assert!(body.contains(oxbridge_core::VERSION));
    }
}
