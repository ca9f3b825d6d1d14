"""The arguments of the vectorized ``<name>_many`` calls, checked and
converted once for every bridge.

The first argument is an array; each other one is an array of the same
length or one value for every element. An array becomes one-dimensional,
contiguous and of its parameter's dtype (converted once, and not at all when
it already is one); a single value is checked as the scalar call checks it.
"""

from __future__ import annotations

import numbers
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ._functions import FunctionInfo, check
from .errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["DTYPES", "Array", "Operand", "as_array", "length_mismatch", "prepare"]

Array: TypeAlias = npt.NDArray[Any]
#: An argument of a vectorized call: an array, or one value for every element.
Operand: TypeAlias = "Array | complex | float | int"

#: The numpy dtype of each numeric scalar type's arrays.
DTYPES = {
    "complex": np.dtype(np.complex128),
    "f64": np.dtype(np.float64),
    "i64": np.dtype(np.int64),
}
#: The dtype kinds each type's arrays accept without losing a part.
_KINDS = {"complex": "biufc", "f64": "biuf", "i64": "biu"}
_WHAT = {"complex": "numbers", "f64": "real numbers", "i64": "integers"}


def as_array(value: object, name: str, type_name: str = "complex") -> Array:
    """``value`` as a 1-D contiguous array of ``type_name``'s dtype, copied
    only if it must be."""
    try:
        arr = np.asarray(value)
    except ValueError:
        raise InvalidArgumentError(
            f"argument '{name}' is not a rectangular array of numbers"
        ) from None
    if arr.dtype.kind not in _KINDS[type_name]:
        raise ArgumentTypeError(
            f"argument '{name}' must be an array of {_WHAT[type_name]}, not of {arr.dtype}"
        )
    if arr.ndim != 1:
        raise InvalidArgumentError(
            f"argument '{name}' must be one-dimensional, not of shape {arr.shape}"
        )
    return np.ascontiguousarray(arr, dtype=DTYPES[type_name])


def _is_scalar(value: object) -> bool:
    return isinstance(value, numbers.Number | np.generic) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    )


def length_mismatch(first: str, first_len: int, other: str, other_len: int) -> InvalidArgumentError:
    """The core's length error (the same text as ``CoreError::LengthMismatch``)."""
    return InvalidArgumentError(
        f"operands have different lengths: {first} has {first_len} elements, "
        f"{other} has {other_len}"
    )


def _ready(value: object, dtype: np.dtype[Any]) -> bool:
    """Whether ``value`` is already what ``as_array`` would make of it: the
    common case, checked without converting anything."""
    return (
        type(value) is np.ndarray
        and value.dtype is dtype
        and value.ndim == 1
        and value.flags.c_contiguous
    )


def prepare(f: FunctionInfo, args: list[object]) -> tuple[list[Operand], int]:
    """The arguments of a vectorized call of ``f``, checked and converted, and
    the number of elements; lengths are checked here, before any bridge splits
    the arrays into frames."""
    params = f.params
    first = params[0]
    head: Any = args[0]
    if not _ready(head, DTYPES[first.type]):
        head = as_array(head, first.name, first.type)
    operands: list[Operand] = [head]
    n = len(head)
    # An index loop: a small call is dominated by this function's own cost.
    for i in range(1, len(params)):
        p, value = params[i], args[i]
        arr: Any = value
        if not _ready(arr, DTYPES[p.type]):
            if _is_scalar(value):
                item = value.item() if isinstance(value, np.ndarray | np.generic) else value
                operands.append(check(p.type, item, p.name))
                continue
            arr = as_array(value, p.name, p.type)
        if len(arr) != n:
            raise length_mismatch(first.name, n, p.name, len(arr))
        operands.append(arr)
    return operands, n
