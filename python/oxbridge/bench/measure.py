"""Measurement: cases timed round by round, interleaved, in samples of a
few tens of microseconds; and calls from several threads at once."""

from __future__ import annotations

import statistics
import sys
import threading
import time
import timeit
from dataclasses import dataclass, field
from typing import Any

import click

from .. import bridges
from .cases import BATCH_SIZES, NETWORK, QUICK_BATCH_SIZES, THREADS, Case


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
    #: The median of each round: targets pair them round by round.
    rounds: list[float] = field(default_factory=list)


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
    #: Server throughput: interleaved rounds, and seconds of load in each run.
    load_rounds: int = 5
    load_seconds: int = 2


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
        # Rounds vary by up to 1.3x on these VMs: five give the median a chance.
        load_rounds=1 if quick else 5,
        load_seconds=1 if quick else 2,
    )


# --- cases ---------------------------------------------------------------------


#: Timings taken at each step of the calibration, the fastest kept: one slow
#: spell (a preemption, a page fault) must not set a whole case's sample size.
CALIBRATION_REPEATS = 3


def _calls_per_sample(timer: timeit.Timer, sample_seconds: float) -> tuple[int, float]:
    """Calls per sample so that one lasts about ``sample_seconds``, and the cost of one."""
    number = 1
    while True:
        elapsed = min(timer.repeat(repeat=CALIBRATION_REPEATS, number=number))
        if elapsed >= sample_seconds or number >= 1 << 20:
            per_call = elapsed / number
            return max(1, round(sample_seconds / per_call)), per_call
        number *= 4


def measure(cases: list[Case], s: Settings, label: str) -> list[Result]:
    """Interleaved rounds; in each, every case runs for about ``round_seconds``."""
    timers = [timeit.Timer(c.stmt, globals=c.namespace) for c in cases]
    plan = [_calls_per_sample(t, s.sample_seconds) for t in timers]
    samples: list[list[float]] = [[] for _ in cases]
    per_round: list[list[float]] = [[] for _ in cases]
    with click.progressbar(
        length=s.rounds * len(cases), label=f"{label:<12}", file=sys.stderr
    ) as bar:
        for _ in range(s.rounds):
            for i, (timer, (k, per_call)) in enumerate(zip(timers, plan, strict=True)):
                n_samples = max(3, min(2000, int(s.round_seconds / (k * per_call))))
                taken = [x / k for x in timer.repeat(repeat=n_samples, number=k)]
                samples[i] += taken
                per_round[i].append(statistics.median(taken))
                bar.update(1)
    results = []
    for case, (k, _), xs, medians in zip(cases, plan, samples, per_round, strict=True):
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
                rounds=medians,
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
