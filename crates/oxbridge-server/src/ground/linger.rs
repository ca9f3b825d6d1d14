//! A lingering close, for every bridge that writes a last reply and closes.
//!
//! A reply can go out before the request was read whole (a refusal, a body
//! over the limit). Closing a socket that still holds unread data resets the
//! connection, and a client that receives the reset may lose the reply it
//! has not read yet (or fail to send the rest of its request). So our side
//! is shut for writing first (the client reads the reply, then end of
//! stream), and what the client still sends is read and dropped until it
//! closes, falls silent, or has sent more than a bound.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long the client may stay silent, and how much it may still send,
/// before the connection is closed all the same.
const LINGER: (Duration, usize) = (Duration::from_secs(2), 64 << 20);

/// Shuts our side of `stream` and drains the client's (see the module). A
/// client still sending (a large request on a busy machine) is read for as
/// long as its bytes keep coming, up to the size bound.
pub async fn close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let (silence, size) = LINGER;
    let mut sink = vec![0_u8; 64 * 1024];
    let mut drained = 0;
    while drained < size {
        match tokio::time::timeout(silence, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => {
                drained += n;
                // One chunk per turn (see `fair`): hundreds of refused
                // uploads drained at once must not hold up a health check.
                tokio::task::yield_now().await;
            }
            _ => break, // end of stream, an error, or silence
        }
    }
}
