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

#[test]
fn header_matches_fresh_generation() {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml")).unwrap();
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen")
        .write(&mut fresh);
    let path = format!("{crate_dir}/../../include/oxbridge.h");
    if std::env::var_os("OXBRIDGE_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/oxbridge.h differs from what cbindgen generates: run `make header`"
    );
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
    let st = guard(&mut err, || panic!("boom"));
    assert_eq!(st, OXB_INTERNAL);
    assert_eq!(take(err), "internal error in oxbridge: boom");
}

#[test]
fn article_compute_gives_nan_for_unknown_and_null_commands() {
    let a = OxbComplex { re: 1.0, im: 3.0 };
    let b = OxbComplex { re: 0.0, im: -5.0 };
    // SAFETY: NUL-terminated literal.
    let sum = unsafe { compute(c"add".as_ptr(), a, b) };
    assert_eq!(sum, OxbComplex { re: 1.0, im: -2.0 });
    // SAFETY: NUL-terminated literal, then null.
    let unknown = unsafe { compute(c"pow".as_ptr(), a, b) };
    assert!(unknown.re.is_nan() && unknown.im.is_nan());
    // SAFETY: null is documented as accepted.
    let null = unsafe { compute(ptr::null(), a, b) };
    assert!(null.re.is_nan() && null.im.is_nan());
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
    // SAFETY: valid buffers of the stated lengths.
    let st = unsafe {
        oxb_many(
            OXB_OP_MUL,
            a.as_ptr(),
            5,
            b.as_ptr(),
            5,
            out.as_mut_ptr(),
            ptr::null_mut(),
        )
    };
    assert_eq!(st, OXB_OK);
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

    let mut err = OxbString::EMPTY;
    // SAFETY: valid buffers; lengths disagree on purpose.
    let st = unsafe {
        oxb_many(
            OXB_OP_ADD,
            a.as_ptr(),
            5,
            b.as_ptr(),
            4,
            out.as_mut_ptr(),
            &mut err,
        )
    };
    assert_eq!(
        (st, take(err)),
        (
            OXB_INVALID_ARGUMENT,
            "operands have different lengths: a has 5 elements, b has 4".to_owned()
        )
    );

    let mut err = OxbString::EMPTY;
    // SAFETY: valid buffers; scalar zero divisor.
    let st = unsafe {
        oxb_many_scalar(
            OXB_OP_DIV,
            a.as_ptr(),
            5,
            0.0,
            -0.0,
            out.as_mut_ptr(),
            &mut err,
        )
    };
    assert_eq!(
        (st, take(err)),
        (
            OXB_ZERO_DIVISION,
            "complex division by zero at index 0".to_owned()
        )
    );

    let mut err = OxbString::EMPTY;
    // SAFETY: out aliases a: must be refused before anything is written.
    let st = unsafe {
        oxb_many(
            OXB_OP_ADD,
            a.as_ptr(),
            5,
            b.as_ptr(),
            5,
            a.as_ptr().cast_mut(),
            &mut err,
        )
    };
    assert_eq!(
        (st, take(err)),
        (
            OXB_INVALID_ARGUMENT,
            "the output buffer overlaps an input".to_owned()
        )
    );

    let mut err = OxbString::EMPTY;
    // SAFETY: unknown op code, valid buffers.
    let st = unsafe { oxb_many(9, a.as_ptr(), 5, b.as_ptr(), 5, out.as_mut_ptr(), &mut err) };
    assert_eq!(st, OXB_INVALID_ARGUMENT);
    assert!(take(err).starts_with("unknown operation code 9"));

    // SAFETY: empty inputs may be null.
    let st = unsafe {
        oxb_many(
            OXB_OP_ADD,
            ptr::null(),
            0,
            ptr::null(),
            0,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(st, OXB_OK);
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
        let op = i32::try_from(next() % 6).unwrap() - 1;
        let mut err = OxbString::EMPTY;
        // SAFETY: a and b point into `values` with lengths within it; out is separate.
        let st = unsafe {
            oxb_many(
                op,
                values.as_ptr(),
                a_len,
                values.as_ptr(),
                b_len,
                out.as_mut_ptr(),
                &mut err,
            )
        };
        assert!(
            matches!(st, OXB_OK | OXB_ZERO_DIVISION | OXB_INVALID_ARGUMENT),
            "{st}"
        );
        if st == OXB_OK {
            assert!(a_len == b_len && (0..4).contains(&op));
        } else {
            assert!(!take(err).is_empty());
        }
    }
}
