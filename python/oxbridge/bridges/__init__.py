"""The bridge registry: every way to reach the core, by name.

A bridge registers a factory under a name (and optionally URL schemes);
:func:`connect` looks it up. A bridge added here is picked up by the CLI's
``--via``, ``make run``, the benchmark and the shared test vectors.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from .._client import Client
from .._library import CALCULATOR, Library
from ..errors import UnknownBridgeError

__all__ = ["BRIDGES", "connect", "resolve"]

#: Registered bridge names, in the order they are shown, with the module that
#: implements each. A module exposes ``open(address, library, **options) -> Client``.
BRIDGES: dict[str, str] = {
    "pyo3": "oxbridge.bridges.pyo3",
    "ctypes": "oxbridge.bridges.ctypes",
    "cffi": "oxbridge.bridges.cffi",
    "ipc": "oxbridge.bridges.ipc",
    "http": "oxbridge.bridges.http",
    "grpc": "oxbridge.bridges.grpc",
}

#: URL scheme -> bridge name, for ``connect("scheme://...")``.
SCHEMES: dict[str, str] = {
    "unix": "ipc",
    "http": "http",
    "https": "http",
    "grpc": "grpc",
    "grpcs": "grpc",
}


def _factory(name: str) -> Callable[..., Client]:
    opener: Callable[..., Client] = importlib.import_module(BRIDGES[name]).open
    return opener


def resolve(target: str) -> tuple[str, str | None]:
    """The bridge ``target`` names, and its URL if it is one (see :func:`connect`).

    Raises :class:`~oxbridge.UnknownBridgeError` for anything else.
    """
    if target in BRIDGES:
        return target, None
    scheme, sep, _ = target.partition("://")
    if sep and scheme in SCHEMES:
        return SCHEMES[scheme], target
    known = ", ".join([*BRIDGES, *(f"{s}://..." for s in SCHEMES)])
    raise UnknownBridgeError(f"unknown bridge {target!r}: expected one of {known}")


def connect(target: str = "pyo3", *, library: Library | None = None, **options: Any) -> Client:
    """Open a client over the bridge ``target``.

    ``target`` is a bridge name (see :data:`BRIDGES`) or a URL whose scheme
    names a network bridge. Raises :class:`~oxbridge.UnknownBridgeError` for
    anything else. ``library`` is the library to call (oxbridge's calculator
    unless given; see :class:`~oxbridge.Library`).
    """
    name, url = resolve(target)
    return _factory(name)(url, library or CALCULATOR, **options)
