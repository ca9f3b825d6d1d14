//! Bulk reads that take turns. A task reading a large body reads for as
//! long as bytes are there (up to tokio's budget of 128 reads, megabytes),
//! so hundreds of uploads at once make every round of the runtime long, and
//! a health check waits rounds behind them. Yielding after each chunk keeps
//! a round to one chunk per upload: the same work, in turns.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

/// `inner`, giving the runtime a turn after each data frame.
pub struct Yielding<B> {
    inner: B,
    yield_next: bool,
}

impl<B> Yielding<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> Self {
        Yielding {
            inner,
            yield_next: false,
        }
    }
}

impl<B: HttpBody<Data = Bytes> + Unpin> HttpBody for Yielding<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if std::mem::take(&mut this.yield_next) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        // Nothing left to read: no turn to give.
        this.yield_next = matches!(polled, Poll::Ready(Some(Ok(_)))) && !this.inner.is_end_stream();
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
