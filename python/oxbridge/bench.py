"""Side-by-side timing of the bridges, and the speed targets they must meet.

Every figure is a median over interleaved rounds: each round times every case
once, so a noisy neighbour slows all cases alike instead of one. Targets are
ratios of two cases measured in the same run, never absolute times.
"""

from __future__ import annotations

import ctypes
import statistics
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from . import bridges
from .bridges import _cabi


@dataclass(frozen=True)
class Case:
    """One timed statement: ``stmt`` run in ``namespace``."""

    name: str
    stmt: str
    namespace: dict[str, Any]


@dataclass(frozen=True)
class Target:
    """A speed target: ``case`` costs at most ``limit`` times ``baseline``."""

    case: str
    baseline: str
    limit: float
    what: str


def article_ctypes_add() -> Callable[[complex, complex], Any]:
    """The article's ctypes client, verbatim in substance, over our library."""
    rust = ctypes.CDLL(_cabi.LIBRARY_PATH)

    class RustComplex(ctypes.Structure):
        _fields_ = (("re", ctypes.c_double), ("im", ctypes.c_double))

        def __init__(self, c: complex, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.re = c.real
            self.im = c.imag

    def compute(command: str, n1: complex, n2: complex) -> Any:
        rust.compute.restype = RustComplex
        return rust.compute(command.encode("UTF-8"), RustComplex(n1), RustComplex(n2))

    return lambda a, b: compute("add", a, b)


def _calibrate(timer: timeit.Timer, sample_seconds: float) -> int:
    """Calls per sample so that one sample lasts about ``sample_seconds``."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= sample_seconds / 4 or number >= 1 << 22:
            return max(1, int(number * sample_seconds / max(elapsed, 1e-9)))
        number *= 4


def measure(
    cases: list[Case], *, rounds: int, sample_seconds: float = 0.02, label: str = "timing"
) -> dict[str, float]:
    """Median seconds per call of each case over ``rounds`` interleaved rounds."""
    timers = {c.name: timeit.Timer(c.stmt, globals=c.namespace) for c in cases}
    numbers = {name: _calibrate(t, sample_seconds) for name, t in timers.items()}
    samples: dict[str, list[float]] = {name: [] for name in timers}
    with click.progressbar(range(rounds), label=label, file=None) as bar:
        for _ in bar:
            for name, t in timers.items():
                samples[name].append(t.timeit(numbers[name]) / numbers[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def scalar_cases() -> list[Case]:
    """Python's ``a + b``, each in-process bridge's ``add``, and the article's wrapper."""
    a, b = 1 + 3j, -5j
    cases = [Case("python a+b", "a + b", {"a": a, "b": b})]
    for name in ("pyo3", "ctypes", "cffi"):
        client = bridges.connect(name)
        cases.append(Case(name, "add(a, b)", {"add": client.add, "a": a, "b": b}))
    cases.append(Case("article ctypes", "add(a, b)", {"add": article_ctypes_add(), "a": a, "b": b}))
    return cases


def network_cases() -> list[Case]:
    """Each network bridge's ``add``, its floor, and the article's client."""
    import socket

    import grpc as grpcio
    import requests

    from .bridges import _embedded, http, ipc
    from .bridges import grpc as grpc_bridge

    a, b = 1 + 3j, -5j
    cases = []
    where = _embedded.addresses()
    clients = {name: bridges.connect(name) for name in ("ipc", "http", "grpc")}
    for name, client in clients.items():
        cases.append(Case(name, "add(a, b)", {"add": client.add, "a": a, "b": b}))

    # The floors are bare: a blocking read (spins=0), no encoding or decoding.
    # IPC floor: the same request bytes, echoed by Rust on the same kind of socket.
    request = b'{"command":"add","a":[1.0,3.0],"b":[-0.0,-5.0]}\n'
    echo = socket.socket(socket.AF_UNIX)
    echo.connect(where.echo)
    cases.append(
        Case(
            "ipc echo floor",
            "send(req); read(sock, 0)",
            {"send": echo.sendall, "req": request, "read": ipc.read_line, "sock": echo},
        )
    )

    # HTTP floor: a prebuilt keep-alive request, no encoding or decoding.
    host, port = where.http.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = b'{"a":[1.0,3.0],"b":[-0.0,-5.0]}'
    head = f"POST /add HTTP/1.1\r\nHost: {where.http}\r\nContent-Type: application/json\r\n"
    raw_request = head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body
    cases.append(
        Case(
            "http raw keep-alive floor",
            "send(req); read(sock, 0)",
            {"send": raw.sendall, "req": raw_request, "read": http.read_response, "sock": raw},
        )
    )

    # The HTTP article's client: requests.post per call.
    def article_http(n1: complex, n2: complex) -> complex:
        body = {"a": [n1.real, n1.imag], "b": [n2.real, n2.imag]}
        req = requests.post(f"http://{where.http}/add", json=body, timeout=10)
        result = req.json()["result"]
        return complex(float(result[0]), float(result[1]))

    cases.append(Case("http article requests", "add(a, b)", {"add": article_http, "a": a, "b": b}))

    # gRPC floor: a bare grpcio stub call with a prebuilt request.
    from ._proto import calculator_pb2 as pb
    from ._proto import calculator_pb2_grpc as pb_grpc

    channel = grpcio.insecure_channel(where.grpc, options=grpc_bridge.CHANNEL_OPTIONS)
    stub = pb_grpc.CalculatorStub(channel)  # type: ignore[no-untyped-call]
    prebuilt = pb.BinaryRequest(a=pb.Complex(re=1.0, im=3.0), b=pb.Complex(re=-0.0, im=-5.0))
    cases.append(Case("grpc bare stub floor", "call(req)", {"call": stub.Add, "req": prebuilt}))
    return cases


def batch_cases(n: int = 1_000_000) -> list[Case]:
    """``mul_many``/``add_many`` at ``n`` elements on every bridge, and numpy."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    b = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    cases = [
        Case("numpy a*b", "a * b", {"a": a, "b": b}),
        Case("numpy a+b", "a + b", {"a": a, "b": b}),
    ]
    for name in bridges.BRIDGES:
        client = bridges.connect(name)
        for op in ("mul", "add"):
            fn = getattr(client, f"{op}_many")
            cases.append(Case(f"{name} {op}_many", "f(a, b)", {"f": fn, "a": a, "b": b}))
    return cases


TARGETS = [
    Target("pyo3", "python a+b", 1.3, "pyo3 add vs Python's a+b"),
    Target("ctypes", "article ctypes", 0.75, "ctypes add vs the article's wrapper"),
    Target("cffi", "article ctypes", 0.75, "cffi add vs the article's wrapper"),
]

BATCH_TARGETS = [
    Target("pyo3 mul_many", "numpy a*b", 1.0, "pyo3 mul_many vs numpy a*b (1e6)"),
    Target("pyo3 add_many", "numpy a+b", 0.5, "pyo3 add_many vs numpy a+b (1e6)"),
    Target("ctypes mul_many", "pyo3 mul_many", 1.2, "ctypes mul_many vs pyo3 (1e6)"),
    Target("cffi mul_many", "pyo3 mul_many", 1.2, "cffi mul_many vs pyo3 (1e6)"),
    Target("ipc mul_many", "pyo3 mul_many", 3.0, "ipc mul_many vs in-process (1e6)"),
    Target("http mul_many", "pyo3 mul_many", 6.0, "http mul_many vs in-process (1e6)"),
    Target("grpc mul_many", "pyo3 mul_many", 6.0, "grpc mul_many vs in-process (1e6)"),
]

NETWORK_TARGETS = [
    Target("ipc", "ipc echo floor", 1.3, "ipc add vs a raw Rust echo"),
    Target("http", "http article requests", 0.2, "http add vs the article's requests.post"),
    Target("grpc", "grpc bare stub floor", 1.1, "grpc add vs a bare grpcio stub"),
]


def report_targets(medians: dict[str, float], targets: list[Target]) -> list[tuple[Target, float]]:
    """Print each target as measured ratio, limit, met or missed."""
    results = []
    click.echo(f"\n{'target':<42} {'ratio':>7} {'limit':>7}  verdict")
    for t in targets:
        ratio = medians[t.case] / medians[t.baseline]
        verdict = "met" if ratio <= t.limit else "MISSED"
        click.echo(f"{t.what:<42} {ratio:7.2f} {t.limit:7.2f}  {verdict}")
        results.append((t, ratio))
    return results


def run_bench(*, quick: bool = False) -> None:
    """``oxbridge bench``: every bridge's ``add`` against its baselines and floors."""
    rounds = 5 if quick else 21
    medians = measure(scalar_cases(), rounds=rounds, label="in-process")
    medians |= measure(network_cases(), rounds=rounds, label="network")
    medians |= measure(batch_cases(), rounds=rounds, sample_seconds=0.05, label="batches")
    click.echo(f"\n{'case':<28} {'median':>12}")
    for name, seconds in medians.items():
        click.echo(f"{name:<28} {_human(seconds):>12}")
    report_targets(medians, TARGETS + NETWORK_TARGETS + BATCH_TARGETS)


def run_demo(calls: int) -> None:
    """``make run``: the article's example through every bridge, with its cost per call."""
    a, b = 1 + 3j, -5j
    click.echo(f"{a} + {b} through every bridge:\n")
    click.echo(f"{'bridge':<8} {'result':<10} {'cost per call':>14}")
    for name in bridges.BRIDGES:
        with bridges.connect(name) as client:
            result = client.add(a, b)
            per_call = min(
                timeit.repeat(
                    "add(a, b)",
                    globals={"add": client.add, "a": a, "b": b},
                    number=max(1, calls // 5),
                    repeat=5,
                )
            ) / max(1, calls // 5)
        click.echo(f"{name:<8} {result!s:<10} {_human(per_call):>14}")


def _human(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.2f} ms"
