"""The vectors of every exported function (``tests/vectors/functions/``), on
every bridge, exactly; and each vector re-checked against CPython."""

from __future__ import annotations

import builtins
import cmath
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import oxbridge
import pytest
from oxbridge import _native
from oxbridge._arrays import DTYPES
from oxbridge._functions import FUNCTIONS
from oxbridge.errors import error_for

from .vectors.typed import decode_typed, same_typed

HERE = Path(__file__).parent / "vectors" / "functions"
SPECS = {path.stem: json.loads(path.read_text()) for path in sorted(HERE.glob("*.json"))}
CASES = [(spec, case) for spec in SPECS.values() for case in spec["cases"]]
IDS = [case["id"] for _, case in CASES]
BASE_OF = {name: base for name, _class, base, *_ in _native.error_kinds()}


def _args(spec: dict[str, Any], case: dict[str, Any]) -> list[Any]:
    f = FUNCTIONS[spec["function"]]
    return [decode_typed(p.type, case["args"][p.name]) for p in f.params]


def test_every_vector_file_names_an_exported_function_and_has_cases() -> None:
    for name, spec in SPECS.items():
        assert spec["function"] == name
        assert name in FUNCTIONS
        assert spec["cases"], f"{name}.json has no cases: run tests/vectors/generate_functions.py"


@pytest.mark.parametrize(("spec", "case"), CASES, ids=IDS)
def test_function_vector_matches_cpython(spec: dict[str, Any], case: dict[str, Any]) -> None:
    """The vector says what Python's own reference expression says."""
    f = FUNCTIONS[spec["function"]]
    scope = {p.name: v for p, v in zip(f.params, _args(spec, case), strict=True)}
    namespace = {"math": math, "cmath": cmath, **scope}
    if "expect" in case:
        got = eval(spec["reference"], namespace)
        assert same_typed(f.returns, got, decode_typed(f.returns, case["expect"]))
        return
    base = getattr(builtins, BASE_OF[case["error"]["kind"]])
    with pytest.raises(base) as info:
        eval(spec["reference"], namespace)
    assert str(info.value) == case["error"]["message"]


@pytest.mark.parametrize(("spec", "case"), CASES, ids=IDS)
def test_bridge_passes_function_vector(
    client: oxbridge.Client, spec: dict[str, Any], case: dict[str, Any]
) -> None:
    f = FUNCTIONS[spec["function"]]
    call = getattr(client, f.name)
    args = _args(spec, case)
    if "error" in case:
        want = error_for(case["error"]["kind"], case["error"]["message"])
        with pytest.raises(oxbridge.OxbridgeError) as info:
            call(*args)
        assert type(info.value) is type(want)
        assert str(info.value) == str(want)
        return
    got = call(*args)
    assert same_typed(f.returns, got, decode_typed(f.returns, case["expect"])), got


# --- the vectorized form ---------------------------------------------------------------

MANY_SPECS = [spec for spec in SPECS.values() if FUNCTIONS[spec["function"]].has_many]
#: Where a failing element goes in the large call: past the parallel threshold,
#: so that the error comes from a chunk the cores computed out of order.
FAR = _native.PARALLEL_THRESHOLD + 5


def _columns(spec: dict[str, Any], cases: list[dict[str, Any]]) -> list[Any]:
    """The cases' arguments as one array per parameter."""
    f = FUNCTIONS[spec["function"]]
    rows = [_args(spec, case) for case in cases]
    return [
        np.array([row[i] for row in rows], dtype=DTYPES[p.type]) for i, p in enumerate(f.params)
    ]


def _first_of_each_error(spec: dict[str, Any]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for case in spec["cases"]:
        if "error" in case:
            seen.setdefault(case["error"]["kind"], case)
    return list(seen.values())


@pytest.mark.parametrize("spec", MANY_SPECS, ids=[s["function"] for s in MANY_SPECS])
def test_bridge_many_equals_the_scalar_vectors(
    client: oxbridge.Client, spec: dict[str, Any]
) -> None:
    """Every successful vector at once: element i is bit for bit its vector."""
    f = FUNCTIONS[spec["function"]]
    cases = [case for case in spec["cases"] if "expect" in case]
    got = getattr(client, f"{f.name}_many")(*_columns(spec, cases))
    assert got.dtype == DTYPES[f.returns]
    for value, case in zip(got.tolist(), cases, strict=True):
        want = decode_typed(f.returns, case["expect"])
        assert same_typed(f.returns, value, want), (case["id"], value, want)


ERROR_CASES = [(spec, case) for spec in MANY_SPECS for case in _first_of_each_error(spec)]


@pytest.mark.parametrize(("spec", "case"), ERROR_CASES, ids=[case["id"] for _, case in ERROR_CASES])
def test_bridge_many_names_the_first_failing_index_past_the_threshold(
    client: oxbridge.Client, spec: dict[str, Any], case: dict[str, Any]
) -> None:
    """One failing element past the parallel threshold, among good ones: its
    error, at its index, whatever its kind."""
    f = FUNCTIONS[spec["function"]]
    good = next(c for c in spec["cases"] if "expect" in c)
    cases = [good] * (FAR + 10)
    cases[FAR] = case
    want = error_for(case["error"]["kind"], f"{case['error']['message']} at index {FAR}")
    with pytest.raises(oxbridge.OxbridgeError) as info:
        getattr(client, f"{f.name}_many")(*_columns(spec, cases))
    assert type(info.value) is type(want)
    assert str(info.value) == str(want)
