//! The benchmark's floor beside the IPC bridge: a raw echo socket.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A benchmarking floor: writes back whatever it reads, on any number of
/// connections, with no parsing. The same socket, runtime and process as the
/// IPC bridge, so the difference between the two is the cost of oxbridge itself.
pub async fn serve_echo(listener: UnixListener, shutdown: CancellationToken, tracker: TaskTracker) {
    loop {
        let mut stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let mut buf = vec![0_u8; 64 * 1024];
            loop {
                let n = tokio::select! {
                    () = shutdown.cancelled() => return,
                    r = stream.read(&mut buf) => match r {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    },
                };
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
    }
}
