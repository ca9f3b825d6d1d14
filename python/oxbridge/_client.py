"""The one client API that every bridge implements."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, ClassVar, Protocol, Self

from ._extras import numpy
from ._functions import FunctionInfo, bind

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import DTypeLike, NDArray

    from ._arrays import Array, Operand
    from ._library import Library

__all__ = ["Client"]


class Client:
    """A connection to the oxbridge core over one bridge.

    Every exported function is an attribute, and every numeric one also has
    its vectorized ``<name>_many`` form. The scalar functions are attributes
    rather than methods so that each bridge can install its fastest callable
    directly (for PyO3, the native function itself): ``client.add(a, b)``
    then costs one call, not two.
    """

    #: The registered name of the bridge (``"pyo3"``, ``"ctypes"``, ...).
    bridge: str
    #: The library this client calls.
    library: Library
    #: The attribute that says where a network client's server is (``url``,
    #: ``path``, ``target``), shown by ``repr``; ``None`` in process.
    _address: ClassVar[str | None] = None

    def __init__(self, library: Library) -> None:
        self.library = library
        for f in library.functions.values():
            if f.has_many:
                setattr(self, f"{f.name}_many", _many_method(self, f))

    # BEGIN exported functions (tools/gen_stubs.py)
    #: `abs(z)`, exactly as Python computes it: a float; a finite `z` whose magnitude overflows
    #: raises.
    abs: Callable[[complex], float]
    abs_many: Callable[..., NDArray[np.float64]]
    #: `a + b`, exactly as Python computes it.
    add: Callable[[complex, complex], complex]
    add_many: Callable[..., NDArray[np.complex128]]
    #: `a / b`, exactly as Python computes it; a zero divisor raises.
    div: Callable[[complex, complex], complex]
    div_many: Callable[..., NDArray[np.complex128]]
    #: `f"{greeting}, {name}"`, for any Unicode text (empty, NUL, emoji included).
    greet: Callable[[str, str], str]
    #: `a * b`, exactly as Python computes it (the schoolbook formula, no rescaling).
    mul: Callable[[complex, complex], complex]
    mul_many: Callable[..., NDArray[np.complex128]]
    #: `a ** b`, exactly as Python computes it for complex numbers.
    pow: Callable[[complex, complex], complex]
    pow_many: Callable[..., NDArray[np.complex128]]
    #: `a - b`, exactly as Python computes it.
    sub: Callable[[complex, complex], complex]
    sub_many: Callable[..., NDArray[np.complex128]]
    # END exported functions

    def empty(self, n: int, dtype: DTypeLike = "complex128") -> Array:
        """A new array of ``n`` elements (not initialized) for this client's
        batches to read: fill it, then pass it, or any view of it, as an
        operand of ``<name>_many``.

        On the IPC bridge a large one lives in shared memory that the
        server maps, so a batch reads it where it is rather than copying it
        into the call's region (as it must copy an ordinary array). On every
        other bridge it is an ordinary numpy array."""
        return _arrays().np.empty(n, dtype=dtype)  # type: ignore[no-any-return]

    def _many(self, f: FunctionInfo, args: tuple[object, ...], kwargs: dict[str, object]) -> Array:
        arrays = _arrays()
        operands, n = arrays.prepare(f, bind(f, args, kwargs))
        return self._results(f, operands, n, arrays.DTYPES[f.returns])

    def _results(self, f: FunctionInfo, operands: list[Operand], n: int, dtype: DTypeLike) -> Array:
        """``f(*operands)`` as a new array of ``n`` elements of ``dtype``:
        :meth:`_fill` on an empty one, unless a bridge makes its own."""
        out: Array = _arrays().np.empty(n, dtype=dtype)
        self._fill(f, operands, out)
        return out

    def _fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        """Write ``f(*operands)`` elementwise into ``out``: each bridge's own path."""
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
        return describe("oxbridge.Client", self)


class Described(Protocol):
    """What :func:`describe` reads of a client, sync or asyncio."""

    @property
    def bridge(self) -> str: ...
    @property
    def library(self) -> Library: ...
    @property
    def _address(self) -> str | None: ...


def describe(kind: str, client: Described) -> str:
    """A client's ``repr``, sync or asyncio: its bridge, where its server is
    (the attribute its class names in ``_address``), and its library unless
    it is the calculator."""
    where = f" {client._address}={getattr(client, client._address)!r}" if client._address else ""
    library = "" if client.library.is_calculator else f" library={client.library.name!r}"
    return f"<{kind} bridge={client.bridge!r}{where}{library}>"


def _arrays() -> ModuleType:
    """``oxbridge._arrays`` (and with it numpy), imported on the first
    vectorized call: scalar calls never import numpy."""
    global _ARRAYS  # noqa: PLW0603 - imported once, on first use
    if _ARRAYS is None:
        numpy()
        _ARRAYS = importlib.import_module("oxbridge._arrays")
    return _ARRAYS


_ARRAYS: ModuleType | None = None


def _many_method(client: Client, f: FunctionInfo) -> Callable[..., Array]:
    def method(*args: object, **kwargs: object) -> Array:
        return client._many(f, args, kwargs)

    method.__name__ = method.__qualname__ = f"{f.name}_many"
    method.__doc__ = (
        f"``{f.name}`` elementwise: the first argument an array, each other one an "
        "array of the same length or one value for every element. A new array, "
        f"each element bit for bit what :meth:`{f.name}` gives; a failing element "
        "raises its error, naming its index.\n\n"
        f"{f.summary}"
    )
    return method
