"""The one client API that every bridge implements."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, cast

from .errors import argument_type_error

if TYPE_CHECKING:
    from ._batch import ComplexArray, Operand

__all__ = ["Client", "complex_arg", "text_arg"]


class Client:
    """A connection to the oxbridge core over one bridge.

    The operations are attributes rather than methods so that each bridge can
    install its fastest callable directly (for PyO3, the native function
    itself): ``client.add(a, b)`` then costs one call, not two.
    """

    #: The registered name of the bridge (``"pyo3"``, ``"ctypes"``, ...).
    bridge: str

    #: ``a + b``, exactly as Python computes it.
    add: Callable[[complex, complex], complex]
    #: ``a - b``, exactly as Python computes it.
    sub: Callable[[complex, complex], complex]
    #: ``a * b``, exactly as Python computes it.
    mul: Callable[[complex, complex], complex]
    #: ``a / b``, exactly as Python computes it; raises
    #: :class:`~oxbridge.OxbridgeZeroDivisionError` on a zero divisor.
    div: Callable[[complex, complex], complex]
    #: ``f"{greeting}, {name}"``.
    greet: Callable[[str, str], str]

    def add_many(self, a: object, b: object) -> ComplexArray:
        """``a + b`` elementwise: ``a`` an array of numbers, ``b`` one of the
        same length or a single number. A new complex128 array, each element
        bit for bit what :meth:`add` gives."""
        return self._many("add", a, b)

    def sub_many(self, a: object, b: object) -> ComplexArray:
        """``a - b`` elementwise, like :meth:`add_many`."""
        return self._many("sub", a, b)

    def mul_many(self, a: object, b: object) -> ComplexArray:
        """``a * b`` elementwise, like :meth:`add_many`."""
        return self._many("mul", a, b)

    def div_many(self, a: object, b: object) -> ComplexArray:
        """``a / b`` elementwise, like :meth:`add_many`; a zero divisor raises
        :class:`~oxbridge.OxbridgeZeroDivisionError` naming its index."""
        return self._many("div", a, b)

    def _many(self, op: str, a: object, b: object) -> ComplexArray:
        import numpy as np

        from ._batch import prepare

        a_arr, b_val = prepare(a, b)
        out = np.empty(len(a_arr), dtype=np.complex128)
        self._fill(op, a_arr, b_val, out)
        return out

    def _fill(self, op: str, a: ComplexArray, b: Operand, out: ComplexArray) -> None:
        """Write ``a <op> b`` into ``out``: each bridge's own batch path."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the bridge's resources; in-process bridges hold none."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<oxbridge.Client bridge={self.bridge!r}>"


def complex_arg(value: object, name: str) -> complex:
    """``value`` as a complex, accepting what ``complex(x)`` accepts from a non-string.

    This is the slow path of the bridges that cannot take a Python object
    directly; the PyO3 bridge applies the same rule in Rust.
    """
    if type(value) is complex:
        return value
    if not isinstance(value, str | bytes | bytearray):
        try:
            return complex(cast(Any, value))
        except TypeError:
            pass
    raise argument_type_error(name, value, "complex")


def text_arg(value: object, name: str) -> bytes:
    """``value`` as UTF-8 bytes for a bridge that sends bytes.

    Lone surrogates are passed through (``surrogatepass``) so that the core
    refuses them with the same error on every bridge.
    """
    if not isinstance(value, str):
        raise argument_type_error(name, value, "str")
    return value.encode("utf-8", "surrogatepass")
