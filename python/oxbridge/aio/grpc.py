"""The asyncio gRPC client: ``bridges/grpc.py``'s messages on its native channel.

Each call is submitted to the channel's runtime and awaited on a future; the
channel's wake descriptor, watched by the event loop, says when calls have
ended. No thread of the loop's waits, and no grpcio.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .. import _native
from .._functions import FunctionInfo
from ..bridges import _catalogue
from ..bridges import grpc as sync_grpc
from ..bridges._network import Options, TcpTarget, opener
from ..bridges._protobuf import decode_many_reply, decode_reply, encode_many_request
from ..errors import TransportError
from ._client import AsyncClient

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library


class AsyncGrpcClient(AsyncClient):
    """asyncio calls over gRPC (HTTP/2) to an oxbridge server.

    The channel is made on the first call, in the event loop that makes it;
    the client belongs to that loop. Calls run concurrently on the one
    channel (HTTP/2 streams); a cancelled call resets its stream.
    """

    bridge = "grpc"
    _address = "target"

    def __init__(self, library: Library, where: TcpTarget, options: Options) -> None:
        self.target = where.netloc
        self._where = where
        self.timeout = options.timeout
        self._service = f"/{library.name}.v1.Functions"
        self._channel: _native.GrpcChannel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        self._checked = False
        super().__init__(library)

    def _open(self) -> _native.GrpcChannel:
        if self._channel is None:
            self._channel = sync_grpc.channel(self._where, self.library)
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._channel.wake_fd(), self._wake)
        return self._channel

    def _wake(self) -> None:
        """The loop's callback when calls have ended: their futures settled."""
        channel = self._channel
        if channel is None:
            return
        with contextlib.suppress(BlockingIOError):
            os.read(channel.wake_fd(), 4096)
        for number, outcome in channel.completed():
            future = self._waiting.pop(number, None)
            if future is None or future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def call(self, method: str, request: bytes) -> bytes:
        """One RPC, with the sync client's retry of a restarted server
        (see ``bridges.grpc.GrpcClient.call``); the first checks the
        server's catalogue (see ``bridges._catalogue``)."""
        if not self._checked:
            reply = await self._submit(_catalogue.GRPC_PATH, b"")
            _catalogue.check_grpc(self.library, reply, f"grpc://{self.target}")
            self._checked = True
        return await self._submit(method, request)

    async def _submit(self, method: str, request: bytes) -> bytes:
        channel = self._open()
        number = channel.submit(method, request, self.timeout)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        try:
            return await future
        except asyncio.CancelledError:
            channel.cancel(number)
            raise
        finally:
            self._waiting.pop(number, None)

    def _method(self, f: FunctionInfo) -> Callable[..., Awaitable[Any]]:
        method = f"{self._service}/{sync_grpc.method_name(f.name)}"
        where = f"grpc://{self.target}"
        encode = sync_grpc.request_encoder(f)

        async def call(*args: object, **kwargs: object) -> Any:
            return decode_reply(f, await self.call(method, encode(args, kwargs)), where)

        call.__name__ = call.__qualname__ = f.name
        call.__doc__ = f.doc
        return call

    async def _send_frame(
        self, f: FunctionInfo, start: int, stop: int, parts: list[Operand], out: Array
    ) -> None:
        import numpy as np  # noqa: PLC0415 - a batch: numpy is there (see Client._many)

        method = f"{self._service}/{sync_grpc.method_name(f.name)}Many"
        reply = await self.call(method, encode_many_request(f, parts, start))
        result = decode_many_reply(reply, (stop - start) * out.itemsize, f"grpc://{self.target}")
        out[start:stop] = np.frombuffer(result, dtype=out.dtype)

    async def aclose(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(channel.wake_fd())
            for number, future in list(self._waiting.items()):
                channel.cancel(number)
                if not future.done():
                    future.set_exception(
                        TransportError(f"grpc://{self.target}: the client was closed")
                    )
            channel.close()


#: ``aio.connect("grpc")``, ``aio.connect("grpc://host:port")`` or
#: ``aio.connect("grpcs://host:port", ca="ca.pem")``, as ``connect()``.
open = opener("grpc", AsyncGrpcClient)
