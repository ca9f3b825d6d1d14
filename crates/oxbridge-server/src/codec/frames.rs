//! The frame codec: `_many` calls as binary frames, shared by the IPC bridge
//! (frames beside the JSON requests), the HTTP bridge (`POST /batch`, an
//! `application/octet-stream` body) and, for its operands, the gRPC bridge.
//!
//! Every header is 32 bytes, little-endian. Version 2 names any vectorized
//! function of the library:
//!
//! ```text
//! magic "OXB\x02" | name_len u8 | nargs u8 | 2 zero bytes
//! offset u64 (index of the first element in the caller's whole array, for error messages)
//! body_len u64 | 8 zero bytes
//! body: name (UTF-8) | nargs × (flags u8 (bit 0: one value for every element) | 7 zero | count u64)
//!       | each argument's count values of its parameter's type
//! ```
//!
//! Version 1, kept for the calculator's four operations as they were:
//!
//! ```text
//! magic "OXB\x01" | op u8 (0 add, 1 sub, 2 mul, 3 div) | flags u8 (bit 0: b is one scalar) | 2 zero bytes
//! offset u64 | a_len u64 | b_len u64 | a: a_len × complex | b: b_len × complex
//! ```
//!
//! Values are numpy's layout: `complex` 16 bytes (re, im as f64), `f64` and
//! `i64` 8 bytes. The reply, in the request's version, has a 16-byte header
//! `magic | status u8 (0 ok, 1 error) | 3 zero bytes | len u64`, then `len`
//! results of the function's result type, or on error `len` bytes of JSON
//! `{"kind": ..., "message": ...}`.
//!
//! A client splits arrays larger than the server's request limit into
//! several frames; the server's memory is bounded by that limit.
//!
//! Version 3 is the IPC bridge's shared-memory form (see [`shared`]): the
//! same call, with the values and results in a region the client passed.

use bytes::Bytes;
use oxbridge_core::export::{Arg, Function, OutArray, Type};
use oxbridge_core::{Complex, CoreError, PARALLEL_THRESHOLD};
use oxbridge_shm::{bytes_of, bytes_of_mut, values, values_mut};
use rayon::prelude::*;

use crate::ground::error::CallError;

pub mod shared;
mod spread;

pub use spread::Spread;

/// The version byte of shared-memory messages (see [`shared`]).
pub const SHARED_VERSION: u8 = 3;

/// The first byte of every frame. No JSON text starts with `O`.
pub const FIRST_BYTE: u8 = b'O';
const MAGIC_PREFIX: [u8; 3] = *b"OXB";
/// Length of a request header.
pub const REQUEST_HEADER: usize = 32;
/// Length of a reply header.
pub const REPLY_HEADER: usize = 16;
const FLAG_ONE_FOR_ALL: u8 = 1;
const COLUMN_HEADER: usize = 16;
/// The calculator's operations by their version-1 code.
const V1_OPERATIONS: [&str; 4] = ["add", "sub", "mul", "div"];
/// Elements per block: a few scratch blocks of 64 KiB stay in a core's cache.
pub const BLOCK: usize = 4096;

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0_u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn usize_at(bytes: &[u8], at: usize) -> usize {
    usize::try_from(u64_at(bytes, at)).unwrap_or(usize::MAX)
}

/// An unknown function, as every bridge says it: `NotFound`, the kind of
/// HTTP's 404 and gRPC's unknown method.
fn not_found(e: CoreError) -> CallError {
    match e {
        CoreError::UnknownOperation(_) => CallError::NotFound(e.to_string()),
        other => other.into(),
    }
}

fn bad(message: impl Into<String>) -> CallError {
    CallError::BadRequest(message.into())
}

/// The version of the frame whose header starts with `header` (1 or 2).
///
/// # Errors
/// A bad magic.
pub fn version(header: &[u8]) -> Result<u8, CallError> {
    match header {
        [b'O', b'X', b'B', v @ (1..=SHARED_VERSION), ..] => Ok(*v),
        _ => Err(bad("not an oxbridge batch frame (bad magic)")),
    }
}

/// Where the values start in the request frame whose header is `header`
/// (version 2: after the name and the column heads; else after the header).
/// A malformed header gives some offset in the frame: parsing refuses it.
#[must_use]
pub fn values_offset(header: &[u8]) -> usize {
    match header {
        [b'O', b'X', b'B', 2, name_len, nargs, ..] => {
            REQUEST_HEADER + usize::from(*name_len) + usize::from(*nargs) * COLUMN_HEADER
        }
        _ => REQUEST_HEADER,
    }
}

/// The whole length of the request frame whose header is `header`, checked
/// against `limit` before anything else is read.
///
/// # Errors
/// A bad magic, or [`CallError::TooLarge`].
pub fn frame_len(header: &[u8], limit: usize) -> Result<usize, CallError> {
    let body = match version(header)? {
        1 => u64_at(header, 16)
            .checked_add(u64_at(header, 24))
            .and_then(|n| n.checked_mul(16)),
        _ => Some(u64_at(header, 16)),
    };
    let total = body
        .and_then(|n| n.checked_add(REQUEST_HEADER as u64))
        .and_then(|n| usize::try_from(n).ok());
    match total {
        Some(n) if n <= limit => Ok(n),
        _ => Err(CallError::TooLarge { limit }),
    }
}

/// The function a version 2 or 3 body names, checked to have a vectorized
/// form taking `nargs` arguments; then its `nargs` column heads of
/// `head_size` bytes each, and the rest of the body.
fn named(
    body: &[u8],
    name_len: u8,
    nargs: u8,
    head_size: usize,
) -> Result<(&'static Function, &[u8], &[u8]), CallError> {
    let (name_len, nargs) = (usize::from(name_len), usize::from(nargs));
    let (name, rest) = body
        .split_at_checked(name_len)
        .ok_or_else(|| bad("truncated batch frame"))?;
    let name = std::str::from_utf8(name).map_err(|_| bad("the function name is not UTF-8"))?;
    let (_, function) = crate::ground::library::resolve(name).map_err(not_found)?;
    function.check_many()?;
    function.check_arity(nargs)?;
    let (heads, rest) = rest
        .split_at_checked(nargs * head_size)
        .ok_or_else(|| bad("truncated batch frame"))?;
    Ok((function, heads, rest))
}

/// One argument of a call, as wire bytes.
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    /// One value per element.
    Each(&'a [u8]),
    /// One value for every element.
    All(&'a [u8]),
    /// One value per element, across the pieces the body arrived in.
    Spread(Spread<'a>),
}

impl Column<'_> {
    /// Its length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Column::Each(bytes) | Column::All(bytes) => bytes.len(),
            Column::Spread(spread) => spread.len(),
        }
    }

    /// Whether it holds no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The size on the wire of one value of the numeric scalar type `ty`.
const fn value_size(ty: Type) -> usize {
    match ty {
        Type::Complex => 16,
        _ => 8,
    }
}

/// A `_many` call, borrowed from the bytes it arrived in.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    function: &'static Function,
    columns: Vec<Column<'a>>,
    /// Index of the first element in the caller's array.
    offset: u64,
    len: usize,
    version: u8,
}

impl<'a> Call<'a> {
    /// A call of `function` on `columns` (the gRPC bridge's fields), checked
    /// against its signature: the arity, whole values, one value where one
    /// is for all, equal lengths.
    ///
    /// # Errors
    /// [`CallError::BadRequest`] for columns that do not hold whole values;
    /// the core's refusal of the call (no vectorized form, arity, lengths).
    pub fn new(
        function: &'static Function,
        columns: Vec<Column<'a>>,
        offset: u64,
    ) -> Result<Self, CallError> {
        Self::checked(function, columns, offset, 2)
    }

    /// A version-1 call: the calculator's operation `op` (by its code) on
    /// complex operands, `b` one value for all when `b_all` (the frame's
    /// fields, and the gRPC `Batch` method's).
    ///
    /// # Errors
    /// An unknown code; operands that do not fit, as for [`Call::new`].
    pub fn v1(
        op: u8,
        a: &'a [u8],
        b: &'a [u8],
        b_all: bool,
        offset: u64,
    ) -> Result<Self, CallError> {
        let b = if b_all {
            Column::All(b)
        } else {
            Column::Each(b)
        };
        Self::v1_columns(op, Column::Each(a), b, offset)
    }

    fn v1_columns(op: u8, a: Column<'a>, b: Column<'a>, offset: u64) -> Result<Self, CallError> {
        let name = V1_OPERATIONS
            .get(usize::from(op))
            .ok_or_else(|| bad(format!("unknown batch operation code {op}")))?;
        // The first frame format's operations are the calculator's.
        let function = oxbridge_core::CALCULATOR.lookup(name)?;
        Self::checked(function, vec![a, b], offset, 1)
    }

    fn checked(
        function: &'static Function,
        columns: Vec<Column<'a>>,
        offset: u64,
        version: u8,
    ) -> Result<Self, CallError> {
        function.check_many()?;
        function.check_arity(columns.len())?;
        let mut len: Option<(&'static str, usize)> = None;
        for (column, param) in columns.iter().zip(function.params) {
            let size = value_size(param.ty);
            match *column {
                Column::All(bytes) if bytes.len() != size => {
                    return Err(bad(format!(
                        "argument '{}' is one value for every element, so it must hold exactly one {}",
                        param.name,
                        param.ty.name()
                    )));
                }
                Column::Each(_) | Column::Spread(_) if column.len() % size != 0 => {
                    return Err(bad(format!(
                        "argument '{}' has {} bytes, not a whole number of {} ({size} bytes each)",
                        param.name,
                        column.len(),
                        param.ty.name()
                    )));
                }
                Column::All(_) => {}
                Column::Each(_) | Column::Spread(_) => match len {
                    None => len = Some((param.name, column.len() / size)),
                    Some((first, first_len)) if first_len != column.len() / size => {
                        return Err(CoreError::LengthMismatch {
                            first,
                            first_len,
                            other: param.name,
                            other_len: column.len() / size,
                        }
                        .into())
                    }
                    Some(_) => {}
                },
            }
        }
        let Some((_, len)) = len else {
            return Err(bad("at least one argument must be an array"));
        };
        Ok(Call {
            function,
            columns,
            offset,
            len,
            version,
        })
    }

    /// Parses a complete request frame (as measured by [`frame_len`]), borrowing it.
    ///
    /// # Errors
    /// A malformed frame, an unknown function, or arguments that do not fit it.
    pub fn parse(frame: &'a [u8]) -> Result<Self, CallError> {
        // In one piece, every value lies in one slice.
        Self::parse_pieces(frame, &[])?.ok_or_else(|| bad("truncated batch frame"))
    }

    /// Parses a complete request frame that arrived as `head` (at least its
    /// header, name and column heads, when the frame has them), then the
    /// pieces `more`, reading its values where they lie. `None` when a value
    /// for every element lies across two pieces: parse the frame joined.
    ///
    /// # Errors
    /// As for [`Call::parse`], with the same messages.
    pub fn parse_pieces(head: &'a [u8], more: &'a [Bytes]) -> Result<Option<Self>, CallError> {
        let whole = Spread::new(head, more);
        let Some(frame) = head.get(..REQUEST_HEADER) else {
            return Err(bad("truncated batch frame"));
        };
        // The frame is already whole and within the limit: a header that
        // claims another length is malformed, not too large.
        match frame_len(frame, usize::MAX) {
            Ok(n) if n == whole.len() => {}
            Err(bad_magic @ CallError::BadRequest(_)) => return Err(bad_magic),
            _ => return Err(bad("batch frame length does not match its header")),
        }
        let offset = u64_at(frame, 8);
        let version = version(frame)?;
        if version == SHARED_VERSION {
            return Err(bad(
                "a shared-memory frame (version 3) is only served on an IPC connection that began with one",
            ));
        }
        let mismatch = || bad("batch frame length does not match its header");
        let column = |values: Spread<'a>, one_for_all: bool| match values.contiguous() {
            Some(bytes) if one_for_all => Some(Column::All(bytes)),
            Some(bytes) => Some(Column::Each(bytes)),
            None if one_for_all => None,
            None => Some(Column::Spread(values)),
        };
        let (_, values) = whole.split_at(REQUEST_HEADER).ok_or_else(mismatch)?;
        if version == 1 {
            let (a, b) = values
                .split_at(usize_at(frame, 16).saturating_mul(16))
                .ok_or_else(mismatch)?;
            let (Some(a), Some(b)) = (
                column(a, false),
                column(b, frame[5] & FLAG_ONE_FOR_ALL != 0),
            ) else {
                return Ok(None);
            };
            return Self::v1_columns(frame[4], a, b, offset).map(Some);
        }
        let (function, heads, _) =
            named(&head[REQUEST_HEADER..], frame[4], frame[5], COLUMN_HEADER)?;
        let (_, mut data) = values
            .split_at(usize::from(frame[4]) + heads.len())
            .ok_or_else(mismatch)?;
        let mut columns = Vec::with_capacity(heads.len() / COLUMN_HEADER);
        for (head, param) in heads.chunks_exact(COLUMN_HEADER).zip(function.params) {
            let (values, after) = usize_at(head, 8)
                .checked_mul(value_size(param.ty))
                .and_then(|bytes| data.split_at(bytes))
                .ok_or_else(mismatch)?;
            data = after;
            let Some(column) = column(values, head[0] & FLAG_ONE_FOR_ALL != 0) else {
                return Ok(None);
            };
            columns.push(column);
        }
        if !data.is_empty() {
            return Err(mismatch());
        }
        Self::checked(function, columns, offset, 2).map(Some)
    }

    /// Number of results.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn result_size(&self) -> usize {
        value_size(self.function.returns)
    }

    /// Computes the results as wire bytes into `out`.
    ///
    /// Blocks of [`BLOCK`] elements are decoded into per-thread scratch that
    /// stays in cache, computed by the function's kernel and encoded in place,
    /// in parallel for large calls: no allocation beyond `out`. A failing
    /// element's index counts from the caller's whole array.
    ///
    /// # Errors
    /// The first failing element's error.
    pub fn compute_into(&self, out: &mut [u8]) -> Result<(), CallError> {
        if let Some(done) = self.compute_in_place(out) {
            return done;
        }
        let size = self.result_size();
        let scratch = || Scratch::new(self.function);
        let block = |s: &mut Scratch, (i, out): (usize, &mut [u8])| {
            let start = i * BLOCK;
            s.run(self.function, &self.columns, start, out.len() / size, out)
                .err()
                .map(|e| e.at(start))
        };
        let first_failure = if self.len >= PARALLEL_THRESHOLD {
            out.par_chunks_mut(BLOCK * size)
                .enumerate()
                .map_init(scratch, block)
                .flatten()
                .min_by_key(|e| e.index().unwrap_or(usize::MAX))
        } else {
            let mut s = scratch();
            out.chunks_mut(BLOCK * size)
                .enumerate()
                .find_map(|item| block(&mut s, item))
        };
        match first_failure {
            None => Ok(()),
            Some(e) => Err(e.at(usize::try_from(self.offset).unwrap_or(0)).into()),
        }
    }

    /// The results computed on the wire bytes themselves, read as numbers
    /// where they lie (a shared region's aligned values): `None` if any of
    /// them is not aligned, for [`Call::compute_into`] to decode instead.
    fn compute_in_place(&self, out: &mut [u8]) -> Option<Result<(), CallError>> {
        let args = self
            .columns
            .iter()
            .zip(self.function.params)
            .map(|(column, param)| match (*column, param.ty) {
                (Column::All(bytes), ty) => Some(one_value(ty, bytes)),
                (Column::Each(bytes), Type::Complex) => values(bytes).map(Arg::ComplexArray),
                (Column::Each(bytes), Type::F64) => values(bytes).map(Arg::F64Array),
                (Column::Each(bytes), _) => values(bytes).map(Arg::I64Array),
                (Column::Spread(_), _) => None,
            })
            .collect::<Option<Vec<Arg<'_>>>>()?;
        let mut out = match self.function.returns {
            Type::Complex => OutArray::Complex(values_mut(out)?),
            Type::F64 => OutArray::F64(values_mut(out)?),
            _ => OutArray::I64(values_mut(out)?),
        };
        let offset = usize::try_from(self.offset).unwrap_or(0);
        Some(
            self.function
                .invoke_many(&args, &mut out)
                .map_err(|e| e.at(offset).into()),
        )
    }

    /// The results as wire bytes.
    ///
    /// # Errors
    /// As for [`Call::compute_into`].
    pub fn run(&self) -> Result<Vec<u8>, CallError> {
        let mut out = vec![0_u8; self.len * self.result_size()];
        self.compute_into(&mut out)?;
        Ok(out)
    }

    /// The reply frame: header and results in one buffer.
    ///
    /// # Errors
    /// As for [`Call::compute_into`].
    pub fn reply(&self) -> Result<Vec<u8>, CallError> {
        let mut out = vec![0_u8; REPLY_HEADER + self.len * self.result_size()];
        out[..REPLY_HEADER].copy_from_slice(&ok_header(self.version, self.len));
        self.compute_into(&mut out[REPLY_HEADER..])?;
        Ok(out)
    }
}

/// The header of a reply in `version` that carries `len` results.
fn ok_header(version: u8, len: usize) -> [u8; REPLY_HEADER] {
    let mut header = [0_u8; REPLY_HEADER];
    header[..3].copy_from_slice(&MAGIC_PREFIX);
    header[3] = version;
    header[8..16].copy_from_slice(&(len as u64).to_le_bytes());
    header
}

/// One block's typed values: the arguments decoded, the results to encode.
enum Values {
    Complex(Vec<Complex>),
    F64(Vec<f64>),
    I64(Vec<i64>),
}

impl Values {
    fn new(ty: Type) -> Self {
        match ty {
            Type::Complex => Values::Complex(vec![Complex::default(); BLOCK]),
            Type::F64 => Values::F64(vec![0.0; BLOCK]),
            _ => Values::I64(vec![0; BLOCK]),
        }
    }

    fn decode(&mut self, bytes: &[u8]) {
        // The wire's order is the host's: one block copy, whatever the
        // alignment of `bytes` (a body cut where the transport cut it).
        if cfg!(target_endian = "little") {
            self.fill(bytes.len(), |block| block.copy_from_slice(bytes));
            return;
        }
        match self {
            Values::Complex(v) => {
                for (z, c) in v.iter_mut().zip(bytes.chunks_exact(16)) {
                    let (re, im) = c.split_at(8);
                    *z = Complex::new(f64_le(re), f64_le(im));
                }
            }
            Values::F64(v) => {
                for (x, c) in v.iter_mut().zip(bytes.chunks_exact(8)) {
                    *x = f64_le(c);
                }
            }
            Values::I64(v) => {
                for (x, c) in v.iter_mut().zip(bytes.chunks_exact(8)) {
                    *x = i64::from_le_bytes(word(c));
                }
            }
        }
    }

    /// Decodes `len` wire bytes that `copy` writes into the buffer it is given.
    fn fill(&mut self, len: usize, copy: impl FnOnce(&mut [u8])) {
        if cfg!(target_endian = "little") {
            match self {
                Values::Complex(v) => copy(&mut bytes_of_mut(v.as_mut_slice())[..len]),
                Values::F64(v) => copy(&mut bytes_of_mut(v.as_mut_slice())[..len]),
                Values::I64(v) => copy(&mut bytes_of_mut(v.as_mut_slice())[..len]),
            }
            return;
        }
        let mut bytes = vec![0; len];
        copy(&mut bytes);
        self.decode(&bytes);
    }

    fn encode(&self, m: usize, out: &mut [u8]) {
        if cfg!(target_endian = "little") {
            match self {
                Values::Complex(v) => out.copy_from_slice(bytes_of(&v[..m])),
                Values::F64(v) => out.copy_from_slice(bytes_of(&v[..m])),
                Values::I64(v) => out.copy_from_slice(bytes_of(&v[..m])),
            }
            return;
        }
        match self {
            Values::Complex(v) => {
                for (c, z) in out.chunks_exact_mut(16).zip(&v[..m]) {
                    let (re, im) = c.split_at_mut(8);
                    re.copy_from_slice(&z.re.to_le_bytes());
                    im.copy_from_slice(&z.im.to_le_bytes());
                }
            }
            Values::F64(v) => {
                for (c, x) in out.chunks_exact_mut(8).zip(&v[..m]) {
                    c.copy_from_slice(&x.to_le_bytes());
                }
            }
            Values::I64(v) => {
                for (c, x) in out.chunks_exact_mut(8).zip(&v[..m]) {
                    c.copy_from_slice(&x.to_le_bytes());
                }
            }
        }
    }

    fn each(&self, m: usize) -> Arg<'_> {
        match self {
            Values::Complex(v) => Arg::ComplexArray(&v[..m]),
            Values::F64(v) => Arg::F64Array(&v[..m]),
            Values::I64(v) => Arg::I64Array(&v[..m]),
        }
    }

    fn out(&mut self, m: usize) -> OutArray<'_> {
        match self {
            Values::Complex(v) => OutArray::Complex(&mut v[..m]),
            Values::F64(v) => OutArray::F64(&mut v[..m]),
            Values::I64(v) => OutArray::I64(&mut v[..m]),
        }
    }
}

fn word(bytes: &[u8]) -> [u8; 8] {
    let mut word = [0_u8; 8];
    word.copy_from_slice(bytes);
    word
}

fn f64_le(bytes: &[u8]) -> f64 {
    f64::from_le_bytes(word(bytes))
}

/// The scalar argument one value on the wire gives a parameter of type `ty`.
fn one_value(ty: Type, bytes: &[u8]) -> Arg<'static> {
    match ty {
        Type::Complex => Arg::Complex(Complex::new(f64_le(&bytes[..8]), f64_le(&bytes[8..16]))),
        Type::F64 => Arg::F64(f64_le(bytes)),
        _ => Arg::I64(i64::from_le_bytes(word(bytes))),
    }
}

/// One thread's scratch: a block per argument, and one for the results.
struct Scratch {
    args: Vec<Values>,
    out: Values,
}

impl Scratch {
    fn new(f: &Function) -> Self {
        Scratch {
            args: f.params.iter().map(|p| Values::new(p.ty)).collect(),
            out: Values::new(f.returns),
        }
    }

    /// Elements `start..start + m`: decoded, computed, encoded into `out`.
    fn run(
        &mut self,
        f: &Function,
        columns: &[Column<'_>],
        start: usize,
        m: usize,
        out: &mut [u8],
    ) -> Result<(), CoreError> {
        for ((values, column), param) in self.args.iter_mut().zip(columns).zip(f.params) {
            let size = value_size(param.ty);
            match column {
                Column::Each(bytes) => values.decode(&bytes[start * size..(start + m) * size]),
                Column::Spread(spread) => values.fill(m * size, |block| {
                    spread.copy_to(start * size, block);
                }),
                Column::All(_) => {}
            }
        }
        let args: Vec<Arg<'_>> = self
            .args
            .iter()
            .zip(columns)
            .zip(f.params)
            .map(|((values, column), param)| match column {
                Column::Each(_) | Column::Spread(_) => values.each(m),
                Column::All(bytes) => one_value(param.ty, bytes),
            })
            .collect();
        f.invoke_many(&args, &mut self.out.out(m))?;
        self.out.encode(m, out);
        Ok(())
    }
}

/// An error reply frame in `version`.
#[must_use]
pub fn error_reply(version: u8, e: &CallError) -> Vec<u8> {
    let message =
        serde_json::to_vec(&serde_json::json!({"kind": e.kind().name(), "message": e.to_string()}))
            .unwrap_or_default();
    let mut out = Vec::with_capacity(REPLY_HEADER + message.len());
    out.extend_from_slice(&MAGIC_PREFIX);
    out.extend_from_slice(&[version, 1, 0, 0, 0]);
    out.extend_from_slice(&(message.len() as u64).to_le_bytes());
    out.extend_from_slice(&message);
    out
}

/// The version to answer a frame in: the request's, or 1 when its magic is bad.
#[must_use]
pub fn reply_version(frame: &[u8]) -> u8 {
    version(frame).unwrap_or(1)
}

/// Parses, runs and answers one frame, logging a failure and counting the
/// call (see `metrics`).
#[must_use]
pub fn handle(bridge: &'static str, frame: &[u8]) -> Vec<u8> {
    counted(bridge, reply_version(frame), || {
        let reply = Call::parse(frame)?.reply()?;
        Ok((frame.len(), reply.len(), reply))
    })
}

/// Runs `call` as one counted batch call of `bridge`: its reply, or on
/// failure the error logged and answered in `version`. `call` gives the bytes
/// of the request and of the reply (for the metrics) and the reply frame.
fn counted(
    bridge: &'static str,
    version: u8,
    call: impl FnOnce() -> Result<(usize, usize, Vec<u8>), CallError>,
) -> Vec<u8> {
    let mut counted = crate::ground::metrics::Call::start(bridge);
    counted.function(crate::ground::metrics::Label::fixed(
        crate::ground::metrics::BATCH,
    ));
    match call() {
        Ok((request, reply_len, reply)) => {
            counted.finish(None);
            crate::ground::metrics::batch_bytes(bridge, request, reply_len);
            reply
        }
        Err(e) => {
            crate::ground::log::log_call_error(bridge, &e);
            counted.finish(Some(e.kind()));
            error_reply(version, &e)
        }
    }
}

#[cfg(test)]
mod tests;
