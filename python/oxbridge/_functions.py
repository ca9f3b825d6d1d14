"""The exported functions, as their one definition in Rust describes them.

``_native.functions()`` hands over the catalogue: each function's name, doc,
parameters with their types, result type and the reply's field. Every bridge
builds its methods from it; this module binds a call's arguments to the
parameters and checks each by its type, with the messages the PyO3 bridge
gives for the same mistakes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, cast

from . import _extras, _native
from ._args import complex_arg
from .errors import ArgumentTypeError, InvalidArgumentError, Missing, argument_type_error

__all__ = [
    "FUNCTIONS",
    "FunctionInfo",
    "Param",
    "bind",
    "catalogue",
    "check",
    "checked",
    "named",
]

I64_MIN, I64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Param:
    """One parameter: its name and its type's catalogue name (``"complex"``, ``"f64[]"``...)."""

    name: str
    type: str


@dataclass(frozen=True)
class FunctionInfo:
    """One exported function."""

    name: str
    doc: str
    params: tuple[Param, ...]
    returns: str
    #: The reply's field in JSON and protobuf (``result`` unless defined otherwise).
    result_field: str
    #: The error kinds the function declares.
    raises: tuple[str, ...]
    #: Whether it has a vectorized ``<name>_many`` form.
    has_many: bool
    #: Its library's name, when a server must be told which library it is
    #: in; empty for the runtime's own calculator, whose functions every
    #: server it runs on answers by their bare names (the articles' clients).
    library: str = ""

    @property
    def call_name(self) -> str:
        """The name a server knows it by: ``pystd.gcd`` (IPC commands, batch frames)."""
        return f"{self.library}.{self.name}" if self.library else self.name

    @property
    def http_path(self) -> str:
        """Its HTTP route: ``/pystd/gcd``, or ``/add`` for the calculator's."""
        return f"/{self.library}/{self.name}" if self.library else f"/{self.name}"

    @property
    def summary(self) -> str:
        """The documentation's first paragraph, on one line."""
        return " ".join(self.doc.split("\n\n")[0].split())

    def params_all(self, type_name: str) -> bool:
        """Whether every parameter is of ``type_name``."""
        return all(p.type == type_name for p in self.params)

    @property
    def all_complex(self) -> bool:
        """Whether every parameter and the result are complex (the calculator's shape)."""
        return self.returns == "complex" and all(p.type == "complex" for p in self.params)


def catalogue(native: Any) -> dict[str, FunctionInfo]:
    """The functions a library's module exports, from its ``functions()``."""
    library = "" if native is _native else native.LIBRARY
    return {
        name: FunctionInfo(
            name,
            doc,
            tuple(Param(p, t) for p, t in params),
            returns,
            field,
            tuple(raises),
            many,
            library,
        )
        for name, doc, params, returns, field, raises, many in native.functions()
    }


#: The calculator's functions (``oxbridge._native``).
FUNCTIONS: dict[str, FunctionInfo] = catalogue(_native)


def bind(f: FunctionInfo, args: Sequence[object], kwargs: Mapping[str, object]) -> list[object]:
    """The arguments in parameter order, from a call's positional and keyword
    arguments; :class:`ArgumentTypeError` as the PyO3 bridge words it."""
    want = len(f.params)
    if len(args) > want:
        too_many(f)(tuple(args[want:]))
    if not kwargs and len(args) == want:
        return list(args)
    bound: list[object] = [*args, *([_MISSING] * (want - len(args)))]
    for key, value in kwargs.items():
        index = next((i for i, p in enumerate(f.params) if p.name == key), None)
        if index is None:
            raise ArgumentTypeError(f"{f.name}() got an unexpected keyword argument '{key}'")
        if bound[index] is not _MISSING:
            raise ArgumentTypeError(f"{f.name}() got multiple values for argument '{key}'")
        bound[index] = value
    for value, p in zip(bound, f.params, strict=True):
        if value is _MISSING:
            raise Missing(f.name, p.name).error()
    return bound


_MISSING: Any = object()


def _complex(value: object, name: str) -> complex:
    return value if type(value) is complex else complex_arg(value, name)


def _float(value: object, name: str) -> float:
    numeric = isinstance(value, float | int) or any(
        hasattr(value, attr) for attr in ("__float__", "__index__")
    )
    if isinstance(value, str | bytes | bytearray) or not numeric:
        raise argument_type_error(name, value, "float")
    return float(cast(Any, value))


def _int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise argument_type_error(name, value, "int")
    if not I64_MIN <= value <= I64_MAX:
        raise InvalidArgumentError(f"argument '{name}' must be an integer from -2**63 to 2**63-1")
    return operator.index(value)


def _instance(expected: type, label: str) -> Callable[[object, str], Any]:
    def checked(value: object, name: str) -> Any:
        if not isinstance(value, expected):
            raise argument_type_error(name, value, label)
        return value

    return checked


def _array(dtype: str) -> Callable[[object, str], Any]:
    def checked(value: object, name: str) -> Any:
        np = _extras.numpy()
        if not (isinstance(value, np.ndarray) and value.dtype == dtype and value.ndim == 1):
            raise argument_type_error(name, value, f"a 1-D {dtype} array")
        if not value.flags.c_contiguous:
            raise InvalidArgumentError(f"argument '{name}' must be a contiguous array")
        return value

    return checked


#: Each type's check, by its catalogue name.
_CHECKS: dict[str, Callable[[object, str], Any]] = {
    "complex": _complex,
    "f64": _float,
    "i64": _int,
    "bool": _instance(bool, "bool"),
    "str": _instance(str, "str"),
    "bytes": _instance(bytes, "bytes"),
    "f64[]": _array("float64"),
    "i64[]": _array("int64"),
    "complex[]": _array("complex128"),
}


def checker(type_name: str) -> Callable[[object, str], Any]:
    """The check of one type, as a function of ``(value, name)``."""
    return _CHECKS[type_name]


def check(type_name: str, value: object, name: str) -> Any:
    """``value`` as the Python value of its parameter's type, or the error the
    PyO3 bridge raises for it."""
    checker = _CHECKS.get(type_name)
    if checker is None:
        raise InvalidArgumentError(
            f"argument '{name}' has a type oxbridge does not know: {type_name}"
        )
    return checker(value, name)


def checked(f: FunctionInfo, args: Sequence[object], kwargs: Mapping[str, object]) -> list[Any]:
    """The call's arguments bound to ``f``'s parameters and checked by type."""
    return [
        check(p.type, value, p.name)
        for value, p in zip(bind(f, args, kwargs), f.params, strict=True)
    ]


def too_many(f: FunctionInfo) -> Callable[[tuple[object, ...]], NoReturn]:
    """What a fast path (``def f(a, b, *extra)``) raises for more positional
    arguments than ``f`` takes: the error :func:`bind` and the PyO3 bridge
    raise."""
    want = len(f.params)

    def refuse(extra: tuple[object, ...]) -> NoReturn:
        given = want + len(extra)
        raise ArgumentTypeError(
            f"{f.name}() takes {want} positional arguments but {given} were given"
        )

    return refuse


def named(method: Callable[..., Any], f: FunctionInfo) -> Callable[..., Any]:
    """``method`` (a plain ``def m(a, b)`` fast path) with ``f``'s name, doc and
    parameter names, so that keyword calls bind as they would on PyO3, and
    a missing argument raises PyO3's error (see :class:`Missing`)."""
    code = method.__code__
    names = tuple(p.name for p in f.params)
    method.__code__ = code.replace(co_varnames=names + code.co_varnames[len(names) :])
    # A missing argument arrives as a marker that no check accepts, and the
    # check's error says it is missing, as on every bridge (free of cost on
    # the fast path: Python fills in defaults as it binds).
    method.__defaults__ = tuple(Missing(f.name, name) for name in names)
    method.__name__ = method.__qualname__ = f.name
    method.__doc__ = f.doc
    return method
