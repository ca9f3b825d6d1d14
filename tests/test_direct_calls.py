"""A loaded library's plain scalar functions are called on the PyO3 bridge
straight through their own C symbols (``crates/oxbridge-py/src/direct.rs``):
with every argument the plain path takes and every one it hands on to the
general path, the answer, or the error's class and message, is the one the
ctypes bridge gives (and the vectors expect, ``tests/test_pystd.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import oxbridge
import pystd
import pytest
from oxbridge import _native


class Int(int):
    """An ``int`` subclass: the plain path hands it on."""


class Index:
    """Not an ``int``, but has ``__index__``."""

    def __index__(self) -> int:
        return 12


ARGUMENTS: list[tuple[str, tuple[Any, ...]]] = [
    ("gcd", (1071, 462)),
    ("gcd", (0, 0)),
    ("gcd", (-(2**63), 0)),  # overflows in the function: an error status
    ("gcd", (-(2**63), 6)),
    ("gcd", (2**63, 1)),  # does not fit 64 bits
    ("gcd", (True, 4)),
    ("gcd", (Int(12), 18)),
    ("gcd", (Index(), 18)),
    ("gcd", (1.5, 2)),
    ("gcd", ("12", 18)),
    ("gcd", (1,)),
    ("isqrt", (0,)),
    ("isqrt", (2**63 - 1,)),
    ("isqrt", (-1,)),  # an error status
    ("isqrt", (None,)),
]


def outcome(call: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, str]:
    try:
        return "ok", repr(call(*args))
    except Exception as e:  # the outcome is compared: class and message
        return type(e).__qualname__, str(e)


def test_the_plain_functions_are_called_directly() -> None:
    assert set(pystd._native.DIRECT) == {"gcd", "isqrt"}
    assert _native.DIRECT == (), "the calculator is the runtime's own, not loaded"


@pytest.mark.parametrize(("name", "args"), ARGUMENTS, ids=repr)
def test_the_same_outcome_as_ctypes(name: str, args: tuple[Any, ...]) -> None:
    direct = getattr(oxbridge.connect("pyo3", library=pystd.LIBRARY), name)
    reference = getattr(oxbridge.connect("ctypes", library=pystd.LIBRARY), name)
    assert outcome(direct, args) == outcome(reference, args)


def test_keywords_take_the_general_path() -> None:
    client: Any = oxbridge.connect("pyo3", library=pystd.LIBRARY)
    assert client.gcd(a=1071, b=462) == client.gcd(1071, 462) == 21


def test_a_failed_call_leaves_no_error_set() -> None:
    client: Any = oxbridge.connect("pyo3", library=pystd.LIBRARY)
    for _ in range(1000):
        with pytest.raises(oxbridge.OxbridgeError):
            client.isqrt(-1)
        assert client.isqrt(17) == 4
