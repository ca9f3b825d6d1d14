"""Every exported function is everywhere its one definition says it must be.

For each function in the catalogue: every bridge has it, and its vectorized
``<name>_many`` form when it is numeric; the OpenAPI document, the gRPC
contract (both methods), the C header, the stubs and the ``Client``
annotations list it; the CLI has its flag when it takes one or two complex
numbers; its vectors cover a success and every error kind it declares (and
``test_function_vectors`` runs each declared error of a ``_many`` form past
the parallel threshold on every bridge). Forgetting any of these fails here.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oxbridge
import pytest
from oxbridge import _native
from oxbridge._functions import FUNCTIONS, FunctionInfo
from oxbridge.cli import OPERATIONS

from .servers import serving
from .vectors import load

ROOT = Path(__file__).resolve().parents[1]
NAMES = sorted(FUNCTIONS)


@pytest.fixture(scope="module")
def openapi() -> Iterator[dict[str, Any]]:
    with serving("--no-ipc", "--no-grpc", "--http", "127.0.0.1:0") as s:
        url = f"http://{s.http[0]}/openapi.json"
        yield json.loads(urllib.request.urlopen(url, timeout=10).read())


def _outcomes(name: str) -> set[str]:
    """What the function's vectors cover: "ok" and the error kinds."""
    path = ROOT / "tests" / "vectors" / "functions" / f"{name}.json"
    cases = json.loads(path.read_text())["cases"] if path.exists() else []
    cases += [c for c in load("scalar") if c["op"] == name]
    return {c["error"]["kind"] if "error" in c else "ok" for c in cases}


@pytest.mark.parametrize("name", NAMES)
def test_every_bridge_has_the_function(client: oxbridge.Client, name: str) -> None:
    method = getattr(client, name, None)
    assert callable(method), f"{client.bridge} has no {name}"
    if FUNCTIONS[name].has_many:
        assert callable(getattr(client, f"{name}_many", None)), f"{client.bridge}: {name}_many"


@pytest.mark.parametrize("name", NAMES)
def test_every_generated_contract_lists_the_function(openapi: dict[str, Any], name: str) -> None:
    f: FunctionInfo = FUNCTIONS[name]
    assert f"/{name}" in openapi["paths"], "OpenAPI"
    method = "".join(part[:1].upper() + part[1:] for part in name.split("_"))
    proto = (ROOT / "proto" / _native.LIBRARY / "v1" / "functions.proto").read_text()
    assert f"  rpc {method}({method}Request) returns ({method}Reply);" in proto, "proto"
    assert f"OxbStatus oxb_{name}(" in _native.C_HEADER, "C header"
    stub = (ROOT / "python" / "oxbridge" / "_native.pyi").read_text()
    assert f"\ndef {name}(" in stub, "stub"
    client = (ROOT / "python" / "oxbridge" / "_client.py").read_text()
    assert f"\n    {name}: Callable[" in client, "Client annotation"
    if f.has_many:
        many = f"{method}Many"
        assert f"  rpc {many}({many}Request) returns ({many}Reply);" in proto, "proto (many)"
        assert "OxbStatus oxb_many(" in _native.C_HEADER, "C header (many)"
        assert f"\n    {name}_many: Callable[" in client, "Client annotation (many)"
    assert callable(getattr(_native, name)), "PyO3 module"
    if 1 <= len(f.params) <= 2 and f.params_all("complex"):
        assert name in OPERATIONS, "CLI flag"


@pytest.mark.parametrize("name", NAMES)
def test_vectors_cover_a_success_and_every_declared_error(name: str) -> None:
    covered = _outcomes(name)
    assert "ok" in covered, f"no successful call of {name} in the vectors"
    missing = set(FUNCTIONS[name].raises) - covered
    assert not missing, f"the vectors of {name} never raise {sorted(missing)}"
