//! A failed call's gRPC face: the status code its kind maps to, the message,
//! and the exact kind in metadata, for a client to raise the same error as
//! every other bridge.

use tonic::metadata::MetadataValue;
use tonic::Status;

use crate::ground::error::CallError;

/// Metadata key that carries the exact error kind next to the status code.
pub const ERROR_KIND_KEY: &str = "oxbridge-error-kind";

/// The gRPC face of [`CallError`]: a status code, the message, and the kind.
/// It does not log: [`observe`] does, once, from the response.
#[must_use]
pub fn status(e: &CallError) -> Status {
    let kind = e.kind();
    let code = tonic::Code::from_i32(kind.grpc_code());
    let mut status = Status::new(code, e.to_string());
    status
        .metadata_mut()
        .insert(ERROR_KIND_KEY, MetadataValue::from_static(kind.name()));
    status
}
