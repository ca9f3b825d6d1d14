"""``oxbridge bench``: every bridge measured side by side, against real baselines.

Every figure is measured in the same run as what it is compared with, and the
cases are interleaved round by round, so a noisy neighbour slows all of them
alike. A *sample* is ``k`` calls timed together, with ``k`` chosen so that a
sample lasts a few tens of microseconds (``k = 1`` for anything slower): the
median and p99 are over samples, per call; ``min`` is the fastest sample.

Kinds of case:
  oxbridge  the bridge's own client (``client.add``, ``client.mul_many``...)
  floor     the least the same transport can cost (a bare call, a raw echo)
  article   the articles' own approach for that bridge
  python    Python's or numpy's own operation
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import statistics
import sys
import threading
import time
import timeit
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click

from . import _native, bridges
from ._library import CALCULATOR

NETWORK = ("ipc", "http", "grpc")
BATCH_SIZES = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
QUICK_BATCH_SIZES = (1, 100, 10_000)
THREADS = (1, 4, 16)


@dataclass
class Case:
    """One timed statement: ``stmt`` run in ``namespace``."""

    name: str
    group: str
    bridge: str | None
    kind: str
    stmt: str
    namespace: dict[str, Any]
    size: int | None = None


@dataclass
class Result:
    """What was measured for one case (seconds per call)."""

    name: str
    group: str
    bridge: str | None
    kind: str
    count: int
    median: float
    p99: float
    min: float
    size: int | None = None
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """A speed target: ``case`` costs at most ``limit`` times ``baseline``."""

    case: str
    baseline: str
    limit: float
    what: str


@dataclass
class Settings:
    """How much the run measures."""

    quick: bool
    bridges: list[str]
    rounds: int
    round_seconds: float
    sample_seconds: float
    batch_sizes: tuple[int, ...]
    threads: tuple[int, ...]
    concurrency_seconds: float


def settings(quick: bool, chosen: list[str]) -> Settings:
    return Settings(
        quick=quick,
        bridges=chosen,
        rounds=3 if quick else 15,
        round_seconds=0.01 if quick else 0.1,
        sample_seconds=20e-6,
        batch_sizes=QUICK_BATCH_SIZES if quick else BATCH_SIZES,
        threads=THREADS,
        concurrency_seconds=0.15 if quick else 1.0,
    )


# --- cases ---------------------------------------------------------------------


def article_ctypes_add() -> Callable[[complex, complex], Any]:
    """The article's ctypes client, as printed, over our library."""
    rust = ctypes.CDLL(CALCULATOR.path)

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


def in_process_floors(chosen: list[str]) -> list[Case]:
    """A bare call through each in-process bridge: no conversion, no allocation."""
    a, b = 1 + 3j, -5j
    cases = []
    if "pyo3" in chosen:
        cases.append(
            Case(
                "pyo3 bare call",
                "add",
                "pyo3",
                "floor",
                "f(a, b)",
                {"f": _native.bare, "a": a, "b": b},
            )
        )
    if "ctypes" in chosen:
        lib = ctypes.PyDLL(CALCULATOR.path)
        fn = lib["oxb_add"]  # no argtypes: prebuilt ctypes objects go straight through
        args = [ctypes.c_double(x) for x in (1.0, 3.0, 0.0, -5.0)]
        out = (ctypes.c_double * 2)()
        cases.append(
            Case("ctypes bare call", "add", "ctypes", "floor", "f(w, x, y, z, out, None)",
                 {"f": fn, "w": args[0], "x": args[1], "y": args[2], "z": args[3], "out": out})
        )  # fmt: skip
    if "cffi" in chosen:
        from .bridges import cffi as cffi_bridge

        loaded = cffi_bridge._load(CALCULATOR)
        out_c = loaded.ffi.new("OxbComplex *")
        cases.append(
            Case("cffi bare call", "add", "cffi", "floor", "f(1.0, 3.0, 0.0, -5.0, out, null)",
                 {"f": loaded.flat_lib.oxb_add, "out": out_c, "null": loaded.ffi.NULL})
        )  # fmt: skip
    return cases


def ipc_baselines(where: Any) -> list[Case]:
    """The raw echo under the IPC bridge, and the article's IPC client."""
    import socket

    from .bridges import ipc

    request = b'{"command":"add","a":[1.0,3.0],"b":[-0.0,-5.0]}\n'
    echo = socket.socket(socket.AF_UNIX)
    echo.connect(where.echo)

    def article_ipc(n1: complex, n2: complex) -> Any:
        # The article's client (a connection per call), plus the read it lacked.
        with socket.socket(socket.AF_UNIX) as client:
            data = {"command": "add", "a": [n1.real, n1.imag], "b": [n2.real, n2.imag]}
            client.connect(where.unix)
            client.send(json.dumps(data).encode("UTF-8"))
            return json.loads(client.recv(4096))

    floor_ns = {"send": echo.sendall, "req": request, "read": ipc.read_line, "sock": _stream(echo)}
    return [
        Case("ipc raw echo", "add", "ipc", "floor", "send(req); read(sock, 0)", floor_ns),
        Case(
            "ipc article client",
            "add",
            "ipc",
            "article",
            "f(a, b)",
            {"f": article_ipc, "a": 1 + 3j, "b": -5j},
        ),
    ]


def _stream(sock: Any) -> Any:
    """``sock`` as the bridges' readers take it, with no deadline."""
    import math

    from .bridges._socket import Stream

    stream = Stream(sock, 3600.0)
    stream.deadline = math.inf
    return stream


def http_baselines(where: Any) -> list[Case]:
    """A raw keep-alive request under the HTTP bridge, and ``requests.post``."""
    import socket

    import requests

    from .bridges import http

    host, port = where.http.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = b'{"a":[1.0,3.0],"b":[-0.0,-5.0]}'
    head = f"POST /add HTTP/1.1\r\nHost: {where.http}\r\nContent-Type: application/json\r\n"
    raw_request = head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body

    def article_http(n1: complex, n2: complex) -> complex:
        body = {"a": [n1.real, n1.imag], "b": [n2.real, n2.imag]}
        req = requests.post(f"http://{where.http}/add", json=body, timeout=10)
        result = req.json()["result"]
        return complex(float(result[0]), float(result[1]))

    floor_ns = {
        "send": raw.sendall, "req": raw_request, "read": http.read_response, "sock": _stream(raw)
    }  # fmt: skip
    return [
        Case("http raw keep-alive", "add", "http", "floor", "send(req); read(sock, 0)", floor_ns),
        Case("http article requests.post", "add", "http", "article", "f(a, b)",
             {"f": article_http, "a": 1 + 3j, "b": -5j}),
    ]  # fmt: skip


def grpc_baselines(where: Any) -> list[Case]:
    """Bare grpcio stubs with prebuilt requests, and the article's gRPC client."""
    import grpc as grpcio

    from ._proto import calculator_pb2 as pb
    from ._proto import calculator_pb2_grpc as pb_grpc
    from ._proto import greeter_service_pb2 as gpb
    from ._proto import greeter_service_pb2_grpc as gpb_grpc
    from .bridges import grpc as grpc_bridge

    channel = grpcio.insecure_channel(where.grpc, options=grpc_bridge.CHANNEL_OPTIONS)
    stub = pb_grpc.CalculatorStub(channel)  # type: ignore[no-untyped-call]
    prebuilt = pb.BinaryRequest(a=pb.Complex(re=1.0, im=3.0), b=pb.Complex(re=-0.0, im=-5.0))
    greeter = gpb_grpc.GreeterServiceStub(channel)  # type: ignore[no-untyped-call]
    greet_req = gpb.GreetRequest(greeting="Aloha", name="amigo")

    def article_grpc() -> str:
        # The article's client: a channel per call.
        with grpcio.insecure_channel(where.grpc) as ch:
            s = gpb_grpc.GreeterServiceStub(ch)  # type: ignore[no-untyped-call]
            request = gpb.GreetRequest(greeting="Aloha", name="amigo")
            message: str = s.Greet(request).message
            return message

    return [
        Case("grpc bare stub", "add", "grpc", "floor", "f(req)", {"f": stub.Add, "req": prebuilt}),
        Case("grpc bare greeter stub", "greet", "grpc", "floor", "f(req)",
             {"f": greeter.Greet, "req": greet_req}),
        Case("grpc article client", "greet", "grpc", "article", "f()", {"f": article_grpc}),
    ]  # fmt: skip


def network_floors_and_articles(chosen: list[str]) -> list[Case]:
    """Raw transports under each chosen network bridge, and the articles' clients."""
    from .bridges import _embedded

    where = _embedded.addresses(CALCULATOR)
    makers = {"ipc": ipc_baselines, "http": http_baselines, "grpc": grpc_baselines}
    return [case for name, make in makers.items() if name in chosen for case in make(where)]


def scalar_cases(chosen: list[str]) -> list[Case]:
    """``add`` and ``greet`` on every chosen bridge, with every baseline."""
    a, b = 1 + 3j, -5j
    cases = [Case("python a+b", "add", None, "python", "a + b", {"a": a, "b": b})]
    cases.append(
        Case(
            "python f-string", "greet", None, "python", 'f"{g}, {n}"', {"g": "Aloha", "n": "amigo"}
        )
    )
    for name in chosen:
        client = bridges.connect(name)
        cases.append(
            Case(
                f"{name} add", "add", name, "oxbridge", "f(a, b)", {"f": client.add, "a": a, "b": b}
            )
        )
        cases.append(
            Case(
                f"{name} greet",
                "greet",
                name,
                "oxbridge",
                "f(g, n)",
                {"f": client.greet, "g": "Aloha", "n": "amigo"},
            )
        )
    if {"ctypes", "cffi"} & set(chosen):
        cases.append(
            Case(
                "ctypes article wrapper",
                "add",
                "ctypes",
                "article",
                "f(a, b)",
                {"f": article_ctypes_add(), "a": a, "b": b},
            )
        )
    cases += in_process_floors(chosen)
    if set(NETWORK) & set(chosen):
        cases += network_floors_and_articles(chosen)
    return cases


def batch_cases(chosen: list[str], sizes: tuple[int, ...]) -> list[Case]:
    """``mul_many`` at every size on every chosen bridge, and numpy's ``a*b``."""
    import numpy as np

    rng = np.random.default_rng(0)
    cases = []
    clients = {name: bridges.connect(name) for name in chosen}
    for n in sizes:
        a = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        b = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        cases.append(Case(f"numpy a*b @{n}", "batch", None, "python", "a * b", {"a": a, "b": b}, n))
        if n == sizes[-1]:
            cases.append(
                Case(f"numpy a+b @{n}", "batch-add", None, "python", "a + b", {"a": a, "b": b}, n)
            )
        for name, client in clients.items():
            cases.append(
                Case(
                    f"{name} mul_many @{n}",
                    "batch",
                    name,
                    "oxbridge",
                    "f(a, b)",
                    {"f": client.mul_many, "a": a, "b": b},
                    n,
                )
            )
            if n == sizes[-1]:
                cases.append(
                    Case(
                        f"{name} add_many @{n}",
                        "batch-add",
                        name,
                        "oxbridge",
                        "f(a, b)",
                        {"f": client.add_many, "a": a, "b": b},
                        n,
                    )
                )
    return cases


# --- measuring -----------------------------------------------------------------


def _calls_per_sample(timer: timeit.Timer, sample_seconds: float) -> tuple[int, float]:
    """Calls per sample so that one lasts about ``sample_seconds``, and the cost of one."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= sample_seconds or number >= 1 << 20:
            per_call = elapsed / number
            return max(1, round(sample_seconds / per_call)), per_call
        number *= 4


def measure(cases: list[Case], s: Settings, label: str) -> list[Result]:
    """Interleaved rounds; in each, every case runs for about ``round_seconds``."""
    timers = [timeit.Timer(c.stmt, globals=c.namespace) for c in cases]
    plan = [_calls_per_sample(t, s.sample_seconds) for t in timers]
    samples: list[list[float]] = [[] for _ in cases]
    with click.progressbar(
        length=s.rounds * len(cases), label=f"{label:<12}", file=sys.stderr
    ) as bar:
        for _ in range(s.rounds):
            for i, (timer, (k, per_call)) in enumerate(zip(timers, plan, strict=True)):
                n_samples = max(3, min(2000, int(s.round_seconds / (k * per_call))))
                samples[i] += [x / k for x in timer.repeat(repeat=n_samples, number=k)]
                bar.update(1)
    results = []
    for case, (k, _), xs in zip(cases, plan, samples, strict=True):
        xs.sort()
        p99 = xs[min(len(xs) - 1, int(0.99 * len(xs)))]
        results.append(
            Result(
                case.name,
                case.group,
                case.bridge,
                case.kind,
                k * len(xs),
                statistics.median(xs),
                p99,
                xs[0],
                case.size,
            )
        )
    return results


def concurrency(chosen: list[str], s: Settings) -> list[dict[str, Any]]:
    """Calls per second with 1, 4 and 16 client threads, each with its own connection."""
    rows = []
    network = [b for b in chosen if b in NETWORK]
    with click.progressbar(
        length=len(network) * len(s.threads), label=f"{'concurrency':<12}", file=sys.stderr
    ) as bar:
        for name in network:
            for n_threads in s.threads:
                clients = [bridges.connect(name) for _ in range(n_threads)]
                for c in clients:
                    c.add(1, 1)  # connect before the clock starts
                counts = [0] * n_threads
                stop = threading.Event()

                def work(
                    i: int,
                    stop: threading.Event = stop,
                    counts: list[int] = counts,
                    clients: list[Any] = clients,
                ) -> None:
                    add = clients[i].add
                    while not stop.is_set():
                        add(1 + 3j, -5j)
                        counts[i] += 1

                threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
                started = time.perf_counter()
                for t in threads:
                    t.start()
                time.sleep(s.concurrency_seconds)
                stop.set()
                for t in threads:
                    t.join()
                elapsed = time.perf_counter() - started
                for c in clients:
                    c.close()
                rows.append(
                    {
                        "bridge": name,
                        "threads": n_threads,
                        "calls": sum(counts),
                        "calls_per_second": sum(counts) / elapsed,
                    }
                )
                bar.update(1)
    return rows


# --- targets and reports -------------------------------------------------------


def targets(largest: int) -> list[Target]:
    """Every speed target the issues set, as pairs of measured cases."""
    at = f"@{largest}"
    return [
        Target("pyo3 add", "python a+b", 1.3, "pyo3 add vs Python's a+b"),
        Target(
            "ctypes add",
            "ctypes article wrapper",
            0.75,
            "ctypes add vs the article's ctypes wrapper",
        ),
        Target(
            "cffi add", "ctypes article wrapper", 0.75, "cffi add vs the article's ctypes wrapper"
        ),
        Target("ipc add", "ipc raw echo", 1.3, "ipc add vs a raw Rust echo"),
        Target(
            "http add", "http article requests.post", 0.2, "http add vs the article's requests.post"
        ),
        Target("grpc add", "grpc bare stub", 1.1, "grpc add vs a bare grpcio stub"),
        Target(
            f"pyo3 mul_many {at}",
            f"numpy a*b {at}",
            1.0,
            f"pyo3 mul_many vs numpy a*b ({largest:.0e})",
        ),
        Target(
            f"pyo3 add_many {at}",
            f"numpy a+b {at}",
            0.5,
            f"pyo3 add_many vs numpy a+b ({largest:.0e})",
        ),
        Target(f"ctypes mul_many {at}", f"pyo3 mul_many {at}", 1.2, "ctypes mul_many vs pyo3"),
        Target(f"cffi mul_many {at}", f"pyo3 mul_many {at}", 1.2, "cffi mul_many vs pyo3"),
        Target(f"ipc mul_many {at}", f"pyo3 mul_many {at}", 3.0, "ipc mul_many vs in process"),
        Target(f"http mul_many {at}", f"pyo3 mul_many {at}", 6.0, "http mul_many vs in process"),
        Target(f"grpc mul_many {at}", f"pyo3 mul_many {at}", 6.0, "grpc mul_many vs in process"),
    ]


def evaluate(results: list[Result], largest: int) -> list[dict[str, Any]]:
    by_name = {r.name: r for r in results}
    rows = []
    for t in targets(largest):
        if t.case in by_name and t.baseline in by_name:
            ratio = by_name[t.case].median / by_name[t.baseline].median
            verdict = "met" if ratio <= t.limit else "missed"
        else:
            ratio, verdict = float("nan"), "not measured"
        rows.append(
            {
                "target": t.what,
                "case": t.case,
                "baseline": t.baseline,
                "ratio": ratio,
                "limit": t.limit,
                "verdict": verdict,
            }
        )
    return rows


def human(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "rust": _native.RUSTC_VERSION,
        "oxbridge": _native.__version__,
        "platform": platform.platform(),
    }


def tables(
    results: list[Result], conc: list[dict[str, Any]], verdicts: list[dict[str, Any]]
) -> list[str]:
    """The report as Markdown lines (also what the terminal shows)."""
    out = [
        "## Single calls",
        "",
        "| case | kind | median | p99 | min | calls |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.group in ("add", "greet"):
            times = f"{human(r.median)} | {human(r.p99)} | {human(r.min)}"
            out.append(f"| {r.name} | {r.kind} | {times} | {r.count} |")
    out += [
        "",
        "## Batches (`mul_many`)",
        "",
        "| case | median | elements/s | GB/s |",
        "|---|---:|---:|---:|",
    ]
    for r in results:
        if r.group in ("batch", "batch-add"):
            rate, gbs = r.extra["elements_per_second"], r.extra["gb_per_second"]
            out.append(f"| {r.name} | {human(r.median)} | {rate:.3g} | {gbs:.3g} |")
    if conc:
        out += [
            "",
            "## Concurrency (`add`, one connection per thread)",
            "",
            "| bridge | threads | calls/s |",
            "|---|---:|---:|",
        ]
        out += [f"| {c['bridge']} | {c['threads']} | {c['calls_per_second']:,.0f} |" for c in conc]
    out += ["", "## Targets", "", "| target | measured | limit | verdict |", "|---|---:|---:|---|"]
    for v in verdicts:
        out.append(f"| {v['target']} | {v['ratio']:.2f}x | {v['limit']:.2f}x | {v['verdict']} |")
    return out


def plots(results: list[Result], out_dir: Path, chosen: list[str]) -> list[str]:
    """``scalar_latency.png`` and ``batch_throughput.png``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise click.ClickException("plots need matplotlib: pip install 'oxbridge[bench]'") from e

    kinds = [("floor", "#9ca3af"), ("oxbridge", "#2563eb"), ("article", "#dc2626")]
    fig, ax = plt.subplots(figsize=(9, 5))
    width = 0.27
    for k, (kind, color) in enumerate(kinds):
        xs, ys = [], []
        for i, name in enumerate(chosen):
            match = [r for r in results if r.bridge == name and r.kind == kind and r.group == "add"]
            if match:
                xs.append(i + (k - 1) * width)
                ys.append(match[0].median)
        ax.bar(xs, ys, width, label=kind if kind != "oxbridge" else "oxbridge client", color=color)
    py = next((r.median for r in results if r.name == "python a+b"), None)
    if py:
        ax.axhline(py, color="#16a34a", linestyle="--", label="Python's own a+b")
    ax.set_yscale("log")
    ax.set_xticks(range(len(chosen)), chosen)
    ax.set_ylabel("seconds per add() call (median, log scale)")
    ax.set_title("One call, per bridge: oxbridge beside its floor and the articles' approach")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "scalar_latency.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 5))
    series: list[str | None] = [None, *chosen]
    for bridge in series:
        pts = sorted(
            (r.size, r.extra["elements_per_second"])
            for r in results
            if r.group == "batch" and r.bridge == bridge and r.size
        )
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", label=bridge or "numpy a*b")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("elements per call")
    ax.set_ylabel("elements per second (mul_many)")
    ax.set_title("Batch throughput per bridge")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "batch_throughput.png", dpi=110)
    plt.close(fig)
    return ["scalar_latency.png", "batch_throughput.png"]


def run_bench(
    *, quick: bool = False, chosen: list[str] | None = None, output: Path | None = None
) -> list[dict[str, Any]]:
    """``oxbridge bench``: measure, print, and optionally write the report."""
    chosen = list(chosen or bridges.BRIDGES)
    s = settings(quick, chosen)
    started = time.perf_counter()
    results = measure(scalar_cases(chosen), s, "single calls")
    results += measure(batch_cases(chosen, s.batch_sizes), s, "batches")
    for r in results:
        if r.size:
            r.extra = {
                "elements_per_second": r.size / r.median,
                # Bytes that cross the bridge: two operands in, one result out.
                "gb_per_second": 48 * r.size / r.median / 1e9,
            }
    conc = concurrency(chosen, s)
    verdicts = evaluate(results, s.batch_sizes[-1])
    lines = tables(results, conc, verdicts)
    click.echo("\n".join(lines))
    elapsed = time.perf_counter() - started
    click.echo(
        f"\n{len(results)} cases in {elapsed:.0f} s on {machine()['cpu']} ({os.cpu_count()} cores)"
    )
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        images = plots(results, output, chosen)
        doc = {
            "machine": machine(),
            "settings": asdict(s),
            "elapsed_seconds": elapsed,
            "cases": [asdict(r) for r in results],
            "concurrency": conc,
            "targets": verdicts,
        }
        (output / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
        m = machine()
        head = [
            "# oxbridge benchmark",
            "",
            f"{m['cpu']}, {m['cores']} cores; Python {m['python']}; {m['rust']}; "
            f"oxbridge {m['oxbridge']}.",
            f"Settings: {'quick' if quick else 'full'}, bridges {', '.join(chosen)}. "
            "Medians and p99 are per call over interleaved samples.",
            "",
            *[f"![{i}]({i})" for i in images],
            "",
        ]
        (output / "report.md").write_text("\n".join(head + lines) + "\n")
        click.echo(
            f"wrote {output / 'results.json'}, {output / 'report.md'} and {len(images)} plots"
        )
    return verdicts


def run_demo(calls: int) -> None:
    """``make run``: the article's example through every bridge, with its cost per call."""
    a, b = 1 + 3j, -5j
    click.echo(f"{a} + {b} through every bridge:\n")
    click.echo(f"{'bridge':<8} {'result':<10} {'cost per call':>14}")
    for name in bridges.BRIDGES:
        with bridges.connect(name) as client:
            result = client.add(a, b)
            number = max(1, calls // 5)
            per_call = (
                min(
                    timeit.repeat(
                        "add(a, b)",
                        globals={"add": client.add, "a": a, "b": b},
                        number=number,
                        repeat=5,
                    )
                )
                / number
            )
        click.echo(f"{name:<8} {result!s:<10} {human(per_call):>14}")


def iter_names(text: str) -> Iterator[str]:
    yield from (n.strip() for n in text.split(",") if n.strip())
