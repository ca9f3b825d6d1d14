"""b64: Rust functions reachable from Python six ways, through oxbridge.

>>> import b64
>>> with b64.connect("pyo3") as client:
...     client.fib(10)
55

``b64.connect("ctypes")``, ``"cffi"``, ``"ipc"``, ``"http"``, ``"grpc"``
or a URL reach the same functions; ``python -m b64 serve`` runs this
library's server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import oxbridge

if TYPE_CHECKING:
    # Written by `oxbridge stubs b64`: its functions, annotated.
    from ._client import Client

#: The library, as oxbridge's runtime loads it from this package's shared object.
LIBRARY = oxbridge.Library.load(__name__)

__all__ = ["LIBRARY", "connect"]


def connect(target: str = "pyo3", **options: Any) -> Client:
    """A client of b64 over ``target``, as :func:`oxbridge.connect`."""
    return cast("Client", oxbridge.connect(target, library=LIBRARY, **options))
