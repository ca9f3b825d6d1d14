"""The cffi bridge: the C ABI through cffi's ABI mode.

The declarations are the generated header's (see ``_cabi.CDEF``, checked
against ``include/oxbridge.h`` by the test suite); the library is the PyO3
extension itself, so nothing extra is compiled at install time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cffi

from .. import _batch
from .._client import Client, complex_arg, text_arg
from ..errors import error_for_status
from . import _cabi

if TYPE_CHECKING:
    from .._batch import ComplexArray, Operand

ffi = cffi.FFI()
ffi.cdef(_cabi.CDEF)
_lib: Any = ffi.dlopen(_cabi.LIBRARY_PATH)
_cabi.check_abi(_lib.oxb_abi_version())


def _take(s: Any) -> str:
    """Decode and free a string the library returned."""
    try:
        return ffi.unpack(ffi.cast("char *", s.ptr), s.len).decode("utf-8") if s.len else ""
    finally:
        _lib.oxb_string_free(s)


def _scalar(name: str) -> Callable[[complex, complex], complex]:
    fn = getattr(_lib, f"oxb_{name}")
    new, null = ffi.new, ffi.NULL

    def slow(a: object, b: object) -> complex:
        a, b = complex_arg(a, "a"), complex_arg(b, "b")
        out, err = new("OxbComplex *"), new("OxbString *")
        status = fn(a.real, a.imag, b.real, b.imag, out, err)
        if status:
            raise error_for_status(status, _take(err[0]))
        return complex(out.re, out.im)

    def op(a: complex, b: complex) -> complex:
        out = new("OxbComplex *")
        try:
            status = fn(a.real, a.imag, b.real, b.imag, out, null)
        except (AttributeError, TypeError, OverflowError):
            return slow(a, b)
        if status:
            # Rare: call again asking for the message (the operation is pure).
            return slow(a, b)
        return complex(out.re, out.im)

    op.__name__ = op.__qualname__ = name
    return op


def greet(greeting: str, name: str) -> str:
    """``f"{greeting}, {name}"`` through ``oxb_greet``."""
    g, n = text_arg(greeting, "greeting"), text_arg(name, "name")
    out, err = ffi.new("OxbString *"), ffi.new("OxbString *")
    status = _lib.oxb_greet(g, len(g), n, len(n), out, err)
    if status:
        raise error_for_status(status, _take(err[0]))
    return _take(out[0])


class CffiClient(Client):
    """In-process calls through cffi and the ``oxb_*`` C ABI."""

    bridge = "cffi"

    def __init__(self) -> None:
        self.add = _scalar("add")
        self.sub = _scalar("sub")
        self.mul = _scalar("mul")
        self.div = _scalar("div")
        self.greet = greet

    def _fill(self, op: str, a: ComplexArray, b: Operand, out: ComplexArray) -> None:
        err, code = ffi.new("OxbString *"), _batch.OPS[op]
        a_buf = ffi.from_buffer("OxbComplex[]", a)
        out_buf = ffi.from_buffer("OxbComplex[]", out, require_writable=True)
        if isinstance(b, complex):
            status = _lib.oxb_many_scalar(code, a_buf, len(a), b.real, b.imag, out_buf, err)
        else:
            b_buf = ffi.from_buffer("OxbComplex[]", b)
            status = _lib.oxb_many(code, a_buf, len(a), b_buf, len(b), out_buf, err)
        if status:
            raise error_for_status(status, _take(err[0]))


def open(address: str | None, **options: Any) -> Client:
    """The cffi bridge takes no address or options."""
    del address, options
    return CffiClient()
