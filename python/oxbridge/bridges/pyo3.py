"""The PyO3 bridge: the native module's functions, called directly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._client import Client
from .._functions import FunctionInfo

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library


class PyO3Client(Client):
    """In-process calls through the library's PyO3 extension (``oxbridge._native``)."""

    bridge = "pyo3"

    def __init__(self, library: Library) -> None:
        super().__init__(library)
        native = library.native
        # The native function objects themselves: a call costs one call.
        for name in library.functions:
            setattr(self, name, getattr(native, name))
        self._native_many = native.many
        # Built once per library (see _fast_many), over the first client's
        # Python path, which holds no state of its own.
        for name, method in _fast_many(self).items():
            setattr(self, name, method)

    def _fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        self._native_many(f.name, tuple(operands), out)


def _build_fast_many(client: PyO3Client) -> dict[str, Callable[..., Any]]:
    """Each ``<name>_many`` as a native function (``_native.fast_many``) that
    computes arrays ready as they are at once and hands anything else to the
    Python path, which checks, converts, and raises every usage error."""
    native = client.library.native
    return {
        f"{f.name}_many": native.fast_many(f.name, getattr(client, f"{f.name}_many"))
        for f in client.library.functions.values()
        if f.has_many
    }


_FAST_MANY: dict[str, dict[str, Callable[..., Any]]] = {}
_FAST_MANY_LOCK = threading.Lock()


def _fast_many(client: PyO3Client) -> dict[str, Callable[..., Any]]:
    path = client.library.path
    with _FAST_MANY_LOCK:
        found = _FAST_MANY.get(path)
        if found is None:
            found = _FAST_MANY[path] = _build_fast_many(client)
        return found


def open(address: str | None, library: Library, **options: Any) -> Client:
    """The PyO3 bridge takes no address or options."""
    del address, options
    return PyO3Client(library)
