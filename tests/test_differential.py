"""Randomized differential test: every bridge against CPython's own operators."""

from __future__ import annotations

import math
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


def test_complex_arguments_are_read_in_place_exactly() -> None:
    """The PyO3 bridge reads an exact ``complex`` from its object (its layout
    checked at import): on CPython it does, and the parts come out bit for
    bit, signed zeros, extremes and NaN included; a subclass is read through
    ``complex()``, as before."""
    assert oxbridge._native.COMPLEX_IN_PLACE is True
    client = oxbridge.connect("pyo3")

    class Sub(complex):
        pass

    zero = complex(-0.0, -0.0)  # x + (-0-0j) is x, bit for bit, for every x
    for a in (
        complex(-0.0, math.nan),
        complex(5e-324, -0.0),
        complex(-1.7976931348623157e308, math.inf),
        Sub(1.5, -2.0),
    ):
        got = client.add(a, zero)
        assert type(got) is complex
        assert same_complex(got, complex(a.real, a.imag)), (a, got)
