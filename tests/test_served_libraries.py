"""One server hosts several libraries (``serve --library``; here the
calculator, pystd and b64): each on every
network bridge under its own name, its vectors passing there; and a client
of a library the server does not host, or hosts in another version, is
refused when it connects, never answered wrongly."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import b64
import grpc
import oxbridge
import pystd
import pytest
from oxbridge import CALCULATOR, Library
from oxbridge.testing import Case, cases, check_case

from . import blocking
from .servers import Served, ephemeral, serving
from .test_metrics import scrape, value

ROOT = Path(__file__).resolve().parents[1]
NETWORK = ["ipc", "http", "grpc"]
LIBRARIES = {
    "calculator": (CALCULATOR, ROOT / "tests" / "vectors" / "functions"),
    "pystd": (pystd.LIBRARY, ROOT / "examples" / "pystd" / "vectors"),
    "b64": (b64.LIBRARY, ROOT / "examples" / "b64" / "vectors"),
}
CASES = [
    (name, case) for name, (library, folder) in LIBRARIES.items() for case in cases(library, folder)
]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``oxbridge serve --library pystd --library PATH``: the calculator,
    pystd (by its package) and b64 (by its shared object) in one process."""
    args = ["--library", "pystd", "--library", b64.LIBRARY.path]
    with serving(*ephemeral(tmp_path_factory.mktemp("three")), *args) as s:
        yield s


@pytest.fixture(scope="module")
def clients(both: Served) -> Iterator[dict[tuple[str, str], oxbridge.Client]]:
    opened = {
        (name, bridge): oxbridge.connect(both.url(bridge), library=library, timeout=30)
        for name, (library, _) in LIBRARIES.items()
        for bridge in NETWORK
    }
    yield opened
    for client in opened.values():
        client.close()


@pytest.mark.parametrize("bridge", NETWORK)
@pytest.mark.parametrize(("library", "case"), CASES, ids=[f"{n}-{c.id}" for n, c in CASES])
def test_each_library_passes_its_vectors_on_one_server(
    clients: dict[tuple[str, str], oxbridge.Client], bridge: str, library: str, case: Case
) -> None:
    check_case(LIBRARIES[library][0], clients[library, bridge], case)


def test_the_server_lists_each_library_with_its_version_and_checksum(both: Served) -> None:
    with urllib.request.urlopen(f"http://{both.http[0]}/version", timeout=10) as r:
        version = json.load(r)
    assert version["name"] == "oxbridge"
    assert version["libraries"] == [
        {
            "name": "calculator",
            "version": oxbridge.__version__,
            "checksum": CALCULATOR.native.CHECKSUM,
        },
        {"name": "pystd", "version": "0.1.0", "checksum": pystd._native.CHECKSUM},
        {"name": "b64", "version": "0.1.0", "checksum": b64.LIBRARY.native.CHECKSUM},
    ]
    with urllib.request.urlopen(f"http://{both.http[0]}/openapi.json", timeout=10) as r:
        paths = set(json.load(r)["paths"])
    # The calculator's functions also at their bare names (the articles' clients).
    assert {"/add", "/calculator/add", "/pystd/gcd", "/b64/decode"} <= paths
    assert "/gcd" not in paths


def test_each_library_is_a_grpc_service_of_its_own(both: Served) -> None:
    with grpc.insecure_channel(both.grpc[0]) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        for service in (b"calculator.v1.Functions", b"pystd.v1.Functions", b"b64.v1.Functions"):
            assert check(b"\x0a" + bytes([len(service)]) + service, timeout=10) == b"\x08\x01"
        reflect = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
        services = b"".join(reflect(iter([b"\x3a\x01*"]), timeout=10))
    for name in (b"calculator", b"pystd", b"b64"):
        assert name + b".v1.Functions" in services


@pytest.mark.parametrize("bridge", NETWORK)
def test_metrics_carry_each_call_s_library(
    both: Served, clients: dict[tuple[str, str], oxbridge.Client], bridge: str
) -> None:
    before = scrape(both.http[0])
    client: Any = clients["pystd", bridge]
    assert client.gcd(12, 18) == 6
    calculator: Any = clients["calculator", bridge]
    assert calculator.add(1, 2) == 3
    after = scrape(both.http[0])

    def moved(library: str, function: str) -> float:
        labels = {"bridge": bridge, "library": library, "function": function, "outcome": "ok"}
        return value(after, "oxbridge_calls_total", **labels) - value(
            before, "oxbridge_calls_total", **labels
        )

    assert moved("pystd", "gcd") == 1
    assert moved("calculator", "add") == 1
    assert moved("b64", "gcd") == 0


@pytest.mark.parametrize("bridge", NETWORK)
def test_a_client_of_a_library_the_server_does_not_host_is_refused(
    tmp_path: Path, bridge: str
) -> None:
    with (
        serving(*ephemeral(tmp_path)) as s,
        pystd.connect(s.url(bridge), timeout=30) as c,
        pytest.raises(oxbridge.NotFoundError) as info,
    ):
        c.gcd(12, 18)
    assert "does not host the library 'pystd' (it hosts calculator)" in str(info.value)


def stale(library: Library, function: str) -> Library:
    """``library`` as a client built against another version sees it:
    ``function`` takes one more parameter in its contract."""
    contract = library.native.CONTRACT.replace(f"fn {function}(", f"fn {function}(extra: i64, ")
    attributes = {name: getattr(library.native, name) for name in dir(library.native)}
    changed = {"CONTRACT": contract, "CHECKSUM": "0" * 16, "LIBRARY_VERSION": "0.0.9"}
    native: Any = SimpleNamespace(**{**attributes, **changed})
    return Library(native, library.package)


@pytest.mark.parametrize("flavour", ["sync", "aio"])
@pytest.mark.parametrize("bridge", NETWORK)
def test_a_stale_client_is_refused_at_connect_naming_what_differs(
    both: Served, bridge: str, flavour: str
) -> None:
    library = stale(pystd.LIBRARY, "isqrt")
    client: Any = (
        oxbridge.connect(both.url(bridge), library=library, timeout=30)
        if flavour == "sync"
        else blocking.connect(both.url(bridge), library=library, timeout=30)
    )
    with pytest.raises(oxbridge.CatalogueMismatchError) as info:
        client.gcd(12, 18)  # a function the two versions agree on: still refused
    client.close()
    message = str(info.value)
    assert "serves another version of the library 'pystd' (0.1.0; this client has 0.0.9)" in message
    assert "isqrt() differs: the server has `isqrt(n: i64)" in message
    assert "this client `isqrt(extra: i64, n: i64)" in message
    assert isinstance(info.value, oxbridge.AbiMismatchError)
