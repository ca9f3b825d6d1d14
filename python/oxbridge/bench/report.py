"""The report: the issue's targets checked as ratios of cases measured in the
same run, the tables, the machine and the plots."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _native
from .cases import LARGE
from .measure import Result
from .throughput import CONNECTIONS, STREAMS


@dataclass(frozen=True)
class Target:
    """A speed target: ``case`` costs at most ``limit`` times ``baseline``.
    ``floor``: a case that does only what ``case`` cannot avoid (the same
    bytes over the same transport, no computing): if it alone costs more
    than the limit allows, no client can meet the target, and the report
    says so beside the verdict."""

    case: str
    baseline: str
    limit: float
    what: str
    floor: str | None = None


def targets() -> list[Target]:
    """Every speed target the issues set, as pairs of measured cases. The
    batch targets are set at fixed sizes: a run that did not measure one (a
    quick run, fewer bridges) says so rather than judge another size."""
    big = f"@{LARGE}"
    return [
        Target("pyo3 add", "python operator.add", 1.3, "pyo3 add vs operator.add(a, b)"),
        Target("pyo3 library gcd", "python math.gcd", 1.3,
               "a loaded library's pyo3 call (pystd gcd) vs CPython's math.gcd"),
        Target("ctypes add", "ctypes article wrapper", 0.6,
               "ctypes add vs the article's ctypes wrapper"),
        Target("cffi add", "cffi naive ABI compute()", 0.6,
               "cffi add vs a naive ABI-mode cffi call of compute()"),
        Target("ipc add", "ipc raw echo", 1.3, "ipc add vs a raw Rust echo"),
        Target("http add", "http article requests.post", 0.2,
               "http add vs the article's requests.post"),
        Target("grpc add", "grpc bare stub", 1.1, "grpc add vs a bare grpcio stub"),
        Target("grpc add", "http add", 2.0, "grpc add vs http add"),
        Target("pyo3 mul_many @1", "numpy a*b @1", 2.5, "pyo3 mul_many vs numpy a*b (1 element)"),
        Target("pyo3 mul_many @1000", "numpy a*b @1000", 1.5,
               "pyo3 mul_many vs numpy a*b (1,000)"),
        Target(f"pyo3 mul_many {big}", f"numpy a*b {big}", 1.0, "pyo3 mul_many vs numpy a*b (1e6)"),
        Target(f"pyo3 add_many {big}", f"numpy a+b {big}", 0.5, "pyo3 add_many vs numpy a+b (1e6)"),
        Target(f"ctypes mul_many {big}", f"pyo3 mul_many {big}", 1.2,
               "ctypes mul_many vs pyo3 (1e6)"),
        Target(f"cffi mul_many {big}", f"pyo3 mul_many {big}", 1.2, "cffi mul_many vs pyo3 (1e6)"),
        Target(f"ipc mul_many {big}", f"pyo3 mul_many {big}", 3.0,
               "ipc mul_many vs in process (1e6)", f"shared-memory copy {big}"),
        Target(f"ipc mul_many on shared arrays {big}", f"pyo3 mul_many {big}", 3.0,
               "ipc mul_many on arrays made with client.empty vs in process (1e6)"),
        Target(f"http mul_many {big}", f"raw loopback round trip {big}", 1.3,
               "http mul_many vs a raw loopback round trip of its bytes (1e6)"),
        Target(f"grpc mul_many {big}", f"raw loopback round trip {big}", 1.5,
               "grpc mul_many vs a raw loopback round trip of its bytes (1e6)"),
        Target(f"http mul_many {big}", f"pyo3 mul_many {big}", 6.0,
               "http mul_many vs in process (1e6)", f"raw loopback round trip {big}"),
        Target(f"grpc mul_many {big}", f"pyo3 mul_many {big}", 6.0,
               "grpc mul_many vs in process (1e6)", f"raw loopback round trip {big}"),
    ]  # fmt: skip


def paired_ratio(case: Result, baseline: Result) -> float:
    """The median, over the rounds, of the case's median over the baseline's in
    the same round: the two ran seconds apart, so a slow spell of the machine
    slows both (the ratio of the overall medians when rounds are missing)."""
    if case.rounds and len(case.rounds) == len(baseline.rounds):
        return statistics.median(c / b for c, b in zip(case.rounds, baseline.rounds, strict=True))
    return case.median / baseline.median


def evaluate(results: list[Result]) -> list[dict[str, Any]]:
    by_name = {r.name: r for r in results}
    rows = []
    for t in targets():
        ratio: float | None = None
        verdict = "not measured"  # a case it needs was not run (--bridges, --quick)
        floor: float | None = None
        if t.case in by_name and t.baseline in by_name:
            ratio = paired_ratio(by_name[t.case], by_name[t.baseline])
            verdict = "met" if ratio <= t.limit else "missed"
            if t.floor in by_name:
                floor = paired_ratio(by_name[t.floor], by_name[t.baseline])
        means = f"{t.case} takes at most {t.limit:g}x the time of {t.baseline}"
        if floor is not None and floor > t.limit:
            means += f"; {t.floor} alone takes {floor:.2f}x, so no client can meet it"
        rows.append(
            {
                "target": t.what,
                "case": t.case,
                "baseline": t.baseline,
                "ratio": ratio,
                "limit": t.limit,
                "means": means,
                "verdict": verdict,
                "floor": t.floor,
                "floor_ratio": floor,
            }
        )
    return rows


#: The most the server may spend per request under load, as a multiple of
#: its anchor's (a minimal axum handler, a minimal tonic service).
LOAD_LIMIT = 1.1


def load_verdicts(load: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The throughput targets: the server's cost per request under load over
    its anchor's, in the rows' shape of :func:`evaluate`."""
    rows = []
    for r in load:
        case = f"{r['bridge']} server under {r['tool']}"
        rows.append(
            {
                "target": f"{case} vs a {r['anchor']}",
                "case": case,
                "baseline": r["anchor"],
                "ratio": r["ratio"],
                "limit": LOAD_LIMIT,
                "means": f"the server spends at most {LOAD_LIMIT:g}x the {r['anchor']}'s "
                "time per request (the anchor's requests/s over the server's)",
                "verdict": "met" if r["ratio"] <= LOAD_LIMIT else "missed",
                "floor": None,
                "floor_ratio": None,
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
        "simd": _native.SIMD,
        "python": sys.version.split()[0],
        "rust": _native.RUSTC_VERSION,
        "oxbridge": _native.__version__,
        "platform": platform.platform(),
    }


def tables(
    results: list[Result],
    conc: list[dict[str, Any]],
    verdicts: list[dict[str, Any]],
    load: list[dict[str, Any]] | None = None,
) -> list[str]:
    """The report as Markdown lines (also what the terminal shows)."""
    out = [
        "## Single calls",
        "",
        "| case | kind | median | p99 | min | calls |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.group in ("add", "greet", "gcd"):
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
        if r.group.startswith("batch"):
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
    if load:
        out += [
            "",
            "## Server throughput (`add` under load; requests/s, higher is better)",
            "",
            f"`wrk`: {CONNECTIONS} HTTP/1.1 connections; `h2load`: {CONNECTIONS} HTTP/2",
            f"connections of {STREAMS} streams. Server and anchor take turns, round by round;",
            "both set `TCP_NODELAY` on their connections.",
            "",
            "| bridge | load | server | anchor | anchor's | server's cost per request |",
            "|---|---|---:|---|---:|---:|",
        ]
        out += [
            f"| {r['bridge']} | {r['tool']} | {r['server_per_second']:,.0f} | {r['anchor']} "
            f"| {r['anchor_per_second']:,.0f} | {r['ratio']:.2f}x the anchor's |"
            for r in load
        ]
    out += [
        "",
        "## Targets",
        "",
        "Each target is a case's time over its baseline's, both from this run: in each",
        "round the ratio of their medians, then the median of that over the rounds.",
        "A ratio is a cost, so lower is better: the target is met when the ratio is at",
        "most its limit (a limit of 0.6x: the case takes at most 60% of the baseline's",
        "time). A target whose cases this run did not measure says so, with no ratio.",
        "Where the transport's own floor (the same bytes sent and received, nothing",
        "computed) already costs more than the limit, the meaning says so.",
        "",
        "| target | measured | limit | verdict | meaning |",
        "|---|---:|---:|---|---|",
    ]
    for v in verdicts:
        measured = "—" if v["ratio"] is None else f"{v['ratio']:.2f}x"
        out.append(
            f"| {v['target']} | {measured} | {v['limit']:.2f}x | {v['verdict']} | {v['means']} |"
        )
    return out


def plots(results: list[Result], out_dir: Path, chosen: list[str]) -> list[str]:
    """``scalar_latency.png`` and ``batch_throughput.png``; none without matplotlib."""
    try:
        import matplotlib  # noqa: PLC0415 - the benchmark's dependencies load when it runs

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return []

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
            if r.group == "batch" and r.bridge == bridge and r.size and r.kind != "floor"
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
