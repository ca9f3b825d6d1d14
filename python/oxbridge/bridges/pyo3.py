"""The PyO3 bridge: the native module's functions, called directly."""

from __future__ import annotations

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

    def _fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        self._native_many(f.name, tuple(operands), out)


def open(address: str | None, library: Library, **options: Any) -> Client:
    """The PyO3 bridge takes no address or options."""
    del address, options
    return PyO3Client(library)
