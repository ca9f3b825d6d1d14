//! The JSON forms of complex numbers and floats, shared by the HTTP and IPC
//! bridges (the articles' formats), and decoding a JSON body.
//!
//! A complex number is `[re, im]`. JSON has no infinities or NaN, so a
//! non-finite part travels as one of the strings `"inf"`, `"-inf"`, `"nan"`
//! (what Python's `float()` reads back); finite parts are JSON numbers written
//! in shortest round-trip form and read back exactly, `-0.0` included.

use std::fmt;

use oxbridge_core::Complex;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

use crate::ground::error::CallError;

/// A complex number on the wire: `[re, im]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WireComplex(pub Complex);

/// One part of a complex number (or an `f64`) on the wire.
pub struct Part(pub f64);

impl Serialize for Part {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        if x.is_finite() {
            s.serialize_f64(x)
        } else if x.is_nan() {
            s.serialize_str("nan")
        } else if x > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PartVisitor;
        impl Visitor<'_> for PartVisitor {
            type Value = Part;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a number, "inf", "-inf" or "nan""#)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Part, E> {
                Ok(Part(v))
            }
            // Integers convert as Python's float(int) does: round half to even.
            #[allow(clippy::cast_precision_loss)]
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Part, E> {
                Ok(Part(v as f64))
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Part, E> {
                Ok(Part(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Part, E> {
                match v {
                    "inf" | "+inf" | "Infinity" => Ok(Part(f64::INFINITY)),
                    "-inf" | "-Infinity" => Ok(Part(f64::NEG_INFINITY)),
                    "nan" | "NaN" => Ok(Part(f64::NAN)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(PartVisitor)
    }
}

impl Serialize for WireComplex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&Part(self.0.re))?;
        t.serialize_element(&Part(self.0.im))?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for WireComplex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PairVisitor;
        impl<'de> Visitor<'de> for PairVisitor {
            type Value = WireComplex;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a complex number as [re, im]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireComplex, A::Error> {
                let re: Part = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let im: Part = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(WireComplex(Complex::new(re.0, im.0)))
            }
        }
        d.deserialize_seq(PairVisitor)
    }
}

impl utoipa::PartialSchema for WireComplex {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type,
        };
        let part = OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(SchemaType::new(Type::Number)))
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .enum_values(Some([
                        "inf",
                        "+inf",
                        "Infinity",
                        "-inf",
                        "-Infinity",
                        "nan",
                        "NaN",
                    ])),
            )
            .description(Some(
                "A finite part as a JSON number; a non-finite one as a string",
            ));
        ArrayBuilder::new()
            .items(part)
            .min_items(Some(2))
            .max_items(Some(2))
            .description(Some("A complex number as [real, imaginary]"))
            .into()
    }
}

impl utoipa::ToSchema for WireComplex {}

/// Decodes a JSON body as `T`, naming what was wrong with it.
///
/// # Errors
/// [`CallError::BadRequest`] with serde's explanation.
pub fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, CallError> {
    serde_json::from_slice(body)
        .map_err(|e| CallError::BadRequest(format!("invalid request body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(z: Complex) -> Complex {
        let text = serde_json::to_string(&WireComplex(z)).unwrap();
        serde_json::from_str::<WireComplex>(&text).unwrap().0
    }

    #[test]
    fn every_float_round_trips_exactly() {
        for x in [
            0.0,
            -0.0,
            5e-324,
            1e308,
            -1.797_693_134_862_315_7e308,
            0.1,
            1.0 / 3.0,
        ] {
            let back = round_trip(Complex::new(x, -x));
            assert_eq!(
                (back.re.to_bits(), back.im.to_bits()),
                (x.to_bits(), (-x).to_bits())
            );
        }
    }

    #[test]
    fn non_finite_parts_are_strings() {
        let text =
            serde_json::to_string(&WireComplex(Complex::new(f64::INFINITY, f64::NAN))).unwrap();
        assert_eq!(text, r#"["inf","nan"]"#);
        let back = round_trip(Complex::new(f64::NEG_INFINITY, f64::NAN));
        assert!(back.re == f64::NEG_INFINITY && back.im.is_nan());
    }

    #[test]
    fn malformed_pairs_are_bad_requests() {
        for text in [r#"[1]"#, r#"[1,2,3]"#, r#""x""#, r#"["1",2]"#] {
            assert!(serde_json::from_str::<WireComplex>(text).is_err(), "{text}");
        }
    }
}
