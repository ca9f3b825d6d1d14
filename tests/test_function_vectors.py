"""The vectors of every exported function (``tests/vectors/functions/``), on
every bridge, exactly; and each vector re-checked against CPython."""

from __future__ import annotations

import builtins
import cmath
import json
import math
from pathlib import Path
from typing import Any

import oxbridge
import pytest
from oxbridge import _native
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
