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

from . import _native
from ._client import Client

__all__ = ["LIBRARY", "Client", "connect"]

#: The library, as oxbridge reaches it.
LIBRARY = oxbridge.Library(_native, "pystd")


def connect(target: str = "pyo3", **options: Any) -> Client:
    """A client of pystd over ``target``, as :func:`oxbridge.connect`."""
    return cast(Client, LIBRARY.connect(target, **options))
