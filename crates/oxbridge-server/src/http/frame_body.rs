//! A batch frame's HTTP body, kept as it arrived: its head (header, name
//! and column heads) gathered into one small buffer, its values in the
//! pieces the transport delivered them in, read where they lie (see
//! `frames::Spread`). A body of 32 MB is not copied once more on the way.

use axum::body::Bytes;
use http_body::Body as HttpBody;
use http_body_util::BodyExt as _;

use crate::codec::frames::{values_offset, Call, REQUEST_HEADER};
use crate::ground::error::CallError;
use crate::ground::pieces::Pieces;

/// A whole request frame.
#[derive(Debug, Default)]
#[allow(clippy::len_without_is_empty)] // never empty: a frame has a header
pub struct FrameBody {
    /// The header, name and column heads (or the whole of a shorter body).
    head: Vec<u8>,
    /// The values, as they arrived.
    values: Pieces,
}

impl FrameBody {
    /// Its length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.head.len() + self.values.len()
    }

    /// The reply frame to it (see [`Call::reply`]).
    ///
    /// # Errors
    /// As for [`Call::parse`] and [`Call::reply`].
    pub fn reply(&self) -> Result<Vec<u8>, CallError> {
        match Call::parse_pieces(&self.head, self.values.slices())? {
            Some(call) => call.reply(),
            // A one-for-all value cut in two: the frame joined, once.
            None => Call::parse(&self.joined())?.reply(),
        }
    }

    fn joined(&self) -> Vec<u8> {
        let mut whole = Vec::with_capacity(self.len());
        whole.extend_from_slice(&self.head);
        for piece in self.values.slices() {
            whole.extend_from_slice(piece);
        }
        whole
    }

    /// Takes `data` in: into the head until it is whole, then as a piece.
    pub(crate) fn take(&mut self, mut data: Bytes) {
        if self.values.is_empty() {
            let want = if self.head.len() < REQUEST_HEADER {
                REQUEST_HEADER
            } else {
                values_offset(&self.head)
            };
            if self.head.len() < want {
                let n = (want - self.head.len()).min(data.len());
                self.head.extend_from_slice(&data.split_to(n));
                if !data.is_empty() {
                    // The header is whole now: it may say the head goes on.
                    return self.take(data);
                }
                return;
            }
        }
        self.values.push(data);
    }

    /// Takes in the small pieces still being joined: call at the end.
    pub(crate) fn finish(&mut self) {
        self.values.finish();
    }
}

/// Why a body could not be gathered.
#[derive(Debug)]
pub enum GatherError<E> {
    /// It ran past `limit` bytes.
    TooLarge,
    /// The body failed (the connection broke, or it broke a limit of its own).
    Body(E),
}

/// Gathers `body`, refusing it once it passes `limit` bytes.
///
/// # Errors
/// [`GatherError`].
pub async fn gather<B>(mut body: B, limit: usize) -> Result<FrameBody, GatherError<B::Error>>
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    let mut gathered = FrameBody::default();
    let mut total = 0_usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(GatherError::Body)?.into_data() else {
            continue; // trailers
        };
        total = total.saturating_add(data.len());
        if total > limit {
            return Err(GatherError::TooLarge);
        }
        gathered.take(data);
    }
    gathered.finish();
    Ok(gathered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};

    #[tokio::test]
    async fn the_head_is_whole_and_the_values_stay_in_their_pieces() {
        // A version-2 header naming 3 bytes and two column heads: 67 bytes.
        let mut frame = b"OXB\x02\x03\x02\0\0".to_vec();
        frame.resize(REQUEST_HEADER, 0);
        frame.extend((0..=255_u8).cycle().take(35 + 1000));
        for cut in [1, 7, 31, 32, 33, 200] {
            let chunks: Vec<Result<_, std::convert::Infallible>> = frame
                .chunks(cut)
                .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
                .collect();
            let body = StreamBody::new(tokio_stream::iter(chunks));
            let got = gather(body, 4096).await.unwrap();
            assert_eq!(got.head, frame[..67], "cut {cut}");
            assert_eq!(got.joined(), frame, "cut {cut}");
            assert_eq!(got.len(), frame.len());
        }
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_refused_and_a_short_one_kept() {
        let body = Full::new(Bytes::from(vec![0_u8; 100]));
        assert!(matches!(gather(body, 99).await, Err(GatherError::TooLarge)));
        let short = Full::new(Bytes::from_static(b"OXB"));
        let got = gather(short, 99).await.unwrap();
        assert_eq!((got.head.as_slice(), got.values.len()), (&b"OXB"[..], 0));
    }
}
