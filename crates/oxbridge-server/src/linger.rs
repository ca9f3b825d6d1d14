//! A lingering close, for every bridge that writes a last reply and closes.
//!
//! A reply can go out before the request was read whole (a refusal, a body
//! over the limit). Closing a socket that still holds unread data resets the
//! connection, and a client that receives the reset may lose the reply it
//! has not read yet (or fail to send the rest of its request). So our side
//! is shut for writing first (the client reads the reply, then end of
//! stream), and what the client still sends is read and dropped until it
//! closes, within a bounded time and size.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long, and how much, a connection is read after its last reply.
const LINGER: (Duration, usize) = (Duration::from_secs(2), 64 << 20);

/// Shuts our side of `stream` and drains the client's (see the module).
pub async fn close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let (time, size) = LINGER;
    let mut sink = vec![0_u8; 64 * 1024];
    let mut drained = 0;
    let _ = tokio::time::timeout(time, async {
        while drained < size {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}
