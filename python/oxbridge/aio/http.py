"""The asyncio HTTP client: ``bridges/http.py``'s HTTP/1.1 on asyncio streams,
one request at a time on each keep-alive connection."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .. import _frames
from .._functions import FunctionInfo
from ..bridges import _catalogue, http
from ..bridges._network import Options, TcpTarget, opener
from ..bridges._socket import MAX_HEAD, MAX_REPLY
from ..bridges._wire import error_from, json_decoder, json_encoder, json_reply
from ..errors import BadReply
from ._client import AsyncClient
from ._connection import AsyncConnection, AsyncStream

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library


async def read_head(stream: AsyncStream) -> tuple[int, int | None, bool, bytearray]:
    """Status, Content-Length, whether chunked, and the body bytes already read."""
    buf = bytearray()
    while (end := buf.find(b"\r\n\r\n")) < 0:
        await stream.recv_more(buf, MAX_HEAD)
    status, length, chunked = http.parse_head(bytes(buf[:end]))
    return status, length, chunked, buf[end + 4 :]


async def read_response(stream: AsyncStream) -> tuple[int, bytes]:
    """One HTTP/1.1 response: ``(status, body)``, by Content-Length or chunks."""
    status, length, chunked, body = await read_head(stream)
    if chunked:
        out = bytearray()
        while (need := http.next_chunks(body, out)) is not None:
            await stream.recv_more(body, need)
        return status, bytes(out)
    assert length is not None  # parse_head refuses a response with neither
    if length > MAX_REPLY:
        raise BadReply(f"the reply declares {length} bytes, more than the {MAX_REPLY} allowed")
    while len(body) < length:
        await stream.recv_more(body)
    return status, http.whole_body(body, length)


async def read_batch_response(
    stream: AsyncStream, target: memoryview, itemsize: int
) -> tuple[int, bytes] | None:
    """A batch response into ``target``, or the status and problem document."""
    status, length, chunked, early = await read_head(stream)
    if status != 200:
        length = http.error_length(status, length, chunked)
        while len(early) < length:
            await stream.recv_more(early, length)
        return status, bytes(early)
    expected = http.batch_length(length, target)
    while len(early) < _frames.REPLY.size:
        await stream.recv_more(early, expected)
    got = http.batch_start(early, target, itemsize)
    await stream.recv_into_exactly(target[got:])
    return None


class AsyncHttpClient(AsyncClient):
    """asyncio calls over HTTP/1.1 with keep-alive to an oxbridge server."""

    bridge = "http"
    _address = "url"

    def __init__(self, library: Library, target: TcpTarget, options: Options) -> None:
        tls = None
        if target.ca is not None:
            tls = ssl.create_default_context(cafile=target.ca or None)
        self.url = f"{'https' if tls else 'http'}://{target.netloc}"
        self._head = http.HeadWriter(target)

        def connect() -> Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
            # asyncio sets TCP_NODELAY on its TCP streams.
            return asyncio.open_connection(
                target.host,
                target.port,
                ssl=tls,
                server_hostname=target.host if tls else None,
            )

        async def greet(stream: AsyncStream) -> None:
            await stream.send(self._head.get("/catalogue"))
            status, reply = await read_response(stream)
            if status != 200:
                raise error_from(reply, f"{self.url}/catalogue (HTTP {status})", status)
            _catalogue.check(library, reply, self.url)

        self._conn = AsyncConnection(
            connect, self.url, options.timeout, options.max_connections, greet
        )
        super().__init__(library)

    async def post(self, path: str, body: bytes) -> bytes:
        """POST a JSON ``body`` to ``path``; the reply body, or the bridge's exception."""
        request = self._head.post(path, "application/json", len(body)) + body
        status, reply = await self._conn.exchange(request, read_response)
        if status != 200:
            raise error_from(reply, f"{self.url}{path} (HTTP {status})", status)
        return reply

    def _method(self, f: FunctionInfo) -> Callable[..., Awaitable[Any]]:
        path = f.http_path
        where = f"{self.url}{path}"
        encode, decode = json_encoder(f), json_decoder(f, where)

        async def call(*args: object, **kwargs: object) -> Any:
            body = ("{" + encode(args, kwargs) + "}").encode()
            return decode(json_reply(await self.post(path, body), where))

        call.__name__ = call.__qualname__ = f.name
        call.__doc__ = f.doc
        return call

    async def _send_frame(
        self, f: FunctionInfo, start: int, stop: int, parts: list[Operand], out: Array
    ) -> None:
        frame = _frames.request_frame(f, parts, start)
        head = self._head.post("/batch", "application/octet-stream", _frames.frame_size(frame))
        target = _frames.byte_view(out[start:stop])

        async def reader(stream: AsyncStream) -> tuple[int, bytes] | None:
            return await read_batch_response(stream, target, out.itemsize)

        error = await self._conn.exchange([head, *frame], reader)
        if error is not None:
            raise error_from(error[1], f"{self.url}/batch (HTTP {error[0]})", error[0])

    def close(self) -> None:
        self._conn.close()


#: ``aio.connect("http")``, ``aio.connect("http://host:port")`` or
#: ``aio.connect("https://host:port", ca="ca.pem")``, as ``connect()``.
open = opener("http", AsyncHttpClient, pooled=True)
