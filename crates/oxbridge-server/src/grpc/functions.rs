//! Every exported function as a gRPC method, derived from its definition:
//! `/<library>.v1.Functions/<Name>` takes `<Name>Request` (one field per
//! parameter, numbered from 1 in order) and answers `<Name>Reply` (the result
//! in field 1, named as the function's result field).
//!
//! [`proto_file`] writes the contract as a `.proto` (checked in under
//! `proto/`, checked for drift, and compiled into the descriptors that
//! reflection serves); requests are decoded and replies encoded straight from
//! the signature, with no generated code per function.
//!
//! Each type's protobuf form (see `docs/src/types.md`): `bool`, `int64`,
//! `double`, `string`, `bytes`; complex as the message `Complex` (parts with
//! explicit presence, so `-0.0` survives); arrays as packed `repeated double`
//! and `repeated int64`, and `repeated Complex`.

use std::fmt::Write as _;

use bytes::{Buf, BufMut};
use oxbridge_core::export::{Function, Library, Type, Value};
use oxbridge_core::{Complex, CoreError};
use prost::encoding::{self, DecodeContext, WireType};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

use crate::ground::error::CallError;
use crate::grpc::message::{self, Message};
use crate::grpc::names::{method_name, package};
use crate::grpc::status::status;

fn proto_type(ty: Type) -> &'static str {
    match ty {
        Type::Bool => "bool",
        Type::I64 => "int64",
        Type::F64 => "double",
        Type::Complex => "Complex",
        Type::Str => "string",
        Type::Bytes => "bytes",
        Type::F64Array => "repeated double",
        Type::I64Array => "repeated int64",
        Type::ComplexArray => "repeated Complex",
    }
}

fn comment(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "{}", format!("{indent}// {line}").trim_end());
    }
}

/// The `.proto` of `library`'s functions.
#[must_use]
pub fn proto_file(library: &Library) -> String {
    let mut out = String::new();
    out.push_str(
        "// Generated from the exported functions' definitions. Do not edit: run `make protos`.\n",
    );
    out.push_str("//\n// Errors are a Status with the code of the error kind's row in the table\n");
    out.push_str("// of kinds; the metadata key \"oxbridge-error-kind\" carries the kind.\n\n");
    out.push_str("syntax = \"proto3\";\n");
    let _ = writeln!(out, "package {};\n", package(library));
    out.push_str("// A complex number. The parts have explicit presence, so that -0.0 is sent.\n");
    out.push_str("message Complex {\n  optional double re = 1;\n  optional double im = 2;\n}\n");
    for f in library.functions {
        let method = method_name(f.name);
        let _ = writeln!(out, "\nmessage {method}Request {{");
        for (i, p) in f.params.iter().enumerate() {
            let _ = writeln!(out, "  {} {} = {};", proto_type(p.ty), p.name, i + 1);
        }
        let _ = writeln!(out, "}}\n\nmessage {method}Reply {{");
        let _ = writeln!(
            out,
            "  {} {} = 1;\n}}",
            proto_type(f.returns),
            f.result_field
        );
        if f.many.is_some() {
            crate::grpc::many::write_messages(&mut out, f);
        }
    }
    out.push_str("\nservice Functions {\n");
    for f in library.functions {
        let method = method_name(f.name);
        comment(&mut out, "  ", &f.doc_text());
        let _ = writeln!(
            out,
            "  rpc {method}({method}Request) returns ({method}Reply);"
        );
        if f.many.is_some() {
            let many = crate::grpc::names::many_method(f);
            let _ = writeln!(
                out,
                "  // The vectorized form of {method}: element i is {method} of each array's\n  \
                 // element i (or of the one value for all), the first failing index named.\n  \
                 rpc {many}({many}Request) returns ({many}Reply);"
            );
        }
    }
    out.push_str("}\n");
    out
}

/// The encoded descriptors of `library`'s `.proto` ([`proto_file`]),
/// compiled when the server starts: what reflection serves, for any library.
///
/// # Errors
/// When the generated `.proto` does not compile (a fault of the generator).
pub fn descriptor_set(library: &Library) -> Result<Vec<u8>, crate::ground::error::StartError> {
    /// Serves the one generated file to the compiler.
    struct Generated(String, String);

    impl protox::file::FileResolver for Generated {
        fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
            if name == self.0 {
                protox::file::File::from_source(name, &self.1)
            } else {
                Err(protox::Error::file_not_found(name))
            }
        }
    }

    let name = format!("{}/v1/functions.proto", library.name);
    let mut compiler =
        protox::Compiler::with_file_resolver(Generated(name.clone(), proto_file(library)));
    compiler.include_source_info(true);
    compiler
        .open_file(&name)
        .map(|c| c.encode_file_descriptor_set())
        .map_err(|e| {
            crate::ground::error::StartError::Io(
                format!("the generated {name} does not compile: {e}"),
                std::io::ErrorKind::InvalidData,
            )
        })
}

fn bad(message: impl Into<String>) -> Status {
    status(&CallError::BadRequest(message.into()))
}

fn decode_error(name: &str, e: &prost::DecodeError) -> Status {
    bad(format!("argument '{name}' could not be decoded: {e}"))
}

/// A `Complex` message's parts.
fn merge_complex(buf: &mut impl Buf, name: &str) -> Result<Complex, Status> {
    let mut z = Complex::default();
    while buf.has_remaining() {
        let (tag, wire) = encoding::decode_key(buf).map_err(|e| decode_error(name, &e))?;
        let ctx = DecodeContext::default();
        let merged = match tag {
            1 => encoding::double::merge(wire, &mut z.re, buf, ctx),
            2 => encoding::double::merge(wire, &mut z.im, buf, ctx),
            _ => encoding::skip_field(wire, tag, buf, ctx),
        };
        merged.map_err(|e| decode_error(name, &e))?;
    }
    Ok(z)
}

fn length_delimited(buf: &mut impl Buf, name: &str) -> Result<bytes::Bytes, Status> {
    let len = encoding::decode_varint(buf).map_err(|e| decode_error(name, &e))?;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len > buf.remaining() {
        return Err(bad(format!("argument '{name}' is truncated")));
    }
    Ok(buf.copy_to_bytes(len))
}

/// Merges one field occurrence into `value` (repeated fields accumulate, a
/// scalar's last occurrence wins, as in protobuf).
fn merge(
    value: &mut Value,
    wire: WireType,
    buf: &mut impl Buf,
    name: &'static str,
) -> Result<(), Status> {
    let ctx = DecodeContext::default();
    let err = |e: prost::DecodeError| decode_error(name, &e);
    match value {
        Value::Bool(v) => encoding::bool::merge(wire, v, buf, ctx).map_err(err),
        Value::I64(v) => encoding::int64::merge(wire, v, buf, ctx).map_err(err),
        Value::F64(v) => encoding::double::merge(wire, v, buf, ctx).map_err(err),
        Value::Complex(z) => {
            encoding::check_wire_type(WireType::LengthDelimited, wire).map_err(err)?;
            let mut part = length_delimited(buf, name)?;
            *z = merge_complex(&mut part, name)?;
            Ok(())
        }
        Value::Str(s) => {
            encoding::check_wire_type(WireType::LengthDelimited, wire).map_err(err)?;
            let raw = length_delimited(buf, name)?;
            // Text that is not UTF-8 reaches the core's check, as on every bridge.
            *s = String::from_utf8(raw.to_vec())
                .map_err(|_| status(&CoreError::InvalidUtf8 { arg: name }.into()))?;
            Ok(())
        }
        Value::Bytes(b) => {
            encoding::check_wire_type(WireType::LengthDelimited, wire).map_err(err)?;
            *b = length_delimited(buf, name)?.to_vec();
            Ok(())
        }
        Value::F64Array(v) => encoding::double::merge_repeated(wire, v, buf, ctx).map_err(err),
        Value::I64Array(v) => encoding::int64::merge_repeated(wire, v, buf, ctx).map_err(err),
        Value::ComplexArray(v) => {
            encoding::check_wire_type(WireType::LengthDelimited, wire).map_err(err)?;
            let mut part = length_delimited(buf, name)?;
            v.push(merge_complex(&mut part, name)?);
            Ok(())
        }
    }
}

fn default_of(ty: Type) -> Value {
    match ty {
        Type::Bool => Value::Bool(false),
        Type::I64 => Value::I64(0),
        Type::F64 => Value::F64(0.0),
        Type::Complex => Value::Complex(Complex::default()),
        Type::Str => Value::Str(String::new()),
        Type::Bytes => Value::Bytes(Vec::new()),
        Type::F64Array => Value::F64Array(Vec::new()),
        Type::I64Array => Value::I64Array(Vec::new()),
        Type::ComplexArray => Value::ComplexArray(Vec::new()),
    }
}

/// A request's arguments, by the function's parameter types (absent fields
/// are their type's default, as in protobuf; unknown fields are skipped).
///
/// # Errors
/// `INVALID_ARGUMENT` (`bad_request`) for a malformed message.
pub fn decode_request(
    f: &Function,
    buf: &mut impl Buf,
) -> Result<crate::ground::library::Args, Status> {
    let mut values: crate::ground::library::Args =
        f.params.iter().map(|p| default_of(p.ty)).collect();
    while buf.has_remaining() {
        let (tag, wire) =
            encoding::decode_key(buf).map_err(|e| bad(format!("malformed request: {e}")))?;
        let index = usize::try_from(tag).ok().and_then(|t| t.checked_sub(1));
        match index.and_then(|i| Some((values.get_mut(i)?, f.params[i].name))) {
            Some((value, name)) => merge(value, wire, buf, name)?,
            None => encoding::skip_field(wire, tag, buf, DecodeContext::default())
                .map_err(|e| bad(format!("malformed request: {e}")))?,
        }
    }
    Ok(values)
}

fn encode_complex(tag: u32, z: Complex, buf: &mut impl BufMut) {
    encoding::encode_key(tag, WireType::LengthDelimited, buf);
    encoding::encode_varint(18, buf);
    encoding::double::encode(1, &z.re, buf);
    encoding::double::encode(2, &z.im, buf);
}

/// A reply with `value` in field 1.
pub fn encode_reply(value: &Value, buf: &mut impl BufMut) {
    match value {
        Value::Bool(v) => encoding::bool::encode(1, v, buf),
        Value::I64(v) => encoding::int64::encode(1, v, buf),
        Value::F64(v) => encoding::double::encode(1, v, buf),
        Value::Complex(z) => encode_complex(1, *z, buf),
        Value::Str(s) => encoding::string::encode(1, s, buf),
        Value::Bytes(b) => encoding::bytes::encode(1, b, buf),
        Value::F64Array(v) => encoding::double::encode_packed(1, v, buf),
        Value::I64Array(v) => encoding::int64::encode_packed(1, v, buf),
        Value::ComplexArray(v) => {
            for z in v {
                encode_complex(1, *z, buf);
            }
        }
    }
}

/// The codec of one function's request and reply.
#[derive(Clone, Copy)]
pub struct FunctionCodec(pub &'static Function);

impl Codec for FunctionCodec {
    type Encode = Value;
    type Decode = crate::ground::library::Args;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        *self
    }

    fn decoder(&mut self) -> Self {
        *self
    }
}

impl Encoder for FunctionCodec {
    type Item = Value;
    type Error = Status;

    fn encode(&mut self, item: Value, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        encode_reply(&item, dst);
        Ok(())
    }
}

impl Decoder for FunctionCodec {
    type Item = crate::ground::library::Args;
    type Error = Status;

    fn decode(
        &mut self,
        src: &mut DecodeBuf<'_>,
    ) -> Result<Option<crate::ground::library::Args>, Status> {
        decode_request(self.0, src).map(Some)
    }
}

/// Answers one call of `f`: the body of its route. A request that is one
/// plain message is read and answered here, as tonic would answer it, with
/// none of its per-call machinery (decode and encode buffers, streams, boxed
/// bodies); anything else goes to tonic.
pub async fn serve(
    f: &'static Function,
    max: usize,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    // tonic refuses a request that names an encoding, even an uncompressed one.
    let body = if parts.headers.contains_key("grpc-encoding") {
        body
    } else {
        match message::whole(body, max).await {
            Ok(Message::One(message)) => return answer(f, max, message),
            Ok(Message::Pieces(message)) => return answer(f, max, message.into_buf()),
            Err(read) => axum::body::Body::new(read),
        }
    };
    let mut grpc = tonic::server::Grpc::new(FunctionCodec(f))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let call = tower::service_fn(
        move |request: tonic::Request<crate::ground::library::Args>| async move {
            invoke(f, &request.into_inner()).map(tonic::Response::new)
        },
    );
    let request = axum::extract::Request::from_parts(parts, body);
    grpc.unary(call, request).await.map(axum::body::Body::new)
}

fn invoke(f: &'static Function, args: &crate::ground::library::Args) -> Result<Value, Status> {
    let args: smallvec::SmallVec<[_; 4]> = args.iter().map(Value::as_arg).collect();
    f.invoke(&args).map_err(|e| status(&e.into()))
}

/// A call whose request is `message`, answered as tonic answers it: a
/// failure as a status alone (no message), a success as its message, then
/// `grpc-status: 0`.
fn answer(f: &'static Function, max: usize, mut message: impl Buf) -> axum::response::Response {
    let value = match decode_request(f, &mut message).and_then(|a| invoke(f, &a)) {
        Ok(value) => value,
        Err(status) => return status.into_http(),
    };
    let (len, reply) = message::reply(|buf| encode_reply(&value, buf));
    if len > max {
        return message::too_large(len, max).into_http();
    }
    reply.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;
    use oxbridge_core::CALCULATOR;

    /// A response as a client sees it: status, headers, the message bytes, trailers.
    async fn answered(
        f: &'static Function,
        max: usize,
        message: &[u8],
        identity: bool,
    ) -> (u16, http::HeaderMap, Vec<u8>, Option<http::HeaderMap>) {
        let mut framed = vec![0];
        framed.extend(u32::try_from(message.len()).unwrap().to_be_bytes());
        framed.extend(message);
        let mut request = axum::extract::Request::new(axum::body::Body::from(framed));
        request.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        if identity {
            // Named, so the call goes to tonic (which takes "identity").
            request
                .headers_mut()
                .insert("grpc-encoding", http::HeaderValue::from_static("identity"));
        }
        let (parts, mut body) = serve(f, max, request).await.into_parts();
        let (mut data, mut trailers) = (Vec::new(), None);
        while let Some(frame) = body.frame().await {
            match frame.unwrap().into_data() {
                Ok(d) => data.extend(d),
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        (parts.status.as_u16(), parts.headers, data, trailers)
    }

    #[tokio::test]
    async fn a_call_answered_here_is_answered_as_tonic_answers_it() {
        let [add, div, greet] = ["add", "div", "greet"].map(|n| CALCULATOR.get(n).unwrap());
        let mut sum = Vec::new();
        encode_complex(1, Complex::new(1.0, -0.0), &mut sum);
        encode_complex(2, Complex::new(2.5, 3.0), &mut sum);
        let mut by_zero = Vec::new();
        encode_complex(1, Complex::new(1.0, 0.0), &mut by_zero);
        encode_complex(2, Complex::new(0.0, 0.0), &mut by_zero);
        let mut long = Vec::new();
        // "h, xxx…": 129 bytes, a longer length than the name's 126.
        encoding::string::encode(1, &"h".to_owned(), &mut long);
        encoding::string::encode(2, &"x".repeat(126), &mut long);
        let cases: [(&'static Function, &[u8]); 4] = [
            (add, &sum),
            (div, &by_zero),
            (add, b"\x0a\xff"),
            (greet, &long),
        ];
        for (f, message) in cases {
            let here = answered(f, 1000, message, false).await;
            let tonic = answered(f, 1000, message, true).await;
            assert_eq!(here, tonic, "{} {message:?}", f.name);
        }
        // A reply one byte past the limit (the request is within it): tonic
        // sends a broken message, then the failure in the trailers; here the
        // same failure comes alone.
        let (status, headers, data, trailers) = answered(greet, long.len(), &long, false).await;
        let (_, _, _, theirs) = answered(greet, long.len(), &long, true).await;
        let theirs = theirs.expect("tonic's trailers");
        assert_eq!((status, data, trailers), (200, vec![], None));
        assert_eq!(headers["grpc-status"], theirs["grpc-status"]);
        assert_eq!(headers["grpc-message"], theirs["grpc-message"]);
        assert_eq!(theirs["grpc-status"], "11");
    }

    #[test]
    fn the_checked_in_proto_is_the_generated_one() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../proto/calculator/v1/functions.proto"
        );
        let fresh = proto_file(&CALCULATOR);
        if std::env::var_os("OXBRIDGE_BLESS").is_some() {
            std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
            std::fs::write(path, &fresh).unwrap();
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == fresh,
            "{path} differs from the definitions: run `make protos`"
        );
    }

    #[test]
    fn requests_decode_by_signature_and_replies_round_trip() {
        let add = CALCULATOR.get("add").unwrap();
        let mut buf = Vec::new();
        encode_complex(1, Complex::new(-0.0, 1.5), &mut buf);
        encode_complex(2, Complex::new(2.0, f64::NAN), &mut buf);
        encoding::string::encode(9, &"ignored".to_owned(), &mut buf);
        let args = decode_request(add, &mut buf.as_slice()).unwrap();
        assert_eq!(args[0], Value::Complex(Complex::new(-0.0, 1.5)));
        assert!(matches!(args[0], Value::Complex(z) if z.re.is_sign_negative()));
        let greet = CALCULATOR.get("greet").unwrap();
        let mut buf = Vec::new();
        encoding::bytes::encode(2, &vec![0xff_u8], &mut buf);
        let e = decode_request(greet, &mut buf.as_slice()).unwrap_err();
        assert_eq!(e.message(), "argument 'name' is not valid UTF-8 text");
        let mut reply = Vec::new();
        encode_reply(&Value::Str("hi".into()), &mut reply);
        assert_eq!(reply, b"\x0a\x02hi");
        assert_eq!(method_name("pow_many"), "PowMany");
    }
}
