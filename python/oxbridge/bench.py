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


def measure(
    cases: list[Case], *, rounds: int, number: int, label: str = "timing"
) -> dict[str, float]:
    """Median seconds per call of each case over ``rounds`` interleaved rounds."""
    timers = {c.name: timeit.Timer(c.stmt, globals=c.namespace) for c in cases}
    for t in timers.values():  # warm-up
        t.timeit(max(1, number // 10))
    samples: dict[str, list[float]] = {name: [] for name in timers}
    with click.progressbar(range(rounds), label=label, file=None) as bar:
        for _ in bar:
            for name, t in timers.items():
                samples[name].append(t.timeit(number) / number)
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


TARGETS = [
    Target("pyo3", "python a+b", 1.3, "pyo3 add vs Python's a+b"),
    Target("ctypes", "article ctypes", 0.75, "ctypes add vs the article's wrapper"),
    Target("cffi", "article ctypes", 0.75, "cffi add vs the article's wrapper"),
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
    """``oxbridge bench``: the scalar targets of the in-process bridges."""
    medians = measure(scalar_cases(), rounds=5 if quick else 21, number=2_000 if quick else 20_000)
    click.echo(f"\n{'case':<16} {'median':>12}")
    for name, seconds in medians.items():
        click.echo(f"{name:<16} {seconds * 1e9:9.1f} ns")
    report_targets(medians, TARGETS)


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
