//! Observing every gRPC call: each is counted and timed by its method's
//! function (see `metrics`), and a failure is logged once, from the error
//! kind and message its response carries (every error of ours has its kind
//! in the metadata). An unknown method's bare UNIMPLEMENTED gets a message
//! (see `name_unimplemented`) first.
//!
//! A tower layer of its own rather than a middleware function: this one
//! wraps every route, and `axum::middleware::from_fn` costs each call a
//! clone of the route and two boxes, a tenth of the server's work on a
//! small call.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName};
use axum::response::Response;
use oxbridge_core::CALCULATOR;

use crate::ground::metrics::{Call, Label};
use crate::grpc::status::ERROR_KIND_KEY;

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// Wraps each route in [`Observe`].
#[derive(Debug, Clone, Copy)]
pub struct ObserveLayer;

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe(inner)
    }
}

/// A route, its calls observed (see the module's documentation).
#[derive(Debug, Clone)]
pub struct Observe<S>(S);

impl<S> tower::Service<Request> for Observe<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observing<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let mut call = Call::start("grpc");
        let path = request.uri().path_and_query().cloned();
        call.function(function_of(request.uri().path()));
        Observing {
            inner: self.0.call(request),
            call: Some(call),
            path,
        }
    }
}

pin_project_lite::pin_project! {
    /// A call being answered: [`Observe`]'s future.
    pub struct Observing<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
        path: Option<axum::http::uri::PathAndQuery>,
    }
}

impl<F> Future for Observing<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        let path = this.path.as_ref().map_or("", |p| p.path());
        name_unimplemented(path, &mut response);
        if let Some(call) = this.call.take() {
            finish(call, response.headers(), response.status().is_success());
        }
        Poll::Ready(Ok(response))
    }
}

/// Counts a call by the status its response carries in its headers: none
/// (a reply, its status in the trailers) or one of a failure sent without a
/// reply ("trailers only").
fn finish(call: Call, headers: &HeaderMap, success: bool) {
    let failed = match headers.get(GRPC_STATUS) {
        None => !success,
        Some(status) => status != "0",
    };
    if !failed {
        return call.finish(None);
    }
    match error_kind(headers) {
        Some(kind) => {
            let message = headers
                .get(GRPC_MESSAGE)
                .map(|v| percent_decoded(v.as_bytes()))
                .unwrap_or_default();
            crate::ground::log::log_failure("grpc", kind, &message);
            call.finish(Some(kind));
        }
        None => call.finish_other_error(),
    }
}

/// The error kind a failed call's response carries in its metadata.
fn error_kind(headers: &HeaderMap) -> Option<oxbridge_core::ErrorKind> {
    headers
        .get(ERROR_KIND_KEY)
        .and_then(|v| v.to_str().ok())
        .and_then(oxbridge_core::ErrorKind::from_name)
}

/// The metrics label of a gRPC call to `path`: its library's function (of
/// a `<library>.v1.Functions` service, or of the articles' calculator and
/// greeter), `batch` for a vectorized call, or one of the fixed names.
fn function_of(path: &str) -> Label {
    static LABELS: std::sync::OnceLock<std::collections::HashMap<String, Label>> =
        std::sync::OnceLock::new();
    let labels = LABELS.get_or_init(|| {
        let mut labels = std::collections::HashMap::new();
        for library in crate::ground::library::libraries() {
            let service = format!("/{}.Functions", crate::grpc::names::package(library));
            for f in library.functions {
                let label = Label {
                    library: library.name,
                    function: f.name,
                };
                let method = crate::grpc::names::method_name(f.name);
                labels.insert(format!("{service}/{method}"), label);
                if std::ptr::eq(*library, &oxbridge_core::CALCULATOR) {
                    // The articles' services, by their own method names.
                    labels.insert(format!("/oxbridge.v1.Calculator/{method}"), label);
                    labels.insert(format!("/greeter_service.GreeterService/{method}"), label);
                }
                if f.many.is_some() {
                    let batch = Label {
                        library: library.name,
                        function: crate::ground::metrics::BATCH,
                    };
                    labels.insert(
                        format!("{service}/{}", crate::grpc::names::many_method(f)),
                        batch,
                    );
                }
            }
        }
        for (path, label) in [
            ("/oxbridge.v1.Calculator/Batch", "batch"),
            ("/oxbridge.v1.Calculator/Version", "version"),
            ("/grpc.health.v1.Health/Check", "health"),
            (crate::grpc::names::CATALOGUE_PATH, "catalogue"),
        ] {
            labels.insert(path.to_owned(), crate::ground::metrics::function(label));
        }
        labels
    });
    labels
        .get(path)
        .copied()
        .unwrap_or(Label::fixed(crate::ground::metrics::OTHER))
}

/// A `grpc-message` as text: `%XX` escapes decoded.
fn percent_decoded(value: &[u8]) -> String {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let escaped = (value[i] == b'%')
            .then(|| value.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// tonic answers an unknown service or method of `path` with a bare
/// UNIMPLEMENTED; every other error of ours has a message, so this one gets
/// one too.
fn name_unimplemented(path: &str, response: &mut axum::response::Response) {
    let headers = response.headers_mut();
    let unimplemented = headers
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes() == b"12");
    let silent = headers.get("grpc-message").is_none_or(|v| v.is_empty());
    if unimplemented && silent {
        // grpc-message is percent-encoded: '%' and anything unprintable.
        let libraries = crate::ground::library::libraries();
        let articles = if libraries.iter().any(|l| std::ptr::eq(*l, &CALCULATOR)) {
            "oxbridge.v1.Calculator, greeter_service.GreeterService, "
        } else {
            ""
        };
        let services: Vec<String> = libraries
            .iter()
            .map(|l| format!("{}.Functions", crate::grpc::names::package(l)))
            .collect();
        let message: String = format!(
            "no such method {path}: oxbridge serves {}, {articles}\
             grpc.health.v1.Health and reflection",
            services.join(", ")
        )
        .bytes()
        .map(|b| {
            if (0x20..0x7f).contains(&b) && b != b'%' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
        if let Ok(value) = axum::http::HeaderValue::from_str(&message) {
            headers.insert("grpc-message", value);
            headers.insert(
                ERROR_KIND_KEY,
                axum::http::HeaderValue::from_static("not_found"),
            );
        }
    }
}
