"""pystd: Rust mirrors of Python standard-library functions, through oxbridge.

>>> import pystd
>>> with pystd.connect("pyo3") as client:
...     client.gcd(12, 18)
6

Every bridge oxbridge has reaches the same functions: ``pystd.connect("ctypes")``,
``"cffi"``, ``"ipc"``, ``"http"``, ``"grpc"`` or a URL. ``python -m pystd serve``
runs this library's server.
"""

from __future__ import annotations

from typing import Any, cast

import oxbridge

#: The library, as oxbridge's runtime loads it from this package's shared
#: object (its module is ``pystd._native``).
LIBRARY = oxbridge.Library.load(__name__)

from . import _native as _native  # noqa: E402 - the module the library was loaded as
from ._client import Client  # noqa: E402 - after the library is loaded

__all__ = ["LIBRARY", "Client", "connect"]


def connect(target: str = "pyo3", **options: Any) -> Client:
    """A client of pystd over ``target``, as :func:`oxbridge.connect`."""
    return cast(Client, oxbridge.connect(target, library=LIBRARY, **options))
