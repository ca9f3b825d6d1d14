"""The shared scalar vectors, on every bridge, bit for bit."""

from __future__ import annotations

import operator
from typing import Any

import oxbridge
import pytest
from oxbridge.errors import error_for

from .vectors import assert_raises_like, decode, load, same_complex

CASES = load("scalar")
ARITHMETIC = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
}


def _args(case: dict[str, Any]) -> tuple[Any, Any]:
    if case["op"] == "greet":
        return decode(case["greeting"]), decode(case["name"])
    return decode(case["a"]), decode(case["b"])


def _typed(name: str, value: Any, types: tuple[type, ...], expected: str) -> Any:
    """The API's argument contract: ``value`` must be one of ``types`` (never a bool)."""
    if isinstance(value, bool) or not isinstance(value, types):
        raise TypeError(f"argument '{name}' must be {expected}, not {type(value).__name__}")
    return value


def reference(op: str, x: Any, y: Any) -> Any:
    """What Python itself does for the call, with the API's argument types.

    Arithmetic is CPython's operator on complex numbers; ``greet`` is the
    f-string, on text that UTF-8 can carry (a lone surrogate cannot).
    """
    if op == "greet":
        for name, text in (("greeting", x), ("name", y)):
            _typed(name, text, (str,), "str")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"argument '{name}' is not valid UTF-8 text") from None
        return f"{x}, {y}"
    a = complex(_typed("a", x, (int, float, complex), "complex"))
    b = complex(_typed("b", y, (int, float, complex), "complex"))
    return ARITHMETIC[op](a, b)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_vector_matches_cpython(case: dict[str, Any]) -> None:
    """The vectors themselves say what Python says (they cannot drift from it)."""
    x, y = _args(case)
    if "expect" in case:
        got = reference(case["op"], x, y)
        want = decode(case["expect"])
        assert got == want if case["op"] == "greet" else same_complex(got, want)
        return
    # An error row: Python raises the builtin our class derives from, with
    # exactly the message every bridge must show.
    expected = error_for(case["error"]["kind"], case["error"]["message"])
    builtin = next(c for c in type(expected).__mro__ if c.__module__ == "builtins")
    with pytest.raises(builtin) as info:
        reference(case["op"], x, y)
    assert type(info.value) is builtin
    assert str(info.value) == case["error"]["message"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bridge_passes_vector(client: oxbridge.Client, case: dict[str, Any]) -> None:
    x, y = _args(case)
    call = getattr(client, case["op"])
    if "error" in case:
        assert_raises_like(case["error"], call, x, y)
        return
    got = call(x, y)
    want = decode(case["expect"])
    if case["op"] == "greet":
        assert type(got) is str
        assert got == want
    else:
        assert type(got) is complex
        assert same_complex(got, want), f"{got!r} != {want!r}"
