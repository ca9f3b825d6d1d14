"""The cffi bridge: the C ABI through cffi.

In API mode where the library's extension has cffi's module compiled in
(the calculator's ``oxbridge._native._cffi_api``, see ``tools/gen_cffi.py``):
C that calls the ``oxb_*`` functions directly, as the article's
``ffi.set_source`` does, with nothing compiled at install time. Any other
library is reached in ABI mode: its generated header (``C_HEADER``, shipped
in its extension) over ``dlopen`` of the extension itself. Each exported
function's method is derived from its catalogue entry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cffi

from .._functions import FunctionInfo, checked
from . import _cabi
from ._loaded import InProcessClient, Symbols

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library

_ELEMENT = {"f64[]": "double[]", "i64[]": "int64_t[]", "complex[]": "OxbComplex[]"}


class _Symbols(Symbols):
    """One library's ``oxb_*`` symbols through cffi (see :class:`Symbols`)."""

    #: The functions of scalars with flattened arguments (``flat_prefix + name``).
    flat_lib: Any
    flat_prefix: str

    def load(self, library: Library) -> None:
        api = getattr(library.native, "_cffi_api", None)
        if api is not None:
            # API mode: the module compiled into the extension (tools/gen_cffi.py).
            self.ffi = self.flat_ffi = api.ffi
            self.lib = self.flat_lib = api.lib
            self.flat_prefix = "oxb_flat_"
        else:
            self._load_abi_mode(library)

    def abi_version(self) -> int:
        return int(self.lib.oxb_abi_version())

    def bytes_at(self, ptr: Any, n: int) -> bytes:
        return bytes(self.ffi.buffer(ptr, n))

    def value_of(self, type_name: str, out: Any) -> Any:
        # A complex result is read through its pointer; anything else is out[0].
        return out if type_name == "complex" else out[0]

    def _load_abi_mode(self, library: Library) -> None:
        """The header's declarations over ``dlopen``: for a library whose
        extension has no compiled cffi module."""
        self.ffi = ffi = cffi.FFI()
        ffi.cdef(_cabi.cdef(library.c_header))
        self.lib = ffi.dlopen(library.path)
        # Functions of scalars through flattened declarations (see
        # _cabi.fast_source), sharing the header's types.
        self.flat_ffi = flat_ffi = cffi.FFI()
        flat_ffi.include(ffi)
        flat_ffi.cdef(
            "\n".join(
                _cabi.flat_declaration(f)
                for f in library.functions.values()
                if _cabi.has_fast_path(f)
            )
        )
        self.flat_lib = flat_ffi.dlopen(library.path)
        self.flat_prefix = "oxb_"

    def to_c(self, type_name: str, value: Any, keep: list[Any]) -> Any:
        """A checked argument in its C form; buffers it borrows go into ``keep``."""
        if type_name == "complex":
            return (value.real, value.imag)
        if type_name in ("str", "bytes"):
            data = value.encode("utf-8", "surrogatepass") if type_name == "str" else value
            buf = self.ffi.from_buffer("uint8_t[]", data)
            keep.append(buf)
            return (buf, len(data))
        if type_name.endswith("[]"):
            buf = self.ffi.from_buffer(_ELEMENT[type_name], value)
            keep.append(buf)
            return (buf, len(value))
        return value

    def fast(self, f: FunctionInfo) -> Callable[..., Any]:
        """The generated fast path (``_cabi.fast_source``) over cffi."""
        new = self.flat_ffi.new
        out_type = "double[2]" if f.returns == "complex" else f"{_cabi.C_OUT[f.returns]} *"
        result: dict[str, Callable[[Any], Any]] = {
            "complex": lambda o: complex(o[0], o[1]),
            "str": lambda o: self.take(o[0]),
            "bytes": lambda o: self.take_bytes(o[0]),
            "f64": lambda o: o[0],
            "i64": lambda o: o[0],
            "bool": lambda o: o[0],
        }
        return _cabi.generate(
            f,
            {"_fn": getattr(self.flat_lib, f"{self.flat_prefix}{f.name}"),
             "_out": lambda: new(out_type), "_err": lambda: new("OxbString *"),
             "_pass": lambda p: p, "_result": result[f.returns], "_raise": self.raise_for},
        )  # fmt: skip

    def general(self, f: FunctionInfo) -> Callable[..., Any]:
        fn = getattr(self.lib, f"oxb_{f.name}")
        new = self.ffi.new
        out_type = f"{_cabi.C_OUT[f.returns]} *"
        types = [p.type for p in f.params]
        to_c, from_c, raise_for = self.to_c, self.from_c, self.raise_for

        def call(*args: object, **kwargs: object) -> Any:
            keep: list[Any] = []
            values = checked(f, args, kwargs)
            c_args = [to_c(t, v, keep) for t, v in zip(types, values, strict=True)]
            out, err = new(out_type), new("OxbString *")
            status = fn(*c_args, out, err)
            if status:
                raise_for(status, err)
            return from_c(f.returns, out)

        return call

    def complex_pair(self, f: FunctionInfo) -> Callable[..., Any]:
        pool: list[Any] = []
        return _cabi.generate_pair(
            f,
            {"_fn": getattr(self.flat_lib, f"{self.flat_prefix}{f.name}"),
             "_take": pool.pop, "_give": pool.append,
             "_pair": functools.partial(self.flat_ffi.new, "double[2]"),
             "_null": self.flat_ffi.NULL,
             "_errors": (AttributeError, TypeError, OverflowError), "_slow": self.general(f)},
        )  # fmt: skip

    def fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        """``oxb_many``: ``f`` elementwise into ``out``."""
        ffi = self.ffi
        # from_buffer: a pointer to the array's memory, without numpy's
        # `.ctypes` helper object (about 1 µs an array).
        columns, keep = _cabi.many_columns(f, operands, ffi.from_buffer)
        name = self.name(f.name)
        err = ffi.new("OxbString *")
        status = self.lib.oxb_many(
            name[0][0], ffi.new("OxbColumn[]", columns), len(columns), ffi.from_buffer(out),
            len(out), err,
        )  # fmt: skip
        del keep
        if status:
            self.raise_for(status, err)

    def make_name(self, name: str) -> tuple[Any, Any]:
        """A function's name as the ``OxbStr`` that ``oxb_many`` takes, and
        the bytes it points to (kept with it)."""
        encoded = self.ffi.from_buffer(name.encode())
        return self.ffi.new("OxbStr *", (encoded, len(encoded))), encoded


#: Each library's symbols, loaded once per process.
load = _cabi.Loader(_Symbols)


class CffiClient(InProcessClient):
    """In-process calls through cffi and the ``oxb_*`` C ABI."""

    bridge = "cffi"
    load = load


open = CffiClient.open
