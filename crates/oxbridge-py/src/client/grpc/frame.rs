//! A gRPC message on the wire: a request framed from Python's buffers (the
//! large ones lent to h2 in place), the codec that hands tonic raw bytes, and
//! a batch reply's results found in the pieces it arrived in.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

use oxbridge_server::ground::pieces::PieceBuf;
use oxbridge_server::grpc::message::Slots;

use super::failure::*;

/// Pieces from this size on are lent to the HTTP/2 body, not copied.
pub(super) const LENT_FROM: usize = 64 * 1024;

/// A request's message: Python's `bytes` objects and byte `memoryview`s,
/// one after another, read in place without the GIL (the large ones by h2,
/// for as long as it holds them: see [`Message::chunks`]).
pub(super) struct Message {
    /// What keeps each piece's memory alive and in place.
    owners: Vec<Py<PyAny>>,
    pieces: Vec<(*const u8, usize)>,
}

// SAFETY: each piece points into a `bytes` object (which never moves or
// changes) or into the exporter of a `memoryview` (pinned until the view is
// released, and the bridge never releases the views it hands over), both
// kept alive by `owners`; the pieces are only ever read, from any thread.
unsafe impl Send for Message {}
// SAFETY: as for `Send`: the bytes are only ever read.
unsafe impl Sync for Message {}

impl Message {
    /// The message of `parts`: `bytes` objects, and contiguous byte
    /// `memoryview`s that nothing releases until the call is over.
    pub(super) fn new(parts: &[Bound<'_, PyAny>]) -> PyResult<Self> {
        let mut message = Self {
            owners: Vec::with_capacity(parts.len()),
            pieces: Vec::with_capacity(parts.len()),
        };
        for part in parts {
            let piece = if let Ok(bytes) = part.cast::<PyBytes>() {
                let data = bytes.as_bytes();
                (data.as_ptr(), data.len())
            } else if part.is_instance_of::<PyMemoryView>() {
                let view = PyBuffer::<u8>::get(part)?;
                if !view.is_c_contiguous() {
                    return Err(PyValueError::new_err("a request piece must be contiguous"));
                }
                let piece = (view.buf_ptr().cast_const().cast::<u8>(), view.len_bytes());
                // The view's own export keeps the memory in place from here.
                drop(view);
                piece
            } else {
                let kind = part.get_type().name()?;
                let message = format!("a request piece must be bytes or a memoryview, not {kind}");
                return Err(PyTypeError::new_err(message));
            };
            message.pieces.push(piece);
            message.owners.push(part.clone().unbind());
        }
        Ok(message)
    }

    /// Piece `i`.
    fn piece(&self, i: usize) -> &[u8] {
        let _ = &self.owners;
        let (ptr, len) = self.pieces[i];
        // SAFETY: see `unsafe impl Send for Message`.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }

    /// The message as gRPC frames it, in chunks for the HTTP/2 body (see
    /// [`frame`]): its large pieces lent where Python keeps them (h2 writes
    /// them to the socket from there), each chunk holding the message alive.
    ///
    /// # Errors
    /// As for [`frame`].
    pub(super) fn chunks(self: &Arc<Self>, limit: usize) -> Result<Vec<Bytes>, Status> {
        let pieces: Vec<&[u8]> = (0..self.pieces.len()).map(|i| self.piece(i)).collect();
        frame(&pieces, limit, |piece| {
            Bytes::from_owner(Lent {
                message: Arc::clone(self),
                piece,
            })
        })
    }
}

/// A gRPC message of `pieces` as it is framed (a 5-byte prefix: not
/// compressed, and its length), in chunks: small pieces copied together,
/// each large one as `lend` makes it of its number.
///
/// # Errors
/// `OUT_OF_RANGE` for a message over `limit` bytes, in tonic's words.
pub(super) fn frame(
    pieces: &[&[u8]],
    limit: usize,
    mut lend: impl FnMut(usize) -> Bytes,
) -> Result<Vec<Bytes>, Status> {
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    if len > limit {
        return Err(Status::out_of_range(format!(
            "Error, encoded message length too large: found {len} bytes, the limit is: {limit} bytes"
        )));
    }
    let prefix =
        u32::try_from(len).map_err(|_| Status::out_of_range("a message of 4 GiB or more"))?;
    let mut chunks = Vec::new();
    let mut small = bytes::BytesMut::with_capacity(5 + len.min(LENT_FROM));
    small.put_u8(0);
    small.put_u32(prefix);
    for (i, piece) in pieces.iter().enumerate() {
        if piece.len() < LENT_FROM {
            small.put_slice(piece);
            continue;
        }
        if !small.is_empty() {
            chunks.push(small.split().freeze());
        }
        chunks.push(lend(i));
    }
    if !small.is_empty() {
        chunks.push(small.freeze());
    }
    Ok(chunks)
}

/// One piece of a message, lent to the HTTP/2 body: the message stays alive
/// (and Python's memory in place) for as long as h2 holds it.
pub(super) struct Lent {
    message: Arc<Message>,
    piece: usize,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        self.message.piece(self.piece)
    }
}

/// A request's HTTP/2 body: the message's chunks (see [`Message::chunks`]).
pub(super) struct MessageBody {
    pub(super) chunks: std::vec::IntoIter<Bytes>,
}

impl http_body::Body for MessageBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        Poll::Ready(
            self.get_mut()
                .chunks
                .next()
                .map(|chunk| Ok(http_body::Frame::data(chunk))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.len() == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.chunks.as_slice().iter().map(|c| c.len() as u64).sum())
    }
}

/// Requests as Python wrote them, replies as they came. Its encoder writes
/// nothing: the request's body is replaced by the message itself on its way
/// to the channel (see `Call::attempt`), so that tonic's encoding buffer
/// never holds a copy of it. Its decoder takes the reply's message in the
/// pieces h2 received it in, read off the body before tonic sees it (see
/// `grpc_message`), so tonic's decoding buffer holds none either; for a
/// batch only: a small reply is cheaper copied than kept in pieces.
#[derive(Clone)]
pub(super) struct RawCodec(pub(super) Option<Arc<Slots>>, pub(super) u8);

/// A reply's message, in the pieces it arrived in.
pub(super) type Reply = Vec<Bytes>;

impl Codec for RawCodec {
    type Encode = Arc<Message>;
    type Decode = Reply;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self {
        self.clone()
    }

    fn decoder(&mut self) -> Self {
        self.clone()
    }
}

impl Encoder for RawCodec {
    type Item = Arc<Message>;
    type Error = Status;

    fn encode(&mut self, _: Arc<Message>, _: &mut EncodeBuf<'_>) -> Result<(), Status> {
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Reply;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Reply>, Status> {
        // tonic drains a unary reply's body for its trailers: a second
        // message comes here too, and is a broken reply, not one to ignore.
        self.1 = self.1.saturating_add(1);
        if self.1 > 1 {
            return Err(bad_reply("more than one reply to one request".into()));
        }
        Ok(Some(
            match self.0.as_ref().and_then(|slots| slots.message()) {
                Some(message) => message.into_vec(),
                None => vec![src.copy_to_bytes(src.remaining())],
            },
        ))
    }
}

/// The bytes of the last field 1 (length-delimited) of a protobuf message,
/// as a `<Name>ManyReply` holds its results, in the pieces they lie in;
/// empty when there is none. `None` when the message is malformed.
pub(super) fn many_results(message: &[Bytes]) -> Option<Vec<Bytes>> {
    let mut rest = PieceBuf::new(message.iter().cloned());
    let mut results = Vec::new();
    while rest.has_remaining() {
        let key = varint(&mut rest)?;
        let skip = match key & 7 {
            0 => {
                varint(&mut rest)?;
                0
            }
            1 => 8,
            2 => usize::try_from(varint(&mut rest)?).ok()?,
            5 => 4,
            _ => return None,
        };
        if skip > rest.remaining() {
            return None;
        }
        let value = rest.take_pieces(skip);
        if key >> 3 == 1 && key & 7 == 2 {
            results = value;
        }
    }
    Some(results)
}

/// A protobuf varint read off the front of `data`.
pub(super) fn varint(data: &mut impl Buf) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        if !data.has_remaining() {
            return None;
        }
        let byte = data.get_u8();
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The number of bytes in `pieces`.
pub(super) fn len(pieces: &[Bytes]) -> usize {
    pieces.iter().map(Bytes::len).sum()
}

/// Copies `pieces`, one after another, into `target` (exactly as long).
pub(super) fn copy_pieces(pieces: &[Bytes], target: &mut [u8]) {
    let mut at = 0;
    for piece in pieces {
        target[at..at + piece.len()].copy_from_slice(piece);
        at += piece.len();
    }
}

/// No limit of this side's on a request's size: the largest gRPC can frame.
pub(super) const UNLIMITED: usize = u32::MAX as usize;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::grpc::failure::decode_limit;
    use tonic::Code;

    #[test]
    fn a_message_is_framed_with_small_pieces_copied_and_large_ones_lent() {
        static LARGE: [u8; LENT_FROM] = [7; LENT_FROM];
        let pieces: [&'static [u8]; 5] = [b"ab", b"c", &LARGE, b"de", &LARGE];
        let chunks = frame(&pieces, 1 << 20, |i| Bytes::from_static(pieces[i])).unwrap();
        let sizes: Vec<usize> = chunks.iter().map(Bytes::len).collect();
        assert_eq!(sizes, [5 + 3, LENT_FROM, 2, LENT_FROM]);
        // The lent chunks are the pieces themselves, not copies.
        assert_eq!(chunks[1].as_ptr(), LARGE.as_ptr());
        let len = u32::try_from(3 + 2 + 2 * LENT_FROM).unwrap();
        let expected = [&[0][..], &len.to_be_bytes(), b"abc", &LARGE, b"de", &LARGE].concat();
        assert_eq!(chunks.concat(), expected);
    }

    #[test]
    fn a_message_over_the_limit_is_refused_as_tonic_refuses_it() {
        let status = frame(&[b"ab", b"cd"], 3, |_| Bytes::new()).unwrap_err();
        assert_eq!(status.code(), Code::OutOfRange);
        assert_eq!(decode_limit(status.message()), Some(3));
    }

    #[test]
    fn a_batch_replys_results_are_its_last_field_one() {
        // Field 1 twice (the last counts), a varint, a fixed64 and a fixed32 between.
        let message = [
            0x0a, 2, 1, 2, 0x10, 0x96, 0x01, 0x19, 0, 0, 0, 0, 0, 0, 0, 0, 0x25, 0, 0, 0, 0, 0x0a,
            3, 7, 8, 9,
        ];
        let results = |message: &[u8], cut: usize| {
            let pieces: Vec<Bytes> = message.chunks(cut).map(Bytes::copy_from_slice).collect();
            many_results(&pieces).map(|r| r.concat())
        };
        for cut in [1, 2, 3, 5, 100] {
            assert_eq!(results(&message, cut), Some(vec![7, 8, 9]), "cut {cut}");
            assert_eq!(results(&[], cut), Some(vec![]));
            // A length past the end, a group (wire type 3), a varint that never ends.
            assert_eq!(results(&[0x0a, 5, 1], cut), None);
            assert_eq!(results(&[0x0b], cut), None);
            assert_eq!(results(&[0x08, 0xff], cut), None);
        }
    }
}
