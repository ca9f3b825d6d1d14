//! The types an exported function may take and return, and how Rust types map to them.
//!
//! Each type has one form per bridge (documented in `docs/src/types.md`): a JSON
//! value, a protobuf field, a C parameter, a Python object.

use crate::complex::Complex;
use crate::error::{CoreError, ErrorKind};

/// The type of an argument or result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `bool`
    Bool,
    /// A signed 64-bit integer (Python `int` in range).
    I64,
    /// A 64-bit float.
    F64,
    /// A complex number of two `f64`.
    Complex,
    /// Unicode text (UTF-8).
    Str,
    /// Raw bytes.
    Bytes,
    /// A 1-D array of `f64` (numpy float64).
    F64Array,
    /// A 1-D array of `i64` (numpy int64).
    I64Array,
    /// A 1-D array of complex numbers (numpy complex128).
    ComplexArray,
}

impl Type {
    /// Every type.
    pub const ALL: [Type; 9] = [
        Type::Bool,
        Type::I64,
        Type::F64,
        Type::Complex,
        Type::Str,
        Type::Bytes,
        Type::F64Array,
        Type::I64Array,
        Type::ComplexArray,
    ];

    /// The type's name in the function catalogue (`"complex"`, `"f64[]"`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::I64 => "i64",
            Type::F64 => "f64",
            Type::Complex => "complex",
            Type::Str => "str",
            Type::Bytes => "bytes",
            Type::F64Array => "f64[]",
            Type::I64Array => "i64[]",
            Type::ComplexArray => "complex[]",
        }
    }

    /// The type of catalogue name `name` (the inverse of [`Type::name`]).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Type> {
        Type::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether a function of such scalars gets a vectorized `_many` form.
    #[must_use]
    pub const fn is_numeric_scalar(self) -> bool {
        matches!(self, Type::I64 | Type::F64 | Type::Complex)
    }

    /// The element type of an array type.
    #[must_use]
    pub const fn element(self) -> Option<Type> {
        match self {
            Type::I64Array => Some(Type::I64),
            Type::F64Array => Some(Type::F64),
            Type::ComplexArray => Some(Type::Complex),
            _ => None,
        }
    }

    /// The array of this element type, for a numeric scalar.
    #[must_use]
    pub const fn array(self) -> Option<Type> {
        match self {
            Type::I64 => Some(Type::I64Array),
            Type::F64 => Some(Type::F64Array),
            Type::Complex => Some(Type::ComplexArray),
            _ => None,
        }
    }
}

/// An argument as a bridge hands it to a function: borrowed, so that text,
/// bytes and arrays are not copied on their way in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arg<'a> {
    /// A [`Type::Bool`].
    Bool(bool),
    /// A [`Type::I64`].
    I64(i64),
    /// A [`Type::F64`].
    F64(f64),
    /// A [`Type::Complex`].
    Complex(Complex),
    /// A [`Type::Str`].
    Str(&'a str),
    /// A [`Type::Bytes`].
    Bytes(&'a [u8]),
    /// A [`Type::F64Array`].
    F64Array(&'a [f64]),
    /// A [`Type::I64Array`].
    I64Array(&'a [i64]),
    /// A [`Type::ComplexArray`].
    ComplexArray(&'a [Complex]),
}

impl Arg<'_> {
    /// The argument's type.
    #[must_use]
    pub const fn ty(&self) -> Type {
        match self {
            Arg::Bool(_) => Type::Bool,
            Arg::I64(_) => Type::I64,
            Arg::F64(_) => Type::F64,
            Arg::Complex(_) => Type::Complex,
            Arg::Str(_) => Type::Str,
            Arg::Bytes(_) => Type::Bytes,
            Arg::F64Array(_) => Type::F64Array,
            Arg::I64Array(_) => Type::I64Array,
            Arg::ComplexArray(_) => Type::ComplexArray,
        }
    }
}

/// A result, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A [`Type::Bool`].
    Bool(bool),
    /// A [`Type::I64`].
    I64(i64),
    /// A [`Type::F64`].
    F64(f64),
    /// A [`Type::Complex`].
    Complex(Complex),
    /// A [`Type::Str`].
    Str(String),
    /// A [`Type::Bytes`].
    Bytes(Vec<u8>),
    /// A [`Type::F64Array`].
    F64Array(Vec<f64>),
    /// A [`Type::I64Array`].
    I64Array(Vec<i64>),
    /// A [`Type::ComplexArray`].
    ComplexArray(Vec<Complex>),
}

impl Value {
    /// The value's type.
    #[must_use]
    pub fn ty(&self) -> Type {
        self.as_arg().ty()
    }

    /// The value borrowed as an argument (bridges decode into values, then
    /// hand the function arguments).
    #[must_use]
    pub fn as_arg(&self) -> Arg<'_> {
        match self {
            Value::Bool(v) => Arg::Bool(*v),
            Value::I64(v) => Arg::I64(*v),
            Value::F64(v) => Arg::F64(*v),
            Value::Complex(v) => Arg::Complex(*v),
            Value::Str(v) => Arg::Str(v),
            Value::Bytes(v) => Arg::Bytes(v),
            Value::F64Array(v) => Arg::F64Array(v),
            Value::I64Array(v) => Arg::I64Array(v),
            Value::ComplexArray(v) => Arg::ComplexArray(v),
        }
    }
}

/// A Rust type with a [`Type`]: what `export!` reads from a signature.
pub trait Typed {
    /// Its type.
    const TYPE: Type;
}

/// A Rust type an exported function can take as an argument.
pub trait FromArg<'a>: Typed + Copy + Send + Sync + Sized {
    /// The value, when `arg` is of [`Typed::TYPE`].
    fn from_arg(arg: &Arg<'a>) -> Option<Self>;
    /// A whole array of this type, for a numeric scalar: the `_many` column.
    fn column(arg: &Arg<'a>) -> Option<&'a [Self]>;
}

/// A Rust type an exported function can return.
pub trait IntoValue: Typed + Send + Sized {
    /// The owned value.
    fn into_value(self) -> Value;
    /// The output array of a `_many` call, for a numeric scalar.
    fn out_column<'b>(out: &'b mut OutArray<'_>) -> Option<&'b mut [Self]>;
}

/// What an exported function returns: a value, or a `Result` of one.
pub trait Outcome {
    /// The value's Rust type.
    type Ok: IntoValue;
    /// The value or the function's error.
    ///
    /// # Errors
    /// The function's own error.
    fn into_result(self) -> Result<Self::Ok, CoreError>;
}

impl<T: IntoValue> Outcome for T {
    type Ok = T;
    #[inline]
    fn into_result(self) -> Result<T, CoreError> {
        Ok(self)
    }
}

impl<T: IntoValue> Outcome for Result<T, CoreError> {
    type Ok = T;
    #[inline]
    fn into_result(self) -> Result<T, CoreError> {
        self
    }
}

/// The output array of a `_many` call.
#[derive(Debug)]
pub enum OutArray<'a> {
    /// float64 results.
    F64(&'a mut [f64]),
    /// int64 results.
    I64(&'a mut [i64]),
    /// complex128 results.
    Complex(&'a mut [Complex]),
}

impl OutArray<'_> {
    /// The number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            OutArray::F64(v) => v.len(),
            OutArray::I64(v) => v.len(),
            OutArray::Complex(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

macro_rules! numeric {
    ($t:ty, $ty:ident, $array:ident, $out:ident) => {
        impl Typed for $t {
            const TYPE: Type = Type::$ty;
        }
        impl<'a> FromArg<'a> for $t {
            #[inline]
            fn from_arg(arg: &Arg<'a>) -> Option<Self> {
                match *arg {
                    Arg::$ty(v) => Some(v),
                    _ => None,
                }
            }
            #[inline]
            fn column(arg: &Arg<'a>) -> Option<&'a [Self]> {
                match *arg {
                    Arg::$array(v) => Some(v),
                    _ => None,
                }
            }
        }
        impl IntoValue for $t {
            #[inline]
            fn into_value(self) -> Value {
                Value::$ty(self)
            }
            #[inline]
            fn out_column<'b>(out: &'b mut OutArray<'_>) -> Option<&'b mut [Self]> {
                match out {
                    OutArray::$out(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}

numeric!(i64, I64, I64Array, I64);
numeric!(f64, F64, F64Array, F64);
numeric!(Complex, Complex, ComplexArray, Complex);

/// A type with no `_many` form: borrowed as an argument, owned as a result.
macro_rules! plain {
    ($borrowed:ty, $owned:ty, $ty:ident) => {
        impl<'a> Typed for $borrowed {
            const TYPE: Type = Type::$ty;
        }
        impl<'a> FromArg<'a> for $borrowed {
            #[inline]
            fn from_arg(arg: &Arg<'a>) -> Option<Self> {
                match *arg {
                    Arg::$ty(v) => Some(v),
                    _ => None,
                }
            }
            fn column(_: &Arg<'a>) -> Option<&'a [Self]> {
                None
            }
        }
        impl Typed for $owned {
            const TYPE: Type = Type::$ty;
        }
        impl IntoValue for $owned {
            #[inline]
            fn into_value(self) -> Value {
                Value::$ty(self)
            }
            fn out_column<'b>(_: &'b mut OutArray<'_>) -> Option<&'b mut [Self]> {
                None
            }
        }
    };
}

plain!(&'a str, String, Str);
plain!(&'a [u8], Vec<u8>, Bytes);
plain!(&'a [f64], Vec<f64>, F64Array);
plain!(&'a [i64], Vec<i64>, I64Array);
plain!(&'a [Complex], Vec<Complex>, ComplexArray);

impl Typed for bool {
    const TYPE: Type = Type::Bool;
}
impl FromArg<'_> for bool {
    #[inline]
    fn from_arg(arg: &Arg<'_>) -> Option<Self> {
        match *arg {
            Arg::Bool(v) => Some(v),
            _ => None,
        }
    }
    fn column<'a>(_: &Arg<'a>) -> Option<&'a [Self]> {
        None
    }
}
impl IntoValue for bool {
    #[inline]
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
    fn out_column<'b>(_: &'b mut OutArray<'_>) -> Option<&'b mut [Self]> {
        None
    }
}

/// The error for an argument a bridge handed over with the wrong type: a
/// fault of the bridge, never of the caller (bridges decode by the signature).
#[cold]
#[must_use]
pub fn wrong_type(function: &str, arg: &str, want: Type) -> CoreError {
    CoreError::new(
        ErrorKind::Internal,
        format!(
            "{function}: argument '{arg}' was not passed as {}",
            want.name()
        ),
    )
}
