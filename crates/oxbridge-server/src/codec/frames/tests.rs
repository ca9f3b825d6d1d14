use oxbridge_core::Complex;
use oxbridge_shm::Regions;

use super::*;

fn put(values: &[Complex], out: &mut Vec<u8>) {
    for z in values {
        out.extend_from_slice(&z.re.to_le_bytes());
        out.extend_from_slice(&z.im.to_le_bytes());
    }
}

/// A version-1 frame, as the calculator's first clients send it.
fn frame(op: u8, scalar: bool, offset: u64, a: &[Complex], b: &[Complex]) -> Vec<u8> {
    let mut f = b"OXB\x01".to_vec();
    f.extend_from_slice(&[op, u8::from(scalar), 0, 0]);
    for n in [offset, a.len() as u64, b.len() as u64] {
        f.extend_from_slice(&n.to_le_bytes());
    }
    put(a, &mut f);
    put(b, &mut f);
    f
}

/// A version-2 frame: `(one_for_all, count, bytes)` per argument.
fn frame2(name: &str, offset: u64, columns: &[(bool, u64, Vec<u8>)]) -> Vec<u8> {
    let mut body = name.as_bytes().to_vec();
    for (all, count, _) in columns {
        body.push(u8::from(*all));
        body.extend_from_slice(&[0; 7]);
        body.extend_from_slice(&count.to_le_bytes());
    }
    for (_, _, bytes) in columns {
        body.extend_from_slice(bytes);
    }
    let mut f = b"OXB\x02".to_vec();
    f.extend_from_slice(&[
        u8::try_from(name.len()).unwrap(),
        u8::try_from(columns.len()).unwrap(),
        0,
        0,
    ]);
    f.extend_from_slice(&offset.to_le_bytes());
    f.extend_from_slice(&(body.len() as u64).to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&body);
    f
}

fn complexes(values: &[Complex]) -> Vec<u8> {
    let mut out = Vec::new();
    put(values, &mut out);
    out
}

fn ok_payload(reply: &[u8], version: u8) -> &[u8] {
    assert_eq!(&reply[..4], &[b'O', b'X', b'B', version]);
    assert_eq!(
        reply[4],
        0,
        "error reply: {}",
        String::from_utf8_lossy(&reply[REPLY_HEADER..])
    );
    &reply[REPLY_HEADER..]
}

fn results(reply: &[u8]) -> Vec<Complex> {
    ok_payload(reply, 1)
        .chunks_exact(16)
        .map(|c| Complex::new(f64_le(&c[..8]), f64_le(&c[8..])))
        .collect()
}

fn error_of(reply: &[u8]) -> (u8, String) {
    assert_eq!(reply[4], 1);
    let doc: serde_json::Value = serde_json::from_slice(&reply[REPLY_HEADER..]).unwrap();
    (reply[3], doc["message"].as_str().unwrap().to_owned())
}

#[test]
fn round_trip_and_offset_in_errors() {
    let a = [Complex::new(1.0, 3.0), Complex::new(-0.0, 2.0)];
    let b = [Complex::new(0.0, -5.0), Complex::new(0.0, 0.0)];
    let f = frame(0, false, 0, &a, &b);
    assert_eq!(frame_len(&f, usize::MAX).unwrap(), f.len());
    assert_eq!(
        results(&handle("test", &f)),
        vec![Complex::new(1.0, -2.0), Complex::new(0.0, 2.0)]
    );
    let err = Call::parse(&frame(3, false, 1000, &a, &b))
        .unwrap()
        .run()
        .unwrap_err();
    assert_eq!(err.to_string(), "complex division by zero at index 1001");
    let scalar = results(&handle("test", &frame(2, true, 0, &a, &b[..1])));
    assert_eq!(scalar[0], oxbridge_core::mul(a[0], b[0]));
}

#[test]
fn version_two_names_any_vectorized_function_and_its_result_type() {
    let z = [Complex::new(3.0, 4.0), Complex::new(-0.0, 2.0)];
    let f = frame2("abs", 0, &[(false, 2, complexes(&z))]);
    assert_eq!(frame_len(&f, usize::MAX).unwrap(), f.len());
    let reply = handle("test", &f);
    let norms: Vec<f64> = ok_payload(&reply, 2).chunks_exact(8).map(f64_le).collect();
    assert_eq!(norms, vec![5.0, 2.0]);

    let two = complexes(&[Complex::new(2.0, 0.0)]);
    let reply = handle(
        "test",
        &frame2("pow", 0, &[(false, 2, complexes(&z)), (true, 1, two)]),
    );
    let squares = ok_payload(&reply, 2);
    assert_eq!(squares.len(), 32);
    assert_eq!(f64_le(&squares[..8]), -7.0);

    // An error names the caller's index, and the reply is in version 2.
    let zero = complexes(&[Complex::default()]);
    let reply = handle(
        "test",
        &frame2("div", 40, &[(false, 2, complexes(&z)), (true, 1, zero)]),
    );
    assert_eq!(
        error_of(&reply),
        (2, "complex division by zero at index 40".to_owned())
    );
}

#[test]
fn version_two_refuses_what_does_not_fit_the_signature() {
    let z = complexes(&[Complex::new(1.0, 1.0)]);
    let refusal = |f: Vec<u8>| error_of(&handle("test", &f)).1;
    assert_eq!(
        refusal(frame2(
            "greet",
            0,
            &[(false, 1, z.clone()), (false, 1, z.clone())]
        )),
        "greet has no vectorized form"
    );
    assert_eq!(
        refusal(frame2("no-such-op", 0, &[])),
        "unknown operation \"no-such-op\""
    );
    assert_eq!(
        refusal(frame2("add", 0, &[(false, 1, z.clone())])),
        "add() takes 2 arguments (1 given)"
    );
    assert_eq!(
        refusal(frame2(
            "add",
            0,
            &[(true, 1, z.clone()), (true, 1, z.clone())]
        )),
        "at least one argument must be an array"
    );
    assert_eq!(
        refusal(frame2(
            "add",
            0,
            &[(false, 1, z.clone()), (false, 2, z.clone())]
        )),
        "batch frame length does not match its header"
    );
    let mut two = z.clone();
    two.extend_from_slice(&z);
    assert_eq!(
        refusal(frame2("add", 0, &[(false, 2, two), (false, 1, z.clone())])),
        "operands have different lengths: a has 2 elements, b has 1"
    );
    let mut lie = frame2("abs", 0, &[(false, 1, z)]);
    lie[4] = 200; // a name longer than the body
    assert_eq!(refusal(lie), "truncated batch frame");
}

#[test]
fn large_frames_match_the_scalar_operation_and_find_the_first_zero() {
    #[allow(clippy::cast_precision_loss)]
    let a: Vec<Complex> = (0..PARALLEL_THRESHOLD * 2 + 5)
        .map(|i| Complex::new(i as f64 + 0.5, -1.25))
        .collect();
    let mut b = a.clone();
    let got = results(&handle("test", &frame(3, false, 0, &a, &b)));
    for (i, z) in got.iter().enumerate() {
        assert_eq!(*z, oxbridge_core::div(a[i], b[i]).unwrap());
    }
    b[PARALLEL_THRESHOLD + 77] = Complex::default();
    b[a.len() - 1] = Complex::default();
    let err = Call::parse(&frame(3, false, 10, &a, &b))
        .unwrap()
        .run()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "complex division by zero at index {}",
            PARALLEL_THRESHOLD + 87
        )
    );
}

#[test]
fn lies_in_the_header_are_caught_before_any_allocation() {
    let mut f = frame(0, false, 0, &[], &[]);
    f[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        frame_len(&f, 1 << 24),
        Err(CallError::TooLarge { .. })
    ));
    let mut f2 = frame2("abs", 0, &[]);
    f2[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        frame_len(&f2, 1 << 24),
        Err(CallError::TooLarge { .. })
    ));
    assert!(matches!(
        Call::parse(&frame(7, false, 0, &[], &[])),
        Err(CallError::BadRequest(_))
    ));
    assert!(matches!(
        Call::parse(&frame(0, true, 0, &[], &[])),
        Err(CallError::BadRequest(_))
    ));
    let one = [Complex::new(1.0, 1.0)];
    let mismatch = Call::parse(&frame(0, false, 0, &one, &[])).unwrap_err();
    assert_eq!(
        mismatch.to_string(),
        "operands have different lengths: a has 1 elements, b has 0"
    );
    let mut bad = frame(0, false, 0, &[], &[]);
    bad[0] = b'X';
    assert!(Call::parse(&bad).is_err());
    assert_eq!(reply_version(&bad), 1);
}

/// A version-3 call of `mul` on one element at the start of a region.
fn shared_call(out_at: u64) -> Vec<u8> {
    let heads = [0, 16].map(|at| shared::Head {
        one_for_all: false,
        region: 0,
        count: 1,
        at,
    });
    let mut message = Vec::new();
    shared::call_message(&mut message, b"mul", &heads, 0, (0, out_at));
    message
}

#[test]
fn shared_memory_calls_are_refused_without_a_region_or_outside_ipc() {
    let message = shared_call(32);
    assert_eq!(frame_len(&message, usize::MAX).unwrap(), message.len());
    let (version, error) = error_of(&shared::call("ipc", &message, &mut Regions::new(1 << 20)));
    assert_eq!(version, 3);
    assert!(error.contains("attach one first"), "{error}");
    // Over HTTP (`POST /batch`) a version-3 frame has no region to refer to.
    let (version, error) = error_of(&handle("http", &message));
    assert_eq!(version, 3);
    assert!(
        error.contains("only served on an IPC connection"),
        "{error}"
    );
}

/// `len` bytes starting at an `align`-aligned address inside `room`.
fn aligned(room: &mut [u8], align: usize, len: usize) -> &mut [u8] {
    let start = room.as_ptr().align_offset(align);
    &mut room[start..start + len]
}

#[test]
fn values_read_in_place_give_what_decoding_gives() {
    for (n, zero_at) in [(5_usize, None), (70_001, None), (70_001, Some(69_000))] {
        let a: Vec<Complex> = (0..n)
            .map(|i| Complex::new(i as f64 + 0.5, -1.25))
            .collect();
        let b: Vec<Complex> = (0..n)
            .map(|i| match zero_at {
                Some(z) if z == i => Complex::new(0.0, 0.0),
                _ => Complex::new(3.0, i as f64 / 7.0),
            })
            .collect();
        let mut room = vec![0_u8; 32 * n + 64];
        let values = aligned(&mut room, 16, 32 * n);
        values[..16 * n].copy_from_slice(&complexes(&a));
        values[16 * n..].copy_from_slice(&complexes(&b));
        let (a, b) = values.split_at(16 * n);
        let f = oxbridge_core::CALCULATOR.lookup("div").unwrap();
        let call = Call::new(f, vec![Column::Each(a), Column::Each(b)], 1000).unwrap();
        let mut out_room = vec![0_u8; 16 * n + 32];
        let in_place = call.compute_in_place(aligned(&mut out_room, 16, 16 * n));
        let in_place = in_place.expect("aligned values are read in place");
        let mut decoded = vec![0_u8; 16 * n + 1];
        // One byte off: not aligned, so the values are decoded.
        assert!(call.compute_in_place(&mut decoded[1..]).is_none());
        let by_decoding = call.compute_into(&mut decoded[1..]);
        match (in_place, by_decoding) {
            (Ok(()), Ok(())) => {
                assert!(zero_at.is_none(), "a zero divisor must fail the call");
                assert_eq!(aligned(&mut out_room, 16, 16 * n), &decoded[1..]);
            }
            (Err(x), Err(y)) => {
                assert_eq!(x.to_string(), y.to_string());
                assert!(x
                    .to_string()
                    .contains(&format!("at index {}", 1000 + zero_at.unwrap())));
            }
            other => panic!("the two paths disagree: {other:?}"),
        }
    }
}

/// `frame` as the HTTP bridge keeps a body: cut into pieces of `cut` bytes.
fn in_pieces(frame: &[u8], cut: usize) -> crate::http::frame_body::FrameBody {
    let mut body = crate::http::frame_body::FrameBody::default();
    for piece in frame.chunks(cut) {
        body.take(Bytes::copy_from_slice(piece));
    }
    body.finish();
    body
}

#[test]
fn a_frame_in_pieces_answers_as_the_frame_in_one() {
    let z = |k: usize| Complex::new(k as f64 * 0.5 - 3.0, 1.0 - k as f64 / 7.0);
    let a: Vec<Complex> = (0..300).map(z).collect();
    let b: Vec<Complex> = (0..300).map(|k| z(k + 11)).collect();
    let zero = vec![Complex::new(0.0, 0.0)];
    let long: Vec<Complex> = (0..70_000).map(z).collect();
    let mut frames = vec![
        frame(2, false, 5, &a, &b),
        frame(3, true, 0, &a, &zero),
        frame(0, false, 0, &a, &b[..299]),
        frame2(
            "mul",
            9,
            &[(false, 300, complexes(&a)), (false, 300, complexes(&b))],
        ),
        frame2(
            "div",
            0,
            &[(false, 300, complexes(&a)), (true, 1, complexes(&zero))],
        ),
        frame2(
            "pow",
            0,
            &[(false, 300, complexes(&a)), (true, 1, complexes(&b[..1]))],
        ),
        frame2(
            "mul",
            0,
            &[(false, 300, complexes(&a)), (false, 299, complexes(&b))],
        ),
        frame2("abs", 0, &[(false, 300, complexes(&a))]),
        frame2("nope", 0, &[(false, 1, complexes(&a[..1]))]),
        // Many blocks (see BLOCK), computed in parallel.
        frame(2, false, 0, &long, &long),
        frame2(
            "pow",
            0,
            &[
                (false, 70_000, complexes(&long)),
                (true, 1, complexes(&b[..1])),
            ],
        ),
        frame2(
            "div",
            0,
            &[
                (false, 70_000, complexes(&long)),
                (true, 1, complexes(&zero)),
            ],
        ),
    ];
    // Truncated and lying frames of both versions.
    let whole = frames[3].clone();
    frames.extend([
        whole[..20].to_vec(),
        whole[..40].to_vec(),
        whole[..whole.len() - 1].to_vec(),
        [whole.as_slice(), &[0; 16]].concat(),
    ]);
    for (i, frame) in frames.iter().enumerate() {
        let want = Call::parse(frame).and_then(|call| call.reply());
        // The last cut splits the last value: one for all, in two frames.
        for cut in [1, 3, 16, 33, 70, 100, 1024, 1 << 20, frame.len().max(9) - 8] {
            let got = in_pieces(frame, cut).reply();
            match (&want, &got) {
                (Ok(want), Ok(got)) => assert_eq!(got, want, "frame {i}, cut {cut}"),
                (Err(want), Err(got)) => {
                    assert_eq!(got.to_string(), want.to_string(), "frame {i}, cut {cut}");
                }
                _ => panic!("frame {i}, cut {cut}: {got:?} against {want:?}"),
            }
        }
    }
    // The frames that can be computed were (not all refused alike).
    let computed = frames
        .iter()
        .filter(|f| Call::parse(f).and_then(|c| c.reply()).is_ok());
    assert!(computed.count() >= 4);
}
