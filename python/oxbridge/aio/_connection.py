"""Stream connections for the asyncio HTTP and IPC clients: the same rules
as ``bridges/_socket.py``, on asyncio streams.

A call takes an idle stream (or opens one, at most ``max_connections`` at a
time), makes its exchange, and puts it back only once the whole reply has
been read. A call that stops half way (its deadline, a broken reply, the task
cancelled) closes its stream, so no call ever reads another call's reply.
One deadline covers waiting for a stream, connecting, sending and reading.
A request that fails on a *reused* stream is sent once more on a fresh one,
within the same deadline: every oxbridge call is pure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from ..bridges._network import MAX_CONNECTIONS
from ..bridges._pool import KEEP_IDLE, Closed, Idle, fail, why
from ..bridges._socket import MAX_REPLY
from ..errors import BadReply, BridgeTimeoutError, OxbridgeError, TransportError

T = TypeVar("T")

Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class AsyncStream:
    """One stream, used by one call at a time."""

    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, request: bytes | Sequence[Any]) -> None:
        """Send ``request``: bytes, or buffers sent one after another unjoined."""
        if isinstance(request, bytes):
            self.writer.write(request)
        else:
            # Byte views: a transport takes bytes-like objects and counts their len().
            self.writer.writelines([memoryview(cast(Any, part)).cast("B") for part in request])
        await self.writer.drain()

    async def recv_more(self, buf: bytearray, limit: int = MAX_REPLY) -> None:
        """Append what has arrived to ``buf`` (waiting for at least a byte);
        :class:`Closed` at end of stream. Everything that arrived is taken,
        so a reply followed by anything more is seen, never left for the
        next call."""
        if len(buf) >= limit:
            raise BadReply(f"the reply is larger than {limit} bytes")
        chunk = await self.reader.read(65536)
        if not chunk:
            raise Closed
        buf += chunk

    async def recv_into_exactly(self, view: memoryview) -> None:
        """Fill ``view``; :class:`Closed` if the stream ends first."""
        try:
            view[:] = await self.reader.readexactly(view.nbytes)
        except asyncio.IncompleteReadError:
            raise Closed from None

    async def recv_exactly(self, n: int, limit: int = MAX_REPLY) -> bytes:
        """Exactly ``n`` bytes (at most ``limit``, checked before reading)."""
        if n > limit:
            raise BadReply(f"the reply declares {n} bytes, more than the {limit} allowed")
        buf = bytearray(n)
        await self.recv_into_exactly(memoryview(buf))
        return bytes(buf)

    def close(self) -> None:
        self.writer.transport.abort()


class AsyncConnection:
    """Streams to one server, one exchange at a time on each (see the module)."""

    def __init__(
        self,
        opener: Opener,
        where: str,
        timeout: float,
        max_connections: int = MAX_CONNECTIONS,
        greet: Callable[[AsyncStream], Awaitable[None]] | None = None,
    ) -> None:
        self._open = opener
        #: The first exchange on every new stream: the catalogue check.
        self._greet = greet
        self.where = where
        self.timeout = timeout
        self._slots = asyncio.BoundedSemaphore(max_connections)
        # A burst of calls opens up to max_connections streams: kept for the next burst.
        self._idle: Idle[AsyncStream] = Idle(max(max_connections, KEEP_IDLE))

    async def exchange(
        self, request: bytes | Sequence[Any], reader: Callable[[AsyncStream], Awaitable[T]]
    ) -> T:
        """Send ``request`` and return what ``reader`` makes of the reply."""
        try:
            async with asyncio.timeout(self.timeout):
                async with self._slots:
                    return await self._exchange(request, reader)
        except TimeoutError:
            raise BridgeTimeoutError(
                f"no reply from {self.where} within {self.timeout:g} s"
            ) from None

    async def _exchange(
        self, request: bytes | Sequence[Any], reader: Callable[[AsyncStream], Awaitable[T]]
    ) -> T:
        for attempt in (0, 1):
            taken = self._idle.take()
            reused = taken is not None
            generation, stream = taken or (self._idle.generation, await self._connect())
            try:
                if not reused and self._greet is not None:
                    await self._greet(stream)
                result = await self._send_and_read(stream, request, reader)
            except OxbridgeError:
                # The server's own answer to the greeting, as it is.
                stream.close()
                raise
            except BaseException as e:
                # Cancelled, timed out or broken: the stream may hold part of
                # this call's reply, so it is never used again.
                stream.close()
                fail(e, self.where, self.timeout, retry=reused and attempt == 0)
                continue
            if not self._idle.give_back(generation, stream):
                stream.close()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    async def _send_and_read(
        stream: AsyncStream,
        request: bytes | Sequence[Any],
        reader: Callable[[AsyncStream], Awaitable[T]],
    ) -> T:
        """``request`` sent and its reply read; when the sending breaks, the
        reply the server sent before it closed, if any (as
        ``_socket.answered_anyway`` does for the sync clients)."""
        try:
            await stream.send(request)
        except (BrokenPipeError, ConnectionResetError) as broken:
            try:
                return await reader(stream)
            except (OSError, Closed, BadReply):
                raise broken from None
        return await reader(stream)

    async def _connect(self) -> AsyncStream:
        try:
            reader, writer = await self._open()
        except OSError as e:
            raise TransportError(f"cannot connect to {self.where}: {why(e)}") from None
        return AsyncStream(reader, writer)

    def close(self) -> None:
        """Close the idle streams; those in calls close when their call ends."""
        for stream in self._idle.drain():
            stream.close()
