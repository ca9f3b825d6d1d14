"""What the ctypes and cffi bridges share, written once: a library's
``oxb_*`` symbols loaded once per process, a method per function chosen the
same way, results taken and released the same way, and one client class.

Each bridge's :class:`Symbols` subclass gives only what its FFI does
differently: how the symbols are loaded, how bytes are read at a pointer and
what an ``out`` pointer holds, and its three kinds of method (the calculator's
complex pair, the generated fast path of ``_cabi.fast_source``, the general
checked path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from .. import _extras
from .._client import Client
from .._functions import FunctionInfo
from ..errors import error_for_status
from . import _cabi

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library

#: The function that releases each array type the library returns.
ARRAY_FREE = {"f64[]": "oxb_f64_array_free", "i64[]": "oxb_i64_array_free",
              "complex[]": "oxb_complex_array_free"}  # fmt: skip


class Symbols:
    """One library's ``oxb_*`` symbols, loaded once, and a method per function."""

    #: The C functions of the library (``oxb_<name>``, ``oxb_many``...).
    lib: Any

    def __init__(self, library: Library) -> None:
        self.load(library)
        _cabi.check_abi(self.abi_version(), library.path)
        #: Each function's name as ``oxb_many`` takes it, made on first use.
        self._names: dict[str, Any] = {}
        self.methods = {f.name: self._method(f) for f in library.functions.values()}

    # What each FFI does its own way.

    def load(self, library: Library) -> None:
        """Load the library's symbols (``self.lib`` and what else the FFI needs)."""
        raise NotImplementedError

    def abi_version(self) -> int:
        """What the library's ``oxb_abi_version()`` says."""
        raise NotImplementedError

    def bytes_at(self, ptr: Any, n: int) -> bytes:
        """A copy of the ``n`` bytes at ``ptr``."""
        raise NotImplementedError

    def value_of(self, type_name: str, out: Any) -> Any:
        """The C value an ``out`` argument of ``type_name`` holds after a call."""
        raise NotImplementedError

    def complex_pair(self, f: FunctionInfo) -> Callable[..., Any]:
        """The fast path of a function of two complex numbers to one."""
        raise NotImplementedError

    def fast(self, f: FunctionInfo) -> Callable[..., Any]:
        """The generated fast path (``_cabi.fast_source``)."""
        raise NotImplementedError

    def general(self, f: FunctionInfo) -> Callable[..., Any]:
        """Any signature: arguments checked and converted by type."""
        raise NotImplementedError

    def make_name(self, name: str) -> Any:
        """A function's name as ``oxb_many`` takes it (with what it points to)."""
        raise NotImplementedError

    def fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        """``oxb_many``: ``f`` elementwise into ``out``."""
        raise NotImplementedError

    # The same on both.

    def take_bytes(self, s: Any) -> bytes:
        """Copy and free a byte string (an ``OxbString``) the library returned."""
        try:
            return self.bytes_at(s.ptr, s.len) if s.len else b""
        finally:
            self.lib.oxb_string_free(s)

    def take(self, s: Any) -> str:
        """Decode and free a string the library returned."""
        return self.take_bytes(s).decode("utf-8")

    def raise_for(self, status: int, err: Any) -> None:
        """Raise the error a failed call left in ``err``."""
        raise error_for_status(status, self.take(self.value_of("str", err)))

    def from_c(self, type_name: str, out: Any) -> Any:
        """The result in ``out``, released when the library owns it."""
        value = self.value_of(type_name, out)
        if type_name == "complex":
            return complex(value.re, value.im)
        if type_name == "str":
            return self.take(value)
        if type_name == "bytes":
            return self.take_bytes(value)
        if type_name.endswith("[]"):
            try:
                # Inside the try: a missing numpy still frees the library's array.
                np = _extras.numpy()
                dtype = {"f64[]": np.float64, "i64[]": np.int64, "complex[]": np.complex128}
                size = np.dtype(dtype[type_name]).itemsize * value.len
                raw = self.bytes_at(value.ptr, size) if value.len else b""
                return np.frombuffer(raw, dtype=dtype[type_name]).copy()
            finally:
                getattr(self.lib, ARRAY_FREE[type_name])(value)
        return value

    def name(self, name: str) -> Any:
        """``make_name(name)``, made once."""
        made = self._names.get(name)
        if made is None:
            made = self._names[name] = self.make_name(name)
        return made

    def _method(self, f: FunctionInfo) -> Callable[..., Any]:
        if _cabi.is_complex_pair(f):
            return self.complex_pair(f)
        if _cabi.has_fast_path(f):
            return self.fast(f)
        method = self.general(f)
        method.__name__ = method.__qualname__ = f.name
        method.__doc__ = f.doc
        return method


class InProcessClient(Client):
    """In-process calls through an FFI and the ``oxb_*`` C ABI: each
    function's method is its :class:`Symbols`' own, set on the client."""

    #: Loads each library once per process, by its path.
    load: ClassVar[_cabi.Loader[Symbols]]

    def __init__(self, library: Library) -> None:
        super().__init__(library)
        self._loaded = loaded = self.load(library)
        for name, method in loaded.methods.items():
            setattr(self, name, method)

    def _fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        self._loaded.fill(f, operands, out)

    @classmethod
    def open(cls, address: str | None, library: Library, **options: Any) -> Client:
        """The in-process bridges take no address or options."""
        del address, options
        return cls(library)
