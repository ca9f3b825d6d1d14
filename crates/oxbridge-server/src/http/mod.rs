//! The HTTP bridge (axum): every library's functions as JSON, their `_many`
//! forms as binary frames, the articles' routes, problem+json errors.

mod body;
pub mod frame_body;
mod front;
pub mod openapi;
mod problem;
pub mod serve;
mod tls;

use body::{read_body, read_frame, JSON};
pub use problem::AppError;
use problem::Problem;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use oxbridge_core::export::Function;
use tower::limit::GlobalConcurrencyLimitLayer;

use crate::codec::json_call;
use crate::codec::wire::{self, WireComplex};
use crate::ground::auth;
use crate::ground::budget::Budget;
use crate::ground::config::{Access, Limits};
use crate::ground::error::CallError;
use crate::ground::readiness::Readiness;
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
    let front = front::Front::new(access, budget, ready, limits.max_json_bytes());
    routes(limits).layer(axum::middleware::from_fn(
        move |request: Request, next: axum::middleware::Next| {
            Arc::clone(&front).handle(request, next)
        },
    ))
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
    use axum::http::{Request, StatusCode};
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
