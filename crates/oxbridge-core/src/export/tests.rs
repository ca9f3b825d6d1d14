use crate::error::{CoreError, ErrorKind};
use crate::export::{Arg, Function, Library, OutArray, Type, Value, PARALLEL_THRESHOLD};
use crate::Complex;
use crate::CALCULATOR;

crate::export! {
    /// A library for the mechanism's own tests.
    static TESTS = "tests";

    /// `a * 2`, refusing odd inputs above 1000 with an overflow.
    #[raises(Overflow)]
    fn twice(a: i64) -> Result<i64, CoreError> {
        if a > 1000 && a % 2 == 1 {
            Err(CoreError::new(ErrorKind::Overflow, "odd and large"))
        } else {
            Ok(a * 2)
        }
    }

    /// `|z|²` as a float, from mixed types.
    fn norm2(z: Complex, scale: f64) -> f64 {
        (z.re * z.re + z.im * z.im) * scale
    }

    /// Every kind of argument at once: not numeric, so no `_many`.
    fn describe(flag: bool, text: &str, raw: &[u8], xs: &[f64], ns: &[i64], zs: &[Complex]) -> String {
        format!("{flag} {text} {} {} {} {}", raw.len(), xs.len(), ns.len(), zs.len())
    }

    /// Owned array and bytes results.
    fn reversed(raw: &[u8]) -> Vec<u8> {
        raw.iter().rev().copied().collect()
    }
}

#[test]
fn signatures_are_read_from_the_rust_types() {
    let twice = TESTS.get("twice").unwrap();
    assert_eq!(twice.params[0].ty, Type::I64);
    assert_eq!(twice.returns, Type::I64);
    assert_eq!(twice.raises, &[ErrorKind::Overflow]);
    assert_eq!(twice.result_field, "result");
    assert_eq!(
        twice.summary(),
        "`a * 2`, refusing odd inputs above 1000 with an overflow."
    );
    let describe = TESTS.get("describe").unwrap();
    let types: Vec<Type> = describe.params.iter().map(|p| p.ty).collect();
    assert_eq!(
        types,
        [
            Type::Bool,
            Type::Str,
            Type::Bytes,
            Type::F64Array,
            Type::I64Array,
            Type::ComplexArray
        ]
    );
    assert!(describe.many.is_none());
    assert!(TESTS.get("norm2").unwrap().many.is_some());
    assert!(TESTS.get("reversed").unwrap().many.is_none());
}

#[test]
fn calls_check_and_convert_arguments() {
    let describe = TESTS.get("describe").unwrap();
    let got = describe
        .invoke(&[
            Arg::Bool(true),
            Arg::Str("hi"),
            Arg::Bytes(b"abc"),
            Arg::F64Array(&[1.0]),
            Arg::I64Array(&[]),
            Arg::ComplexArray(&[Complex::default(); 2]),
        ])
        .unwrap();
    assert_eq!(got, Value::Str("true hi 3 1 0 2".into()));
    let reversed = TESTS.get("reversed").unwrap();
    assert_eq!(
        reversed.invoke(&[Arg::Bytes(b"ab")]),
        Ok(Value::Bytes(b"ba".to_vec()))
    );
    let wrong = reversed.invoke(&[Arg::Str("ab")]).unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        wrong.to_string(),
        "argument 'raw' of reversed() must be bytes, not str"
    );
    let few = reversed.invoke(&[]).unwrap_err();
    assert_eq!(few.to_string(), "reversed() takes 1 arguments (0 given)");
}

#[test]
fn many_reports_the_first_failing_index_for_any_error_on_both_paths() {
    let twice = TESTS.get("twice").unwrap();
    for n in [10, PARALLEL_THRESHOLD * 3] {
        let mut a: Vec<i64> = (0..n as i64).map(|i| i * 2).collect();
        let mut out = vec![0_i64; n];
        twice
            .invoke_many(&[Arg::I64Array(&a)], &mut OutArray::I64(&mut out))
            .unwrap();
        assert!(out.iter().zip(&a).all(|(o, a)| *o == a * 2));
        // Two failures, the later one in an earlier-finishing chunk.
        a[n - 2] = 1001;
        a[n / 2 + 1] = 1003;
        let e = twice
            .invoke_many(&[Arg::I64Array(&a)], &mut OutArray::I64(&mut out))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Overflow);
        assert_eq!(e.index(), Some(n / 2 + 1));
        assert_eq!(
            e.to_string(),
            format!("odd and large at index {}", n / 2 + 1)
        );
    }
}

#[test]
fn many_takes_scalars_for_any_argument_and_checks_lengths() {
    let norm2 = TESTS.get("norm2").unwrap();
    let zs = [Complex::new(3.0, 4.0), Complex::new(1.0, 0.0)];
    let mut out = [0.0; 2];
    norm2
        .invoke_many(
            &[Arg::ComplexArray(&zs), Arg::F64(2.0)],
            &mut OutArray::F64(&mut out),
        )
        .unwrap();
    assert_eq!(out, [50.0, 2.0]);
    norm2
        .invoke_many(
            &[Arg::Complex(zs[0]), Arg::F64Array(&[1.0, 3.0])],
            &mut OutArray::F64(&mut out),
        )
        .unwrap();
    assert_eq!(out, [25.0, 75.0]);
    let e = norm2
        .invoke_many(
            &[Arg::ComplexArray(&zs), Arg::F64Array(&[1.0])],
            &mut OutArray::F64(&mut out),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "operands have different lengths: z has 2 elements, scale has 1"
    );
    let e = norm2
        .invoke_many(
            &[Arg::ComplexArray(&zs), Arg::F64(1.0)],
            &mut OutArray::I64(&mut [0; 2]),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal);
}

#[test]
fn the_contract_is_what_a_caller_relies_on_and_nothing_else() {
    let contract = CALCULATOR.contract();
    assert!(contract.starts_with("library calculator\n"), "{contract}");
    assert!(
        contract.contains(
            "fn div(a: complex, b: complex) -> complex as result raises [zero_division] many\n"
        ),
        "{contract}"
    );
    assert!(contract.contains("fn greet(greeting: str, name: str) -> str as message raises []\n"));
    let with = |change: &dyn Fn(&mut Function)| {
        let mut functions = CALCULATOR.functions.to_vec();
        change(&mut functions[0]);
        Library {
            functions: Box::leak(functions.into_boxed_slice()),
            ..CALCULATOR
        }
        .checksum()
    };
    let same = CALCULATOR.checksum();
    // Documentation and version are not part of it.
    assert_eq!(with(&|f| f.doc = "other words"), same);
    assert_eq!(
        Library {
            version: "9.9.9",
            ..CALCULATOR
        }
        .checksum(),
        same
    );
    // Every part of a signature is.
    assert_ne!(with(&|f| f.name = "plus"), same);
    assert_ne!(with(&|f| f.params = &f.params[..1]), same);
    assert_ne!(with(&|f| f.returns = Type::F64), same);
    assert_ne!(with(&|f| f.result_field = "sum"), same);
    assert_ne!(with(&|f| f.raises = &[ErrorKind::Overflow]), same);
    assert_ne!(with(&|f| f.many = None), same);
    assert_ne!(
        Library {
            name: "other",
            ..CALCULATOR
        }
        .checksum(),
        same
    );
}

#[test]
fn every_type_is_found_by_its_name() {
    for ty in Type::ALL {
        assert_eq!(Type::from_name(ty.name()), Some(ty));
    }
    assert_eq!(Type::from_name("u64"), None);
}
