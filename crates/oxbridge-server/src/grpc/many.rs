//! The vectorized form of every numeric exported function as a gRPC method:
//! `/<library>.v1.Functions/<Name>Many` takes `<Name>ManyRequest` (one
//! `bytes` field per parameter, numbered from 1 in order, holding numpy's
//! little-endian layout of its values; then `offset` and `one_for_all`) and
//! answers `<Name>ManyReply` (the results' bytes in field 1). The call itself
//! is the frame codec's ([`crate::codec::frames::Call`]), as on IPC and HTTP.

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use oxbridge_core::export::Function;
use prost::encoding::{self, DecodeContext, WireType};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

use crate::codec::frames::{Call, Column, Spread};
use crate::ground::error::CallError;
use crate::ground::pieces::PieceBuf;
use crate::grpc::message::{self, ReplyBody, Slots};
use crate::grpc::names::many_method;
use crate::grpc::status::status;

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

/// A decoded request: each argument's bytes (in the pieces they arrived
/// in), the offset, the one-for-all names.
#[derive(Debug, Default)]
pub struct ManyRequest {
    args: Vec<Vec<Bytes>>,
    offset: u64,
    one_for_all: Vec<String>,
}

fn bad(message: impl Into<String>) -> Status {
    status(&CallError::BadRequest(message.into()))
}

/// A `<Name>ManyRequest` of `f` (absent arguments are empty, unknown fields
/// skipped), the arguments' bytes left in the pieces they lie in.
///
/// # Errors
/// `INVALID_ARGUMENT` (`bad_request`) for a malformed message.
pub fn decode_request(f: &Function, buf: &mut PieceBuf) -> Result<ManyRequest, Status> {
    let n = f.params.len();
    let mut request = ManyRequest {
        args: vec![Vec::new(); n],
        ..ManyRequest::default()
    };
    let malformed = |e: prost::DecodeError| bad(format!("malformed request: {e}"));
    while buf.has_remaining() {
        let (tag, wire) = encoding::decode_key(buf).map_err(malformed)?;
        let ctx = DecodeContext::default();
        let index = usize::try_from(tag).unwrap_or(usize::MAX).wrapping_sub(1);
        if index < n {
            request.args[index] = take_bytes(wire, buf).map_err(malformed)?;
            continue;
        }
        if index == n {
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

/// A `bytes` field's value, as prost's `bytes::merge` reads it (the last
/// one wins), but left in its pieces.
fn take_bytes(wire: WireType, buf: &mut PieceBuf) -> Result<Vec<Bytes>, prost::DecodeError> {
    encoding::check_wire_type(WireType::LengthDelimited, wire)?;
    let len = encoding::decode_varint(buf)?;
    match usize::try_from(len) {
        Ok(len) if len <= buf.remaining() => Ok(buf.take_pieces(len)),
        // prost's own error for a length past the end.
        _ => {
            let mut just_the_length = Vec::new();
            encoding::encode_varint(len, &mut just_the_length);
            let mut ignored = Vec::<u8>::new();
            let ctx = DecodeContext::default();
            encoding::bytes::merge(wire, &mut ignored, &mut just_the_length.as_slice(), ctx)?;
            unreachable!("a length past the end of an empty buffer decoded")
        }
    }
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
    let all =
        |p: &oxbridge_core::export::Param| request.one_for_all.iter().any(|name| name == p.name);
    // A one-for-all value (a few bytes) cut in two is joined.
    let joined: Vec<Option<Vec<u8>>> = request
        .args
        .iter()
        .zip(f.params)
        .map(|(pieces, p)| (all(p) && pieces.len() > 1).then(|| pieces.concat()))
        .collect();
    let columns = request
        .args
        .iter()
        .zip(f.params)
        .zip(&joined)
        .map(|((pieces, p), joined)| match (all(p), pieces.as_slice()) {
            (true, _) => Column::All(
                joined
                    .as_deref()
                    .or(pieces.first().map(|b| &b[..]))
                    .unwrap_or(&[]),
            ),
            (false, []) => Column::Each(&[]),
            (false, [one]) => Column::Each(one),
            (false, many) => Column::Spread(Spread::new(&[], many)),
        })
        .collect();
    Call::new(f, columns, request.offset)?.run()
}

/// The codec of one function's vectorized request and reply: the request
/// and the reply's field pass through [`Slots`] (see `grpc::message`), so
/// what tonic decodes and encodes is empty.
#[derive(Clone)]
pub struct ManyCodec {
    f: &'static Function,
    slots: Arc<Slots>,
}

impl Codec for ManyCodec {
    type Encode = Bytes;
    type Decode = ManyRequest;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        self.clone()
    }

    fn decoder(&mut self) -> Self {
        self.clone()
    }
}

impl Encoder for ManyCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, _: &mut EncodeBuf<'_>) -> Result<(), Status> {
        self.slots.reply(item);
        Ok(())
    }
}

impl Decoder for ManyCodec {
    type Item = ManyRequest;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<ManyRequest>, Status> {
        let mut buf = match self.slots.message() {
            Some(message) => message.into_buf(),
            None => PieceBuf::new([src.copy_to_bytes(src.remaining())]),
        };
        decode_request(self.f, &mut buf).map(Some)
    }
}

/// Answers one vectorized call of `f`: the body of its route.
pub async fn serve(
    f: &'static Function,
    max: usize,
    request: axum::extract::Request,
) -> axum::response::Response {
    let slots = Arc::new(Slots::default());
    let (parts, body) = request.into_parts();
    let body = message::take(body, max, &slots).await;
    let codec = ManyCodec {
        f,
        slots: slots.clone(),
    };
    let mut grpc = tonic::server::Grpc::new(codec).max_decoding_message_size(max);
    let call = tower::service_fn(move |request: tonic::Request<ManyRequest>| async move {
        let request = request.into_inner();
        let received = request.args.iter().flatten().map(Bytes::len).sum();
        let reply = crate::ground::offload::run(received, move || run(f, &request))
            .await
            .map_err(|e| status(&e))?
            .map_err(|e| status(&e))?;
        let len = message::reply_len(reply.len());
        if len > max {
            return Err(message::too_large(len, max));
        }
        crate::ground::metrics::batch_bytes("grpc", received, reply.len());
        Ok(tonic::Response::new(Bytes::from(reply)))
    });
    let request = http::Request::from_parts(parts, body);
    grpc.unary(call, request)
        .await
        .map(|inner| axum::body::Body::new(ReplyBody::new(inner, slots)))
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
        let request = decode_request(pow, &mut PieceBuf::new([Bytes::from(buf.clone())])).unwrap();
        assert_eq!(request.offset, 7);
        let result = run(pow, &request).unwrap();
        for cut in [1, 2, 3, 5, 8, 13, 40] {
            let pieces = buf.chunks(cut).map(Bytes::copy_from_slice);
            let in_pieces = decode_request(pow, &mut PieceBuf::new(pieces)).unwrap();
            assert_eq!(run(pow, &in_pieces).unwrap(), result, "cut {cut}");
        }
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

    #[test]
    fn a_length_past_the_end_fails_in_prost_s_words() {
        let pow = CALCULATOR.get("pow").unwrap();
        let mut buf = Vec::new();
        encoding::encode_key(1, WireType::LengthDelimited, &mut buf);
        encoding::encode_varint(100, &mut buf);
        let after_key = buf[1..].to_vec();
        buf.extend([0; 10]);
        let theirs = encoding::bytes::merge(
            WireType::LengthDelimited,
            &mut Vec::<u8>::new(),
            &mut &after_key[..],
            DecodeContext::default(),
        )
        .unwrap_err();
        let ours = decode_request(pow, &mut PieceBuf::new([Bytes::from(buf)])).unwrap_err();
        assert_eq!(ours.message(), format!("malformed request: {theirs}"));
        assert!(
            ours.message().contains("buffer underflow"),
            "{}",
            ours.message()
        );
    }
}
