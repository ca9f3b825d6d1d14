//! A unary gRPC message read where h2 put it, and a reply's message handed
//! to h2 as it is: the copies tonic's codec makes of a batch (a message into
//! its decode buffer, a reply into its encode buffer) are not made. tonic
//! still runs the call: it is handed an empty message in the message's place
//! (and on the server encodes an empty reply, which is then replaced). A
//! body that is not one well-formed uncompressed message within the limit
//! goes to tonic as it came, so its checks and its words stay the only ones.
//! The server reads requests this way, and oxbridge's client replies.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use prost::encoding::{self, WireType};

use crate::ground::pieces::Pieces;

/// A gRPC message's prefix: the compressed flag and the length.
const PREFIX: usize = 5;

/// What one call's codec and bodies pass to each other.
#[derive(Debug, Default)]
pub struct Slots {
    message: Mutex<Option<Pieces>>,
    reply: Mutex<Option<Bytes>>,
}

impl Slots {
    /// The message, when [`take`] read it (once).
    pub fn message(&self) -> Option<Pieces> {
        self.message
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Keeps the reply's `field`, to be sent in place of the empty message
    /// tonic encodes (see [`ReplyBody`]).
    pub fn reply(&self, field: Bytes) {
        *self.reply.lock().unwrap_or_else(PoisonError::into_inner) = Some(field);
    }

    fn take_reply(&self) -> Option<Bytes> {
        self.reply
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// The length of a message holding `len` bytes in field 1.
#[must_use]
pub fn reply_len(len: usize) -> usize {
    encoding::key_len(1) + encoding::encoded_len_varint(len as u64) + len
}

/// Reads the one message of `body` into `slots` when it is uncompressed and
/// at most `limit` bytes, and returns the body to hand tonic: an empty
/// message, then whatever followed it. Otherwise (and when the body fails or
/// ends early) the body as it came, what was read of it first.
pub async fn take<B>(mut body: B, limit: usize, slots: &Slots) -> Replay<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut read = Replay::new(VecDeque::new(), None);
    let mut head = BytesMut::new();
    let mut message = Pieces::default();
    let mut want = PREFIX;
    loop {
        let frame = match body.frame().await {
            Some(Ok(frame)) => frame,
            end => {
                // A failure, or the end, before the message is whole: tonic
                // sees all that was read, then the same.
                read.give_back(head, message);
                read.front.extend(end);
                return read;
            }
        };
        let mut data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                read.give_back(head, message);
                read.front.push_back(Ok(frame));
                read.rest = Some(body);
                return read;
            }
        };
        if head.len() < PREFIX {
            let n = (PREFIX - head.len()).min(data.len());
            head.extend_from_slice(&data.split_to(n));
            if head.len() < PREFIX {
                continue;
            }
            let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
            if head[0] != 0 || len > limit {
                read.push(head.freeze());
                read.push(data);
                read.rest = Some(body);
                return read;
            }
            want = PREFIX + len;
        }
        let short = want - PREFIX - message.len();
        let after = data.split_off(short.min(data.len()));
        message.push(data);
        if message.len() + PREFIX == want {
            *slots.message.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
            read.push(Bytes::from_static(&[0; PREFIX]));
            read.push(after);
            read.rest = Some(body);
            return read;
        }
    }
}

/// A unary request's one message, as [`whole`] read it.
#[derive(Debug)]
pub enum Message {
    /// Alone in one frame (a small call): a slice of it, not copied.
    One(Bytes),
    /// Over several frames.
    Pieces(Pieces),
}

/// The one message of a unary request's `body` when that is all it holds:
/// uncompressed, at most `limit` bytes, then the end (no second message, no
/// trailers), as tonic reads it. Otherwise the body to hand tonic, what was
/// read of it as it came, so its checks and its words stay the only ones.
pub async fn whole<B>(mut body: B, limit: usize) -> Result<Message, Replay<Replay<B>>>
where
    B: Body<Data = Bytes> + Unpin,
{
    let first = body.frame().await;
    let alone = first
        .as_ref()
        .and_then(|frame| frame.as_ref().ok())
        .and_then(Frame::data_ref)
        .filter(|data| alone(data, limit))
        .map(|data| data.slice(PREFIX..));
    if let Some(message) = alone {
        let next = body.frame().await;
        if next.is_none() {
            return Ok(Message::One(message));
        }
        let front = first.into_iter().chain(next).collect();
        return Err(Replay::new(
            front,
            Some(Replay::new(VecDeque::new(), Some(body))),
        ));
    }
    let body = Replay::new(first.into_iter().collect(), Some(body));
    let slots = Slots::default();
    let mut read = take(body, limit, &slots).await;
    let Some(message) = slots.message() else {
        return Err(read);
    };
    // `take` put tonic's empty message first, then what followed this one.
    if read.front.len() == 1 {
        match read.rest.as_mut() {
            None => return Ok(Message::Pieces(message)),
            Some(rest) => match rest.frame().await {
                None => return Ok(Message::Pieces(message)),
                Some(next) => read.front.push_back(next),
            },
        }
    }
    read.front.pop_front();
    let mut given = Replay::new(VecDeque::new(), read.rest.take());
    given.give_back(prefixed(message.len()), message);
    given.front.extend(read.front.drain(..));
    Err(given)
}

/// Whether `data` is one whole uncompressed message of at most `limit` bytes.
fn alone(data: &Bytes, limit: usize) -> bool {
    data.len() >= PREFIX && data[0] == 0 && {
        let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
        len <= limit && data.len() == PREFIX + len
    }
}

/// A gRPC message's prefix (uncompressed, `len` bytes), room left after it.
fn prefixed(len: usize) -> BytesMut {
    let mut prefix = BytesMut::with_capacity(PREFIX + 32);
    prefix.put_u8(0);
    prefix.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    prefix
}

/// A unary reply as tonic's server sends a success: `message` (written by
/// `write`) in one data frame, then the trailers `grpc-status: 0`. Its
/// message's length, to check against the limit first.
pub fn reply(write: impl FnOnce(&mut BytesMut)) -> (usize, Reply) {
    let mut framed = prefixed(0);
    write(&mut framed);
    let len = framed.len() - PREFIX;
    framed[1..PREFIX].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    (
        len,
        Reply {
            message: Some(framed.freeze()),
            ended: false,
        },
    )
}

/// tonic's failure, in its words, for a reply of `len` bytes past the limit `max`.
#[must_use]
pub fn too_large(len: usize, max: usize) -> tonic::Status {
    tonic::Status::out_of_range(format!(
        "Error, encoded message length too large: found {len} bytes, the limit is: {max} bytes"
    ))
}

/// See [`reply`].
#[derive(Debug)]
pub struct Reply {
    message: Option<Bytes>,
    ended: bool,
}

impl Reply {
    /// The reply as an HTTP response, with tonic's `content-type`.
    #[must_use]
    pub fn into_response(self) -> axum::response::Response {
        let mut response = axum::response::Response::new(axum::body::Body::new(self));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        response
    }
}

impl Body for Reply {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(message) = this.message.take() {
            return Poll::Ready(Some(Ok(Frame::data(message))));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        this.ended = true;
        let mut trailers = http::HeaderMap::with_capacity(1);
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

/// A body that first gives back what was read of it, then the rest.
#[derive(Debug)]
pub struct Replay<B: Body> {
    front: VecDeque<Result<Frame<Bytes>, B::Error>>,
    rest: Option<B>,
}

impl<B: Body> Replay<B> {
    /// The frames in `front`, then those of `rest`.
    #[must_use]
    pub fn new(front: VecDeque<Result<Frame<Bytes>, B::Error>>, rest: Option<B>) -> Self {
        Replay { front, rest }
    }

    fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.front.push_back(Ok(Frame::data(data)));
        }
    }

    /// Gives back the prefix and the part of a message read so far.
    fn give_back(&mut self, head: BytesMut, mut message: Pieces) {
        self.push(head.freeze());
        message.finish();
        for piece in message.slices() {
            self.push(piece.clone());
        }
    }
}

// Nothing in it is ever pinned in place: `rest` is polled as `Unpin`.
impl<B: Body> Unpin for Replay<B> {}

impl<B> Body for Replay<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if let Some(frame) = this.front.pop_front() {
            return Poll::Ready(Some(frame));
        }
        match &mut this.rest {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.front.is_empty() && self.rest.as_ref().is_none_or(Body::is_end_stream)
    }
}

/// tonic's reply body, its (empty) message replaced by the one in [`Slots`].
#[derive(Debug)]
pub struct ReplyBody {
    inner: tonic::body::Body,
    slots: Arc<Slots>,
    field: Option<Bytes>,
}

impl ReplyBody {
    /// `inner`, the message replaced.
    #[must_use]
    pub fn new(inner: tonic::body::Body, slots: Arc<Slots>) -> Self {
        ReplyBody {
            inner,
            slots,
            field: None,
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = self.get_mut();
        if let Some(field) = this.field.take() {
            return Poll::Ready(Some(Ok(Frame::data(field))));
        }
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        let Some(Ok(frame)) = frame else {
            return Poll::Ready(frame);
        };
        // tonic encodes the reply as the body is read: the slot is filled
        // by the time its message comes out.
        let field = match frame.data_ref() {
            Some(data) => match this.slots.take_reply() {
                Some(field) if data.len() == PREFIX => field,
                Some(_) => {
                    let why = "the reply's message is not where it was expected";
                    return Poll::Ready(Some(Err(tonic::Status::internal(why))));
                }
                None => return Poll::Ready(Some(Ok(frame))),
            },
            None => return Poll::Ready(Some(Ok(frame))),
        };
        let len = reply_len(field.len());
        let mut prefix = BytesMut::with_capacity(PREFIX + 16);
        prefix.put_u8(0);
        prefix.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
        encoding::encode_key(1, WireType::LengthDelimited, &mut prefix);
        encoding::encode_varint(field.len() as u64, &mut prefix);
        this.field = Some(field);
        Poll::Ready(Some(Ok(Frame::data(prefix.freeze()))))
    }

    fn is_end_stream(&self) -> bool {
        self.field.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;

    type Chunk = Result<Frame<Bytes>, std::io::Error>;
    type Chunks = Vec<Chunk>;
    type Chunked = StreamBody<tokio_stream::Iter<std::vec::IntoIter<Chunk>>>;

    fn body(bytes: &[u8], cut: usize) -> Chunked {
        let chunks: Chunks = bytes
            .chunks(cut)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        StreamBody::new(tokio_stream::iter(chunks))
    }

    async fn all<B: Body<Data = Bytes> + Unpin>(mut b: B) -> (Vec<u8>, bool)
    where
        B::Error: std::fmt::Debug,
    {
        let mut out = Vec::new();
        while let Some(frame) = b.frame().await {
            match frame {
                Ok(frame) => out.extend(frame.into_data().unwrap_or_default()),
                Err(_) => return (out, true),
            }
        }
        (out, false)
    }

    fn message(flag: u8, payload: &[u8]) -> Vec<u8> {
        let mut m = vec![flag];
        m.extend(u32::try_from(payload.len()).unwrap().to_be_bytes());
        m.extend(payload);
        m
    }

    #[tokio::test]
    async fn a_message_is_taken_and_tonic_handed_an_empty_one() {
        let payload: Vec<u8> = (0..=255_u8).cycle().take(300).collect();
        let mut sent = message(0, &payload);
        sent.extend(b"more");
        for cut in [1, 4, 5, 6, 100, 305, 1000] {
            let slots = Slots::default();
            let replay = take(body(&sent, cut), 300, &slots).await;
            let message = slots.message().expect("taken");
            assert_eq!(
                message.into_buf().take_pieces(300).concat(),
                payload,
                "cut {cut}"
            );
            assert_eq!(
                all(replay).await,
                ([0, 0, 0, 0, 0, b'm', b'o', b'r', b'e'].to_vec(), false)
            );
        }
    }

    #[tokio::test]
    async fn anything_else_goes_to_tonic_as_it_came() {
        let payload = vec![7_u8; 300];
        let compressed = message(1, &payload);
        let too_large = message(0, &payload);
        let cut_short = message(0, &payload)[..200].to_vec();
        for (sent, limit) in [(&compressed, 300), (&too_large, 299), (&cut_short, 300)] {
            for cut in [1, 3, 5, 64, 1000] {
                let slots = Slots::default();
                let replay = take(body(sent, cut), limit, &slots).await;
                assert!(slots.message().is_none());
                assert_eq!(all(replay).await, (sent.clone(), false), "cut {cut}");
            }
        }
        // A body that fails: what came, then the failure.
        let mut chunks: Chunks = vec![Ok(Frame::data(Bytes::from(
            message(0, &payload)[..9].to_vec(),
        )))];
        chunks.push(Err(std::io::Error::other("reset")));
        let slots = Slots::default();
        let replay = take(StreamBody::new(tokio_stream::iter(chunks)), 300, &slots).await;
        assert!(slots.message().is_none());
        assert_eq!(
            all(replay).await,
            (message(0, &payload)[..9].to_vec(), true)
        );
    }

    #[tokio::test]
    async fn a_body_of_one_message_is_taken_whole_and_anything_more_goes_to_tonic() {
        let payload: Vec<u8> = (0..=255_u8).cycle().take(300).collect();
        let sent = message(0, &payload);
        for cut in [1, 4, 5, 6, 100, 305, 1000] {
            let taken = match whole(body(&sent, cut), 300).await.expect("whole") {
                Message::One(one) => {
                    assert!(cut >= sent.len(), "one piece from cuts of {cut}");
                    one.to_vec()
                }
                Message::Pieces(pieces) => pieces.into_vec().concat(),
            };
            assert_eq!(taken, payload, "cut {cut}");
        }
        let mut more = sent.clone();
        more.extend(message(0, b"second"));
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-late", http::HeaderValue::from_static("1"));
        for (sent, limit) in [
            (&more, 300),
            (&message(1, &payload), 300),
            (&sent, 299),
            (&sent[..200].to_vec(), 300),
        ] {
            for cut in [1, 5, 64, 305, 1000] {
                let Err(replay) = whole(body(sent, cut), limit).await else {
                    panic!("taken whole, cut {cut}");
                };
                assert_eq!(all(replay).await, (sent.clone(), false), "cut {cut}");
            }
        }
        // A message and then trailers, in one frame or two: tonic reads those too.
        for cut in [PREFIX, sent.len()] {
            let mut chunks: Chunks = sent
                .chunks(cut)
                .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
                .collect();
            chunks.push(Ok(Frame::trailers(trailers.clone())));
            let Err(mut replay) = whole(StreamBody::new(tokio_stream::iter(chunks)), 300).await
            else {
                panic!("a message with trailers taken whole");
            };
            let mut data = Vec::new();
            let mut after = None;
            while let Some(frame) = replay.frame().await {
                match frame.unwrap().into_data() {
                    Ok(d) => data.extend(d),
                    Err(frame) => after = frame.into_trailers().ok(),
                }
            }
            assert_eq!((data, after), (sent.clone(), Some(trailers.clone())));
        }
    }

    #[tokio::test]
    async fn a_reply_is_its_message_then_the_status_of_a_success() {
        let (len, mut reply) = super::reply(|buf| buf.put_slice(b"\x0a\x03abc"));
        assert_eq!(len, 5);
        let data = reply.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&data[..], message(0, b"\x0a\x03abc"));
        assert!(!reply.is_end_stream());
        let trailers = reply
            .frame()
            .await
            .unwrap()
            .unwrap()
            .into_trailers()
            .unwrap();
        assert_eq!(trailers.len(), 1);
        assert_eq!(trailers["grpc-status"], "0");
        assert!(reply.is_end_stream());
        assert!(reply.frame().await.is_none());
    }

    #[tokio::test]
    async fn the_reply_replaces_tonic_s_empty_message_and_keeps_its_trailers() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let frames: Vec<Result<Frame<Bytes>, tonic::Status>> = vec![
            Ok(Frame::data(Bytes::from_static(&[0; PREFIX]))),
            Ok(Frame::trailers(trailers.clone())),
        ];
        let inner = tonic::body::Body::new(StreamBody::new(tokio_stream::iter(frames)));
        let slots = Arc::new(Slots::default());
        slots.reply(Bytes::from_static(b"abc"));
        let mut reply = ReplyBody::new(inner, slots);
        let mut data = Vec::new();
        let mut got_trailers = None;
        while let Some(frame) = reply.frame().await {
            let frame = frame.unwrap();
            match frame.into_data() {
                Ok(d) => data.extend(d),
                Err(frame) => got_trailers = frame.into_trailers().ok(),
            }
        }
        assert_eq!(data, message(0, b"\x0a\x03abc"));
        assert_eq!(got_trailers, Some(trailers));
    }
}
