//! Bytes that lie across the pieces a body arrived in: a frame's values read
//! where the transport put them, not gathered into one buffer first.

use bytes::Bytes;

/// `len` bytes: the start of `first`, then of the pieces after it.
#[derive(Debug, Clone, Copy)]
pub struct Spread<'a> {
    first: &'a [u8],
    rest: &'a [Bytes],
    len: usize,
}

impl<'a> Spread<'a> {
    /// `first`'s bytes, then those of `rest`.
    #[must_use]
    pub fn new(first: &'a [u8], rest: &'a [Bytes]) -> Self {
        let len = first.len() + rest.iter().map(Bytes::len).sum::<usize>();
        Spread { first, rest, len }
    }

    /// Number of bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first `n` bytes and the rest; `None` if there are fewer.
    #[must_use]
    pub fn split_at(self, n: usize) -> Option<(Spread<'a>, Spread<'a>)> {
        if n > self.len {
            return None;
        }
        let front = Spread { len: n, ..self };
        let back = if n <= self.first.len() {
            Spread {
                first: &self.first[n..],
                rest: self.rest,
                len: self.len - n,
            }
        } else {
            let mut skip = n - self.first.len();
            let mut rest = self.rest;
            while let [piece, after @ ..] = rest {
                if skip < piece.len() {
                    break;
                }
                skip -= piece.len();
                rest = after;
            }
            match rest {
                [piece, after @ ..] => Spread {
                    first: &piece[skip..],
                    rest: after,
                    len: self.len - n,
                },
                [] => Spread {
                    first: &[],
                    rest: &[],
                    len: 0,
                },
            }
        };
        Some((front, back))
    }

    /// The bytes as one slice, when they lie in one piece.
    #[must_use]
    pub fn contiguous(&self) -> Option<&'a [u8]> {
        if self.len <= self.first.len() {
            return Some(&self.first[..self.len]);
        }
        match self.rest {
            [piece, ..] if self.first.is_empty() && self.len <= piece.len() => {
                Some(&piece[..self.len])
            }
            _ => None,
        }
    }

    /// Copies bytes `from..from + out.len()` into `out`.
    ///
    /// # Panics
    /// If they run past the end (a caller's bug: blocks lie within a column).
    pub fn copy_to(&self, from: usize, out: &mut [u8]) {
        assert!(from + out.len() <= self.len, "a copy past a spread's end");
        let mut skip = from;
        let mut out = out;
        for piece in std::iter::once(self.first).chain(self.rest.iter().map(|b| &b[..])) {
            if out.is_empty() {
                return;
            }
            if skip >= piece.len() {
                skip -= piece.len();
                continue;
            }
            let n = (piece.len() - skip).min(out.len());
            let (now, later) = out.split_at_mut(n);
            now.copy_from_slice(&piece[skip..skip + n]);
            out = later;
            skip = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_copies_agree_with_one_buffer() {
        let whole: Vec<u8> = (0..=255_u8).cycle().take(1000).collect();
        let (first, after) = whole.split_at(13);
        let rest: Vec<Bytes> = after.chunks(97).map(Bytes::copy_from_slice).collect();
        let spread = Spread::new(first, &rest);
        assert_eq!(spread.len(), whole.len());
        for cut in [0, 5, 13, 14, 110, 111, 999, 1000] {
            let (front, back) = spread.split_at(cut).unwrap();
            assert_eq!((front.len(), back.len()), (cut, whole.len() - cut));
            for (part, want) in [(front, &whole[..cut]), (back, &whole[cut..])] {
                let mut got = vec![0; part.len()];
                part.copy_to(0, &mut got);
                assert_eq!(got, want, "cut {cut}");
                if let Some(slice) = part.contiguous() {
                    assert_eq!(slice, want, "cut {cut}");
                }
                if part.len() > 3 {
                    let mut middle = vec![0; part.len() - 3];
                    part.copy_to(2, &mut middle);
                    assert_eq!(middle, want[2..want.len() - 1], "cut {cut}");
                }
            }
        }
        assert!(spread.split_at(1001).is_none());
        // Within the first piece, or within one later piece: one slice.
        assert!(spread.split_at(10).unwrap().0.contiguous().is_some());
        let (_, back) = spread.split_at(13).unwrap();
        assert!(back.split_at(97).unwrap().0.contiguous().is_some());
        assert!(back.split_at(98).unwrap().0.contiguous().is_none());
    }
}
