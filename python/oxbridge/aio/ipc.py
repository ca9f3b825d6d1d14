"""The asyncio IPC client: ``bridges/ipc.py``'s requests on asyncio streams."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .. import _frames
from .._functions import FunctionInfo
from ..bridges import _catalogue, ipc
from ..bridges._network import Options, opener
from ..bridges._socket import MAX_HEAD
from ..bridges._wire import error_from, json_decoder, json_encoder, json_reply
from ._client import AsyncClient
from ._connection import AsyncConnection, AsyncStream

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library


async def read_line(stream: AsyncStream) -> bytes:
    """One reply line (see ``bridges.ipc.read_line``)."""
    buf = bytearray()
    while not buf.endswith(b"\n"):
        await stream.recv_more(buf)
    return ipc.one_line(buf)


async def read_batch_reply(stream: AsyncStream, target: memoryview, itemsize: int) -> bytes | None:
    """One batch reply frame into ``target``, or the error document."""
    ok, length = _frames.parse_reply_header(await stream.recv_exactly(_frames.REPLY.size))
    if not ok:
        return await stream.recv_exactly(length, MAX_HEAD)
    ipc.check_count(length, itemsize, target)
    await stream.recv_into_exactly(target)
    return None


class AsyncIpcClient(AsyncClient):
    """asyncio calls over a Unix domain socket to an oxbridge server."""

    bridge = "ipc"
    _address = "path"

    def __init__(self, library: Library, path: str, options: Options) -> None:
        self.path = path
        self.where = f"unix://{path}"

        def connect() -> Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
            return asyncio.open_unix_connection(path)

        async def greet(stream: AsyncStream) -> None:
            await stream.send(ipc.CATALOGUE)
            line = await read_line(stream)
            if "error" in json_reply(line, self.where):
                raise error_from(line, self.where)
            _catalogue.check(library, line, self.where)

        self._conn = AsyncConnection(
            connect, self.where, options.timeout, options.max_connections, greet
        )
        super().__init__(library)

    async def request(self, fields: str) -> dict[str, Any]:
        """Send ``{fields}`` as one request; the decoded reply, or the exception."""
        line = await self._conn.exchange(("{" + fields + "}\n").encode(), read_line)
        reply = json_reply(line, self.where)
        if "error" in reply:
            raise error_from(line, self.where)
        return reply

    def _method(self, f: FunctionInfo) -> Callable[..., Awaitable[Any]]:
        command = f'"command":"{f.call_name}",'
        encode, decode = json_encoder(f), json_decoder(f, self.where)

        async def call(*args: object, **kwargs: object) -> Any:
            return decode(await self.request(command + encode(args, kwargs)))

        call.__name__ = call.__qualname__ = f.name
        call.__doc__ = f.doc
        return call

    async def _send_frame(
        self, f: FunctionInfo, start: int, stop: int, parts: list[Operand], out: Array
    ) -> None:
        frame = _frames.request_frame(f, parts, start)
        target = _frames.byte_view(out[start:stop])

        async def reader(stream: AsyncStream) -> bytes | None:
            return await read_batch_reply(stream, target, out.itemsize)

        error = await self._conn.exchange(frame, reader)
        if error is not None:
            raise error_from(error, self.where)

    async def health(self) -> dict[str, Any]:
        """The server's ``health`` reply."""
        return await self.request('"command":"health"')

    def close(self) -> None:
        self._conn.close()


#: ``aio.connect("ipc")`` or ``aio.connect("unix:///path/to/socket")``.
open = opener("ipc", AsyncIpcClient, pooled=True)
