//! Version 3: a `_many` call whose values and results live in a region of
//! shared memory that the IPC client passed over its connection, so that a
//! large batch never crosses the socket.
//!
//! A connection that uses it starts with an *attach* message carrying the
//! region's descriptor (`SCM_RIGHTS`); then each *call* message names the
//! function and where, in the region, its arguments are and its results go.
//! Every message has the 32-byte header, little-endian:
//!
//! ```text
//! magic "OXB\x03" | kind u8 (0 attach, 1 call) | name_len u8 | nargs u8 | 1 zero byte
//! offset u64 (index of the first element in the caller's whole array)
//! body_len u64 | out_at u64 (where the results go)
//! body (a call): name (UTF-8) | nargs × (flags u8 (bit 0: one value for every element)
//!                                        | 7 zero | count u64 | at u64)
//! ```
//!
//! An attach has no body. The reply is the 16-byte reply header of version 3:
//! status 0 and the number of results (now in the region), or status 1 and a
//! JSON error, as for the other versions.

use std::ops::Range;

use oxbridge_shm::Region;

use super::{
    bad, counted, named, ok_header, u64_at, usize_at, value_size, Call, Column, FLAG_ONE_FOR_ALL,
    REQUEST_HEADER,
};
use crate::error::CallError;

/// The version byte of shared-memory messages.
pub const VERSION: u8 = 3;
/// The message that passes a region.
pub const ATTACH: u8 = 0;
/// The message that calls a function on the region.
pub const CALL: u8 = 1;
/// Bytes of one argument's head: flags, count, where its values are.
const HEAD: usize = 24;
/// The largest message: the header, a name of 255 bytes and 255 heads.
pub const MAX_MESSAGE: usize = REQUEST_HEADER + 255 + 255 * HEAD;

/// The kind of a version-3 message (its header is whole).
#[must_use]
pub fn kind(message: &[u8]) -> u8 {
    message[4]
}

/// Where one argument of a call message is in the region (see the module):
/// `count` values from byte `at`, or one value for every element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// One value (at `at`) for every element of the call.
    pub one_for_all: bool,
    /// How many values.
    pub count: u64,
    /// The byte in the region where they start.
    pub at: u64,
}

/// Writes into `message` (emptied first) the call message of `name` on the
/// arguments `heads`, its first element the caller's `offset`-th, its
/// results going to byte `out_at`: what the IPC client sends, as
/// [`parse`] reads it.
///
/// # Panics
/// When `name` or `heads` is longer than 255 (a function has neither).
pub fn call_message(message: &mut Vec<u8>, name: &[u8], heads: &[Head], offset: u64, out_at: u64) {
    let name_len = u8::try_from(name.len()).expect("a function name fits in 255 bytes");
    let nargs = u8::try_from(heads.len()).expect("a function has at most 255 arguments");
    let body = name.len() + heads.len() * HEAD;
    message.clear();
    message.extend_from_slice(b"OXB");
    message.extend_from_slice(&[VERSION, CALL, name_len, nargs, 0]);
    for n in [offset, body as u64, out_at] {
        message.extend_from_slice(&n.to_le_bytes());
    }
    message.extend_from_slice(name);
    for head in heads {
        let flags = if head.one_for_all {
            FLAG_ONE_FOR_ALL
        } else {
            0
        };
        message.extend_from_slice(&[flags, 0, 0, 0, 0, 0, 0, 0]);
        message.extend_from_slice(&head.count.to_le_bytes());
        message.extend_from_slice(&head.at.to_le_bytes());
    }
}

/// The reply to a region attached.
#[must_use]
pub fn attached() -> Vec<u8> {
    ok_header(VERSION, 0).to_vec()
}

/// Runs the call `message` on `region`, its results written into the region;
/// the reply (counted and logged like every batch call of `bridge`).
#[must_use]
pub fn call(bridge: &'static str, message: &[u8], region: Option<&mut Region>) -> Vec<u8> {
    counted(bridge, VERSION, || {
        let region = region
            .ok_or_else(|| bad("no shared-memory region on this connection: attach one first"))?;
        let (call, out) = parse(message, region)?;
        call.compute_into(out)?;
        let read = call.columns.iter().map(Column::len);
        Ok((
            read.sum(),
            out.len(),
            ok_header(VERSION, call.len()).to_vec(),
        ))
    })
}

/// The call a whole message describes, its values borrowed from `region`,
/// and the slice of the region its results go to.
fn parse<'a>(
    message: &[u8],
    region: &'a mut Region,
) -> Result<(Call<'a>, &'a mut [u8]), CallError> {
    if message.len() < REQUEST_HEADER {
        return Err(bad("truncated batch frame"));
    }
    let (function, heads, rest) = named(&message[REQUEST_HEADER..], message[5], message[6], HEAD)?;
    if !rest.is_empty() {
        return Err(bad("batch frame length does not match its header"));
    }
    let outside = || {
        bad("the call's values or results lie outside the shared-memory region, or its results overlap its values")
    };
    let span = |at: usize, count: usize, size: usize| -> Result<Range<usize>, CallError> {
        let end = count.checked_mul(size).and_then(|n| n.checked_add(at));
        end.map(|end| at..end).ok_or_else(outside)
    };
    let mut ranges = Vec::with_capacity(heads.len() / HEAD);
    let mut one_for_all = Vec::with_capacity(heads.len() / HEAD);
    // The first array's length is the number of results.
    let mut len = None;
    for (head, param) in heads.chunks_exact(HEAD).zip(function.params) {
        let (all, count) = (head[0] & FLAG_ONE_FOR_ALL != 0, usize_at(head, 8));
        if !all && len.is_none() {
            len = Some(count);
        }
        ranges.push(span(usize_at(head, 16), count, value_size(param.ty))?);
        one_for_all.push(all);
    }
    let out = span(
        usize_at(message, 24),
        len.unwrap_or(0),
        value_size(function.returns),
    )?;
    let (values, out) = region.split(&ranges, out).ok_or_else(outside)?;
    let columns = values
        .into_iter()
        .zip(one_for_all)
        .map(|(bytes, all)| {
            if all {
                Column::All(bytes)
            } else {
                Column::Each(bytes)
            }
        })
        .collect();
    let call = Call::checked(function, columns, u64_at(message, 8), VERSION)?;
    Ok((call, out))
}
