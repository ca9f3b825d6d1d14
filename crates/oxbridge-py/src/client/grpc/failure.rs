//! A failed gRPC call in oxbridge's words: the server's own error kind when
//! it sent one, else what the status, a proxy's HTTP error or the transport
//! underneath means, mapped once to the kinds of `oxbridge.errors`.

use pyo3::prelude::*;
use tonic::body::Body;
use tonic::metadata::AsciiMetadataValue;
use tonic::{Code, Status};

use crate::errors;

/// The `OxbridgeError` of a failed call: the server's own kind when it
/// sent one, else what the gRPC status means.
pub(super) fn raised(py: Python<'_>, target: &str, status: &Status) -> PyErr {
    let details = status.message();
    let kind = status
        .metadata()
        .get(oxbridge_server::grpc::ERROR_KIND_KEY)
        .and_then(|v| v.to_str().ok());
    if let Some(kind) = kind {
        return errors::error(py, kind, details.to_owned());
    }
    if status.metadata().contains_key(BAD_REPLY) {
        // As the IPC and HTTP clients say it.
        let message = format!("bad reply from grpc://{target}: {details}");
        return errors::error(py, "protocol", message);
    }
    let local = local_cause(status);
    match status.code() {
        Code::DeadlineExceeded => errors::error(
            py,
            "timeout",
            format!("no reply from grpc://{target} in time"),
        ),
        Code::Unavailable => {
            let why = local.map_or_else(|| details.to_owned(), |(words, _)| words);
            let message = format!("grpc://{target} is unavailable: {why}");
            errors::error(py, "transport", message)
        }
        _ if local.as_ref().is_some_and(|(_, io)| *io) => {
            let (words, _) = local.unwrap_or_default();
            let message = format!("grpc://{target} is unavailable: {words}");
            errors::error(py, "transport", message)
        }
        _ if local.is_some() => {
            let (words, _) = local.unwrap_or_default();
            let message = format!("grpc://{target} broke the HTTP/2 protocol: {words}");
            errors::error(py, "protocol", message)
        }
        Code::OutOfRange if decode_limit(details).is_some() => {
            let limit = decode_limit(details).unwrap_or_default();
            let message = format!("request is larger than the server's limit of {limit} bytes");
            errors::error(py, "payload_too_large", message)
        }
        code => errors::error(
            py,
            "internal",
            format!("gRPC {} from grpc://{target}: {details}", code_name(code)),
        ),
    }
}

/// A plain HTTP error response (a proxy's 502 when no server is behind it)
/// as the gRPC status it means, by gRPC's own mapping: tonic would read its
/// HTML as gRPC frames and fail with INTERNAL.
pub(super) fn as_grpc_status(response: http::Response<Body>) -> http::Response<Body> {
    let status = response.status();
    if status == http::StatusCode::OK || response.headers().contains_key("grpc-status") {
        return response;
    }
    let code = match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    let reason = status.canonical_reason().unwrap_or("");
    let words = if matches!(status.as_u16(), 502..=504) {
        format!(
            "no server answered behind the proxy: HTTP {} {reason}",
            status.as_u16()
        )
    } else {
        format!("HTTP {} {reason}", status.as_u16())
    };
    let mut mapped = http::Response::new(Body::empty());
    let headers = mapped.headers_mut();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", http::HeaderValue::from(code as i32));
    if let Ok(message) = http::HeaderValue::from_str(words.trim_end()) {
        headers.insert("grpc-message", message);
    }
    mapped
}

/// Whether a status is a broken or refused link, not a server's answer:
/// UNAVAILABLE without a kind of the server's, or a socket's error here.
pub(super) fn is_unavailable(status: &Status) -> bool {
    let kind = status.metadata().get(oxbridge_server::grpc::ERROR_KIND_KEY);
    kind.is_none()
        && (status.code() == Code::Unavailable || causes(status).any(|e| e.is::<std::io::Error>()))
}

/// A status's causes, nearest first (none for a status the server sent).
pub(super) fn causes(status: &Status) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(std::error::Error::source(status), |e| e.source())
}

/// An error and its causes, each said once, for the message of a broken
/// link ("tcp connect error: Connection refused (os error 111)").
pub(super) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(cause) = next {
        let said = cause.to_string();
        if !words.contains(&said) {
            words.push(said);
        }
        next = cause.source();
    }
    words.join(": ")
}

/// What failed on this side of the link, when a status was made here from
/// an error (a received status has no source): the error, and whether it
/// was the socket's (else the peer broke HTTP/2).
pub(super) fn local_cause(status: &Status) -> Option<(String, bool)> {
    let cause = std::error::Error::source(status)?;
    let io = causes(status).any(|e| e.is::<std::io::Error>());
    let said = describe(cause);
    let details = status.message();
    let words = if said.contains(details) {
        said
    } else {
        format!("{details}: {said}")
    };
    Some((words, io))
}

/// The metadata key of a status made here for a reply that broke the
/// protocol (see [`bad_reply`]). No oxbridge server sends it; one that
/// did would be reported as a broken reply, which it would be.
pub(super) const BAD_REPLY: &str = "x-oxbridge-bad-reply";

/// The status of a reply that broke the protocol, in `words`: the
/// client's `ProtocolError`, "bad reply from grpc://...", as IPC's and
/// HTTP's.
pub(super) fn bad_reply(words: String) -> Status {
    let mut status = Status::internal(words);
    status
        .metadata_mut()
        .insert(BAD_REPLY, AsciiMetadataValue::from_static("1"));
    status
}

/// Whether `status`, of a reply that came as more than a status, is tonic's
/// refusal of that reply as over this side's limit. Its words are those of
/// a server refusing a request ("decoded message length too large"), but a
/// server refuses with a status alone, before any message.
pub(super) fn is_reply_too_large(status: &Status) -> bool {
    status.code() == Code::OutOfRange
        && status
            .message()
            .contains("decoded message length too large")
}

/// Whether `status`, of a reply that came as more than a status, is
/// tonic's refusal of the reply's gRPC framing (a compression flag it
/// cannot read, a message cut short, an OK with no message): a reply that broke the protocol, as
/// IPC's and HTTP's clients call one, not an `INTERNAL` error of the server.
pub(super) fn is_malformed(status: &Status) -> bool {
    const BROKEN: [&str; 3] = [
        "protocol error: received message",
        "Unexpected EOF decoding stream",
        "Missing response message",
    ];
    status.code() == Code::Internal && BROKEN.iter().any(|w| status.message().starts_with(w))
}

/// The limit in tonic's words for a message over it ("...message length too
/// large: found N bytes, the limit is: M bytes"): the server refused the
/// request in its codec, before oxbridge saw it, like HTTP's 413.
pub(super) fn decode_limit(details: &str) -> Option<u64> {
    let (_, rest) = details.split_once("message length too large: found ")?;
    let (_, limit) = rest.split_once("the limit is: ")?;
    limit.strip_suffix(" bytes")?.parse().ok()
}

/// A gRPC code's name as gRPC spells it (`UNIMPLEMENTED`).
pub(super) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decode_limit_is_read_from_tonics_words() {
        let words =
            "Error, decoded message length too large: found 70 bytes, the limit is: 64 bytes";
        assert_eq!(decode_limit(words), Some(64));
        assert_eq!(decode_limit("message length too large"), None);
        assert_eq!(decode_limit("something else"), None);
    }

    #[test]
    fn a_proxys_http_error_is_the_grpc_status_it_means() {
        let reply = |code: u16| {
            let mut response = http::Response::new(Body::empty());
            *response.status_mut() = http::StatusCode::from_u16(code).unwrap_or_default();
            let mapped = as_grpc_status(response);
            let header = |name| mapped.headers().get(name).cloned();
            (
                mapped.status(),
                header("grpc-status"),
                header("grpc-message"),
            )
        };
        let (status, code, message) = reply(502);
        assert_eq!(status, http::StatusCode::OK);
        assert_eq!(code, Some(http::HeaderValue::from(14)));
        let message = message.unwrap_or_else(|| http::HeaderValue::from_static(""));
        assert_eq!(
            message,
            "no server answered behind the proxy: HTTP 502 Bad Gateway"
        );
        assert_eq!(reply(404).1, Some(http::HeaderValue::from(12)));
        assert_eq!(reply(500).1, Some(http::HeaderValue::from(2)));
        // A gRPC answer passes as it came.
        assert_eq!(reply(200).1, None);
    }

    #[test]
    fn every_code_has_grpcs_name() {
        assert_eq!(code_name(Code::Unimplemented), "UNIMPLEMENTED");
        assert_eq!(code_name(Code::from_i32(8)), "RESOURCE_EXHAUSTED");
    }
}
