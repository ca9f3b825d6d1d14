"""The ctypes bridge: the C ABI through :mod:`ctypes`.

Written for speed, unlike the article's wrapper (a ``Structure`` per argument,
a struct return, the command encoded on every call): argument types are set
once, parts travel as plain doubles, the library is loaded as a ``PyDLL`` so
that a sub-microsecond call does not pay for releasing and retaking the GIL,
and the argument checks run only when the fast path fails.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from ctypes import (
    POINTER,
    Structure,
    c_double,
    c_int32,
    c_size_t,
    c_uint8,
    c_uint32,
    c_void_p,
)
from typing import TYPE_CHECKING, Any

from .. import _batch
from .._client import Client, complex_arg, text_arg
from ..errors import error_for_status
from . import _cabi

if TYPE_CHECKING:
    from .._batch import ComplexArray, Operand


class OxbString(Structure):
    """``OxbString``: an owned byte string returned by the library."""

    _fields_ = (("ptr", POINTER(c_uint8)), ("len", c_size_t))


_Out = c_double * 2
_lib = ctypes.PyDLL(_cabi.LIBRARY_PATH)
# Batches run for milliseconds: call them through a handle that releases the GIL.
_batch_lib = ctypes.CDLL(_cabi.LIBRARY_PATH)
_batch_lib.oxb_many.argtypes = (c_int32, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p, c_void_p)
_batch_lib.oxb_many_scalar.argtypes = (
    c_int32, c_void_p, c_size_t, c_double, c_double, c_void_p, c_void_p,
)  # fmt: skip
_lib.oxb_abi_version.restype = c_uint32
_cabi.check_abi(_lib.oxb_abi_version())
_lib.oxb_string_free.argtypes = (OxbString,)
_lib.oxb_string_free.restype = None
_lib.oxb_greet.argtypes = (c_void_p, c_size_t, c_void_p, c_size_t, c_void_p, c_void_p)


def _take(s: OxbString) -> str:
    """Decode and free a string the library returned."""
    try:
        return ctypes.string_at(s.ptr, s.len).decode("utf-8") if s.len else ""
    finally:
        _lib.oxb_string_free(s)


def _raise(status: int, err: OxbString) -> None:
    raise error_for_status(status, _take(err))


def _scalar(name: str) -> Callable[[complex, complex], complex]:
    fn = _lib[f"oxb_{name}"]
    fn.argtypes = (c_double, c_double, c_double, c_double, c_void_p, c_void_p)
    out_t, argument_error, byref = _Out, ctypes.ArgumentError, ctypes.byref

    def slow(a: object, b: object) -> complex:
        a, b = complex_arg(a, "a"), complex_arg(b, "b")
        out, err = out_t(), OxbString()
        status = fn(a.real, a.imag, b.real, b.imag, out, byref(err))
        if status:
            _raise(status, err)
        return complex(out[0], out[1])

    def op(a: complex, b: complex) -> complex:
        out = out_t()
        try:
            status = fn(a.real, a.imag, b.real, b.imag, out, None)
        except (AttributeError, argument_error):
            return slow(a, b)
        if status:
            # Rare: call again asking for the message (the operation is pure).
            return slow(a, b)
        return complex(out[0], out[1])

    op.__name__ = op.__qualname__ = name
    return op


def greet(greeting: str, name: str) -> str:
    """``f"{greeting}, {name}"`` through ``oxb_greet``."""
    g, n = text_arg(greeting, "greeting"), text_arg(name, "name")
    out, err = OxbString(), OxbString()
    status = _lib.oxb_greet(g, len(g), n, len(n), ctypes.byref(out), ctypes.byref(err))
    if status:
        _raise(status, err)
    return _take(out)


class CtypesClient(Client):
    """In-process calls through ctypes and the ``oxb_*`` C ABI."""

    bridge = "ctypes"

    def __init__(self) -> None:
        self.add = _scalar("add")
        self.sub = _scalar("sub")
        self.mul = _scalar("mul")
        self.div = _scalar("div")
        self.greet = greet

    def _fill(self, op: str, a: ComplexArray, b: Operand, out: ComplexArray) -> None:
        err, code = OxbString(), _batch.OPS[op]
        if isinstance(b, complex):
            status = _batch_lib.oxb_many_scalar(
                code, a.ctypes.data, len(a), b.real, b.imag, out.ctypes.data, ctypes.byref(err)
            )
        else:
            status = _batch_lib.oxb_many(
                code,
                a.ctypes.data,
                len(a),
                b.ctypes.data,
                len(b),
                out.ctypes.data,
                ctypes.byref(err),
            )
        if status:
            _raise(status, err)


def open(address: str | None, **options: Any) -> Client:
    """The ctypes bridge takes no address or options."""
    del address, options
    return CtypesClient()
