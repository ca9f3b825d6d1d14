//! The bodies of the fuzz targets (`fuzz_targets/`, one per decoder): each
//! feeds its input to a decoder and to everything behind it, as a request
//! from a peer would. A panic, an out-of-bounds access (AddressSanitizer) or
//! a leak (LeakSanitizer) is a crash.
//!
//! `make test` runs each for a few seconds from the committed corpus in
//! `corpus/<target>/`; `make fuzz` runs them long and grows the corpus. A
//! crash input is copied into the target's corpus, so every later run
//! replays it: a regression vector from then on.

use bytes::Bytes;
use oxbridge_core::export::{Arg, Type, Value};
use oxbridge_core::{Complex, CALCULATOR};
use oxbridge_ffi::exported::{self, CArg, COut};
use oxbridge_ffi::many::OxbColumn;
use oxbridge_ffi::values::{
    self, oxb_complex_array_free, oxb_f64_array_free, oxb_i64_array_free, OxbBytes, OxbComplexes,
    OxbF64s, OxbI64s, OxbStr,
};
use oxbridge_ffi::{oxb_string_free, OxbComplex, OxbStatus, OxbString};
use oxbridge_server::codec::json_call::{self, Fields};
use oxbridge_server::codec::{frames, wire};
use oxbridge_server::ground::error::CallError;
use oxbridge_server::ground::pieces::PieceBuf;
use oxbridge_server::grpc::{self, functions as grpc_functions, many as grpc_many};
use oxbridge_server::ipc;
use oxbridge_shm::Regions;
use prost::Message;
use rustix::fs::{memfd_create, MemfdFlags, SealFlags};
use std::cell::RefCell;

oxbridge_core::export! {
    /// Every exported type as a parameter and as a result: what the `args`
    /// target decodes on each bridge's path.
    pub static TYPES = "types";

    /// Every scalar type at once.
    pub fn scalars(flag: bool, n: i64, x: f64, z: Complex) -> Complex {
        #[allow(clippy::cast_precision_loss)]
        let n = n as f64;
        if flag { Complex::new(z.re + x, z.im - n) } else { z }
    }

    /// Every borrowed type at once.
    pub fn borrowed(text: &str, raw: &[u8], xs: &[f64], ns: &[i64], zs: &[Complex]) -> String {
        format!("{} {} {} {} {}", text.len(), raw.len(), xs.len(), ns.len(), zs.len())
    }

    /// A `bool` through.
    pub fn truth(flag: bool) -> bool { !flag }

    /// An `i64` through.
    pub fn int(n: i64) -> i64 { n.wrapping_neg() }

    /// An `f64` through.
    pub fn real(x: f64) -> f64 { -x }

    /// Text through, owned.
    pub fn text(s: &str) -> String { s.chars().rev().collect() }

    /// Bytes through, owned.
    pub fn raw(b: &[u8]) -> Vec<u8> { b.iter().rev().copied().collect() }

    /// An `f64` array through, owned.
    pub fn reals(xs: &[f64]) -> Vec<f64> { xs.iter().rev().copied().collect() }

    /// An `i64` array through, owned.
    pub fn ints(ns: &[i64]) -> Vec<i64> { ns.iter().rev().copied().collect() }

    /// A complex array through, owned.
    pub fn complexes(zs: &[Complex]) -> Vec<Complex> { zs.iter().rev().copied().collect() }
}

/// An IPC request line: the JSON decoder, the dispatch and every function.
pub fn ipc_json(data: &[u8]) {
    let _ = ipc::answer_request(data, &oxbridge_server::Limits::default());
}

/// A batch frame, as IPC, HTTP `/batch` and gRPC `Batch` receive it.
pub fn batch_frame(data: &[u8]) {
    let _ = frames::handle("fuzz", data);
    if data.len() >= frames::REQUEST_HEADER {
        let _ = frames::frame_len(&data[..frames::REQUEST_HEADER], 1 << 24);
    }
    in_pieces_as_in_one(data);
}

/// The frame as HTTP keeps a body (its head whole, then pieces of a size
/// the input's last byte picks) answers as the frame in one piece does.
fn in_pieces_as_in_one(data: &[u8]) {
    let head = if data.len() < frames::REQUEST_HEADER {
        data.len()
    } else {
        frames::values_offset(data).min(data.len())
    };
    let cut = usize::from(data.last().copied().unwrap_or(0)) + 1;
    let pieces: Vec<Bytes> = data[head..]
        .chunks(cut)
        .map(Bytes::copy_from_slice)
        .collect();
    let outcome = |call: Result<frames::Call<'_>, CallError>| {
        call.and_then(|c| c.reply()).map_err(|e| e.to_string())
    };
    let whole = outcome(frames::Call::parse(data));
    let spread = match frames::Call::parse_pieces(&data[..head], &pieces) {
        Ok(None) => return, // a one-for-all value cut in two: joined, it is `whole`
        Ok(Some(call)) => outcome(Ok(call)),
        Err(e) => outcome(Err(e)),
    };
    assert_eq!(spread, whole, "the frame in pieces of {cut} bytes");
}

/// A shared-memory call message (frames version 3), with two regions (ids
/// 0 and 1) and with none: whatever it claims about where values and
/// results lie in which region, nothing is touched outside them.
pub fn shared_frame(data: &[u8]) {
    thread_local!(static REGIONS: RefCell<Regions> = RefCell::new(regions()));
    REGIONS.with_borrow_mut(|regions| {
        let _ = frames::shared::call("fuzz", data, regions);
    });
    let _ = frames::shared::call("fuzz", data, &mut Regions::new(0));
}

/// Bytes of the region the `shared-frame` target's messages point into.
const REGION_BYTES: usize = 1 << 16;

/// Regions 0 and 1 as the IPC client makes them: sealed memfds.
fn regions() -> Regions {
    let mut regions = Regions::new(2 * REGION_BYTES);
    for id in 0..2 {
        let fd = memfd_create(
            "oxbridge-fuzz",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )
        .expect("memfd_create");
        rustix::fs::ftruncate(&fd, REGION_BYTES as u64).expect("ftruncate");
        rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW).expect("seal");
        regions.attach(id, fd).expect("map");
    }
    regions
}

/// An HTTP JSON body, decoded as each function of the calculator and of
/// [`TYPES`] reads it.
pub fn http_json(data: &[u8]) {
    if let Ok(fields) = wire::decode::<Fields<'_>>(data) {
        for f in CALCULATOR.functions.iter().chain(TYPES.functions) {
            let _ = json_call::call(f, &fields, &oxbridge_server::Limits::default());
        }
    }
}

/// A gRPC message: the calculator's v1 messages, and the request message of
/// every function of the calculator and of [`TYPES`].
pub fn grpc(data: &[u8]) {
    if let Ok(req) = grpc::v1::BinaryRequest::decode(data) {
        let part = |z: Option<grpc::v1::Complex>| {
            z.map(|z| Complex::new(z.re.unwrap_or(0.0), z.im.unwrap_or(0.0)))
        };
        if let (Some(a), Some(b)) = (part(req.a), part(req.b)) {
            for f in CALCULATOR.functions {
                let _ = f.invoke(&[Arg::Complex(a), Arg::Complex(b)]);
            }
        }
    }
    if let Ok(req) = grpc::v1::BatchRequest::decode(data) {
        let op = u8::try_from(req.op).unwrap_or(u8::MAX);
        if let Ok(call) = frames::Call::v1(op, &req.a, &req.b, req.b_scalar, req.offset) {
            let _ = call.run();
        }
    }
    if let Ok(req) = grpc::v1::GreetRequest::decode(data) {
        let _ = oxbridge_core::greet_bytes(&req.greeting, &req.name);
    }
    for f in CALCULATOR.functions.iter().chain(TYPES.functions) {
        if let Ok(values) = grpc_functions::decode_request(f, &mut &data[..]) {
            let args: Vec<Arg<'_>> = values.iter().map(Value::as_arg).collect();
            if let Ok(value) = f.invoke(&args) {
                grpc_functions::encode_reply(&value, &mut Vec::new());
            }
        }
        if f.many.is_some() {
            many_in_pieces(f, data);
        }
    }
}

/// A vectorized request answers, or fails, the same in one piece as cut
/// into the pieces h2 delivers a body in.
fn many_in_pieces(f: &'static oxbridge_core::export::Function, data: &[u8]) {
    let outcome = |pieces: Vec<Bytes>| {
        let mut buf = PieceBuf::new(pieces);
        grpc_many::decode_request(f, &mut buf)
            .map_err(|status| status.message().to_owned())
            .and_then(|request| grpc_many::run(f, &request).map_err(|e| e.to_string()))
    };
    let whole = outcome(vec![Bytes::copy_from_slice(data)]);
    let cut = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let pieces = data.chunks(cut).map(Bytes::copy_from_slice).collect();
    assert_eq!(outcome(pieces), whole, "cut every {cut} bytes");
}

/// Reads fuzz input as a stream of values; zeros once it runs out.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0_u8; 8];
        let taken = self.bytes(8);
        b[..taken.len()].copy_from_slice(taken);
        u64::from_le_bytes(b)
    }

    fn f64(&mut self) -> f64 {
        f64::from_bits(self.u64())
    }

    fn complex(&mut self) -> OxbComplex {
        OxbComplex {
            re: self.f64(),
            im: self.f64(),
        }
    }

    /// A length, usually small.
    fn len(&mut self) -> usize {
        usize::from(self.byte() % 64)
    }
}

/// Releases an error string an entry point may have written.
fn release(status: OxbStatus, err: OxbString) {
    let _ = status;
    // SAFETY: `err` came from the library (or is the empty value).
    unsafe { oxb_string_free(err) };
}

const EMPTY: OxbString = OxbString {
    ptr: std::ptr::null_mut(),
    len: 0,
};

/// The calculator's C library, as a C caller reaches it: `compute`, each
/// `oxb_<name>` with and without `out` and `err`, and `oxb_many` with
/// columns of every length and function names of any bytes. Every owned
/// string or array it hands back is released (a leak is a crash).
pub fn c_abi(data: &[u8]) {
    use oxbridge::calculator;
    let mut r = Reader(data);
    let (a, b) = (r.complex(), r.complex());
    let mut err = EMPTY;
    let mut out = OxbComplex { re: 0.0, im: 0.0 };
    match r.byte() % 5 {
        0 => {
            let mut command = r.bytes(8).to_vec();
            command.push(0);
            // SAFETY: NUL-terminated.
            let _ = unsafe { oxbridge::compute(command.as_ptr().cast(), a, b) };
        }
        1 => {
            let binary = [
                calculator::add::symbol,
                calculator::sub::symbol,
                calculator::mul::symbol,
                calculator::div::symbol,
                calculator::pow::symbol,
            ];
            for symbol in binary {
                // SAFETY: `out` and `err` are writable.
                release(unsafe { symbol(a, b, &mut out, &mut err) }, err);
                err = EMPTY;
                // SAFETY: a null `out` is refused, a null `err` ignored.
                let _ = unsafe { symbol(a, b, std::ptr::null_mut(), std::ptr::null_mut()) };
            }
            let mut abs = 0.0;
            // SAFETY: as above.
            release(
                unsafe { calculator::abs::symbol(a, &mut abs, &mut err) },
                err,
            );
        }
        2 => {
            let n = r.len();
            let greeting = r.bytes(n);
            let name = r.0;
            let (greeting, name) = (str_of(greeting, r.byte()), str_of(name, 1));
            let mut reply = EMPTY;
            // SAFETY: both point to their lengths; `reply` and `err` are writable.
            let status = unsafe { calculator::greet::symbol(greeting, name, &mut reply, &mut err) };
            release(status, err);
            // SAFETY: `reply` came from the library.
            unsafe { oxb_string_free(reply) };
        }
        _ => many(&mut r),
    }
}

/// An `OxbStr` of `bytes`, or (when `how` says) null with their length.
fn str_of(bytes: &[u8], how: u8) -> OxbStr {
    let ptr = if how.is_multiple_of(7) {
        std::ptr::null()
    } else {
        bytes.as_ptr()
    };
    OxbStr {
        ptr,
        len: bytes.len(),
    }
}

/// `oxb_many`: a function name of any bytes, up to three columns of
/// complex numbers (each valid for its length), and an out buffer.
fn many(r: &mut Reader<'_>) {
    let name_len = r.len() % 12;
    let name = r.bytes(name_len);
    let nargs = usize::from(r.byte() % 4);
    let mut columns = Vec::new();
    let mut storage: Vec<Vec<OxbComplex>> = Vec::new();
    for _ in 0..nargs {
        let len = r.len();
        let values: Vec<OxbComplex> = (0..len.max(1)).map(|_| r.complex()).collect();
        storage.push(values);
        let one_for_all = r.byte().is_multiple_of(3);
        let values = storage.last().map_or(std::ptr::null(), |v| v.as_ptr());
        columns.push(OxbColumn {
            ptr: values.cast(),
            len,
            one_for_all,
        });
    }
    let out_len = r.len();
    // Room for `out_len` of the widest element (a complex).
    let mut out = vec![OxbComplex { re: 0.0, im: 0.0 }; out_len.max(1)];
    let mut err = EMPTY;
    // SAFETY: every pointer is valid for the length it is given with.
    let status = unsafe {
        oxbridge::calculator::oxb_many(
            str_of(name, 1),
            columns.as_ptr(),
            columns.len(),
            out.as_mut_ptr().cast(),
            out_len,
            &mut err,
        )
    };
    release(status, err);
}

/// The argument decoding of every exported type, on each path a call takes:
/// a JSON body, a protobuf request, and each type's C form.
pub fn args(data: &[u8]) {
    if let Ok(fields) = wire::decode::<Fields<'_>>(data) {
        for f in TYPES.functions {
            let _ = json_call::call(f, &fields, &oxbridge_server::Limits::default());
        }
    }
    for f in TYPES.functions {
        if let Ok(values) = grpc_functions::decode_request(f, &mut &data[..]) {
            let args: Vec<Arg<'_>> = values.iter().map(Value::as_arg).collect();
            let _ = f.invoke(&args);
        }
    }
    let mut r = Reader(data);
    for ty in Type::ALL {
        c_type(ty, &mut r);
    }
}

/// One type's C argument read from `r`, through the function of [`TYPES`]
/// that takes it, and its C result released.
fn c_type(ty: Type, r: &mut Reader<'_>) {
    let how = r.byte();
    let len = r.len();
    let raw = r.bytes(len);
    let reals: Vec<f64> = (0..len).map(|_| r.f64()).collect();
    #[allow(clippy::cast_possible_wrap)]
    let ints: Vec<i64> = (0..len).map(|_| r.u64() as i64).collect();
    let zs: Vec<OxbComplex> = (0..len).map(|_| r.complex()).collect();
    let null = how.is_multiple_of(7);
    let ptr = |p: *const u8| if null { std::ptr::null() } else { p };
    // SAFETY (every `arg` below): each pointer is null or valid for its length.
    let result = match ty {
        Type::Bool => through::<bool>("truth", Ok(Arg::Bool(how & 1 == 1))),
        Type::I64 => through::<i64>("int", unsafe { <i64 as CArg>::arg(&(how.into()), "n") }),
        Type::F64 => through::<f64>("real", unsafe { <f64 as CArg>::arg(&r.f64(), "x") }),
        Type::Complex => {
            let z = r.complex();
            let arg = unsafe { <Complex as CArg>::arg(&z, "z") };
            arg.map(|z| {
                let x = Arg::F64(0.5);
                TYPES
                    .get("scalars")
                    .map(|f| f.invoke(&[Arg::Bool(true), Arg::I64(3), x, z]))
            })
            .map(|_| ())
        }
        Type::Str => {
            let c = OxbStr {
                ptr: ptr(raw.as_ptr()),
                len: raw.len(),
            };
            through::<String>("text", unsafe { <&str as CArg>::arg(&c, "s") })
        }
        Type::Bytes => {
            let c = OxbBytes {
                ptr: ptr(raw.as_ptr()),
                len: raw.len(),
            };
            through::<Vec<u8>>("raw", unsafe { <&[u8] as CArg>::arg(&c, "b") })
        }
        Type::F64Array => {
            let c = OxbF64s {
                ptr: ptr(reals.as_ptr().cast()).cast(),
                len,
            };
            through::<Vec<f64>>("reals", unsafe { <&[f64] as CArg>::arg(&c, "xs") })
        }
        Type::I64Array => {
            let c = OxbI64s {
                ptr: ptr(ints.as_ptr().cast()).cast(),
                len,
            };
            through::<Vec<i64>>("ints", unsafe { <&[i64] as CArg>::arg(&c, "ns") })
        }
        Type::ComplexArray => {
            let c = OxbComplexes {
                ptr: ptr(zs.as_ptr().cast()).cast(),
                len,
            };
            through::<Vec<Complex>>("complexes", unsafe { <&[Complex] as CArg>::arg(&c, "zs") })
        }
    };
    let _ = result;
}

/// Calls `name` of [`TYPES`] with `arg` as the generated C symbol does, and
/// releases the C result it would hand back.
fn through<T: COut>(
    name: &str,
    arg: Result<Arg<'_>, oxbridge_ffi::Failure>,
) -> Result<(), oxbridge_ffi::Failure>
where
    T::C: Release,
{
    let value = exported::invoke(&TYPES, name, &[arg?])?;
    T::out(value)?.release();
    Ok(())
}

/// A C result, released as a C caller must.
trait Release {
    fn release(self);
}

macro_rules! release_plain {
    ($($t:ty),*) => { $(impl Release for $t { fn release(self) {} })* };
}
release_plain!(bool, i64, f64, OxbComplex);

macro_rules! release_with {
    ($($t:ty => $free:path),*) => {
        $(impl Release for $t {
            fn release(self) {
                // SAFETY: made by the library, released once.
                unsafe { $free(self) }
            }
        })*
    };
}
release_with!(
    OxbString => oxb_string_free,
    values::OxbF64Array => oxb_f64_array_free,
    values::OxbI64Array => oxb_i64_array_free,
    values::OxbComplexArray => oxb_complex_array_free
);
