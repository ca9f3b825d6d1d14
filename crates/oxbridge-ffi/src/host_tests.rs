//! The library ABI end to end in one process: a library described by
//! `library::describe`, read back by `host::from_descriptor`, and called
//! across with every type, as the runtime calls a loaded library.

use oxbridge_core::export::{Arg, Library, OutArray, Value};
use oxbridge_core::{Complex, CoreError, ErrorKind, CALCULATOR};

use crate::host::from_descriptor;
use crate::library::OxbLibrary;

oxbridge_core::export! {
    /// Every type, there and back.
    pub static EVERY = "every";

    /// A bool.
    pub fn not(v: bool) -> bool { !v }
    /// An i64; raises past the range.
    #[raises(Overflow)]
    pub fn inc(v: i64) -> Result<i64, CoreError> {
        v.checked_add(1).ok_or(CoreError::new(ErrorKind::Overflow, "integer overflow"))
    }
    /// An f64.
    pub fn half(v: f64) -> f64 { v / 2.0 }
    /// Text, with its own result field.
    #[result(text)]
    pub fn upper(v: &str) -> String { v.to_uppercase() }
    /// Bytes.
    pub fn rev(v: &[u8]) -> Vec<u8> { v.iter().rev().copied().collect() }
    /// Arrays of each element type.
    pub fn twice(v: &[f64]) -> Vec<f64> { v.iter().map(|x| x * 2.0).collect() }
    /// Ints.
    pub fn neg(v: &[i64]) -> Vec<i64> { v.iter().map(|x| x.wrapping_neg()).collect() }
    /// Complex numbers.
    pub fn conj(v: &[Complex]) -> Vec<Complex> { v.iter().map(|z| Complex::new(z.re, -z.im)).collect() }
    /// A panic, which must not cross.
    pub fn boom(v: i64) -> i64 { if v > 0 { panic!("boom {v}") } else { v } }
}

macro_rules! descriptor {
    ($library:path) => {
        // SAFETY: `describe` returns a pointer into a static.
        unsafe { &*crate::describe_library!($library) }
    };
}

fn every() -> &'static OxbLibrary {
    descriptor!(EVERY)
}

fn loaded(described: &'static OxbLibrary) -> &'static Library {
    from_descriptor(described).expect("loads")
}

fn call(library: &Library, name: &str, args: &[Arg<'_>]) -> Result<Value, CoreError> {
    library.lookup(name)?.invoke(args)
}

#[test]
fn the_catalogue_crosses_whole() {
    let library = loaded(every());
    assert_eq!(library.name, "every");
    assert_eq!(library.version, EVERY.version);
    assert_eq!(library.contract(), EVERY.contract());
    assert_eq!(library.checksum(), EVERY.checksum());
    let upper = library.get("upper").unwrap();
    assert_eq!(upper.result_field, "text");
    assert_eq!(upper.doc, EVERY.get("upper").unwrap().doc);
    assert_eq!(library.get("inc").unwrap().raises, &[ErrorKind::Overflow]);
    assert!(library.get("inc").unwrap().many.is_some());
    assert!(library.get("rev").unwrap().many.is_none());
}

#[test]
fn every_type_crosses_there_and_back() {
    let library = loaded(every());
    let z = [Complex::new(1.0, -0.0), Complex::new(f64::INFINITY, 2.5)];
    let cases: Vec<(&str, Arg<'_>)> = vec![
        ("not", Arg::Bool(true)),
        ("inc", Arg::I64(-7)),
        ("half", Arg::F64(-0.0)),
        ("upper", Arg::Str("héllo\0wörld")),
        ("upper", Arg::Str("")),
        ("rev", Arg::Bytes(b"\x00\xffab")),
        ("rev", Arg::Bytes(b"")),
        ("twice", Arg::F64Array(&[1.5, f64::MAX, -0.0])),
        ("twice", Arg::F64Array(&[])),
        ("neg", Arg::I64Array(&[i64::MIN, 3])),
        ("conj", Arg::ComplexArray(&z)),
    ];
    for (name, arg) in cases {
        let across = call(library, name, &[arg]).unwrap();
        let direct = call(&EVERY, name, &[arg]).unwrap();
        assert_eq!(
            format!("{across:?}"),
            format!("{direct:?}"),
            "{name}({arg:?})"
        );
    }
}

#[test]
fn errors_cross_with_their_kind_and_message() {
    let library = loaded(every());
    let across = call(library, "inc", &[Arg::I64(i64::MAX)]).unwrap_err();
    assert_eq!(across.kind(), ErrorKind::Overflow);
    assert_eq!(across.to_string(), "integer overflow");
    // A panic in the library is an internal error, never an unwind.
    let panicked = call(library, "boom", &[Arg::I64(3)]).unwrap_err();
    assert_eq!(panicked.kind(), ErrorKind::Internal);
    assert!(panicked.to_string().contains("boom 3"), "{panicked}");
    // Arguments of the wrong type are refused on the host's side and again
    // on the library's.
    let wrong = library.get("inc").unwrap();
    assert_eq!(
        (wrong.call)(&[Arg::Str("1")]).unwrap_err().kind(),
        ErrorKind::Internal
    );
}

#[test]
fn the_calculator_crosses_bit_for_bit() {
    let library = loaded(descriptor!(CALCULATOR));
    let (a, b) = (Complex::new(1e308, -0.0), Complex::new(1e-308, 3.0));
    for name in ["add", "sub", "mul", "div"] {
        let args = [Arg::Complex(a), Arg::Complex(b)];
        assert_eq!(
            call(library, name, &args),
            call(&CALCULATOR, name, &args),
            "{name}"
        );
    }
    let zero = [Arg::Complex(a), Arg::Complex(Complex::new(0.0, 0.0))];
    let e = call(library, "div", &zero).unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (
            ErrorKind::ZeroDivision,
            "complex division by zero".to_owned()
        )
    );
    let greeting = [Arg::Str("Hello"), Arg::Str("wörld")];
    assert_eq!(
        call(library, "greet", &greeting),
        call(&CALCULATOR, "greet", &greeting)
    );
}

#[test]
fn a_vectorized_call_crosses_and_names_the_failing_index() {
    let library = loaded(every());
    let f = library.get("inc").unwrap();
    let input = [1, 2, 3];
    let mut out = [0i64; 3];
    f.invoke_many(&[Arg::I64Array(&input)], &mut OutArray::I64(&mut out))
        .unwrap();
    assert_eq!(out, [2, 3, 4]);
    let input = [1, i64::MAX, 3];
    let e = f
        .invoke_many(&[Arg::I64Array(&input)], &mut OutArray::I64(&mut out))
        .unwrap_err();
    assert_eq!(e.index(), Some(1));
    assert_eq!(e.to_string(), "integer overflow at index 1");
    // Too short an output is the library's error, with the same words as in process.
    let mut short = [0i64; 2];
    let direct = EVERY
        .get("inc")
        .unwrap()
        .invoke_many(&[Arg::I64Array(&input)], &mut OutArray::I64(&mut short))
        .unwrap_err();
    let across = f
        .invoke_many(&[Arg::I64Array(&input)], &mut OutArray::I64(&mut short))
        .unwrap_err();
    assert_eq!(across.to_string(), direct.to_string());
}

/// A copy of `described` changed by `change`, leaked as the runtime's would be.
fn tampered(described: &OxbLibrary, change: impl FnOnce(&mut OxbLibrary)) -> &'static OxbLibrary {
    let mut copy = OxbLibrary { ..*described };
    change(&mut copy);
    Box::leak(Box::new(copy))
}

#[test]
fn another_abi_version_is_refused_with_what_to_do() {
    let e = from_descriptor(tampered(every(), |d| d.abi_version = 99)).unwrap_err();
    assert!(e.contains("version 99 of oxbridge's library ABI"), "{e}");
    assert!(e.contains("rebuild the library against oxbridge"), "{e}");
}

#[test]
fn a_catalogue_that_does_not_match_its_checksum_is_refused() {
    let e = from_descriptor(tampered(every(), |d| d.checksum ^= 1)).unwrap_err();
    assert!(e.contains("does not match its checksum"), "{e}");
    // Fewer functions than the library was built with: another contract.
    let e = from_descriptor(tampered(every(), |d| d.n_functions -= 1)).unwrap_err();
    assert!(e.contains("does not match its checksum"), "{e}");
}
