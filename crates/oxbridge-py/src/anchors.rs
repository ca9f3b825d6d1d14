//! `_native.serve_anchors()`: the benchmark's throughput anchors (see
//! `oxbridge_server::anchors`), for the calculator's extension only.

use pyo3::prelude::*;

use crate::errors;

/// Serves the minimal axum handler and the minimal tonic service of `add`
/// on free loopback ports, in a background thread that lives as long as
/// the process: their `(http, grpc)` addresses. `python -m
/// oxbridge.bench.anchors` runs them for the benchmark.
#[pyfunction]
pub fn serve_anchors(py: Python<'_>) -> PyResult<(String, String)> {
    match py.detach(oxbridge_server::anchors::spawn) {
        Ok(a) => Ok((a.http.to_string(), a.grpc.to_string())),
        Err(e) => Err(errors::error(
            py,
            "startup",
            format!("cannot start the anchors: {e}"),
        )),
    }
}
