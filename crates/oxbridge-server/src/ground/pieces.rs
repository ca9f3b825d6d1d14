//! Bytes kept in the pieces a body arrived in: the large pieces as the
//! transport delivered them, the small ones joined, then read in order as
//! one [`Buf`]. A body of 32 MB is not copied into one buffer on the way in.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

/// Pieces smaller than this are joined: a body that arrives a few bytes at
/// a time is not kept as millions of pieces.
pub const PIECE: usize = 64 * 1024;

/// The pieces of a body, in order, none empty.
#[derive(Debug, Default)]
pub struct Pieces {
    done: Vec<Bytes>,
    /// Small pieces, joined until they make a large one.
    small: BytesMut,
}

impl Pieces {
    /// Takes `data` in, after the pieces already taken.
    pub fn push(&mut self, data: Bytes) {
        if data.len() >= PIECE {
            self.finish();
            self.done.push(data);
        } else {
            self.small.extend_from_slice(&data);
            if self.small.len() >= PIECE {
                self.finish();
            }
        }
    }

    /// Takes in the small pieces still being joined: call before reading.
    pub fn finish(&mut self) {
        if !self.small.is_empty() {
            self.done.push(self.small.split().freeze());
        }
    }

    /// Number of bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.done.iter().map(Bytes::len).sum::<usize>() + self.small.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.done.is_empty() && self.small.is_empty()
    }

    /// The pieces [`finish`](Self::finish)ed.
    #[must_use]
    pub fn slices(&self) -> &[Bytes] {
        &self.done
    }

    /// The pieces, [`finish`](Self::finish)ed.
    #[must_use]
    pub fn into_vec(mut self) -> Vec<Bytes> {
        self.finish();
        self.done
    }

    /// The pieces, [`finish`](Self::finish)ed, as a [`Buf`].
    #[must_use]
    pub fn into_buf(mut self) -> PieceBuf {
        self.finish();
        PieceBuf::new(self.done)
    }
}

/// Pieces read in order as one [`Buf`]; whole ranges of them can be taken
/// out without a copy ([`take_pieces`](Self::take_pieces)).
#[derive(Debug, Default)]
pub struct PieceBuf {
    pieces: VecDeque<Bytes>,
    remaining: usize,
}

impl PieceBuf {
    /// `pieces`, one after the other.
    #[must_use]
    pub fn new(pieces: impl IntoIterator<Item = Bytes>) -> Self {
        let pieces: VecDeque<Bytes> = pieces.into_iter().filter(|b| !b.is_empty()).collect();
        let remaining = pieces.iter().map(Bytes::len).sum();
        PieceBuf { pieces, remaining }
    }

    /// The next `n` bytes, as the (parts of) pieces they lie in.
    ///
    /// # Panics
    /// If fewer than `n` remain (check [`Buf::remaining`] first).
    pub fn take_pieces(&mut self, mut n: usize) -> Vec<Bytes> {
        assert!(n <= self.remaining, "taking past the end of the pieces");
        self.remaining -= n;
        let mut taken = Vec::new();
        while n > 0 {
            let Some(front) = self.pieces.front_mut() else {
                break;
            };
            if front.len() > n {
                taken.push(front.split_to(n));
                break;
            }
            n -= front.len();
            taken.extend(self.pieces.pop_front());
        }
        taken
    }
}

impl Buf for PieceBuf {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.pieces.front().map_or(&[], |b| &b[..])
    }

    fn advance(&mut self, cnt: usize) {
        assert!(
            cnt <= self.remaining,
            "advancing past the end of the pieces"
        );
        self.remaining -= cnt;
        let mut left = cnt;
        while let Some(front) = self.pieces.front_mut() {
            if front.len() > left {
                front.advance(left);
                return;
            }
            left -= front.len();
            self.pieces.pop_front();
        }
    }

    fn copy_to_bytes(&mut self, len: usize) -> Bytes {
        match self.take_pieces(len).as_mut_slice() {
            [] => Bytes::new(),
            [one] => std::mem::take(one),
            many => {
                let mut joined = BytesMut::with_capacity(len);
                for piece in many.iter() {
                    joined.extend_from_slice(piece);
                }
                joined.freeze()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_pieces_are_joined_large_ones_kept() {
        let mut body = Pieces::default();
        for _ in 0..3 * PIECE {
            body.push(Bytes::from_static(b"x"));
        }
        body.push(Bytes::from(vec![0; 2 * PIECE]));
        body.push(Bytes::from_static(b"yz"));
        assert_eq!(body.len(), 5 * PIECE + 2);
        body.finish();
        let sizes: Vec<usize> = body.slices().iter().map(Bytes::len).collect();
        assert_eq!(sizes, [PIECE, PIECE, PIECE, 2 * PIECE, 2]);
    }

    #[test]
    fn pieces_read_as_one_buffer_and_ranges_come_out_whole() {
        let whole: Vec<u8> = (0..=255_u8).cycle().take(1000).collect();
        for cut in [1, 3, 7, 100, 999, 1000] {
            let pieces = whole.chunks(cut).map(Bytes::copy_from_slice);
            let mut buf = PieceBuf::new(pieces);
            assert_eq!(buf.remaining(), 1000);
            assert_eq!(buf.get_u16(), u16::from_be_bytes([0, 1]), "cut {cut}");
            let taken: Vec<u8> = buf.take_pieces(500).concat();
            assert_eq!(taken, whole[2..502], "cut {cut}");
            buf.advance(8);
            assert_eq!(buf.copy_to_bytes(90), whole[510..600], "cut {cut}");
            assert_eq!(buf.remaining(), 400);
            let mut rest = vec![0; 400];
            buf.copy_to_slice(&mut rest);
            assert_eq!(rest, whole[600..], "cut {cut}");
            assert!(buf.chunk().is_empty());
        }
    }
}
