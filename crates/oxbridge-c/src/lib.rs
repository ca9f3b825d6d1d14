//! The calculator's C library: `liboxbridge.so` / `liboxbridge.a` and the
//! header `include/oxbridge.h`.
//!
//! Every `oxb_<name>` symbol is derived from the calculator's definition by
//! `oxbridge_ffi::c_symbols!`; the shared machinery (status codes, owned
//! strings and arrays, `oxb_abi_version`) comes from `oxbridge-ffi`. Only the
//! article's `compute`, which predates the mechanism, is written here.

use std::ffi::{c_char, CStr};
use std::panic::catch_unwind;

use oxbridge_core::export::{Arg, Value};
use oxbridge_core::CALCULATOR;
pub use oxbridge_ffi::*;

/// The calculator's symbols: `oxb_add`, `oxb_sub`, `oxb_mul`, `oxb_div`,
/// `oxb_greet`, ... one per exported function, derived from its definition,
/// and its `oxb_many`.
pub mod calculator {
    // The signatures name these types as the definitions do.
    use oxbridge_core::{Complex, CoreError};

    oxbridge_core::calculator_signatures!(oxbridge_ffi::c_symbols, oxbridge_core::CALCULATOR);
}

/// The commands of the article's `compute`.
const ARTICLE_COMMANDS: [&str; 4] = ["add", "sub", "mul", "div"];

/// The article's entry point, kept so its ctypes client works unchanged:
/// `compute("add" | "sub" | "mul" | "div", a, b)`, the article's four commands
/// and no others. It cannot report errors, so an unknown or null command,
/// invalid UTF-8 or a zero divisor gives NaN parts.
///
/// # Safety
/// `command` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn compute(
    command: *const c_char,
    a: OxbComplex,
    b: OxbComplex,
) -> OxbComplex {
    const NAN: OxbComplex = OxbComplex {
        re: f64::NAN,
        im: f64::NAN,
    };
    let result = catch_unwind(|| {
        if command.is_null() {
            return NAN;
        }
        // SAFETY: non-null and NUL-terminated, per the contract above.
        let command = unsafe { CStr::from_ptr(command) };
        let f = command
            .to_str()
            .ok()
            .filter(|name| ARTICLE_COMMANDS.contains(name))
            .and_then(|name| CALCULATOR.get(name));
        match f.map(|f| f.invoke(&[Arg::Complex(a.into()), Arg::Complex(b.into())])) {
            Some(Ok(Value::Complex(z))) => z.into(),
            _ => NAN,
        }
    });
    result.unwrap_or(NAN)
}

#[cfg(test)]
mod tests;
