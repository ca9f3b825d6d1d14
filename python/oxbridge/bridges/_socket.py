"""Stream connections for the HTTP and IPC clients: safe to share, to
interrupt, and to point at a broken server.

A :class:`Connection` keeps a few idle sockets to its server. A call takes
one (or opens one), makes its exchange, and puts it back only once the whole
reply has been read. Anything that stops a call half way (a timeout, a broken
reply, Ctrl-C, a signal handler's exception) drops that socket instead, so
two threads never share a socket, and no call can read another call's reply.

One deadline covers the whole call: connecting, sending and every read of the
reply, however slowly a server drips it. Replies are bounded before anything
is allocated for them; a reply that breaks the protocol raises
:class:`~oxbridge.errors.ProtocolError`.

A request that fails on a *reused* socket (the server restarted, or closed it
for being idle) is sent once more on a fresh one, within the same deadline:
that is safe because every oxbridge call is pure.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..errors import BadReply, BridgeTimeoutError, OxbridgeError, TransportError
from ._pool import Closed, Idle, fail, why

T = TypeVar("T")
S = TypeVar("S")

#: Non-blocking reads tried before a reader blocks (about a microsecond each).
SPINS = 100
#: The most a reply may hold (JSON, an HTTP body); a larger one is refused.
MAX_REPLY = 64 << 20
#: The most an HTTP response head or an error document may hold.
MAX_HEAD = 64 << 10
#: A read that may block for less than the full timeout this much short
#: retunes the kernel's timeout to what is left of the call's deadline.
_SLACK = 0.001


class Stream:
    """One socket, used by one call at a time, within that call's deadline."""

    __slots__ = ("_tls", "_tuned", "deadline", "extra", "reusable", "sock", "timeout")

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.deadline = 0.0
        #: What a bridge keeps with this socket (the IPC bridge: its shared region).
        self.extra: Any = None
        #: Cleared by a call after which the socket must not be reused.
        self.reusable = True
        self._tls = isinstance(sock, ssl.SSLSocket)
        self._tuned = False
        if self._tls:
            sock.settimeout(timeout)
        else:
            kernel_timeouts(sock, timeout)

    def send(self, request: bytes | Sequence[Any], size: int) -> None:
        """Send ``request`` (bytes, or ``size`` bytes of buffers sent one
        after another without joining them), within the deadline."""
        sock = self.sock
        parts: Sequence[Any] = (request,) if isinstance(request, bytes) else request
        sent = 0
        if size <= MAX_HEAD:
            # Small: one system call into an empty socket buffer, bounded by
            # the kernel's timeout, which the call has barely started to use.
            if len(parts) == 1:
                sock.sendall(parts[0])
                return
            if not self._tls:  # TLS sockets have no sendmsg
                sent = sock.sendmsg(parts)
                if sent == size:
                    return
        # Large (or cut short): a part at a time, each send within the deadline.
        for part in parts:
            view = memoryview(part).cast("B")
            skip = min(sent, view.nbytes)
            view, sent = view[skip:], sent - skip
            while view.nbytes:
                self.budget()
                view = view[sock.send(view) :]

    def recv_more(self, buf: bytearray, spins: int = 0, limit: int = MAX_REPLY) -> None:
        """Append what the socket has to ``buf``; :class:`Closed` at end of stream.

        With ``spins``, first poll that many times without blocking. A local
        server answers in microseconds, and a thread that blocks in recv() is
        put to sleep and must be woken, which costs more than the answer
        itself; a short bounded poll catches the reply while the thread is
        still running.
        """
        if len(buf) >= limit:
            raise BadReply(f"the reply is larger than {limit} bytes")
        sock = self.sock
        for _ in range(0 if self._tls else spins):
            try:
                chunk = sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            if not chunk:
                raise Closed
            buf += chunk
            return
        self.budget()
        chunk = sock.recv(65536)
        if not chunk:
            raise Closed
        buf += chunk

    def recv_into_exactly(self, view: memoryview, spins: int = 0) -> None:
        """Fill ``view`` from the socket; :class:`Closed` if the stream ends
        first. ``spins`` polls first, as for :meth:`recv_more`."""
        for _ in range(0 if self._tls else spins):
            try:
                n = self.sock.recv_into(view, 0, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            if n == 0:
                raise Closed
            view = view[n:]
            break
        while view.nbytes:
            self.budget()
            n = self.sock.recv_into(view)
            if n == 0:
                raise Closed
            view = view[n:]

    def recv_exactly(self, n: int, limit: int = MAX_REPLY, spins: int = 0) -> bytes:
        """Exactly ``n`` bytes (at most ``limit``, checked before allocating)."""
        if n > limit:
            raise BadReply(f"the reply declares {n} bytes, more than the {limit} allowed")
        buf = bytearray(n)
        self.recv_into_exactly(memoryview(buf), spins)
        return bytes(buf)

    def budget(self) -> None:
        """Let the next blocking operation wait no longer than the deadline."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if remaining < self.timeout - _SLACK:
            self._set_timeout(remaining)
            self._tuned = True

    def lend(self) -> tuple[int, float]:
        """The socket's descriptor and the seconds left of the deadline, for
        native code that sends on it and sets its kernel timeouts to what is
        left (undone by :meth:`finish`)."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self._tuned = True
        return self.sock.fileno(), remaining

    def _set_timeout(self, seconds: float) -> None:
        if self._tls:
            self.sock.settimeout(seconds)
        else:
            kernel_timeouts(self.sock, seconds)

    def finish(self) -> None:
        """Make the socket ready for the next call after a slow one."""
        if self._tuned:
            self._set_timeout(self.timeout)
            self._tuned = False

    def close(self) -> None:
        self.extra = None
        self.sock.close()


def answered_anyway(stream: S, reader: Callable[[S], T], broken: OSError) -> T:
    """The reply a server sent before it stopped reading a request (one over
    its size limit, or when it is busy) and closed: the sending broke, but
    the server's answer, the same error as on every bridge, is in the
    socket. ``broken`` when there is none."""
    try:
        return reader(stream)
    except (OSError, Closed, BadReply):
        raise broken from None


class Connection:
    """Sockets to one server, one exchange at a time on each (see the module)."""

    def __init__(
        self,
        opener: Callable[[float], socket.socket],
        where: str,
        timeout: float,
        greet: Callable[[Stream], None] | None = None,
    ) -> None:
        self._open = opener
        #: The first exchange on every new socket, within the call's deadline:
        #: the client's check of the server's catalogue.
        self._greet = greet
        self.where = where
        self.timeout = timeout
        self._idle: Idle[Stream] = Idle()

    def exchange(
        self, request: bytes | Sequence[Any], reader: Callable[[Stream], T], size: int = -1
    ) -> T:
        """Send ``request`` (bytes, or buffers of ``size`` bytes in all) and
        return what ``reader`` makes of the reply."""
        if size < 0:
            size = len(request)

        def work(stream: Stream) -> T:
            try:
                stream.send(request, size)
            except (BrokenPipeError, ConnectionResetError) as broken:
                return answered_anyway(stream, reader, broken)
            return reader(stream)

        return self.run(work)

    def run(self, work: Callable[[Stream], T]) -> T:
        """What ``work`` makes of one exchange on a socket of its own, within
        one deadline (see the module for what a failure does)."""
        deadline = time.monotonic() + self.timeout
        for attempt in (0, 1):
            taken = self._idle.take()
            reused = taken is not None
            generation, stream = taken or (self._idle.generation, self._connect(deadline))
            stream.deadline = deadline
            try:
                if not reused and self._greet is not None:
                    self._greet(stream)
                result = work(stream)
            except OxbridgeError:
                # The server's own answer (to the greeting: a refused token,
                # another catalogue), as it is.
                stream.close()
                raise
            except BaseException as e:
                stream.close()
                fail(e, self.where, self.timeout, retry=reused and attempt == 0)
                continue
            stream.finish()
            if not (stream.reusable and self._idle.give_back(generation, stream)):
                stream.close()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self, deadline: float) -> Stream:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            return Stream(self._open(remaining), self.timeout)
        except TimeoutError:
            raise BridgeTimeoutError(
                f"could not connect to {self.where} within {self.timeout:g} s"
            ) from None
        except OSError as e:
            raise TransportError(f"cannot connect to {self.where}: {why(e)}") from None

    def close(self) -> None:
        """Close the idle sockets; those in calls close when their call ends.
        The next call opens a new one."""
        for stream in self._idle.drain():
            stream.close()


def kernel_timeouts(sock: socket.socket, timeout: float) -> None:
    """Put ``sock`` in blocking mode with the kernel enforcing ``timeout``.

    ``socket.settimeout`` makes CPython poll() before every send and recv,
    a few microseconds a call; SO_RCVTIMEO/SO_SNDTIMEO cost nothing until
    they expire, and then recv fails with EAGAIN (``BlockingIOError``).
    """
    seconds = int(timeout)
    packed = struct.pack("ll", seconds, max(int((timeout - seconds) * 1e6), 1))
    sock.settimeout(None)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, packed)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, packed)
