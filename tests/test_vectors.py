"""The shared scalar vectors, on every bridge, bit for bit."""

from __future__ import annotations

import operator
from typing import Any

import oxbridge
import pytest

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


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_vector_matches_cpython(case: dict[str, Any]) -> None:
    """The vectors themselves say what CPython says (they cannot drift from it)."""
    x, y = _args(case)
    if case["op"] == "greet":
        if "expect" in case:
            assert f"{x}, {y}" == decode(case["expect"])
        return
    if "expect" in case:
        assert same_complex(ARITHMETIC[case["op"]](complex(x), complex(y)), decode(case["expect"]))
    elif case["error"]["kind"] == "zero_division":
        with pytest.raises(ZeroDivisionError):
            ARITHMETIC[case["op"]](x, y)


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
