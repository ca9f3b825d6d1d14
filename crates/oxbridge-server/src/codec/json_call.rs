//! Any exported function over JSON, for the HTTP and IPC bridges: arguments
//! are the fields of one object, named as the function's parameters, and the
//! reply is `{"<result field>": value}`.
//!
//! Each type's JSON form (see `docs/src/types.md`): `bool` and `i64` as JSON
//! booleans and integers; `f64` as a number, or `"inf"`, `"-inf"`, `"nan"`;
//! complex as `[re, im]` of such parts; `str` as a string; `bytes` as a
//! base64 string (RFC 4648, with padding); arrays as lists of their elements.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine as _;
use oxbridge_core::export::{Function, Type, Value};
use oxbridge_core::{Complex, CoreError};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::codec::wire::{Part, WireComplex};
use crate::ground::config::Limits;
use crate::ground::error::CallError;

/// A request object's fields, kept raw until the signature says how to read them.
pub type Fields<'a> = HashMap<Cow<'a, str>, &'a RawValue>;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Calls `f` with the arguments read from `fields` and encodes its reply.
///
/// # Errors
/// [`CallError::BadRequest`] for a missing or malformed argument;
/// [`CallError::TooLarge`] for arguments over the limit (measured on them,
/// not on their JSON); the function's own error.
pub fn call(f: &Function, fields: &Fields<'_>, limits: &Limits) -> Result<Vec<u8>, CallError> {
    let args = f
        .params
        .iter()
        .map(|p| {
            let raw = fields.get(p.name).ok_or_else(|| {
                CallError::BadRequest(format!("{:?} needs field {:?}", f.name, p.name))
            })?;
            decode(raw, p.ty, p.name)
        })
        .collect::<Result<crate::ground::library::Args, CallError>>()?;
    limits.check_arguments(&args)?;
    let args: smallvec::SmallVec<[_; 4]> = args.iter().map(Value::as_arg).collect();
    let value = f.invoke(&args)?;
    Ok(reply(f.result_field, &value))
}

/// `{"<field>": value}`.
#[must_use]
pub fn reply(field: &str, value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(b'{');
    // Field names are Rust identifiers: nothing to escape.
    out.extend_from_slice(b"\"");
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(b"\":");
    encode_into(value, &mut out);
    out.push(b'}');
    out
}

fn encode_into(value: &Value, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail, and our values are plain data.
    let mut write = |v: &dyn erased::Ser| {
        let _ = v.to_writer(out);
    };
    match value {
        Value::Bool(v) => write(v),
        Value::I64(v) => write(v),
        Value::F64(v) => write(&Part(*v)),
        Value::Complex(z) => write(&WireComplex(*z)),
        Value::Str(s) => write(s),
        Value::Bytes(b) => write(&BASE64.encode(b)),
        Value::F64Array(v) => write(&v.iter().map(|x| Part(*x)).collect::<Vec<_>>()),
        Value::I64Array(v) => write(v),
        Value::ComplexArray(v) => write(&v.iter().map(|z| WireComplex(*z)).collect::<Vec<_>>()),
    }
}

/// Object-safe `serde_json::to_writer`, so one closure writes every type.
mod erased {
    pub trait Ser {
        fn to_writer(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_writer(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
            serde_json::to_writer(out, self)
        }
    }
}

fn bad(name: &str, want: &str, e: impl std::fmt::Display) -> CallError {
    CallError::BadRequest(format!("argument '{name}' must be {want}: {e}"))
}

fn parse<'a, T: Deserialize<'a>>(
    raw: &'a RawValue,
    name: &str,
    want: &str,
) -> Result<T, CallError> {
    serde_json::from_str(raw.get()).map_err(|e| bad(name, want, e))
}

/// Reads one argument of type `ty` from its raw JSON.
///
/// # Errors
/// [`CallError::BadRequest`] naming the argument; text with a lone surrogate
/// is the core's invalid-UTF-8 error, as on every bridge.
pub fn decode(raw: &RawValue, ty: Type, name: &'static str) -> Result<Value, CallError> {
    Ok(match ty {
        Type::Bool => Value::Bool(parse(raw, name, "a JSON boolean")?),
        Type::I64 => Value::I64(parse(raw, name, "an integer from -2**63 to 2**63-1")?),
        Type::F64 => Value::F64(parse::<Part>(raw, name, "a number")?.0),
        Type::Complex => Value::Complex(parse::<WireComplex>(raw, name, "[re, im]")?.0),
        Type::Str => Value::Str(text(raw, name)?),
        Type::Bytes => {
            let text: Cow<'_, str> = parse(raw, name, "a base64 string")?;
            Value::Bytes(
                BASE64
                    .decode(text.as_bytes())
                    .map_err(|e| bad(name, "a base64 string", e))?,
            )
        }
        Type::F64Array => Value::F64Array(
            parse::<Vec<Part>>(raw, name, "a list of numbers")?
                .into_iter()
                .map(|p| p.0)
                .collect(),
        ),
        Type::I64Array => Value::I64Array(parse(raw, name, "a list of integers")?),
        Type::ComplexArray => Value::ComplexArray(
            parse::<Vec<WireComplex>>(raw, name, "a list of [re, im]")?
                .into_iter()
                .map(|z| z.0)
                .collect::<Vec<Complex>>(),
        ),
    })
}

/// A JSON string as text; one holding an escaped lone surrogate (which has
/// no UTF-8 form) is the core's invalid-UTF-8 error for that argument.
fn text(raw: &RawValue, arg: &'static str) -> Result<String, CallError> {
    match serde_json::from_str::<String>(raw.get()) {
        Ok(s) => Ok(s),
        // Valid JSON (RawValue checked it) that is a string yet not a Rust
        // String: it holds an escaped lone surrogate.
        Err(_) if raw.get().starts_with('"') => Err(CoreError::InvalidUtf8 { arg }.into()),
        Err(_) => Err(CallError::BadRequest(format!(
            "argument '{arg}' must be a JSON string"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbridge_core::CALCULATOR;

    fn run(name: &str, body: &str) -> Result<String, CallError> {
        let fields: Fields<'_> = serde_json::from_str(body).unwrap();
        call(CALCULATOR.get(name).unwrap(), &fields, &Limits::default())
            .map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn the_articles_shapes() {
        assert_eq!(
            run("add", r#"{"a":[1.0,3.0],"b":[0.0,-5.0]}"#).unwrap(),
            r#"{"result":[1.0,-2.0]}"#
        );
        assert_eq!(
            run("greet", r#"{"greeting":"a\u0000b","name":"\ud83e\udd80"}"#).unwrap(),
            r#"{"message":"a\u0000b, 🦀"}"#
        );
        assert_eq!(
            run("greet", r#"{"greeting":"hi","name":"\ud800"}"#),
            Err(CallError::Core(CoreError::InvalidUtf8 { arg: "name" }))
        );
        assert_eq!(
            run("div", r#"{"a":[1,0],"b":[0,0]}"#),
            Err(CoreError::ZeroDivision.into())
        );
        let missing = run("add", r#"{"a":[1,0]}"#).unwrap_err();
        assert_eq!(missing.to_string(), r#""add" needs field "b""#);
    }

    #[test]
    fn every_type_round_trips() {
        let cases: [(Type, &str); 9] = [
            (Type::Bool, "true"),
            (Type::I64, "-9223372036854775808"),
            (Type::F64, r#""-inf""#),
            (Type::Complex, r#"[-0.0,"nan"]"#),
            (Type::Str, r#""x""#),
            (Type::Bytes, r#""AP8=""#),
            (Type::F64Array, r#"[0.5,"inf"]"#),
            (Type::I64Array, "[1,-2]"),
            (Type::ComplexArray, "[[1.0,2.0]]"),
        ];
        for (ty, text) in cases {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            let value = decode(raw, ty, "x").unwrap();
            assert_eq!(value.ty(), ty);
            assert_eq!(
                reply("r", &value),
                format!(r#"{{"r":{text}}}"#).into_bytes(),
                "{ty:?}"
            );
        }
        for (ty, text) in [
            (Type::I64, "1.5"),
            (Type::I64, "9223372036854775808"),
            (Type::Bytes, r#""*""#),
            (Type::Bool, "1"),
        ] {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            assert!(
                matches!(decode(raw, ty, "x"), Err(CallError::BadRequest(_))),
                "{text}"
            );
        }
    }
}
