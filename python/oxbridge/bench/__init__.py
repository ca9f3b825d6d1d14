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

import importlib.util
import json
import os
import tempfile
import time
import timeit
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from .. import bridges
from .cases import batch_cases, scalar_cases
from .measure import Settings, concurrency, measure, settings
from .report import evaluate, human, load_verdicts, machine, plots, tables
from .throughput import LoadError, missing_tools, throughput

__all__ = ["iter_names", "run_bench", "run_demo"]


def run_bench(
    *, quick: bool = False, chosen: list[str] | None = None, output: Path | None = None
) -> list[dict[str, Any]]:
    """``oxbridge bench``: measure, print, and optionally write the report."""
    chosen = list(chosen or bridges.BRIDGES)
    # What could fail after minutes of measuring fails now, in one line.
    if output is not None:
        writable(output)
    left_out = skipped(chosen)
    for note in left_out:
        click.echo(f"skipped: {note}", err=True)
    s = settings(quick, chosen)
    started = time.perf_counter()
    cases = scalar_cases(chosen)
    try:
        results = measure(cases, s, "single calls")
        if has("numpy"):
            cases += batch_cases(chosen, s.batch_sizes)
            results += measure([c for c in cases if c.group.startswith("batch")], s, "batches")
    finally:
        for case in cases:
            if case.close is not None:
                case.close()
    for r in results:
        if r.size:
            r.extra = {
                "elements_per_second": r.size / r.median,
                # Bytes that cross the bridge: two operands in, one result out.
                "gb_per_second": 48 * r.size / r.median / 1e9,
            }
    conc = concurrency(chosen, s)
    load = server_throughput(chosen, s)
    verdicts = evaluate(results) + load_verdicts(load)
    lines = tables(results, conc, verdicts, load)
    click.echo("\n".join(lines))
    elapsed = time.perf_counter() - started
    click.echo(
        f"\n{len(results)} cases in {elapsed:.0f} s on {machine()['cpu']} ({os.cpu_count()} cores)"
    )
    if output is not None:
        doc = {
            "machine": machine(),
            "settings": asdict(s),
            "elapsed_seconds": elapsed,
            "cases": [asdict(r) for r in results],
            "concurrency": conc,
            "throughput": load,
            "targets": verdicts,
        }
        (output / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
        m = machine()
        head = [
            "# oxbridge benchmark",
            "",
            f"{m['cpu']}, {m['cores']} cores, kernels with {m['simd']}; "
            f"Python {m['python']}; {m['rust']}; oxbridge {m['oxbridge']}.",
            f"Settings: {'quick' if quick else 'full'}, bridges {', '.join(chosen)}. "
            "Medians and p99 are per call over interleaved samples.",
            *(f"Skipped: {note}." for note in left_out),
            "",
        ]
        report = output / "report.md"
        # The measurements are written before the plots: they are never lost to them.
        report.write_text("\n".join(head + lines) + "\n")
        images = plots(results, output, chosen)
        if images:
            report.write_text("\n".join(head + [f"![{i}]({i})" for i in images] + ["", *lines]))
            click.echo(f"wrote {output / 'results.json'}, {report} and {len(images)} plots")
        else:
            click.echo(
                f"wrote {output / 'results.json'} and {report}; no plots: they need "
                "matplotlib (pip install 'oxbridge[bench]')"
            )
    return verdicts


def server_throughput(chosen: list[str], s: Settings) -> list[dict[str, Any]]:
    """The server's throughput on the chosen network bridges against their
    anchors; none without the load generators (see :func:`skipped`)."""
    from .._library import CALCULATOR  # noqa: PLC0415 - loaded when it runs
    from ..bridges import _embedded  # noqa: PLC0415

    loaded = [b for b in ("http", "grpc") if b in chosen]
    if not loaded or missing_tools():
        return []
    where = _embedded.addresses(CALCULATOR)
    try:
        return throughput({b: getattr(where, b) for b in loaded}, s.load_rounds, s.load_seconds)
    except LoadError as e:
        # Minutes of measurements are not lost to it: the report says why.
        click.echo(f"server throughput not measured: {e}", err=True)
        return []


def has(module: str) -> bool:
    """Whether ``module`` can be imported (an optional dependency is installed)."""
    return importlib.util.find_spec(module) is not None


def skipped(chosen: list[str]) -> list[str]:
    """What a plain install cannot measure, each with the extra that adds it."""
    extra = "pip install 'oxbridge[bench]'"
    notes = []
    if not has("numpy"):
        notes.append(f"batches, which need numpy ({extra})")
    if "http" in chosen and not has("requests"):
        notes.append(f"the HTTP article's client, which needs requests ({extra})")
    if "grpc" in chosen and not has("grpc"):
        notes.append(
            f"the bare grpcio stub and the gRPC article's client, which need grpcio ({extra})"
        )
    tools = missing_tools()
    if tools and ("http" in chosen or "grpc" in chosen):
        notes.append(
            f"server throughput, which needs the load generators {' and '.join(tools)}"
            " (`make bench` installs them)"
        )
    return notes


def writable(output: Path) -> None:
    """Makes ``output`` (a directory) or says in one line why it cannot."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output):
            pass
    except OSError as e:
        reason = e.strerror or str(e)
        raise click.ClickException(f"cannot write to --output {output}: {reason}") from None


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
