"""What a vector's ``reference`` expression may use: Python's own modules, and
the few helpers a library's contract needs beyond them."""

from __future__ import annotations

import cmath
import hashlib
import math
import zlib
from typing import Any

I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def i64(value: int) -> int:
    """``value`` as a 64-bit result: Python's value, or the ``OverflowError``
    a function with a 64-bit integer result raises beyond it."""
    if not I64_MIN <= value <= I64_MAX:
        raise OverflowError("integer overflow")
    return value


def levenshtein(a: str, b: str) -> int:
    """The edit distance between ``a`` and ``b`` in code points: the textbook
    dynamic programme, written plainly as the reference."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


#: The namespace every reference expression and grid value is evaluated in.
NAMESPACE: dict[str, Any] = {
    "math": math,
    "cmath": cmath,
    "zlib": zlib,
    "hashlib": hashlib,
    "i64": i64,
    "levenshtein": levenshtein,
}
