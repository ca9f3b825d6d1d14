"""The one asyncio client API that the network bridges implement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from .. import _frames
from .._client import _arrays, describe
from .._functions import FunctionInfo, bind
from ..errors import PayloadTooLargeError

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library

__all__ = ["AsyncClient"]


class AsyncClient:
    """A connection to an oxbridge server for one event loop.

    The same functions as :class:`oxbridge.Client`, each a coroutine
    function: ``await client.add(1 + 3j, -5j)``. The same arguments, results
    and exceptions; every call within the client's timeout. Calls may run
    concurrently on one client (each on its own connection, up to the
    client's limit); a cancelled call closes its connection, so it can never
    leave a reply for another call to read.
    """

    #: The registered name of the bridge (``"ipc"``, ``"http"``, ``"grpc"``).
    bridge: str
    #: The library this client calls.
    library: Library
    #: The attribute that says where the server is, for ``repr`` (see
    #: :func:`oxbridge._client.describe`).
    _address: ClassVar[str | None] = None

    def __init__(self, library: Library) -> None:
        self.library = library
        self._frames = _frames.FrameSize()
        for f in library.functions.values():
            setattr(self, f.name, self._method(f))
            if f.has_many:
                setattr(self, f"{f.name}_many", self._many_method(f))

    if TYPE_CHECKING:
        # The library's functions, set per instance from its catalogue.
        def __getattr__(self, name: str) -> Callable[..., Coroutine[Any, Any, Any]]: ...

    def empty(self, n: int, dtype: Any = "complex128") -> Array:
        """A new array of ``n`` elements (not initialized) for this client's
        batches, as :meth:`oxbridge.Client.empty` gives: here an ordinary
        numpy array (the asyncio clients send batches on the socket)."""
        return _arrays().np.empty(n, dtype=dtype)  # type: ignore[no-any-return]

    def _method(self, f: FunctionInfo) -> Callable[..., Awaitable[Any]]:
        """``f`` as a coroutine function over this bridge."""
        raise NotImplementedError

    def _many_method(self, f: FunctionInfo) -> Callable[..., Awaitable[Array]]:
        async def method(*args: object, **kwargs: object) -> Array:
            arrays = _arrays()
            operands, n = arrays.prepare(f, bind(f, args, kwargs))
            out: Array = arrays.np.empty(n, dtype=arrays.DTYPES[f.returns])
            # Frames as Client sends them (see _frames.each_frame).
            start = 0
            while True:
                stop = min(start + self._frames.elements, n)
                parts = _frames.frame_parts(operands, start, stop)
                try:
                    await self._send_frame(f, start, stop, parts, out)
                except PayloadTooLargeError:
                    if not _frames.shrink(self._frames, start, stop):
                        raise
                    continue
                start = stop
                if start >= n:
                    return out

        method.__name__ = method.__qualname__ = f"{f.name}_many"
        method.__doc__ = f"``{f.name}`` elementwise, as ``Client.{f.name}_many``."
        return method

    async def _send_frame(
        self, f: FunctionInfo, start: int, stop: int, parts: list[Operand], out: Array
    ) -> None:
        """Compute ``out[start:stop]`` from one frame's ``parts``."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close the client's idle connections."""
        self.close()

    def close(self) -> None:
        """Close the client's idle connections (calls in flight finish first)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return describe("oxbridge.aio.AsyncClient", self)
