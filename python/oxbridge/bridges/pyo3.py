"""The PyO3 bridge: the native module's functions, called directly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _native
from .._client import Client
from .._functions import FUNCTIONS, FunctionInfo

if TYPE_CHECKING:
    from .._arrays import Array, Operand


class PyO3Client(Client):
    """In-process calls through the PyO3 extension ``oxbridge._native``."""

    bridge = "pyo3"

    def __init__(self) -> None:
        # The native function objects themselves: a call costs one call.
        for name in FUNCTIONS:
            setattr(self, name, getattr(_native, name))

    def _fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        _native.many(f.name, tuple(operands), out)


def open(address: str | None, **options: Any) -> Client:
    """The PyO3 bridge takes no address or options."""
    del address, options
    return PyO3Client()
