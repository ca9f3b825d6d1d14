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
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
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
#: The slowest health check allowed while the server is under that load:
#: the issue's 100 ms at full scale (run by hand, on a machine not loaded by
#: anything else); a bound for a loaded 2-core machine in `make test`.
HEALTH_MS = 100.0 if FULL else 2000.0
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


def health_latency(s: Served) -> float:
    started = time.monotonic()
    with connect(s, "http") as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    return time.monotonic() - started


def peak_while(busy: Callable[[], bool], pid: int) -> int:
    """Peak RSS while ``busy()``."""
    peak = rss(pid)
    while busy():
        peak = max(peak, rss(pid))
        time.sleep(0.02)
    return max(peak, rss(pid))


@contextmanager
def health_probe(s: Served) -> Iterator[dict[str, float]]:
    """Probes ``/healthz`` every 20 ms from another process (see
    ``health_probe``) for the duration; the dict gets its figures after."""
    probe = subprocess.Popen(
        [sys.executable, "-m", "tests.health_probe", s.http[0]],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    figures: dict[str, float] = {}
    try:
        yield figures
    finally:
        try:
            out, err = probe.communicate(b"stop", timeout=WAIT)
        finally:
            if probe.poll() is None:
                probe.kill()
                probe.wait()
    assert probe.returncode == 0, err.decode(errors="replace")
    figures.update(json.loads(out))


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

    # The clients run niced: on this machine they share the server's cores,
    # and hundreds of runnable client threads would otherwise starve the
    # server (and the prober) of CPU time, which no server can help; clients
    # elsewhere would not. The server and the prober keep normal priority.
    clients = futures.ThreadPoolExecutor(CLIENTS, initializer=os.nice, initargs=(10,))
    with health_probe(server) as health, clients as pool:
        running = [pool.submit(client, i) for i in range(CLIENTS)]
        peak = peak_while(lambda: not all(f.done() for f in running), pid)
        outcomes = [f.result() for f in running]
    for sock in silent:
        sock.close()
    report = {
        "bridge": bridge,
        "budget_mib": BUDGET // MIB,
        "baseline_mib": round(baseline / MIB, 1),
        "peak_mib": round(peak / MIB, 1),
        "health": health,
        "outcomes": {o: outcomes.count(o) for o in set(outcomes)},
    }
    print("\nmemory:", json.dumps(report))
    assert set(outcomes) <= {"ok", "unavailable", "silent"}, report
    assert outcomes.count("ok") > 0, report
    assert peak - baseline < BUDGET + MARGIN, report
    assert health["slowest_ms"] < HEALTH_MS, report
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
    with health_probe(server) as health, futures.ThreadPoolExecutor(calls) as pool:
        running = [pool.submit(call, i) for i in range(calls)]
        peak = peak_while(lambda: not all(f.done() for f in running), pid)
        outcomes = [f.result() for f in running]
    report = {
        "peak_mib": round(peak / MIB, 1),
        "baseline_mib": round(baseline / MIB, 1),
        "health": health,
        "ok": outcomes.count("ok"),
    }
    print("\nmemory: grpc", json.dumps(report))
    assert outcomes.count("ok") > 0
    assert peak - baseline < BUDGET + MARGIN, report
    assert health["slowest_ms"] < HEALTH_MS, report


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
        slowest = max(health_latency(server) for _ in range(20))
        client = oxbridge.connect(server.url("http"), timeout=WAIT)
        assert client.add(1, 2) == 3
    finally:
        for sock in stalled:
            sock.close()
    print(f"\nslowest health check behind 300 stalled uploads: {slowest * 1000:.1f} ms")
    assert slowest < 1.0


class StalledGrpcBatches:
    """One HTTP/2 connection that opens ``streams`` large Batch calls with a
    receive window of zero, so the server can never send a byte of a reply,
    and otherwise behaves: it answers the server's pings, for ever."""

    def __init__(self, s: Served, streams: int) -> None:
        from h2.config import H2Configuration  # noqa: PLC0415 - a test-only dependency
        from h2.connection import H2Connection  # noqa: PLC0415 - a test-only dependency
        from h2.settings import SettingCodes  # noqa: PLC0415 - a test-only dependency
        from oxbridge._proto import calculator_pb2  # noqa: PLC0415 - the wire format

        operand = bytes(16 * ((LIMIT - 4096) // 32))
        message = calculator_pb2.BatchRequest(op=calculator_pb2.MUL, a=operand, b=operand)
        encoded = message.SerializeToString()
        body = memoryview(b"\x00" + struct.pack(">I", len(encoded)) + encoded)
        host, port = s.grpc[0].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.settimeout(WAIT)
        self.conn = H2Connection(H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.conn.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        headers = [
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", s.grpc[0]),
            (":path", "/oxbridge.v1.Calculator/Batch"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ]
        #: Streams the server ended or reset, and whether it closed the connection.
        self.ended: set[int] = set()
        self.closed = False
        pending = {}
        for _ in range(streams):
            stream = self.conn.get_next_available_stream_id()
            self.conn.send_headers(stream, headers)
            pending[stream] = body
        self.flush()
        while pending:
            for stream, unsent in list(pending.items()):
                rest = unsent
                while rest and stream not in self.ended:
                    window = self.conn.local_flow_control_window(stream)
                    room = min(window, self.conn.max_outbound_frame_size)
                    if room <= 0:
                        break
                    self.conn.send_data(stream, rest[:room].tobytes())
                    rest = rest[room:]
                if stream in self.ended:
                    del pending[stream]
                elif not rest:
                    self.conn.end_stream(stream)
                    del pending[stream]
                else:
                    pending[stream] = rest
                self.flush()
            if pending:
                self.receive()
                assert not self.closed, "the server closed the connection mid-request"
        self.sock.settimeout(None)
        self.reader = threading.Thread(target=self.keep_reading, daemon=True)
        self.reader.start()

    def flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

    def receive(self) -> None:
        import h2.events  # noqa: PLC0415 - a test-only dependency

        data = self.sock.recv(1 << 20)
        if not data:
            self.closed = True
            return
        for event in self.conn.receive_data(data):
            if isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                self.ended.add(event.stream_id)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.closed = True
        self.flush()  # the acknowledgements of the server's pings

    def keep_reading(self) -> None:
        try:
            while not self.closed:
                self.receive()
        except OSError:
            self.closed = True

    def close(self) -> None:
        self.sock.close()


def test_a_grpc_connection_that_never_opens_its_window_holds_neither_memory_nor_the_budget(
    server: Served,
) -> None:
    """100 Batch calls on one HTTP/2 connection whose receive window stays
    zero (it answers pings, so keep-alive does not end it): the server's
    memory stays within the budget, the connection holds only its part of
    the budget so another client's large call still runs, and the replies
    that make no progress are given up within the idle timeout."""
    pid = server.process.pid
    client = oxbridge.connect(server.url("grpc"), timeout=WAIT)
    a = np.ones(ELEMENTS, dtype=np.complex128)
    assert np.array_equal(client.mul_many(a, a), a * a)  # warm up
    baseline = rss(pid)
    streams = 100
    with health_probe(server) as health:
        stalled = StalledGrpcBatches(server, streams)
        try:
            peak = rss(pid)
            held = streams - len(stalled.ended)
            assert held > 0, "the server refused every call: nothing was tested"
            started = time.monotonic()
            assert np.array_equal(client.mul_many(a, a), a * a)
            other_call = time.monotonic() - started
            deadline = started + 3 * IDLE + WAIT
            peak = peak_while(
                lambda: (
                    not (stalled.closed or len(stalled.ended) == streams)
                    and time.monotonic() < deadline
                ),
                pid,
            )
            given_up = time.monotonic() - started
            assert given_up < 3 * IDLE, f"{streams - len(stalled.ended)} replies still held"
        finally:
            stalled.close()
    report = {
        "held_streams": held,
        "peak_mib": round(peak / MIB, 1),
        "baseline_mib": round(baseline / MIB, 1),
        "other_call_s": round(other_call, 2),
        "given_up_after_s": round(given_up, 1),
        "health": health,
    }
    print("\nmemory: grpc zero window", json.dumps(report))
    assert peak - baseline < BUDGET + MARGIN, report
    assert health["slowest_ms"] < HEALTH_MS, report
    # With the stalled replies gone, their shares are free: as many large
    # requests at once as the whole budget holds all run.
    client.close()
    payload = request_bytes(server, "http")

    def large(_: int) -> str:
        with connect(server, "http") as sock:
            sock.sendall(payload)
            return read_outcome(sock, "http")

    at_once = BUDGET // (2 * len(payload))
    with futures.ThreadPoolExecutor(at_once) as pool:
        assert list(pool.map(large, range(at_once))) == ["ok"] * at_once
