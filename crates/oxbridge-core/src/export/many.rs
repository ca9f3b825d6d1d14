//! The vectorized form of numeric functions: element `i` is exactly the scalar
//! result, large arrays are spread over the cores, and the first failing
//! element is reported by index, whatever its error. Each chunk runs
//! compiled for the CPU's widest vectors ([`oxbridge_simd::widest`]).

use rayon::prelude::*;

use crate::error::CoreError;
use crate::export::types::{Arg, FromArg};

/// Below this many elements one core is faster than waking others.
pub const PARALLEL_THRESHOLD: usize = 1 << 16;
/// Elements per parallel work item: large enough to amortize scheduling,
/// small enough to balance two to dozens of cores.
const CHUNK: usize = 1 << 14;

/// One argument of a `_many` call: an array, or one value for every element.
#[derive(Clone, Copy, Debug)]
pub enum View<'a, T> {
    /// One value per element.
    Each(&'a [T]),
    /// The same value for every element.
    All(T),
}

impl<'a, T: FromArg<'a>> View<'a, T> {
    /// The view of `arg`, which the caller has checked against the signature.
    ///
    /// # Errors
    /// An internal error for an argument of another type.
    pub fn of(arg: &Arg<'a>, function: &str, name: &str) -> Result<Self, CoreError> {
        if let Some(column) = T::column(arg) {
            return Ok(View::Each(column));
        }
        T::from_arg(arg)
            .map(View::All)
            .ok_or_else(|| crate::export::types::wrong_type(function, name, T::TYPE))
    }

    /// The part for elements `start..start + len`.
    #[inline]
    #[must_use]
    pub fn slice(self, start: usize, len: usize) -> Self {
        match self {
            View::Each(v) => View::Each(&v[start..start + len]),
            all @ View::All(_) => all,
        }
    }

    /// Element `i`.
    #[inline]
    #[must_use]
    pub fn get(&self, i: usize) -> T {
        match self {
            View::Each(v) => v[i],
            View::All(v) => *v,
        }
    }
}

/// The number of elements of a `_many` call: every array argument must have
/// it, and so must `out`.
///
/// # Errors
/// [`CoreError::LengthMismatch`] naming the first two arrays that differ.
pub fn many_len(args: &[Arg<'_>], names: &[&'static str], out: usize) -> Result<usize, CoreError> {
    let mut first: Option<(&'static str, usize)> = None;
    for (arg, name) in args.iter().zip(names) {
        let len = match arg {
            Arg::F64Array(v) => v.len(),
            Arg::I64Array(v) => v.len(),
            Arg::ComplexArray(v) => v.len(),
            _ => continue,
        };
        match first {
            None => first = Some((name, len)),
            Some((first_name, n)) if n != len => {
                return Err(CoreError::LengthMismatch {
                    first: first_name,
                    first_len: n,
                    other: name,
                    other_len: len,
                })
            }
            Some(_) => {}
        }
    }
    let n = first.map_or(out, |(_, n)| n);
    if n != out {
        return Err(CoreError::InvalidArgument(format!(
            "the output has {out} elements, the operands {n}"
        )));
    }
    Ok(n)
}

/// Fills `out` chunk by chunk with `chunk(start, part)`, where `part` is
/// `out[start..start + part.len()]`; in parallel above [`PARALLEL_THRESHOLD`],
/// and compiled for the CPU's widest vectors: `chunk` must be
/// `#[inline(always)]`, or it stays compiled for the baseline.
/// A chunk's error is [`CoreError::At`] an index within the chunk; the error
/// returned is the one at the lowest index of the whole array.
///
/// # Errors
/// The first failing element's error, at its index in `out`.
pub fn run_many<T: Send>(
    out: &mut [T],
    chunk: impl Fn(usize, &mut [T]) -> Result<(), CoreError> + Sync,
) -> Result<(), CoreError> {
    if out.len() < PARALLEL_THRESHOLD {
        return oxbridge_simd::widest(
            #[inline(always)]
            || chunk(0, out),
        );
    }
    let failures = out
        .par_chunks_mut(CHUNK)
        .enumerate()
        .filter_map(|(i, part)| {
            oxbridge_simd::widest(
                #[inline(always)]
                || chunk(i * CHUNK, part),
            )
            .err()
            .map(|e| e.at(i * CHUNK))
        });
    match failures.min_by_key(|e| e.index().unwrap_or(usize::MAX)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
