"""Randomized differential test: every bridge against CPython's own operators."""

from __future__ import annotations

import operator
from collections.abc import Callable

import oxbridge
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .vectors import same_complex

finite_or_not = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
complexes = st.builds(complex, finite_or_not, finite_or_not)
OPS: dict[str, Callable[[complex, complex], complex]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
}
SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("op", list(OPS))
@SETTINGS
@given(a=complexes, b=complexes)
def test_bridge_equals_cpython_bit_for_bit(
    client: oxbridge.Client, op: str, a: complex, b: complex
) -> None:
    try:
        want = OPS[op](a, b)
    except ZeroDivisionError as e:
        with pytest.raises(oxbridge.OxbridgeZeroDivisionError, match=f"^{e}$"):
            getattr(client, op)(a, b)
        return
    got = getattr(client, op)(a, b)
    assert same_complex(got, want), f"{op}({a!r}, {b!r}) = {got!r}, CPython says {want!r}"


@SETTINGS
@given(greeting=st.text(), name=st.text())
def test_greet_equals_fstring(client: oxbridge.Client, greeting: str, name: str) -> None:
    assert client.greet(greeting, name) == f"{greeting}, {name}"
