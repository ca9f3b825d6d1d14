"""One persistent stream connection, shared by the HTTP and IPC clients.

The connection is opened on first use and kept (keep-alive); a request that
fails on a *reused* connection (the server restarted, or closed it for being
idle) is sent once more on a fresh one, which is safe because every oxbridge
call is pure. A fresh connection that fails, or a reply that does not come
within the timeout, raises at once: the client never hangs.
"""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import BridgeTimeoutError, TransportError


class Closed(Exception):
    """The peer closed the connection before the reply was complete."""


class Connection:
    """A socket that reconnects, with one request in flight at a time."""

    def __init__(
        self,
        opener: Callable[[float], socket.socket],
        reader: Callable[[socket.socket], tuple[int, bytes]],
        where: str,
        timeout: float,
    ) -> None:
        self._open = opener
        self._read = reader
        self.where = where
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def exchange(
        self,
        request: bytes | Sequence[Any],
        reader: Callable[[socket.socket], tuple[int, bytes]] | None = None,
    ) -> tuple[int, bytes]:
        """Send ``request`` (bytes, or buffers sent one after another without
        joining them) and return the reader's ``(status, body)``."""
        for attempt in (0, 1):
            sock = self._sock
            reused = sock is not None
            if sock is None:
                sock = self._connect()
            try:
                parts: Sequence[Any] = [request] if isinstance(request, bytes) else request
                for part in parts:
                    sock.sendall(part)
                return (reader or self._read)(sock)
            except (TimeoutError, BlockingIOError):
                self.close()
                raise BridgeTimeoutError(
                    f"no reply from {self.where} within {self.timeout:g} s"
                ) from None
            except (OSError, Closed) as e:
                self.close()
                if reused and attempt == 0:
                    continue
                raise TransportError(f"connection to {self.where} broke: {_why(e)}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self) -> socket.socket:
        try:
            sock = self._open(self.timeout)
            if not isinstance(sock, ssl.SSLSocket):
                kernel_timeouts(sock, self.timeout)
        except TimeoutError:
            raise BridgeTimeoutError(
                f"could not connect to {self.where} within {self.timeout:g} s"
            ) from None
        except OSError as e:
            raise TransportError(f"cannot connect to {self.where}: {_why(e)}") from None
        self._sock = sock
        return sock

    def close(self) -> None:
        """Close the socket; the next request opens a new one."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


def kernel_timeouts(sock: socket.socket, timeout: float) -> None:
    """Put ``sock`` in blocking mode with the kernel enforcing ``timeout``.

    ``socket.settimeout`` makes CPython poll() before every send and recv,
    a few microseconds a call; SO_RCVTIMEO/SO_SNDTIMEO cost nothing until
    they expire, and then recv fails with EAGAIN (``BlockingIOError``).
    """
    seconds = int(timeout)
    packed = struct.pack("ll", seconds, int((timeout - seconds) * 1e6))
    sock.settimeout(None)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, packed)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, packed)


def _why(e: BaseException) -> str:
    if isinstance(e, Closed):
        return "the server closed the connection"
    return e.strerror or str(e) if isinstance(e, OSError) else str(e)


#: Non-blocking reads tried before a reader blocks (about a microsecond each).
SPINS = 100


def recv_more(sock: socket.socket, buf: bytearray, spins: int = 0) -> None:
    """Append what the socket has to ``buf``; :class:`Closed` at end of stream.

    With ``spins``, first poll that many times without blocking. A local
    server answers in microseconds, and a thread that blocks in recv() is put
    to sleep and must be woken, which costs more than the answer itself; a
    short bounded poll catches the reply while the thread is still running.
    """
    for _ in range(0 if isinstance(sock, ssl.SSLSocket) else spins):
        try:
            chunk = sock.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        if not chunk:
            raise Closed
        buf += chunk
        return
    chunk = sock.recv(65536)
    if not chunk:
        raise Closed
    buf += chunk


def recv_into_exactly(sock: socket.socket, view: memoryview) -> None:
    """Fill ``view`` from the socket; :class:`Closed` if the stream ends first."""
    while view.nbytes:
        n = sock.recv_into(view)
        if n == 0:
            raise Closed
        view = view[n:]


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    """Exactly ``n`` bytes from the socket."""
    buf = bytearray(n)
    recv_into_exactly(sock, memoryview(buf))
    return bytes(buf)
