"""The cffi bridge: the C ABI through cffi's ABI mode.

The declarations are the generated header itself (``_cabi.cdef()``, shipped in
the extension); the library is the PyO3 extension itself, so nothing extra is
compiled at install time. Each exported function's method is derived from its
catalogue entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import cffi

from .._client import Client
from .._functions import FUNCTIONS, FunctionInfo, checked, named
from ..errors import error_for_status
from . import _cabi

if TYPE_CHECKING:
    from .._arrays import Array, Operand

ffi = cffi.FFI()
ffi.cdef(_cabi.cdef())
_lib: Any = ffi.dlopen(_cabi.LIBRARY_PATH)
_cabi.check_abi(_lib.oxb_abi_version())

# Functions of scalars through flattened declarations (see _cabi.fast_source),
# sharing the header's types.
_flat_ffi = cffi.FFI()
_flat_ffi.include(ffi)
_flat_ffi.cdef(
    "\n".join(_cabi.flat_declaration(f) for f in FUNCTIONS.values() if _cabi.has_fast_path(f))
)
_flat_lib: Any = _flat_ffi.dlopen(_cabi.LIBRARY_PATH)

_ARRAY_FREE = {"f64[]": "oxb_f64_array_free", "i64[]": "oxb_i64_array_free",
               "complex[]": "oxb_complex_array_free"}  # fmt: skip
_ELEMENT = {"f64[]": "double[]", "i64[]": "int64_t[]", "complex[]": "OxbComplex[]"}


def _take_bytes(s: Any) -> bytes:
    """Copy and free a byte string the library returned."""
    try:
        return ffi.unpack(ffi.cast("char *", s.ptr), s.len) if s.len else b""
    finally:
        _lib.oxb_string_free(s)


def _take(s: Any) -> str:
    """Decode and free a string the library returned."""
    return _take_bytes(s).decode("utf-8")


def _to_c(type_name: str, value: Any, keep: list[Any]) -> Any:
    """A checked argument in its C form; buffers it borrows go into ``keep``."""
    if type_name == "complex":
        return (value.real, value.imag)
    if type_name in ("str", "bytes"):
        data = value.encode("utf-8", "surrogatepass") if type_name == "str" else value
        buf = ffi.from_buffer("uint8_t[]", data)
        keep.append(buf)
        return (buf, len(data))
    if type_name.endswith("[]"):
        buf = ffi.from_buffer(_ELEMENT[type_name], value)
        keep.append(buf)
        return (buf, len(value))
    return value


def _from_c(type_name: str, out: Any) -> Any:
    """The result ``out`` points to, released when the library owns it."""
    if type_name == "complex":
        return complex(out.re, out.im)
    if type_name == "str":
        return _take(out[0])
    if type_name == "bytes":
        return _take_bytes(out[0])
    if type_name.endswith("[]"):
        import numpy as np

        array = out[0]
        try:
            dtype = {"f64[]": np.float64, "i64[]": np.int64, "complex[]": np.complex128}[type_name]
            size = np.dtype(dtype).itemsize * array.len
            raw = bytes(ffi.buffer(array.ptr, size)) if array.len else b""
            return np.frombuffer(raw, dtype=dtype).copy()
        finally:
            getattr(_lib, _ARRAY_FREE[type_name])(array)
    return out[0]


_FAST_RESULT: dict[str, Callable[[Any], Any]] = {
    "complex": lambda o: complex(o.re, o.im),
    "str": lambda o: _take(o[0]),
    "bytes": lambda o: _take_bytes(o[0]),
    "f64": lambda o: o[0],
    "i64": lambda o: o[0],
    "bool": lambda o: o[0],
}


def _raise(status: int, err: Any) -> None:
    raise error_for_status(status, _take(err[0]))


def _fast(f: FunctionInfo) -> Callable[..., Any]:
    """The generated fast path (``_cabi.fast_source``) over cffi."""
    new, out_type = _flat_ffi.new, f"{_cabi.C_OUT[f.returns]} *"
    return _cabi.generate(
        f,
        {"_fn": getattr(_flat_lib, f"oxb_{f.name}"), "_out": lambda: new(out_type),
         "_err": lambda: new("OxbString *"), "_pass": lambda p: p,
         "_result": _FAST_RESULT[f.returns], "_raise": _raise},
    )  # fmt: skip


def _method(f: FunctionInfo) -> Callable[..., Any]:
    fn = getattr(_lib, f"oxb_{f.name}")
    new = ffi.new
    out_type = f"{_cabi.C_OUT[f.returns]} *"
    types = [p.type for p in f.params]

    def slow(*args: object, **kwargs: object) -> Any:
        keep: list[Any] = []
        c_args = [_to_c(t, v, keep) for t, v in zip(types, checked(f, args, kwargs), strict=True)]
        out, err = new(out_type), new("OxbString *")
        status = fn(*c_args, out, err)
        if status:
            raise error_for_status(status, _take(err[0]))
        return _from_c(f.returns, out)

    if _cabi.FLAT_COMPLEX and f.all_complex and len(f.params) == 2:
        flat, flat_new, flat_null = (
            getattr(_flat_lib, f"oxb_{f.name}"),
            _flat_ffi.new,
            _flat_ffi.NULL,
        )

        def pair(a: Any, b: Any) -> complex:
            out = flat_new("OxbComplex *")
            try:
                status = flat(a.real, a.imag, b.real, b.imag, out, flat_null)
            except (AttributeError, TypeError, OverflowError):
                return cast(complex, slow(a, b))
            if status:
                # Rare: call again asking for the message (the function is pure).
                return cast(complex, slow(a, b))
            return complex(out.re, out.im)

        return named(pair, f)
    if _cabi.has_fast_path(f):
        return _fast(f)
    method = slow
    method.__name__ = method.__qualname__ = f.name
    method.__doc__ = f.doc
    return method


_METHODS = {f.name: _method(f) for f in FUNCTIONS.values()}


class CffiClient(Client):
    """In-process calls through cffi and the ``oxb_*`` C ABI."""

    bridge = "cffi"

    def __init__(self) -> None:
        for name, method in _METHODS.items():
            setattr(self, name, method)

    def _fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        columns, keep = _cabi.many_columns(f, operands)
        array = ffi.new("OxbColumn[]", [(ffi.cast("void *", at), n, one) for at, n, one in columns])
        name = f.name.encode()
        function = ffi.new(
            "OxbStr *", (ffi.cast("const uint8_t *", ffi.from_buffer(name)), len(name))
        )
        err = ffi.new("OxbString *")
        status = _lib.oxb_many(
            function[0], array, len(columns), ffi.cast("void *", out.ctypes.data), len(out), err
        )
        del keep
        if status:
            raise error_for_status(status, _take(err[0]))


def open(address: str | None, **options: Any) -> Client:
    """The cffi bridge takes no address or options."""
    del address, options
    return CffiClient()
