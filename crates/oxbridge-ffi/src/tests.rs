use super::*;

fn take(s: OxbString) -> String {
    let text = if s.ptr.is_null() {
        String::new()
    } else {
        // SAFETY: the library just returned this string.
        String::from_utf8(unsafe { std::slice::from_raw_parts(s.ptr, s.len) }.to_vec()).unwrap()
    };
    // SAFETY: returned by the library, freed once.
    unsafe { oxb_string_free(s) };
    text
}

// The tests below were written against the flattened signatures of ABI 2;
// these call the generated symbols, whose by-value structs are passed in the
// same registers on x86-64 and AArch64.
macro_rules! complex_shim {
    ($($name:ident => $module:ident),*) => {$(
        unsafe fn $name(
            a_re: f64,
            a_im: f64,
            b_re: f64,
            b_im: f64,
            out: *mut OxbComplex,
            err: *mut OxbString,
        ) -> OxbStatus {
            let (a, b) = (OxbComplex { re: a_re, im: a_im }, OxbComplex { re: b_re, im: b_im });
            // SAFETY: the caller's contract is the symbol's.
            unsafe { crate::calculator::$module::symbol(a, b, out, err) }
        }
    )*};
}

complex_shim!(oxb_add => add, oxb_div => div, oxb_mul => mul);

unsafe fn oxb_greet(
    greeting: *const u8,
    greeting_len: usize,
    name: *const u8,
    name_len: usize,
    out: *mut OxbString,
    err: *mut OxbString,
) -> OxbStatus {
    let greeting = crate::values::OxbStr {
        ptr: greeting,
        len: greeting_len,
    };
    let name = crate::values::OxbStr {
        ptr: name,
        len: name_len,
    };
    // SAFETY: the caller's contract is the symbol's.
    unsafe { crate::calculator::greet::symbol(greeting, name, out, err) }
}

#[test]
fn scalar_ops_write_out_and_report_zero_division() {
    let mut out = OxbComplex::default();
    // SAFETY: valid out pointer, null err.
    let st = unsafe { oxb_add(1.0, 3.0, 0.0, -5.0, &mut out, ptr::null_mut()) };
    assert_eq!((st, out), (OXB_OK, OxbComplex { re: 1.0, im: -2.0 }));

    let mut err = OxbString::EMPTY;
    // SAFETY: valid out and err pointers.
    let st = unsafe { oxb_div(1.0, 0.0, 0.0, 0.0, &mut out, &mut err) };
    assert_eq!(st, OXB_ZERO_DIVISION);
    assert_eq!(take(err), "complex division by zero");
}

#[test]
fn null_out_is_invalid_argument_not_a_crash() {
    let mut err = OxbString::EMPTY;
    // SAFETY: null out is allowed and reported.
    let st = unsafe { oxb_mul(1.0, 1.0, 1.0, 1.0, ptr::null_mut(), &mut err) };
    assert_eq!(st, OXB_INVALID_ARGUMENT);
    assert_eq!(take(err), "argument 'out' is a null pointer");
}

#[test]
fn greet_handles_nul_bytes_null_pointers_and_invalid_utf8() {
    let mut out = OxbString::EMPTY;
    let g = b"a\0b";
    // SAFETY: valid byte ranges; name is null with length 0.
    let st = unsafe {
        oxb_greet(
            g.as_ptr(),
            g.len(),
            ptr::null(),
            0,
            &mut out,
            ptr::null_mut(),
        )
    };
    assert_eq!(st, OXB_OK);
    assert_eq!(take(out), "a\0b, ");

    let (mut out, mut err) = (OxbString::EMPTY, OxbString::EMPTY);
    let bad = b"\xff";
    // SAFETY: valid byte ranges.
    let st = unsafe { oxb_greet(g.as_ptr(), g.len(), bad.as_ptr(), 1, &mut out, &mut err) };
    assert_eq!(st, OXB_INVALID_ARGUMENT);
    assert_eq!(take(err), "argument 'name' is not valid UTF-8 text");

    let (mut out, mut err) = (OxbString::EMPTY, OxbString::EMPTY);
    // SAFETY: null pointer with a non-zero length is refused before any read.
    let st = unsafe { oxb_greet(ptr::null(), 3, g.as_ptr(), 1, &mut out, &mut err) };
    assert_eq!(st, OXB_INVALID_ARGUMENT);
    assert_eq!(take(err), "argument 'greeting' is a null pointer");
}

#[test]
fn a_panic_becomes_internal_status_with_message() {
    let mut err = OxbString::EMPTY;
    // SAFETY: `err` is writable.
    let st = unsafe { guard(&mut err, || panic!("boom")) };
    assert_eq!(st, OXB_INTERNAL);
    assert_eq!(take(err), "internal error in oxbridge: boom");
}

use crate::many::OxbColumn;

fn each<T>(v: &[T]) -> OxbColumn {
    OxbColumn {
        ptr: v.as_ptr().cast(),
        len: v.len(),
        one_for_all: false,
    }
}

fn all<T>(v: &T) -> OxbColumn {
    OxbColumn {
        ptr: std::ptr::from_ref(v).cast(),
        len: 1,
        one_for_all: true,
    }
}

/// `oxb_many` on `name`: its status and error message.
fn many<T>(name: &str, args: &[OxbColumn], out: &mut [T]) -> (OxbStatus, String) {
    many_raw(name, args, out.as_mut_ptr().cast(), out.len())
}

fn many_raw(
    name: &str,
    args: &[OxbColumn],
    out: *mut std::ffi::c_void,
    n: usize,
) -> (OxbStatus, String) {
    let function = crate::values::OxbStr {
        ptr: name.as_ptr(),
        len: name.len(),
    };
    let mut err = OxbString::EMPTY;
    // SAFETY: the columns point into live slices of the stated lengths.
    let st = unsafe {
        crate::calculator::oxb_many(function, args.as_ptr(), args.len(), out, n, &mut err)
    };
    (st, take(err))
}

#[test]
fn batch_matches_scalar_and_checks_everything() {
    let a: Vec<OxbComplex> = (0..5)
        .map(|i| OxbComplex {
            re: f64::from(i),
            im: 1.0,
        })
        .collect();
    let b: Vec<OxbComplex> = (0..5)
        .map(|i| OxbComplex {
            re: 2.0,
            im: f64::from(i),
        })
        .collect();
    let mut out = vec![OxbComplex::default(); 5];
    assert_eq!(
        many("mul", &[each(&a), each(&b)], &mut out),
        (OXB_OK, String::new())
    );
    for i in 0..5 {
        let mut one = OxbComplex::default();
        // SAFETY: valid out pointer.
        unsafe {
            oxb_mul(
                a[i].re,
                a[i].im,
                b[i].re,
                b[i].im,
                &mut one,
                ptr::null_mut(),
            )
        };
        assert_eq!(out[i], one);
    }
    assert_eq!(
        many("add", &[each(&a), each(&b[..4])], &mut out),
        (
            OXB_INVALID_ARGUMENT,
            "operands have different lengths: a has 5 elements, b has 4".to_owned()
        )
    );
    let zero = OxbComplex { re: 0.0, im: -0.0 };
    assert_eq!(
        many("div", &[each(&a), all(&zero)], &mut out),
        (
            OXB_ZERO_DIVISION,
            "complex division by zero at index 0".to_owned()
        )
    );
    // The output aliases an input: refused before anything is written.
    let alias = a.as_ptr().cast_mut().cast();
    assert_eq!(
        many_raw("add", &[each(&a), each(&b)], alias, 5),
        (
            OXB_INVALID_ARGUMENT,
            "the output buffer overlaps an input".to_owned()
        )
    );
    assert_eq!(
        many("no-such-op", &[each(&a), each(&b)], &mut out),
        (
            OXB_INVALID_ARGUMENT,
            "unknown operation \"no-such-op\"".to_owned()
        )
    );
    assert_eq!(
        many("greet", &[each(&a), each(&b)], &mut out),
        (
            OXB_INVALID_ARGUMENT,
            "greet has no vectorized form".to_owned()
        )
    );
    assert_eq!(many("add", &[each(&a)], &mut out).0, OXB_INVALID_ARGUMENT);
    // abs: complex in, float64 out.
    let mut norms = vec![0.0_f64; 5];
    assert_eq!(
        many("abs", &[each(&b)], &mut norms),
        (OXB_OK, String::new())
    );
    assert_eq!(norms[3], 2.0_f64.hypot(3.0));
    // Empty inputs may be null.
    let empty = OxbColumn {
        ptr: ptr::null(),
        len: 0,
        one_for_all: false,
    };
    assert_eq!(
        many_raw("add", &[empty, empty], ptr::null_mut(), 0).0,
        OXB_OK
    );
}

/// Random bytes and lengths through the C ABI's string and array inputs:
/// every call returns a status, none panics across the boundary or misreads.
#[test]
fn fuzz_string_and_array_inputs() {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = usize::try_from(next() % 64).unwrap();
        let bytes: Vec<u8> = (0..len)
            .map(|_| u8::try_from(next() % 256).unwrap())
            .collect();
        let split = usize::try_from(next()).unwrap() % (len + 1);
        let (g, n) = bytes.split_at(split);
        let (mut out, mut err) = (OxbString::EMPTY, OxbString::EMPTY);
        // SAFETY: valid pointer/length pairs into `bytes`.
        let st = unsafe { oxb_greet(g.as_ptr(), g.len(), n.as_ptr(), n.len(), &mut out, &mut err) };
        match (std::str::from_utf8(g), std::str::from_utf8(n)) {
            (Ok(g), Ok(n)) => assert_eq!((st, take(out)), (OXB_OK, format!("{g}, {n}"))),
            _ => assert_eq!(
                (st, take(err).contains("not valid UTF-8")),
                (OXB_INVALID_ARGUMENT, true)
            ),
        }

        #[allow(clippy::cast_precision_loss)]
        let values: Vec<OxbComplex> = (0..len)
            .map(|i| OxbComplex {
                re: f64::from_bits(next()),
                im: i as f64,
            })
            .collect();
        let (a_len, b_len) = (
            usize::try_from(next()).unwrap() % (len + 1),
            usize::try_from(next()).unwrap() % (len + 1),
        );
        let mut out = vec![OxbComplex::default(); a_len];
        let names = ["add", "sub", "mul", "div", "pow", "greet"];
        let name = names[usize::try_from(next()).unwrap() % names.len()];
        let args = [each(&values[..a_len]), each(&values[..b_len])];
        let (st, message) = many(name, &args, &mut out);
        assert!(
            matches!(
                st,
                OXB_OK | OXB_ZERO_DIVISION | OXB_INVALID_ARGUMENT | OXB_OVERFLOW
            ),
            "{st}"
        );
        if st == OXB_OK {
            assert!(a_len == b_len && name != "greet");
        } else {
            assert!(!message.is_empty());
        }
    }
}
