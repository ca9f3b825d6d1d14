"""The ctypes bridge: the C ABI through :mod:`ctypes`.

Written for speed, unlike the article's wrapper (a ``Structure`` per argument,
a struct return, the command encoded on every call): argument types are set
once, parts travel as plain doubles, the library is loaded as a ``PyDLL`` so
that a sub-microsecond call does not pay for releasing and retaking the GIL,
and the argument checks run only when the fast path fails.
"""

from __future__ import annotations

import ctypes
import operator
import struct
from array import array
from collections.abc import Callable
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_double,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint32,
    c_void_p,
)
from typing import TYPE_CHECKING, Any, cast

from .._functions import FunctionInfo, checked, named, too_many
from . import _cabi
from ._loaded import ARRAY_FREE, InProcessClient, Symbols

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library


class OxbString(Structure):
    """``OxbString``: an owned byte string returned by the library."""

    _fields_ = (("ptr", POINTER(c_uint8)), ("len", c_size_t))


class OxbComplex(Structure):
    """``OxbComplex``: two doubles, real part first."""

    _fields_ = (("re", c_double), ("im", c_double))


class OxbColumn(Structure):
    """``OxbColumn``: one argument of ``oxb_many``."""

    _fields_ = (("ptr", c_void_p), ("len", c_size_t), ("one_for_all", c_bool))


def _slice(name: str, element: Any) -> type[Structure]:
    return type(name, (Structure,), {"_fields_": (("ptr", POINTER(element)), ("len", c_size_t))})


#: The ctypes form of each parameter type (``_cabi.C_ARG``).
_ARG: dict[str, Any] = {
    "bool": c_bool,
    "i64": c_int64,
    "f64": c_double,
    "complex": OxbComplex,
    "str": _slice("OxbStr", c_uint8),
    "bytes": _slice("OxbBytes", c_uint8),
    "f64[]": _slice("OxbF64s", c_double),
    "i64[]": _slice("OxbI64s", c_int64),
    "complex[]": _slice("OxbComplexes", OxbComplex),
}
#: The ctypes form of what ``out`` points to (``_cabi.C_OUT``).
_OUT: dict[str, Any] = {
    "bool": c_bool,
    "i64": c_int64,
    "f64": c_double,
    "complex": OxbComplex,
    "str": OxbString,
    "bytes": OxbString,
    "f64[]": _slice("OxbF64Array", c_double),
    "i64[]": _slice("OxbI64Array", c_int64),
    "complex[]": _slice("OxbComplexArray", OxbComplex),
}

_Out = c_double * 2

#: ctypes types of the flattened C parameters (``_cabi.flat_declaration``).
_FLAT: dict[str, Any] = {"double": c_double, "const char *": ctypes.c_char_p, "size_t": c_size_t,
         "int64_t": c_int64, "bool": c_bool}  # fmt: skip


#: The fast path of a complex pair. Each call takes buffers of its own from a
#: pool (``list.pop`` is atomic, so no two threads, and no signal handler's
#: call in between, ever share them) and gives them back: the operands' four
#: doubles, the result's two, and the ``OxbColumn`` pair and pointer that
#: point at them. Whatever is not a plain call (an argument that
#: is not a number, an error status) takes the checked path, ``_slow``, which
#: raises the error with its message (the function is pure).
_PACKED_PAIR = """def {name}(_a, _b, *_extra):
    if _extra:
        _too_many(_extra)
    try:
        _s = _take()
    except IndexError:
        _s = _new_slot()
    _in, _out, _columns, _out_p = _s
    try:
        _pack(_in, 0, _a.real, _a.imag, _b.real, _b.imag)
    except _errors:
        return _slow(_a, _b)
    if _many(_name, _columns, _two, _out_p, _one, None):
        return _slow(_a, _b)
    _r = complex(_out[0], _out[1])
    _give(_s)
    return _r
"""

_FOUR_DOUBLES = struct.Struct("=4d")


def _pair_slot() -> tuple[array[float], array[float], Any, c_void_p]:
    """Buffers for one call of a complex pair: in, out, and their C views."""
    operands, result = array("d", bytes(32)), array("d", bytes(16))
    at = operands.buffer_info()[0]
    columns = (OxbColumn * 2)(OxbColumn(at, 1, False), OxbColumn(at + 16, 1, False))
    return operands, result, columns, c_void_p(result.buffer_info()[0])


def _to_c(type_name: str, value: Any) -> Any:
    """A checked argument (``_functions.check``) in its C form."""
    c_type = _ARG[type_name]
    if type_name == "complex":
        return OxbComplex(value.real, value.imag)
    if type_name in ("str", "bytes"):
        data = value.encode("utf-8", "surrogatepass") if type_name == "str" else value
        return c_type(ctypes.cast(ctypes.c_char_p(data), POINTER(c_uint8)), len(data))
    if type_name.endswith("[]"):
        return c_type(ctypes.cast(value.ctypes.data, c_type._fields_[0][1]), len(value))
    return c_type(value)


class _Symbols(Symbols):
    """One library's ``oxb_*`` symbols through ctypes (see :class:`Symbols`)."""

    def load(self, library: Library) -> None:
        self.lib = lib = ctypes.PyDLL(library.path)
        # Batches run for milliseconds: call them through a handle that releases the GIL.
        self.batch_lib = ctypes.CDLL(library.path)
        self.batch_lib.oxb_many.argtypes = lib.oxb_many.argtypes = (
            _ARG["str"], POINTER(OxbColumn), c_size_t, c_void_p, c_size_t, POINTER(OxbString),
        )  # fmt: skip
        lib.oxb_abi_version.restype = c_uint32
        lib.oxb_string_free.argtypes = (OxbString,)
        lib.oxb_string_free.restype = None
        for type_name, free in ARRAY_FREE.items():
            getattr(lib, free).argtypes = (_OUT[type_name],)
            getattr(lib, free).restype = None

    def abi_version(self) -> int:
        return int(self.lib.oxb_abi_version())

    def bytes_at(self, ptr: Any, n: int) -> bytes:
        return ctypes.string_at(ptr, n)

    def value_of(self, type_name: str, out: Any) -> Any:
        # A structure is its own value; a simple type holds it.
        return out.value if type_name in ("bool", "i64", "f64") else out

    def complex_pair(self, f: FunctionInfo) -> Callable[..., complex]:
        """The calculator's shape, two complex in and one out: four doubles
        packed into a buffer and one ``oxb_many`` call of one element whose
        every argument is a ctypes object built once, so ctypes converts
        nothing and nothing is made per call (see ``_PACKED_PAIR``)."""
        fn = self.lib[f"oxb_{f.name}"]
        fn.argtypes = (c_double, c_double, c_double, c_double, c_void_p, c_void_p)
        out_t, byref, raise_for = _Out, ctypes.byref, self.raise_for

        def slow(*args: object, **kwargs: object) -> complex:
            a, b = checked(f, args, kwargs)
            out, err = out_t(), OxbString()
            status = fn(a.real, a.imag, b.real, b.imag, out, byref(err))
            if status:
                raise_for(status, err)
            return complex(out[0], out[1])

        name = f.name.encode()
        pool: list[tuple[array[float], array[float], Any, c_void_p]] = []
        namespace = {
            "_many": self.lib["oxb_many"],  # a fresh pointer: no argtypes, the GIL kept
            "_name": _ARG["str"](ctypes.cast(ctypes.c_char_p(name), POINTER(c_uint8)), len(name)),
            "_keep": name,
            "_two": c_size_t(2),
            "_one": c_size_t(1),
            "_take": pool.pop,
            "_give": pool.append,
            "_new_slot": _pair_slot,
            "_pack": _FOUR_DOUBLES.pack_into,
            "_errors": (AttributeError, TypeError, OverflowError, struct.error),
            "_slow": slow,
            "_too_many": too_many(f),
        }
        source = _PACKED_PAIR.format(name=f.name)
        exec(compile(source, f"<oxbridge pair path of {f.name}>", "exec"), namespace)
        return named(namespace[f.name], f)

    def general(self, f: FunctionInfo) -> Callable[..., Any]:
        """Any signature: arguments checked and converted by type."""
        fn = self.lib[f"oxb_{f.name}"]
        fn.argtypes = (*(_ARG[p.type] for p in f.params), c_void_p, c_void_p)
        out_t, byref = _OUT[f.returns], ctypes.byref

        def call(*args: object, **kwargs: object) -> Any:
            values = checked(f, args, kwargs)
            c_args = [_to_c(p.type, v) for v, p in zip(values, f.params, strict=True)]
            out, err = out_t(), OxbString()
            status = fn(*c_args, byref(out), byref(err))
            if status:
                self.raise_for(status, err)
            return self.from_c(f.returns, out)

        return call

    def fast(self, f: FunctionInfo) -> Callable[..., Any]:
        """The generated fast path (``_cabi.fast_source``) over ctypes."""
        fn = self.lib[f"oxb_{f.name}"]
        flat = [c for p in f.params for c in _cabi.FLAT_C[p.type]]
        fn.argtypes = (*(_FLAT[c] for c in flat), c_void_p, c_void_p)
        out_t, result = self._fast_out(f.returns)
        return _cabi.generate(
            f,
            {"_fn": fn, "_out": out_t, "_err": OxbString, "_pass": ctypes.byref,
             "_result": result, "_raise": self.raise_for},
        )  # fmt: skip

    def _fast_out(self, type_name: str) -> tuple[Any, Callable[[Any], Any]]:
        return {
            "complex": (_Out, lambda o: complex(o[0], o[1])),
            "str": (OxbString, self.take),
            "bytes": (OxbString, self.take_bytes),
            "f64": (c_double, lambda o: o.value),
            "i64": (c_int64, lambda o: o.value),
            "bool": (c_bool, lambda o: o.value),
        }[type_name]

    def fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        """``oxb_many``: ``f`` elementwise into ``out``."""
        columns, keep = _cabi.many_columns(f, operands, _address)
        array = (OxbColumn * len(columns))(*columns)  # type: ignore[misc]  # tuples as structures
        name = self.name(f.name)
        err = OxbString()
        # A small batch is over before releasing the GIL would pay for itself.
        lib = self.batch_lib if len(out) >= _RELEASE_FROM else self.lib
        status = lib.oxb_many(
            name[0], array, len(columns), _address(out), len(out), ctypes.byref(err)
        )
        del keep
        if status:
            self.raise_for(status, err)

    def make_name(self, name: str) -> tuple[Any, bytes]:
        """A function's name as the ``OxbStr`` that ``oxb_many`` takes, and
        the bytes it points to (kept with it)."""
        encoded = name.encode()
        return _ARG["str"](
            ctypes.cast(ctypes.c_char_p(encoded), POINTER(c_uint8)), len(encoded)
        ), encoded


#: Batches of at least this many elements release the GIL while they run.
_RELEASE_FROM = 4096
_char_at = ctypes.c_char.from_buffer
_numpy_address = operator.attrgetter("ctypes.data")


def _address(arr: Array) -> int:
    """An array's address, for ``oxb_many``: through ctypes' own buffer
    support, a third of the cost of numpy's ``.ctypes`` helper object; that
    helper for what ctypes does not take (a read-only or empty array)."""
    try:
        return ctypes.addressof(_char_at(cast("Any", arr)))
    except (TypeError, ValueError):
        return int(_numpy_address(arr))


#: Each library's symbols, loaded once per process.
load = _cabi.Loader(_Symbols)


class CtypesClient(InProcessClient):
    """In-process calls through ctypes and the ``oxb_*`` C ABI."""

    bridge = "ctypes"
    load = load


open = CtypesClient.open
