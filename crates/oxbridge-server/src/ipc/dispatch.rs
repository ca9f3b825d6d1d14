//! One JSON request answered: the command found by name in the served
//! library, its arguments decoded by the function's signature.

use crate::codec::json_call;
use crate::codec::wire;
use crate::ground::config::Limits;
use crate::ground::error::CallError;

/// Answers one JSON request with one line of JSON, its arguments held to
/// `limits` (public for the benchmarks and the fuzzer, which drive it
/// without a socket).
#[must_use]
pub fn answer_request(frame: &[u8], limits: &Limits) -> Vec<u8> {
    let mut call = crate::ground::metrics::Call::start("ipc");
    let mut out = match answer(frame, limits, &mut call) {
        Ok(bytes) => {
            call.finish(None);
            bytes
        }
        Err(e) => {
            crate::ground::log::log_call_error("ipc", &e);
            call.finish(Some(e.kind()));
            return error_reply(&e);
        }
    };
    out.push(b'\n');
    out
}

/// One IPC request: the article's `{"command": "add", "a": ..., "b": ...}`,
/// any exported function by name with its arguments as fields, or
/// `{"command": "health"}`.
fn answer(
    frame: &[u8],
    limits: &Limits,
    call: &mut crate::ground::metrics::Call,
) -> Result<Vec<u8>, CallError> {
    let mut fields: json_call::Fields<'_> = wire::decode(frame)?;
    let command = fields
        .remove("command")
        .ok_or_else(|| CallError::BadRequest("the request needs field \"command\"".into()))?;
    let command: std::borrow::Cow<'_, str> = serde_json::from_str(command.get())
        .map_err(|_| CallError::BadRequest("field \"command\" must be a string".into()))?;
    call.function(crate::ground::metrics::function(&command));
    if command == "health" {
        return Ok(to_json(
            &serde_json::json!({"status": "serving", "version": oxbridge_core::VERSION}),
        ));
    }
    if command == "catalogue" {
        return Ok(crate::ground::catalogue::catalogue().as_bytes().to_vec());
    }
    let f = match crate::ground::library::resolve(&command) {
        Ok((_, f)) => f,
        Err(oxbridge_core::CoreError::UnknownOperation(_)) => {
            let known: Vec<&str> = crate::ground::library::library()
                .functions
                .iter()
                .map(|f| f.name)
                .collect();
            return Err(CallError::NotFound(format!(
                "unknown command {command:?}: expected {}, LIBRARY.FUNCTION, catalogue or health",
                known.join(", ")
            )));
        }
        Err(e) => return Err(e.into()),
    };
    json_call::call(f, &fields, limits)
}

/// `{"error": {"kind": ..., "message": ...}}` and a newline.
pub(super) fn error_reply(e: &CallError) -> Vec<u8> {
    let mut out = serde_json::to_vec(&serde_json::json!({
        "error": {"kind": e.kind().name(), "message": e.to_string()}
    }))
    .unwrap_or_default();
    out.push(b'\n');
    out
}

/// A reply as JSON bytes; our replies are plain data, so this cannot fail.
fn to_json<T: serde::Serialize>(reply: &T) -> Vec<u8> {
    serde_json::to_vec(reply).unwrap_or_default()
}
