//! One C symbol per exported function, derived from its definition.
//!
//! `export!`'s signature list is handed to [`c_symbols!`], which writes
//! `oxb_<name>(<one C parameter per argument>, <result type> *out, OxbString *err)`
//! for every function: each argument's C type and each result's come from the
//! [`CArg`] and [`COut`] traits, the call goes through the function's
//! description, and [`c_declarations`] writes the matching header lines.

use oxbridge_core::export::{Arg, Function, Library, Type, Value};
use oxbridge_core::{Complex, CoreError};

use crate::values::{
    OxbBytes, OxbComplexArray, OxbComplexes, OxbF64Array, OxbF64s, OxbI64Array, OxbI64s, OxbStr,
};
use crate::{bytes_arg, slice_arg, Failure, OxbComplex, OxbString};

/// A Rust argument type's C form.
pub trait CArg {
    /// The C parameter.
    type C: Copy;
    /// The argument, borrowed from the C parameter.
    ///
    /// # Safety
    /// Pointers in `c` are null with length 0, or valid for their length for
    /// the duration of the call.
    ///
    /// # Errors
    /// A null pointer with a length, or text that is not UTF-8.
    unsafe fn arg<'a>(c: &'a Self::C, name: &'static str) -> Result<Arg<'a>, Failure>;
}

/// A Rust result type's C form.
pub trait COut {
    /// What `out` points to.
    type C;
    /// The C result.
    ///
    /// # Errors
    /// An internal error when the value is not of the declared type.
    fn out(value: Value) -> Result<Self::C, Failure>;
}

macro_rules! plain_arg {
    ($t:ty, $c:ty, $variant:ident, |$v:ident| $conv:expr) => {
        impl CArg for $t {
            type C = $c;
            unsafe fn arg<'a>(c: &'a $c, _: &'static str) -> Result<Arg<'a>, Failure> {
                let $v = *c;
                Ok(Arg::$variant($conv))
            }
        }
    };
}

plain_arg!(bool, bool, Bool, |v| v);
plain_arg!(i64, i64, I64, |v| v);
plain_arg!(f64, f64, F64, |v| v);
plain_arg!(Complex, OxbComplex, Complex, |v| Complex::from(v));

impl CArg for &'_ str {
    type C = OxbStr;
    unsafe fn arg<'a>(c: &'a OxbStr, name: &'static str) -> Result<Arg<'a>, Failure> {
        // SAFETY: the caller's contract.
        let bytes = unsafe { bytes_arg(c.ptr, c.len, name)? };
        std::str::from_utf8(bytes)
            .map(Arg::Str)
            .map_err(|_| Failure::Core(CoreError::InvalidUtf8 { arg: name }))
    }
}

impl CArg for &'_ [u8] {
    type C = OxbBytes;
    unsafe fn arg<'a>(c: &'a OxbBytes, name: &'static str) -> Result<Arg<'a>, Failure> {
        // SAFETY: the caller's contract.
        Ok(Arg::Bytes(unsafe { bytes_arg(c.ptr, c.len, name)? }))
    }
}

impl CArg for &'_ [f64] {
    type C = OxbF64s;
    unsafe fn arg<'a>(c: &'a OxbF64s, name: &'static str) -> Result<Arg<'a>, Failure> {
        // SAFETY: the caller's contract.
        Ok(Arg::F64Array(unsafe { slice_arg(c.ptr, c.len, name)? }))
    }
}

impl CArg for &'_ [i64] {
    type C = OxbI64s;
    unsafe fn arg<'a>(c: &'a OxbI64s, name: &'static str) -> Result<Arg<'a>, Failure> {
        // SAFETY: the caller's contract.
        Ok(Arg::I64Array(unsafe { slice_arg(c.ptr, c.len, name)? }))
    }
}

impl CArg for &'_ [Complex] {
    type C = OxbComplexes;
    unsafe fn arg<'a>(c: &'a OxbComplexes, name: &'static str) -> Result<Arg<'a>, Failure> {
        // SAFETY: the caller's contract; `OxbComplex` and `Complex` are both
        // `#[repr(C)]` pairs of f64, so the cast keeps size and alignment.
        let z = unsafe { slice_arg(c.ptr.cast::<Complex>(), c.len, name)? };
        Ok(Arg::ComplexArray(z))
    }
}

fn mismatch(value: &Value) -> Failure {
    Failure::Core(CoreError::InvalidArgument(format!(
        "internal: a result of type {} where the signature says otherwise",
        value.ty().name()
    )))
}

macro_rules! out {
    ($t:ty, $c:ty, $variant:ident, |$v:ident| $conv:expr) => {
        impl COut for $t {
            type C = $c;
            fn out(value: Value) -> Result<$c, Failure> {
                match value {
                    Value::$variant($v) => Ok($conv),
                    other => Err(mismatch(&other)),
                }
            }
        }
    };
}

out!(bool, bool, Bool, |v| v);
out!(i64, i64, I64, |v| v);
out!(f64, f64, F64, |v| v);
out!(Complex, OxbComplex, Complex, |v| OxbComplex::from(v));
out!(String, OxbString, Str, |v| OxbString::from_bytes(
    v.into_bytes()
));
out!(Vec<u8>, OxbString, Bytes, |v| OxbString::from_bytes(v));
out!(Vec<f64>, OxbF64Array, F64Array, |v| OxbF64Array::from_vec(
    v
));
out!(Vec<i64>, OxbI64Array, I64Array, |v| OxbI64Array::from_vec(
    v
));
out!(Vec<Complex>, OxbComplexArray, ComplexArray, |v| {
    OxbComplexArray::from_vec(v.into_iter().map(OxbComplex::from).collect())
});

/// Calls `name` in `library` with converted arguments: the body of every
/// generated symbol.
///
/// # Errors
/// The function's error, or an unknown name (a build inconsistency).
pub fn invoke(library: &Library, name: &str, args: &[Arg<'_>]) -> Result<Value, Failure> {
    let f = library.lookup(name)?;
    Ok((f.call)(args)?)
}

/// As [`invoke`], with the function found once per symbol (`found`)
/// rather than by name on every call.
///
/// # Errors
/// As [`invoke`].
#[inline]
pub fn invoke_found(
    found: &std::sync::OnceLock<Option<&'static Function>>,
    library: &'static Library,
    name: &str,
    args: &[Arg<'_>],
) -> Result<Value, Failure> {
    let f = found
        .get_or_init(|| library.get(name))
        .ok_or_else(|| CoreError::UnknownOperation(name.to_owned()))?;
    Ok((f.call)(args)?)
}

/// Writes one `oxb_<name>` symbol per signature `export!` hands over.
#[macro_export]
macro_rules! c_symbols {
    ($library:path ; $( $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty ; )*) => {
        $(
            #[doc = concat!("The C symbol `oxb_", stringify!($name), "`.")]
            #[allow(non_snake_case)]
            pub mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[doc = concat!("`oxb_", stringify!($name), "`: see the header.")]
                ///
                /// # Safety
                /// Pointer arguments are null with length 0 or valid for
                /// their length; `out` is null or writable; `err` is null or
                /// writable storage for one `OxbString`.
                #[export_name = concat!("oxb_", stringify!($name))]
                pub unsafe extern "C" fn symbol(
                    $($arg: <$ty as $crate::exported::CArg>::C,)*
                    out: *mut <<$ret as oxbridge_core::export::Outcome>::Ok as $crate::exported::COut>::C,
                    err: *mut $crate::OxbString,
                ) -> $crate::OxbStatus {
                    let body = || {
                        // Before the call: an owned result must never be made
                        // only to be lost.
                        if out.is_null() {
                            return Err($crate::null_argument("out"));
                        }
                        let args = [$(
                            // SAFETY: the caller's contract, above.
                            unsafe { <$ty as $crate::exported::CArg>::arg(&$arg, stringify!($arg))? }
                        ),*];
                        static FOUND: ::std::sync::OnceLock<
                            Option<&'static oxbridge_core::export::Function>,
                        > = ::std::sync::OnceLock::new();
                        let value = $crate::exported::invoke_found(
                            &FOUND,
                            &$library,
                            stringify!($name),
                            &args,
                        )?;
                        let c = <<$ret as oxbridge_core::export::Outcome>::Ok as $crate::exported::COut>::out(value)?;
                        // SAFETY: `out` is null or writable, per the contract.
                        unsafe { $crate::write_out(out, c) }
                    };
                    // SAFETY: `err` is null or writable, per the contract.
                    unsafe { $crate::guard(err, body) }
                }
            }
        )*

        /// `oxb_many`: the vectorized form of this library's numeric
        /// functions, by name; see the header.
        ///
        /// # Safety
        /// `function` is valid for its length; `args` points to `nargs`
        /// columns, each valid for its length of its parameter's element
        /// type; `out` to `out_len` writable elements of the result's type;
        /// `err` is null or writable storage for one `OxbString`.
        #[no_mangle]
        pub unsafe extern "C" fn oxb_many(
            function: $crate::values::OxbStr,
            args: *const $crate::many::OxbColumn,
            nargs: usize,
            out: *mut ::std::ffi::c_void,
            out_len: usize,
            err: *mut $crate::OxbString,
        ) -> $crate::OxbStatus {
            // SAFETY: the caller's contract, passed on unchanged.
            let body = || unsafe { $crate::many::call_many(&$library, function, args, nargs, out, out_len) };
            // SAFETY: `err` is null or writable, per the contract.
            unsafe { $crate::guard(err, body) }
        }
    };
}

/// The C type of a parameter of `ty`.
#[must_use]
pub const fn c_arg(ty: Type) -> &'static str {
    match ty {
        Type::Bool => "bool",
        Type::I64 => "int64_t",
        Type::F64 => "double",
        Type::Complex => "OxbComplex",
        Type::Str => "OxbStr",
        Type::Bytes => "OxbBytes",
        Type::F64Array => "OxbF64s",
        Type::I64Array => "OxbI64s",
        Type::ComplexArray => "OxbComplexes",
    }
}

/// The C type `out` points to for a result of `ty`.
#[must_use]
pub const fn c_out(ty: Type) -> &'static str {
    match ty {
        Type::Bool => "bool",
        Type::I64 => "int64_t",
        Type::F64 => "double",
        Type::Complex => "OxbComplex",
        Type::Str | Type::Bytes => "OxbString",
        Type::F64Array => "OxbF64Array",
        Type::I64Array => "OxbI64Array",
        Type::ComplexArray => "OxbComplexArray",
    }
}

/// The header's declarations of every function in `library`, with their docs.
#[must_use]
pub fn c_declarations(library: &Library) -> String {
    let mut out = String::new();
    for f in library.functions {
        out.push_str(&declaration(f));
    }
    out.push_str(crate::many::DECLARATION);
    out
}

/// The calculator's header, `include/oxbridge.h` (generated by `oxbridge-c`
/// and checked for drift there): the types every library shares. Read
/// through the crate's own `oxbridge.h`, a link to it, which a packaged
/// crate carries as a file.
const CALCULATOR_HEADER: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/oxbridge.h"));

/// The doc comment that opens the article's `compute` in the calculator's
/// header, and the end of its declaration.
const COMPUTE: (&str, &str) = ("// The article's entry point", "OxbComplex b);\n\n");

/// The C header of `library`: the shared types and functions of the ABI,
/// then one declaration per exported function. For the calculator this is
/// `include/oxbridge.h` itself; any other library gets the same header with
/// its own functions in place of the calculator's (and no `compute`, the
/// article's calculator-only entry point).
#[must_use]
pub fn header(library: &Library) -> String {
    let calculator = c_declarations(&oxbridge_core::CALCULATOR);
    if library.name == oxbridge_core::CALCULATOR.name {
        return CALCULATOR_HEADER.to_owned();
    }
    let mut text = CALCULATOR_HEADER.replacen(&calculator, &c_declarations(library), 1);
    if let Some(start) = text.find(COMPUTE.0) {
        if let Some(len) = text[start..].find(COMPUTE.1) {
            text.replace_range(start..start + len + COMPUTE.1.len(), "");
        }
    }
    text
}

fn declaration(f: &Function) -> String {
    let mut text = String::new();
    for line in f.doc_text().lines() {
        text.push_str(format!("// {line}").trim_end());
        text.push('\n');
    }
    let head = format!("OxbStatus oxb_{}(", f.name);
    let indent = " ".repeat(head.len());
    let mut params: Vec<String> = f
        .params
        .iter()
        .map(|p| format!("{} {}", c_arg(p.ty), p.name))
        .collect();
    params.push(format!("{} *out", c_out(f.returns)));
    params.push("OxbString *err".to_owned());
    text.push_str(&head);
    text.push_str(&params.join(&format!(",\n{indent}")));
    text.push_str(");\n\n");
    text
}
