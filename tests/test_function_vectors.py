"""The vectors of every exported function of every library (the calculator's
in ``tests/vectors/functions/``, the example library's in
``examples/pystd/vectors/``), on every bridge, exactly; and each vector
re-checked against CPython."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import oxbridge
import pytest
from oxbridge import Library, _native
from oxbridge._arrays import DTYPES
from oxbridge._functions import FunctionInfo
from oxbridge.errors import error_for
from oxbridge.testing import Case, check_case

from .libraries import SOURCES
from .vectors.references import NAMESPACE
from .vectors.typed import decode_typed, same_typed

CASES = [
    (source.library, spec, case)
    for source in SOURCES
    for spec in source.specs.values()
    for case in spec["cases"]
]
IDS = [f"{library.name}-{case['id']}" for library, _, case in CASES]
BASE_OF = {name: base for name, _class, base, *_ in _native.error_kinds()}
Clients = Callable[[Library, str], oxbridge.Client]


@pytest.fixture(scope="module")
def clients() -> Iterator[Clients]:
    """A client of any library over any bridge, opened once."""
    opened: dict[tuple[str, str], oxbridge.Client] = {}

    def get(library: Library, bridge: str) -> oxbridge.Client:
        key = (library.name, bridge)
        if key not in opened:
            opened[key] = oxbridge.connect(bridge, library=library)
        return opened[key]

    yield get
    for c in opened.values():
        c.close()


def _function(library: Library, spec: dict[str, Any]) -> FunctionInfo:
    return library.functions[spec["function"]]


def _args(library: Library, spec: dict[str, Any], case: dict[str, Any]) -> list[Any]:
    f = _function(library, spec)
    return [decode_typed(p.type, case["args"][p.name]) for p in f.params]


def test_every_vector_file_names_an_exported_function_and_has_cases() -> None:
    for source in SOURCES:
        for name, spec in source.specs.items():
            assert spec["function"] == name
            assert name in source.library.functions
            assert spec["cases"], (
                f"{name}.json has no cases: run tests/vectors/generate_functions.py"
            )


@pytest.mark.parametrize(("library", "spec", "case"), CASES, ids=IDS)
def test_function_vector_matches_cpython(
    library: Library, spec: dict[str, Any], case: dict[str, Any]
) -> None:
    """The vector says what Python's own reference expression says."""
    f = _function(library, spec)
    scope = {p.name: v for p, v in zip(f.params, _args(library, spec, case), strict=True)}
    namespace = {**NAMESPACE, **scope}
    if "expect" in case:
        got = eval(spec["reference"], namespace)
        assert same_typed(f.returns, got, decode_typed(f.returns, case["expect"]))
        return
    base = getattr(builtins, BASE_OF[case["error"]["kind"]])
    with pytest.raises(base) as info:
        eval(spec["reference"], namespace)
    assert str(info.value) == case["error"]["message"]


@pytest.mark.parametrize("bridge", list(oxbridge.BRIDGES))
@pytest.mark.parametrize(("library", "spec", "case"), CASES, ids=IDS)
def test_bridge_passes_function_vector(
    clients: Clients, bridge: str, library: Library, spec: dict[str, Any], case: dict[str, Any]
) -> None:
    """As a library made by ``oxbridge new`` checks its own vectors."""
    vector = Case(spec["function"], case["id"], case["args"], case.get("expect"), case.get("error"))
    check_case(library, clients(library, bridge), vector)


def test_a_wrong_answer_or_error_fails_the_check(clients: Clients) -> None:
    """``check_case`` itself: another value, another class or another message
    is an ``AssertionError``."""
    from oxbridge import CALCULATOR  # noqa: PLC0415

    client = clients(CALCULATOR, "pyo3")
    args = {"a": ["0x1p+0", "0x0p+0"], "b": ["0x0p+0", "0x0p+0"]}
    check_case(CALCULATOR, client, Case("div", "ok", args, error=ZERO))
    for wrong in (
        Case("div", "value", args, expect=["0x1p+0", "0x0p+0"]),
        Case("div", "class", args, error={**ZERO, "kind": "overflow"}),
        Case("div", "message", args, error={**ZERO, "message": "other words"}),
        Case("add", "error", args, error=ZERO),
        Case("add", "value", args, expect=["0x1p+1", "0x0p+0"]),
    ):
        with pytest.raises(AssertionError, match=wrong.id):
            check_case(CALCULATOR, client, wrong)


ZERO = {"kind": "zero_division", "message": "complex division by zero"}


# --- the vectorized form ---------------------------------------------------------------

MANY_SPECS = [
    (source.library, spec)
    for source in SOURCES
    for spec in source.specs.values()
    if _function(source.library, spec).has_many
]
MANY_IDS = [f"{library.name}-{spec['function']}" for library, spec in MANY_SPECS]
#: Where a failing element goes in the large call: past the parallel threshold,
#: so that the error comes from a chunk the cores computed out of order.
FAR = _native.PARALLEL_THRESHOLD + 5


def _columns(library: Library, spec: dict[str, Any], cases: list[dict[str, Any]]) -> list[Any]:
    """The cases' arguments as one array per parameter."""
    f = _function(library, spec)
    rows = [_args(library, spec, case) for case in cases]
    return [
        np.array([row[i] for row in rows], dtype=DTYPES[p.type]) for i, p in enumerate(f.params)
    ]


def _first_of_each_error(spec: dict[str, Any]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for case in spec["cases"]:
        if "error" in case:
            seen.setdefault(case["error"]["kind"], case)
    return list(seen.values())


@pytest.mark.parametrize("bridge", list(oxbridge.BRIDGES))
@pytest.mark.parametrize(("library", "spec"), MANY_SPECS, ids=MANY_IDS)
def test_bridge_many_equals_the_scalar_vectors(
    clients: Clients, bridge: str, library: Library, spec: dict[str, Any]
) -> None:
    """Every successful vector at once: element i is bit for bit its vector."""
    f = _function(library, spec)
    cases = [case for case in spec["cases"] if "expect" in case]
    got = getattr(clients(library, bridge), f"{f.name}_many")(*_columns(library, spec, cases))
    assert got.dtype == DTYPES[f.returns]
    for value, case in zip(got.tolist(), cases, strict=True):
        want = decode_typed(f.returns, case["expect"])
        assert same_typed(f.returns, value, want), (case["id"], value, want)


ERROR_CASES = [
    (library, spec, case) for library, spec in MANY_SPECS for case in _first_of_each_error(spec)
]


@pytest.mark.parametrize("bridge", list(oxbridge.BRIDGES))
@pytest.mark.parametrize(
    ("library", "spec", "case"),
    ERROR_CASES,
    ids=[f"{library.name}-{case['id']}" for library, _, case in ERROR_CASES],
)
def test_bridge_many_names_the_first_failing_index_past_the_threshold(
    clients: Clients, bridge: str, library: Library, spec: dict[str, Any], case: dict[str, Any]
) -> None:
    """One failing element past the parallel threshold, among good ones: its
    error, at its index, whatever its kind."""
    f = _function(library, spec)
    good = next(c for c in spec["cases"] if "expect" in c)
    cases = [good] * (FAR + 10)
    cases[FAR] = case
    want = error_for(case["error"]["kind"], f"{case['error']['message']} at index {FAR}")
    with pytest.raises(oxbridge.OxbridgeError) as info:
        getattr(clients(library, bridge), f"{f.name}_many")(*_columns(library, spec, cases))
    assert type(info.value) is type(want)
    assert str(info.value) == str(want)
