"""The asyncio gRPC client: ``bridges/grpc.py``'s messages over ``grpc.aio``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from .._functions import FunctionInfo
from ..bridges import grpc as sync_grpc
from ..bridges._network import DEFAULT_TIMEOUT, TcpTarget, tcp_target
from ..bridges._protobuf import decode_many_reply, decode_reply, encode_many_request
from ._client import AsyncClient

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library


class AsyncGrpcClient(AsyncClient):
    """asyncio calls over gRPC (HTTP/2) to an oxbridge server, through ``grpc.aio``.

    The channel is made on the first call, in the event loop that makes it;
    like ``grpc.aio`` itself, the client belongs to that loop.
    """

    bridge = "grpc"

    def __init__(self, library: Library, where: TcpTarget, timeout: float) -> None:
        self.target = where.netloc
        self._where = where
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {where.token}"),) if where.token else None
        self._service = f"/{library.name}.v1.Functions"
        self._channel: grpc.aio.Channel | None = None
        self._channel_args = sync_grpc.channel_args(where, library)
        super().__init__(library)

    def _rpc(self, method: str) -> Any:
        if self._channel is None:
            where = self._where
            target, options = self._channel_args
            if where.ca is None:
                self._channel = grpc.aio.insecure_channel(target, options=options)
            else:
                roots = Path(where.ca).read_bytes() if where.ca else None
                credentials = grpc.ssl_channel_credentials(root_certificates=roots)
                self._channel = grpc.aio.secure_channel(target, credentials, options=options)
        return self._channel.unary_unary(method)

    async def call(self, method: str, request: bytes) -> bytes:
        """One RPC, with the sync client's retry of a restarted server
        (see ``bridges.grpc.GrpcClient.call``)."""
        rpc = self._rpc(method)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            reply: bytes = await rpc(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.UNAVAILABLE or not await self._listening(deadline):
                raise sync_grpc.error_from_rpc(e, self.target) from None
        else:
            return reply
        try:
            reply = await rpc(
                request,
                timeout=max(deadline - loop.time(), 0.001),
                metadata=self._metadata,
                wait_for_ready=True,
            )
        except grpc.aio.AioRpcError as e:
            raise sync_grpc.error_from_rpc(e, self.target) from None
        return reply

    async def _listening(self, deadline: float) -> bool:
        """Whether a TCP connection to one of the servers can be made now."""
        for host, port in self._where.addresses:
            remaining = max(deadline - asyncio.get_running_loop().time(), 0.001)
            try:
                async with asyncio.timeout(remaining):
                    _, writer = await asyncio.open_connection(host, port)
            except OSError:  # refused, unreachable, or the time left ran out
                continue
            writer.close()
            return True
        return False

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
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    def __repr__(self) -> str:
        where = f"target={self.target!r}"
        return f"<oxbridge.aio.AsyncClient bridge='grpc' {where}{self._library_note()}>"


def open(
    address: str | None,
    library: Library,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    token: str | None = None,
    ca: str | None = None,
    **options: Any,
) -> AsyncClient:
    """``aio.connect("grpc")``, ``aio.connect("grpc://host:port")`` or
    ``aio.connect("grpcs://host:port", ca="ca.pem")``, as ``connect()``."""
    port = library.native.DEFAULT_GRPC_PORT
    where = tcp_target("grpc", address, port, token, ca, options, library)
    return AsyncGrpcClient(library, where, timeout)
