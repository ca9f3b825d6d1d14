"""asyncio clients for the network bridges: ``oxbridge.aio.connect(...)``.

::

    async with oxbridge.aio.connect("http") as client:
        await client.add(1 + 3j, -5j)                      # (1-2j)
        await asyncio.gather(*(client.mul(z, z) for z in values))

The same functions, results, exceptions and timeouts as :func:`oxbridge.connect`,
each a coroutine function. One client serves many concurrent calls: the IPC
and HTTP clients keep a pool of connections (``max_connections``, 64 by
default; more calls wait for one within their timeout), the gRPC client
multiplexes them on one channel. A client belongs to the event loop that first
uses it. The in-process bridges (pyo3, ctypes, cffi) have no asyncio client:
their calls never wait, so they are called directly.
"""

from __future__ import annotations

import importlib
from typing import Any

from .._library import CALCULATOR, Library
from ..bridges import resolve
from ..errors import UnknownBridgeError
from ._client import AsyncClient

__all__ = ["BRIDGES", "AsyncClient", "connect"]

#: The bridges with an asyncio client, and the module of each.
BRIDGES: dict[str, str] = {
    "ipc": "oxbridge.aio.ipc",
    "http": "oxbridge.aio.http",
    "grpc": "oxbridge.aio.grpc",
}


def connect(target: str = "ipc", *, library: Library | None = None, **options: Any) -> AsyncClient:
    """An asyncio client over the network bridge ``target``: a bridge name
    (``"ipc"``, ``"http"``, ``"grpc"``) or a URL, with the options
    :func:`oxbridge.connect` takes, and ``max_connections`` for ipc and http.

    Nothing is connected until the first call. Raises
    :class:`~oxbridge.UnknownBridgeError` for an in-process bridge or an
    unknown target.
    """
    name, url = resolve(target)
    if name not in BRIDGES:
        raise UnknownBridgeError(
            f"the {name} bridge has no asyncio client: it runs in process and never "
            f"waits, so call it directly; asyncio clients: {', '.join(BRIDGES)}"
        )
    module = importlib.import_module(BRIDGES[name])
    client: AsyncClient = module.open(url, library or CALCULATOR, **options)
    return client
