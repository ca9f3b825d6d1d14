//! The vectorized form of every numeric exported function as a gRPC method:
//! `/<library>.v1.Functions/<Name>Many` takes `<Name>ManyRequest` (one
//! `bytes` field per parameter, numbered from 1 in order, holding numpy's
//! little-endian layout of its values; then `offset` and `one_for_all`) and
//! answers `<Name>ManyReply` (the results' bytes in field 1). The call itself
//! is the frame codec's ([`crate::frames::Call`]), as on IPC and HTTP.

use std::fmt::Write as _;

use bytes::{Buf, BufMut, Bytes};
use oxbridge_core::export::Function;
use prost::encoding::{self, DecodeContext};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

use crate::error::CallError;
use crate::frames::{Call, Column};
use crate::grpc::status;
use crate::grpc_functions::method_name;

/// The method name of `f`'s vectorized form.
#[must_use]
pub fn many_method(f: &Function) -> String {
    method_name(f.name) + "Many"
}

/// The `.proto` messages of `f`'s vectorized form.
pub fn write_messages(out: &mut String, f: &Function) {
    let method = many_method(f);
    let _ = writeln!(
        out,
        "\n// The values of each argument, little-endian as numpy lays them out."
    );
    let _ = writeln!(out, "message {method}Request {{");
    for (i, p) in f.params.iter().enumerate() {
        let _ = writeln!(out, "  bytes {} = {};", p.name, i + 1);
    }
    let n = f.params.len();
    let _ = writeln!(
        out,
        "  // The index of the first element in the caller's whole array, for error messages.\n  \
         uint64 offset = {};\n  \
         // The arguments that hold one value for every element.\n  \
         repeated string one_for_all = {};\n}}",
        n + 1,
        n + 2
    );
    let _ = writeln!(
        out,
        "\nmessage {method}Reply {{\n  bytes {} = 1;\n}}",
        f.result_field
    );
}

/// A decoded request: each argument's bytes, the offset, the one-for-all names.
#[derive(Debug, Default)]
pub struct ManyRequest {
    args: Vec<Bytes>,
    offset: u64,
    one_for_all: Vec<String>,
}

fn bad(message: impl Into<String>) -> Status {
    status(&CallError::BadRequest(message.into()))
}

/// A `<Name>ManyRequest` of `f` (absent arguments are empty, unknown fields skipped).
///
/// # Errors
/// `INVALID_ARGUMENT` (`bad_request`) for a malformed message.
pub fn decode_request(f: &Function, buf: &mut impl Buf) -> Result<ManyRequest, Status> {
    let n = f.params.len();
    let mut request = ManyRequest {
        args: vec![Bytes::new(); n],
        ..ManyRequest::default()
    };
    let malformed = |e: prost::DecodeError| bad(format!("malformed request: {e}"));
    while buf.has_remaining() {
        let (tag, wire) = encoding::decode_key(buf).map_err(malformed)?;
        let ctx = DecodeContext::default();
        let index = usize::try_from(tag).unwrap_or(usize::MAX).wrapping_sub(1);
        if index < n {
            encoding::bytes::merge(wire, &mut request.args[index], buf, ctx)
        } else if index == n {
            encoding::uint64::merge(wire, &mut request.offset, buf, ctx)
        } else if index == n + 1 {
            encoding::string::merge_repeated(wire, &mut request.one_for_all, buf, ctx)
        } else {
            encoding::skip_field(wire, tag, buf, ctx)
        }
        .map_err(malformed)?;
    }
    Ok(request)
}

/// Runs a decoded request.
///
/// # Errors
/// Arguments that do not fit the function, or the first failing element's error.
pub fn run(f: &'static Function, request: &ManyRequest) -> Result<Vec<u8>, CallError> {
    if let Some(name) = request
        .one_for_all
        .iter()
        .find(|name| !f.params.iter().any(|p| p.name == name.as_str()))
    {
        return Err(CallError::BadRequest(format!(
            "one_for_all names '{name}', which is not an argument of {}",
            f.name
        )));
    }
    let columns = request
        .args
        .iter()
        .zip(f.params)
        .map(|(bytes, p)| {
            if request.one_for_all.iter().any(|name| name == p.name) {
                Column::All(bytes)
            } else {
                Column::Each(bytes)
            }
        })
        .collect();
    Call::new(f, columns, request.offset)?.run()
}

/// The codec of one function's vectorized request and reply.
#[derive(Clone, Copy)]
pub struct ManyCodec(pub &'static Function);

impl Codec for ManyCodec {
    type Encode = Vec<u8>;
    type Decode = ManyRequest;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        *self
    }

    fn decoder(&mut self) -> Self {
        *self
    }
}

impl Encoder for ManyCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        // One allocation for the reply, not a doubling series of copies.
        dst.reserve(item.len() + 16);
        encoding::encode_key(1, encoding::WireType::LengthDelimited, dst);
        encoding::encode_varint(item.len() as u64, dst);
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for ManyCodec {
    type Item = ManyRequest;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<ManyRequest>, Status> {
        decode_request(self.0, src).map(Some)
    }
}

/// Answers one vectorized call of `f`: the body of its route.
pub async fn serve(
    f: &'static Function,
    max: usize,
    request: axum::extract::Request,
) -> axum::response::Response {
    let mut grpc = tonic::server::Grpc::new(ManyCodec(f))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let call = tower::service_fn(move |request: tonic::Request<ManyRequest>| async move {
        let request = request.into_inner();
        let received = request.args.iter().map(Bytes::len).sum();
        let reply = crate::offload::run(received, move || run(f, &request))
            .await
            .map_err(|e| status(&CallError::Internal(e)))?
            .map_err(|e| status(&e))?;
        crate::metrics::batch_bytes("grpc", received, reply.len());
        Ok(tonic::Response::new(reply))
    });
    grpc.unary(call, request).await.map(axum::body::Body::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbridge_core::CALCULATOR;

    #[test]
    fn requests_decode_by_signature_and_run_as_frames() {
        let pow = CALCULATOR.get("pow").unwrap();
        let mut buf = Vec::new();
        let z: Vec<u8> = [1.0_f64, 1.0, 3.0, 0.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let two: Vec<u8> = [2.0_f64, 0.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        encoding::bytes::encode(1, &z, &mut buf);
        encoding::bytes::encode(2, &two, &mut buf);
        encoding::uint64::encode(3, &7, &mut buf);
        encoding::string::encode_repeated(4, &["b".to_owned()], &mut buf);
        encoding::string::encode(9, &"ignored".to_owned(), &mut buf);
        let request = decode_request(pow, &mut buf.as_slice()).unwrap();
        assert_eq!(request.offset, 7);
        let result = run(pow, &request).unwrap();
        let first: Vec<f64> = result[..16]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(first, vec![0.0, 2.0]);

        let bad_name = ManyRequest {
            one_for_all: vec!["c".into()],
            ..request
        };
        assert_eq!(
            run(pow, &bad_name).unwrap_err().to_string(),
            "one_for_all names 'c', which is not an argument of pow"
        );
    }
}
