"""The server's memory budget, under many large requests at once and clients
that never read their replies: its memory stays within the budget plus a
fixed margin on every bridge, the health check keeps answering, and a
request that cannot be held is refused as busy (retryable), never dropped.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

import numpy as np
import oxbridge
import pytest

from .servers import Served, ephemeral, serving

MIB = 1 << 20
#: ``OXBRIDGE_TEST_SCALE=full`` (``make test-memory-full``) runs the issue's
#: scale: 300 requests at the default 16 MiB limit and 300 clients that never
#: read, against the default 512 MiB budget. The default scale fits `make test`.
FULL = os.environ.get("OXBRIDGE_TEST_SCALE") == "full"
BUDGET = 512 * MIB if FULL else 32 * MIB
LIMIT = 16 * MIB if FULL else 4 * MIB
#: Room for what the budget does not count: per-connection read buffers,
#: the allocator's slack, the runtime's threads.
MARGIN = 128 * MIB if FULL else 48 * MIB
CLIENTS = 600 if FULL else 64
IDLE = 5.0
WAIT = 60.0
ELEMENTS = (LIMIT - 4096) // 32
FRAME = struct.pack("<4sBBxxQQQ", b"OXB\x01", 2, 0, 0, ELEMENTS, ELEMENTS) + bytes(32 * ELEMENTS)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    # Hundreds of connections at once, on both ends (the server inherits it).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    args = [*ephemeral(tmp_path), "--memory-budget", str(BUDGET)]
    args += ["--max-request-bytes", str(LIMIT), "--idle-timeout", str(IDLE)]
    with serving(*args) as s:
        yield s


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def http_request(s: Served, body: bytes, path: str = "/batch") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def connect(s: Served, bridge: str) -> socket.socket:
    if bridge == "ipc":
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(str(s.unix))
    else:
        host, port = s.http[0].rsplit(":", 1)
        sock = socket.create_connection((host, int(port)))
    sock.settimeout(WAIT)
    return sock


def request_bytes(s: Served, bridge: str) -> bytes:
    return FRAME if bridge == "ipc" else http_request(s, FRAME)


def read_outcome(sock: socket.socket, bridge: str) -> str:
    """``ok`` for a whole reply, or the error kind the server answered with."""
    if bridge == "ipc":
        head = recv_exactly(sock, 16)
        status, length = struct.unpack("<BxxxQ", head[4:16])
        if status:
            kind: str = json.loads(recv_exactly(sock, length))["kind"]
            return kind
        recv_exactly(sock, 16 * length)
        return "ok"
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536) or b"!"
        assert not buf.endswith(b"!"), "closed before the response head"
    head, _, body = buf.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    body += recv_exactly(sock, length - len(body))
    if head.startswith(b"HTTP/1.1 200"):
        return "ok"
    kind = json.loads(body)["kind"]
    assert isinstance(kind, str)
    return kind


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        assert chunk, "the server closed early"
        buf += chunk
    return bytes(buf)


def health_latency(s: Served, bridge: str) -> float:
    started = time.monotonic()
    if bridge == "ipc":
        client = oxbridge.connect(f"unix://{s.unix}", timeout=WAIT)
        assert client.add(1, 2) == 3
        client.close()
    else:
        with connect(s, "http") as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    return time.monotonic() - started


def sample_while(busy: Callable[[], bool], pid: int, s: Served, bridge: str) -> tuple[int, float]:
    """Peak RSS and the slowest health check while ``busy()``."""
    peak, slowest = rss(pid), 0.0
    while busy():
        peak = max(peak, rss(pid))
        slowest = max(slowest, health_latency(s, bridge))
        time.sleep(0.02)
    return peak, slowest


@pytest.mark.parametrize("bridge", ["ipc", "http"])
def test_large_requests_and_clients_that_never_read_stay_within_the_budget(
    server: Served, bridge: str
) -> None:
    pid = server.process.pid
    # Warm up: one large request, so that what the allocator keeps is counted.
    with connect(server, bridge) as sock:
        sock.sendall(request_bytes(server, bridge))
        assert read_outcome(sock, bridge) == "ok"
    baseline = rss(pid)

    payload = request_bytes(server, bridge)
    silent: list[socket.socket] = []
    lock = threading.Lock()

    def client(i: int) -> str:
        sock = connect(server, bridge)
        sock.sendall(payload)
        if i % 2:  # never reads: holds its reply, and its share, until it goes
            with lock:
                silent.append(sock)
            return "silent"
        with sock:
            return read_outcome(sock, bridge)

    with futures.ThreadPoolExecutor(CLIENTS) as pool:
        running = [pool.submit(client, i) for i in range(CLIENTS)]
        peak, slowest = sample_while(
            lambda: not all(f.done() for f in running), pid, server, bridge
        )
        outcomes = [f.result() for f in running]
    peak = max(peak, rss(pid))
    for sock in silent:
        sock.close()
    report = {
        "bridge": bridge,
        "budget_mib": BUDGET // MIB,
        "baseline_mib": round(baseline / MIB, 1),
        "peak_mib": round(peak / MIB, 1),
        "slowest_health_ms": round(slowest * 1000, 1),
        "outcomes": {o: outcomes.count(o) for o in set(outcomes)},
    }
    print("\nmemory:", json.dumps(report))
    assert set(outcomes) <= {"ok", "unavailable", "silent"}, report
    assert outcomes.count("ok") > 0, report
    assert peak - baseline < BUDGET + MARGIN, report
    # The health check is never held up by the budget (on a loaded 2-core
    # machine the bound is loose; the report above has the real figure).
    assert slowest < 2.0, report
    # Once the silent clients are gone, their shares are free again.
    with connect(server, bridge) as sock:
        sock.sendall(payload)
        assert read_outcome(sock, bridge) == "ok"


def test_grpc_batches_stay_within_the_budget(server: Served) -> None:
    pid = server.process.pid
    client = oxbridge.connect(f"grpc://{server.grpc[0]}", timeout=WAIT)
    a = np.ones(ELEMENTS, dtype=np.complex128)
    assert np.array_equal(client.mul_many(a, a), a * a)  # warm up
    baseline = rss(pid)

    def call(_: int) -> str:
        try:
            assert np.array_equal(client.mul_many(a, a), a * a)
        except oxbridge.ServerBusyError:
            return "unavailable"
        return "ok"

    # grpcio copies each request's bytes in this process: 64 calls at once.
    calls = min(CLIENTS, 64)
    with futures.ThreadPoolExecutor(calls) as pool:
        running = [pool.submit(call, i) for i in range(calls)]
        peak, _ = sample_while(lambda: not all(f.done() for f in running), pid, server, "http")
        outcomes = [f.result() for f in running]
    peak = max(peak, rss(pid))
    report = {"peak_mib": round(peak / MIB, 1), "baseline_mib": round(baseline / MIB, 1)}
    print("\nmemory: grpc", json.dumps(report), outcomes.count("ok"), "ok")
    assert outcomes.count("ok") > 0
    assert peak - baseline < BUDGET + MARGIN, report


def test_stalled_uploads_hold_up_neither_health_nor_calls(server: Served) -> None:
    """300 uploads that declare a body and never send it (more than the
    server takes at once): the health check and other calls still answer."""
    host, port = server.http[0].rsplit(":", 1)
    stalled = []
    try:
        for _ in range(300):
            sock = socket.create_connection((host, int(port)))
            sock.sendall(
                b"POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n"
            )
            stalled.append(sock)
        slowest = max(health_latency(server, "http") for _ in range(20))
        client = oxbridge.connect(server.url("http"), timeout=WAIT)
        assert client.add(1, 2) == 3
    finally:
        for sock in stalled:
            sock.close()
    print(f"\nslowest health check behind 300 stalled uploads: {slowest * 1000:.1f} ms")
    assert slowest < 1.0
