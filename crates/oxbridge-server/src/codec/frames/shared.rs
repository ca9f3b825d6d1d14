//! Version 3: a `_many` call whose values and results live in regions of
//! shared memory that the IPC client passed over its connection, so that a
//! large batch never crosses the socket.
//!
//! A connection that uses it *attaches* regions, each message carrying one
//! region's descriptor (`SCM_RIGHTS`) and the id (0 to 255) the client gives
//! it; then each *call* message names the function, and for each argument
//! and for the results the region and the place in it. A call may read
//! from several regions (an array the client keeps in shared memory, the
//! result of an earlier call) and write into another. *Detach* drops a
//! region. Every message has the 32-byte header, little-endian:
//!
//! ```text
//! magic "OXB\x03" | kind u8 (0 attach, 1 call, 2 detach) | name_len u8 | nargs u8
//!                 | out_region u8 (where the results go)
//! offset u64 (a call: index of the first element in the caller's whole
//!             array; an attach or detach: the region's id)
//! body_len u64 | out_at u64 (the byte in out_region where the results go)
//! body (a call): name (UTF-8) | nargs × (flags u8 (bit 0: one value for every element)
//!                                        | region u8 | 6 zero | count u64 | at u64)
//! ```
//!
//! Clients from before several regions send zeros where the ids are: all of
//! their calls use region 0, which each attach replaces.
//!
//! An attach or detach has no body. The reply is the 16-byte reply header of
//! version 3: status 0 and the number of results (now in the region; for an
//! attach or detach, the region's number), or status 1 and a JSON error, as
//! for the other versions. A server from before numbered regions answers
//! every attach with 0: a client that numbers its regions from 1 knows
//! such a server by that, and must not name a region in its calls.

use std::ops::Range;

use oxbridge_shm::Regions;

use super::{
    bad, counted, named, ok_header, u64_at, usize_at, value_size, Call, Column, FLAG_ONE_FOR_ALL,
    REQUEST_HEADER,
};
use crate::ground::error::CallError;

/// The version byte of shared-memory messages.
pub const VERSION: u8 = super::SHARED_VERSION;
/// The message that passes a region.
pub const ATTACH: u8 = 0;
/// The message that calls a function on the regions.
pub const CALL: u8 = 1;
/// The message that drops a region.
pub const DETACH: u8 = 2;
/// Bytes of one argument's head: flags, count, where its values are.
const HEAD: usize = 24;
/// The largest message: the header, a name of 255 bytes and 255 heads.
pub const MAX_MESSAGE: usize = REQUEST_HEADER + 255 + 255 * HEAD;

/// The kind of a version-3 message (its header is whole).
#[must_use]
pub fn kind(message: &[u8]) -> u8 {
    message[4]
}

/// Where one argument of a call message is (see the module): `count`
/// values from byte `at` of a region, or one value for every element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// One value (at `at`) for every element of the call.
    pub one_for_all: bool,
    /// The id of the region they are in.
    pub region: u8,
    /// How many values.
    pub count: u64,
    /// The byte in the region where they start.
    pub at: u64,
}

/// Writes into `message` (emptied first) the call message of `name` on the
/// arguments `heads`, its first element the caller's `offset`-th, its
/// results going to byte `out.1` of region `out.0`: what the IPC client
/// sends, as [`parse`] reads it.
///
/// # Panics
/// When `name` or `heads` is longer than 255 (a function has neither).
pub fn call_message(
    message: &mut Vec<u8>,
    name: &[u8],
    heads: &[Head],
    offset: u64,
    out: (u8, u64),
) {
    let name_len = u8::try_from(name.len()).expect("a function name fits in 255 bytes");
    let nargs = u8::try_from(heads.len()).expect("a function has at most 255 arguments");
    let body = name.len() + heads.len() * HEAD;
    message.clear();
    message.extend_from_slice(b"OXB");
    message.extend_from_slice(&[VERSION, CALL, name_len, nargs, out.0]);
    for n in [offset, body as u64, out.1] {
        message.extend_from_slice(&n.to_le_bytes());
    }
    message.extend_from_slice(name);
    for head in heads {
        let flags = if head.one_for_all {
            FLAG_ONE_FOR_ALL
        } else {
            0
        };
        message.extend_from_slice(&[flags, head.region, 0, 0, 0, 0, 0, 0]);
        message.extend_from_slice(&head.count.to_le_bytes());
        message.extend_from_slice(&head.at.to_le_bytes());
    }
}

/// The reply to region `id` attached or detached: its number where a
/// call's reply has its count, so that a client tells this server from one
/// that had a single region (which always answers 0).
#[must_use]
pub fn attached(id: u8) -> Vec<u8> {
    ok_header(VERSION, usize::from(id)).to_vec()
}

/// The region id of an attach or detach message (its header is whole).
///
/// # Errors
/// An id past 255.
pub fn region_id(message: &[u8]) -> Result<u8, CallError> {
    u8::try_from(u64_at(message, 8))
        .map_err(|_| bad("a shared-memory region's id must be 0 to 255"))
}

/// Writes into `message` (emptied first) the attach or detach message
/// (`kind`) of region `id`: what the IPC client sends, as the server reads it.
pub fn region_message(message: &mut Vec<u8>, kind: u8, id: u8) {
    message.clear();
    message.extend_from_slice(b"OXB");
    message.extend_from_slice(&[VERSION, kind, 0, 0, 0]);
    for n in [u64::from(id), 0, 0] {
        message.extend_from_slice(&n.to_le_bytes());
    }
}

/// Runs the call `message` on `regions`, its results written into one of
/// them; the reply (counted and logged like every batch call of `bridge`).
#[must_use]
pub fn call(bridge: &'static str, message: &[u8], regions: &mut Regions) -> Vec<u8> {
    counted(bridge, VERSION, || {
        if message.len() >= REQUEST_HEADER && !regions.has(message[7]) {
            return Err(bad(format!(
                "no shared-memory region {} on this connection: attach one first",
                message[7]
            )));
        }
        let (call, out) = parse(message, regions)?;
        call.compute_into(out)?;
        let read = call.columns.iter().map(Column::len);
        Ok((
            read.sum(),
            out.len(),
            ok_header(VERSION, call.len()).to_vec(),
        ))
    })
}

/// The call a whole message describes, its values borrowed from `regions`,
/// and the slice of a region its results go to.
fn parse<'a>(
    message: &[u8],
    regions: &'a mut Regions,
) -> Result<(Call<'a>, &'a mut [u8]), CallError> {
    if message.len() < REQUEST_HEADER {
        return Err(bad("truncated batch frame"));
    }
    let (function, heads, rest) = named(&message[REQUEST_HEADER..], message[5], message[6], HEAD)?;
    if !rest.is_empty() {
        return Err(bad("batch frame length does not match its header"));
    }
    let outside = || {
        bad("the call's values or results lie outside the shared-memory regions it names, or its results overlap its values")
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
        ranges.push((
            head[1],
            span(usize_at(head, 16), count, value_size(param.ty))?,
        ));
        one_for_all.push(all);
    }
    let out = span(
        usize_at(message, 24),
        len.unwrap_or(0),
        value_size(function.returns),
    )?;
    let (values, out) = regions
        .split(&ranges, (message[7], out))
        .ok_or_else(outside)?;
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
