"""The example library outside the core (``examples/pystd``): Rust mirrors of
Python standard-library functions, defined with no bridge-specific code, on
all six bridges. Its vectors run in ``test_function_vectors``; here, a
hypothesis differential against the Python references on every bridge, and
its own server, started as its README says."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import subprocess
import sys
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import oxbridge
import pystd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .servers import ephemeral, serving
from .vectors.references import I64_MAX, I64_MIN, i64, levenshtein

I64 = st.integers(min_value=I64_MIN, max_value=I64_MAX)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
FLOATS = st.one_of(FINITE, st.sampled_from([math.inf, -math.inf, math.nan, -0.0]))
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


def outcome(reference: Callable[[], Any]) -> tuple[str, Any]:
    """What Python gives: ``("ok", value)`` or ``("error", (base, message))``."""
    try:
        return "ok", reference()
    except (ValueError, OverflowError) as e:
        return "error", (type(e), str(e))


def same(got: Any, want: Any) -> bool:
    if isinstance(want, float):
        return type(got) is float and (
            (math.isnan(got) and math.isnan(want))
            or (math.copysign(1, got) == math.copysign(1, want) and got == want)
        )
    return type(got) is type(want) and got == want


def check(call: Callable[[], Any], reference: Callable[[], Any]) -> None:
    """``call`` gives what Python's ``reference`` gives: the same value of the
    same type, or an OxbridgeError of the same builtin base and message."""
    kind, want = outcome(reference)
    if kind == "ok":
        got = call()
        assert same(got, want), (got, want)
        return
    base, message = want
    with pytest.raises(oxbridge.OxbridgeError) as info:
        call()
    assert isinstance(info.value, base), info.value
    assert str(info.value) == message


@pytest.fixture(params=list(oxbridge.BRIDGES), scope="module")
def client(request: pytest.FixtureRequest) -> Iterator[pystd.Client]:
    with pystd.connect(request.param) as c:
        yield c


EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@EXAMPLES
@given(data=st.binary(max_size=300))
def test_crc32_and_sha256_are_zlib_and_hashlib(client: pystd.Client, data: bytes) -> None:
    check(lambda: client.crc32(data), lambda: zlib.crc32(data))
    check(lambda: client.sha256(data), lambda: hashlib.sha256(data).digest())


@EXAMPLES
@given(a=I64, b=I64)
def test_gcd_is_math_gcd(client: pystd.Client, a: int, b: int) -> None:
    check(lambda: client.gcd(a, b), lambda: i64(math.gcd(a, b)))


@EXAMPLES
@given(n=st.one_of(I64, st.integers(min_value=0, max_value=3037000499).map(lambda r: r * r - 1)))
def test_isqrt_is_math_isqrt(client: pystd.Client, n: int) -> None:
    check(lambda: client.isqrt(n), lambda: math.isqrt(n))


@EXAMPLES
@given(values=st.lists(FLOATS, max_size=20))
def test_fsum_is_math_fsum_exactly(client: pystd.Client, values: list[float]) -> None:
    array = np.array(values, dtype=np.float64)
    check(lambda: client.fsum(array), lambda: math.fsum(values))


@EXAMPLES
@given(a=TEXT, b=TEXT)
def test_levenshtein_is_the_reference(client: pystd.Client, a: str, b: str) -> None:
    check(lambda: client.levenshtein(a, b), lambda: levenshtein(a, b))


@EXAMPLES
@given(a=st.lists(I64, min_size=1, max_size=40), b=I64)
def test_gcd_many_is_gcd_elementwise(client: pystd.Client, a: list[int], b: int) -> None:
    column = np.array(a, dtype=np.int64)
    wants = [outcome(functools.partial(lambda x: i64(math.gcd(x, b)), x)) for x in a]
    failing = next((i for i, (kind, _) in enumerate(wants) if kind == "error"), None)
    if failing is None:
        got = client.gcd_many(column, b)
        assert got.dtype == np.int64
        assert got.tolist() == [value for _, value in wants]
        return
    with pytest.raises(oxbridge.OxbridgeOverflowError, match=f"at index {failing}$"):
        client.gcd_many(column, b)


def test_the_library_is_not_the_calculator(client: pystd.Client) -> None:
    assert client.library is pystd.LIBRARY
    assert not hasattr(client, "add")
    assert "library='pystd'" in repr(client)


# --- its own server, as the README starts it ----------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with serving(*ephemeral(tmp_path_factory.mktemp("pystd")), package="pystd") as s:
        yield s


@pytest.mark.parametrize("bridge", ["ipc", "http", "grpc"])
def test_python_m_pystd_serve_serves_pystd(served: Any, bridge: str) -> None:
    with pystd.connect(served.url(bridge)) as c:
        assert c.gcd(1071, 462) == 21
        assert c.sha256(b"abc") == hashlib.sha256(b"abc").digest()
        assert c.isqrt_many(np.array([0, 15, 16], dtype=np.int64)).tolist() == [0, 3, 4]
        with pytest.raises(oxbridge.InvalidArgumentError, match="must be nonnegative"):
            c.isqrt(-1)


def test_its_contracts_are_its_own(served: Any) -> None:
    """The OpenAPI document and gRPC reflection describe pystd's functions,
    and none of the calculator's (nor the articles' services)."""
    with urllib.request.urlopen(f"http://{served.http[0]}/openapi.json", timeout=10) as r:
        paths = json.load(r)["paths"]
    assert {"/crc32", "/gcd", "/isqrt", "/fsum", "/sha256", "/levenshtein"} <= set(paths)
    assert "/add" not in paths
    with grpc.insecure_channel(served.grpc[0]) as channel:
        reflect = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
        # ServerReflectionRequest{list_services: "*"}
        services = b"".join(reflect(iter([b"\x3a\x01*"]), timeout=10))
        # ServerReflectionRequest{file_containing_symbol: "pystd.v1.Functions"}
        symbol = b"pystd.v1.Functions"
        request = b"\x22" + bytes([len(symbol)]) + symbol
        contract = b"".join(reflect(iter([request]), timeout=10))
    assert b"pystd.v1.Functions" in services
    assert b"oxbridge.v1.Calculator" not in services
    assert b"greeter_service.GreeterService" not in services
    # The typed contract itself: messages and methods from the definitions.
    for name in (
        b"GcdRequest",
        b"FsumReply",
        b"GcdMany",
        b"Levenshtein",
        b"pystd/v1/functions.proto",
    ):
        assert name in contract, name


def test_its_readme_is_how_it_is_built() -> None:
    readme = (Path(__file__).resolve().parents[1] / "examples" / "pystd" / "README.md").read_text()
    assert "oxbridge_ffi::library!(PYSTD, pystd_signatures);" in readme
    assert "pip install --no-build-isolation -e examples/pystd" in readme
    assert "python -m pystd serve" in readme


@pytest.mark.parametrize("name", sorted(pystd.LIBRARY.functions))
def test_every_function_is_everywhere_its_definition_says(
    client: pystd.Client, served: Any, name: str
) -> None:
    """Each function on the bridge, with ``_many`` when numeric; in the C
    header, the stub and the served OpenAPI document; its vectors cover a
    success and every error kind it declares."""
    f = pystd.LIBRARY.functions[name]
    assert callable(getattr(client, name, None)), client.bridge
    assert callable(getattr(client, f"{name}_many", None)) == f.has_many, client.bridge
    assert f"OxbStatus oxb_{name}(" in pystd._native.C_HEADER
    root = Path(__file__).resolve().parents[1] / "examples" / "pystd"
    assert f"\ndef {name}(" in (root / "python" / "pystd" / "_native.pyi").read_text()
    with urllib.request.urlopen(f"http://{served.http[0]}/openapi.json", timeout=10) as r:
        assert f"/{name}" in json.load(r)["paths"]
    cases = json.loads((root / "vectors" / f"{name}.json").read_text())["cases"]
    covered = {c["error"]["kind"] if "error" in c else "ok" for c in cases}
    assert "ok" in covered
    assert set(f.raises) <= covered, sorted(set(f.raises) - covered)


def test_python_m_pystd_shows_its_commands() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pystd"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout
    assert "pystd" in done.stdout
