"""Load on each network bridge: 64 concurrent clients, zero errors, bounded memory.

2,000 calls per client (128,000 a bridge, about a minute and a half for the
three); ``OXBRIDGE_TEST_SCALE=full`` (``make test-memory-full``) makes it
10,000, and ``OXBRIDGE_LOAD_CALLS`` any number. The figures are printed
with ``-s``.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from pathlib import Path

import oxbridge
import pytest

from .servers import ephemeral, serving

CLIENTS = 64
FULL = os.environ.get("OXBRIDGE_TEST_SCALE") == "full"
CALLS = int(os.environ.get("OXBRIDGE_LOAD_CALLS", "10000" if FULL else "2000"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("bridge", ["ipc", "http", "grpc"])
def test_64_clients_zero_errors_bounded_memory(tmp_path: Path, bridge: str) -> None:
    with serving(*ephemeral(tmp_path)) as s:
        url = s.url(bridge)
        warm = oxbridge.connect(url, timeout=30)
        for _ in range(200):
            warm.add(1, 1)
        rss_before = rss_kib(s.process.pid)
        errors: list[BaseException] = []
        latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
        barrier = threading.Barrier(CLIENTS)

        def client(i: int) -> None:
            c = oxbridge.connect(url, timeout=30)
            a, b = complex(i, 1), complex(1, -i)
            want = a * b
            barrier.wait()
            lat = latencies[i]
            for _ in range(CALLS):
                t = time.perf_counter()
                try:
                    got = c.mul(a, b)
                except BaseException as e:
                    errors.append(e)
                    continue
                lat.append(time.perf_counter() - t)
                if got != want:
                    errors.append(AssertionError(f"{got} != {want}"))
            c.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        rss_after = rss_kib(s.process.pid)
    flat = sorted(x for lat in latencies for x in lat)
    report = {
        "bridge": bridge, "clients": CLIENTS, "calls": len(flat), "errors": len(errors),
        "seconds": round(elapsed, 2), "calls_per_second": round(len(flat) / elapsed),
        "p50_us": round(statistics.median(flat) * 1e6, 1),
        "p99_us": round(flat[int(0.99 * len(flat))] * 1e6, 1),
        "rss_before_kib": rss_before, "rss_after_kib": rss_after,
    }  # fmt: skip
    print("\nload:", json.dumps(report))
    assert errors == [], errors[:3]
    assert len(flat) == CLIENTS * CALLS
    # 64 connections' buffers and no leak: memory stays within 64 MiB of the start.
    assert rss_after - rss_before < 64 * 1024, report
