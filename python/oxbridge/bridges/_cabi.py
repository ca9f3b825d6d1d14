"""What the ctypes and cffi bridges share about the C ABI (``include/oxbridge.h``).

Both load the ``oxb_*`` symbols from the PyO3 extension itself, so there is no
second library to build or find.
"""

from __future__ import annotations

import platform
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from .._args import text_arg
from .._client import _arrays
from .._functions import FunctionInfo, checker, named, too_many
from ..errors import AbiMismatchError

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library

#: The ABI this Python code was written for; ``oxb_abi_version()`` must match.
ABI_VERSION = 4

#: Status codes, as in ``include/oxbridge.h``.
OXB_OK = 0


def many_columns(
    f: FunctionInfo, operands: list[Operand], address: Callable[[Array], Any]
) -> tuple[list[tuple[Any, int, bool]], list[Array]]:
    """Each argument of ``oxb_many`` as ``OxbColumn`` fields ``(address,
    length, one_for_all)``, the address as the bridge's ``address`` makes it
    of an array, and the arrays that must outlive the call (a single value
    travels as a one-element array of its parameter's type)."""
    arrays = _arrays()  # numpy, imported by the call's checks already
    ndarray, new, dtypes = arrays.np.ndarray, arrays.np.array, arrays.DTYPES
    columns, keep = [], []
    params = f.params
    # An index loop: a small batch is dominated by this function's own cost.
    for i in range(len(params)):
        value = operands[i]
        one = not isinstance(value, ndarray)
        arr = new([value], dtype=dtypes[params[i].type]) if one else cast("Array", value)
        keep.append(arr)
        columns.append((address(arr), len(arr), one))
    return columns, keep


#: Where a struct of two doubles passed by value travels exactly as two doubles
#: (the SysV x86-64 and AArch64 calling conventions). There the bridges call a
#: function of complex numbers with plain doubles, which costs ctypes and cffi
#: no struct object per argument.
FLAT_COMPLEX = sys.platform != "win32" and platform.machine().lower() in (
    "x86_64",
    "amd64",
    "aarch64",
    "arm64",
)


T_co = TypeVar("T_co", covariant=True)


class Loader(Generic[T_co]):
    """Loads each library once per process (``make(library)``), by its path."""

    def __init__(self, make: Callable[[Library], T_co]) -> None:
        self._make = make
        self._loaded: dict[str, T_co] = {}
        self._lock = threading.Lock()

    def __call__(self, library: Library) -> T_co:
        found = self._loaded.get(library.path)
        if found is None:
            with self._lock:
                found = self._loaded.get(library.path)
                if found is None:
                    found = self._loaded[library.path] = self._make(library)
        return found


def check_abi(loaded_version: int, path: str) -> None:
    """Fail loudly if the library speaks another ABI than this package."""
    if loaded_version != ABI_VERSION:
        raise AbiMismatchError(
            f"{path} has C ABI version {loaded_version}, but this oxbridge "
            f"package needs version {ABI_VERSION}: reinstall oxbridge so that its "
            "Python code and native library come from the same build"
        )


def cdef(header: str) -> str:
    """The declarations cffi needs: the library's generated header (shipped in
    its extension as ``C_HEADER``), without its preprocessor lines and C++ guards."""
    lines = [
        line
        for line in header.splitlines()
        if not line.lstrip().startswith("#") and 'extern "C"' not in line
    ]
    return "\n".join(lines)


#: The C type of each parameter type in the catalogue, as the header names it.
C_ARG = {
    "bool": "bool",
    "i64": "int64_t",
    "f64": "double",
    "complex": "OxbComplex",
    "str": "OxbStr",
    "bytes": "OxbBytes",
    "f64[]": "OxbF64s",
    "i64[]": "OxbI64s",
    "complex[]": "OxbComplexes",
}

#: The C type ``out`` points to, for each result type.
C_OUT = {
    "bool": "bool",
    "i64": "int64_t",
    "f64": "double",
    "complex": "OxbComplex",
    "str": "OxbString",
    "bytes": "OxbString",
    "f64[]": "OxbF64Array",
    "i64[]": "OxbI64Array",
    "complex[]": "OxbComplexArray",
}


# The fast path of the in-process C bridges. A function of scalars is called
# with its arguments flattened (see FLAT_COMPLEX: a complex as two doubles, a
# text or bytes as pointer and length, which is how those structs travel by
# value), through a Python function generated from its signature, as
# dataclasses generates __init__: one check per argument, no loop, no object
# per argument.

#: Argument types and result types the fast path takes.
FAST_ARGS = {"complex", "str", "bytes", "f64", "i64", "bool"}
FAST_RESULTS = {"complex", "str", "bytes", "f64", "i64", "bool"}

#: The flattened C parameters of each argument type.
FLAT_C = {
    "complex": ["double", "double"],
    "str": ["const char *", "size_t"],
    "bytes": ["const char *", "size_t"],
    "f64": ["double"],
    "i64": ["int64_t"],
    "bool": ["bool"],
}

#: The check of each argument type, by its name in the generated code.
_CHECK = {
    "complex": "_complex",
    "str": "_text",
    "bytes": "_bytes",
    "f64": "_float",
    "i64": "_int",
    "bool": "_bool",
}


def has_fast_path(f: FunctionInfo) -> bool:
    """Whether ``f`` is called through a generated fast path."""
    return FLAT_COMPLEX and f.returns in FAST_RESULTS and all(p.type in FAST_ARGS for p in f.params)


def flat_declaration(f: FunctionInfo) -> str:
    """``f``'s C declaration with its arguments flattened (and a complex
    result written to ``double[2]``, the same two doubles as ``OxbComplex``)."""
    params = [c for p in f.params for c in FLAT_C[p.type]]
    out = "double" if f.returns == "complex" else C_OUT[f.returns]
    params += [f"{out} *out", "OxbString *err"]
    return f"OxbStatus oxb_{f.name}({', '.join(params)});"


def fast_source(f: FunctionInfo) -> str:
    """The source of ``f``'s fast path. The namespace it runs in provides the
    checks (``_complex``, ``_text``...), ``_fn`` (the C function), ``_out()``
    (a new result), ``_err()`` (a new error string), ``_pass(x)`` (how a
    result or error is passed), ``_result(out)`` and ``_raise(status, err)``."""
    names = [f"_a{i}" for i in range(len(f.params))]
    lines = [
        f"def {f.name}({', '.join([*names, '*_extra'])}):",
        "    if _extra:",
        "        _too_many(_extra)",
    ]
    flat: list[str] = []
    for name, p in zip(names, f.params, strict=True):
        if p.type == "complex":
            lines.append(f"    if type({name}) is not complex:")
            lines.append(f"        {name} = _complex({name}, {p.name!r})")
            flat += [f"{name}.real", f"{name}.imag"]
        elif p.type in ("str", "bytes"):
            lines.append(f"    {name} = {_CHECK[p.type]}({name}, {p.name!r})")
            flat += [name, f"len({name})"]
        else:
            lines.append(f"    {name} = {_CHECK[p.type]}({name}, {p.name!r})")
            flat.append(name)
    lines += [
        "    _o, _e = _out(), _err()",
        f"    _status = _fn({', '.join([*flat, '_pass(_o)', '_pass(_e)'])})",
        "    if _status:",
        "        _raise(_status, _e)",
        "    return _result(_o)",
    ]
    return "\n".join(lines) + "\n"


def is_complex_pair(f: FunctionInfo) -> bool:
    """The calculator's shape, two complex numbers in and one out, where the
    platform passes them as plain doubles: the optimistic fast path."""
    return FLAT_COMPLEX and f.all_complex and len(f.params) == 2


#: The optimistic fast path of a complex pair (cffi's): no check and no
#: object per argument, and the result's buffer taken from a pool and given
#: back (``list.pop`` is atomic, so no two threads, and no signal handler's
#: call in between, ever share one). Whatever is not a plain call (a wrong
#: type, an error status) takes the bridge's checked path, ``_slow``, which
#: raises the error with its message. The namespace provides ``_fn`` (the C
#: function with flattened arguments), ``_take``/``_give`` (the pool's pop and
#: append), ``_pair()`` (a new ``double[2]``), ``_null``, ``_errors`` (what
#: the FFI raises for an argument it cannot pass) and ``_slow(a, b)``.
_PAIR_SOURCE = """def {name}(_a, _b, *_extra):
    if _extra:
        _too_many(_extra)
    try:
        _o = _take()
    except IndexError:
        _o = _pair()
    try:
        _status = _fn(_a.real, _a.imag, _b.real, _b.imag, _o, _null)
    except _errors:
        return _slow(_a, _b)
    if _status:
        # Rare: call again asking for the message (the function is pure).
        return _slow(_a, _b)
    _r = complex(_o[0], _o[1])
    _give(_o)
    return _r
"""


def generate_pair(f: FunctionInfo, namespace: dict[str, Any]) -> Callable[..., Any]:
    """Compile the optimistic fast path of the complex pair ``f`` in
    ``namespace``, named and documented as ``f``."""
    code = compile(_PAIR_SOURCE.format(name=f.name), f"<oxbridge pair path of {f.name}>", "exec")
    scope = {**namespace, "_too_many": too_many(f)}
    exec(code, scope)
    return named(scope[f.name], f)


def _checks() -> dict[str, Callable[[object, str], Any]]:
    found = {name: checker(type_name) for type_name, name in _CHECK.items()}
    # Text crosses as UTF-8 bytes; a lone surrogate passes through so that the
    # core refuses it with the same error as on every bridge.
    found["_text"] = text_arg
    return found


def generate(f: FunctionInfo, namespace: dict[str, Any]) -> Callable[..., Any]:
    """Compile ``f``'s fast path in ``namespace``, with its parameters named as
    ``f``'s (keyword calls bind as on PyO3) and its doc."""
    code = compile(fast_source(f), f"<oxbridge fast path of {f.name}>", "exec")
    scope = {**_checks(), **namespace, "_too_many": too_many(f)}
    exec(code, scope)
    return named(scope[f.name], f)
