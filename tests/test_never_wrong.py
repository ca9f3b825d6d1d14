"""Never a wrong answer: clients shared by threads, interrupted mid-call, and
pointed at broken or hostile servers.

Each client case runs against a real server (threads, interrupts) or a fake
one on loopback or a Unix socket that misbehaves in one precise way. Every
call must give the exact answer or raise an :class:`oxbridge.OxbridgeError`
within its deadline, with bounded memory.
"""

from __future__ import annotations

import random
import signal
import socket
import statistics
import struct
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import oxbridge
import pytest

from . import blocking
from .servers import Served, ephemeral, grpc_catalogue_reply, serving

NETWORK = ["ipc", "http", "grpc"]
#: A bound on any wait in this file, far above what a healthy run needs.
WAIT = 30.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(*ephemeral(tmp_path_factory.mktemp("never-wrong"))) as s:
        yield s


# --- threads -------------------------------------------------------------------------


@pytest.fixture
def switch_often() -> Iterator[None]:
    """Threads switch every microsecond, not every 5 ms: a call's steps interleave."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.usefixtures("switch_often")
@pytest.mark.parametrize("bridge", oxbridge.BRIDGES)
def test_eight_threads_share_one_client_without_a_wrong_answer(server: Served, bridge: str) -> None:
    if bridge in NETWORK:
        client = oxbridge.connect(server.url(bridge), timeout=WAIT)
    else:
        client = oxbridge.connect(bridge)
    calls = 400
    wrong: list[object] = []
    a = np.arange(1000, dtype=np.complex128) + 1j

    def work(thread: int) -> int:
        done = 0
        for i in range(calls):
            x = complex(thread * calls + i, -i)
            try:
                if i % 50 == 0:
                    got: Any = client.mul_many(a, x)
                    ok = bool(np.array_equal(got, a * x))
                elif i % 7 == 0:
                    got = client.greet(f"t{thread}", str(i))
                    ok = got == f"t{thread}, {i}"
                else:
                    got = client.add(x, 0)
                    ok = got == x
            except Exception as e:  # every failure must be ours; none is expected here
                wrong.append(e)
                continue
            if not ok:
                wrong.append((x, got))
            done += 1
        return done

    with futures.ThreadPoolExecutor(8) as pool:
        done = sum(pool.map(work, range(8)))
    assert wrong == [], wrong[:5]
    assert done == 8 * calls


# --- interrupts ----------------------------------------------------------------------


@pytest.mark.parametrize("bridge", ["pyo3", "ctypes", "cffi"])
def test_a_signal_handlers_call_in_the_middle_never_changes_the_answer(bridge: str) -> None:
    """A handler that runs between a call's steps and calls the same client
    (the in-process fast paths reuse buffers) leaves both answers exact."""
    client = oxbridge.connect(bridge)
    wrong: list[object] = []
    handled = 0

    def handler(signum: int, frame: object) -> None:
        nonlocal handled
        x = complex(handled, 7)
        if client.add(x, 1j) != x + 1j:
            wrong.append(("handler", x))
        handled += 1

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 1e-4, 1e-4)
    try:
        i = 0
        deadline = time.monotonic() + WAIT
        while (handled < 200 or i < 20_000) and time.monotonic() < deadline:
            x = complex(i, -i)
            got = client.add(x, 2.5)
            if got != x + 2.5:
                wrong.append((x, got))
            i += 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert wrong == [], wrong[:5]
    assert handled >= 200


class Tick(Exception):
    """What the test's timer raises in the middle of calls."""


def timer_span(client: Any, url: str, call: Callable[[Any], object]) -> float:
    """The range of a test's timer for ``call``: twice its time as measured
    here and now, so that some calls complete and some are cut, on a fast
    machine or a loaded one alike.

    A call cut short drops its socket (and an IPC batch its shared region),
    so the call after it starts cold: the range covers a cold call too, or
    every call after the first cut would be cut in turn.
    """

    def median_time(once: Callable[[], object]) -> float:
        times = []
        for _ in range(9):
            started = time.perf_counter()
            once()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    def cold() -> object:
        with oxbridge.connect(url, timeout=WAIT) as fresh:
            return call(fresh)

    return 2 * max(median_time(lambda: call(client)), median_time(cold))


# A tick may also land in a garbage-collector callback, which reports and
# drops it: expected, and harmless to the call it interrupted.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("bridge", NETWORK)
def test_an_interrupted_call_never_affects_the_next(server: Served, bridge: str) -> None:
    """A one-shot timer per call raises at a random point inside it (or just
    after): every call that completes must still be exactly right."""
    client = oxbridge.connect(server.url(bridge), timeout=WAIT)
    a = np.arange(20_000, dtype=np.complex128) - 3j
    rng = random.Random(14)

    def tick(_signum: int, _frame: object) -> None:
        raise Tick

    url = server.url(bridge)
    scalar_span = timer_span(client, url, lambda c: c.add(1, 0))
    batch_span = timer_span(client, url, lambda c: c.add_many(a, 1))
    completed, interrupted, wrong = 0, 0, []
    previous = signal.signal(signal.SIGALRM, tick)
    try:
        for i in range(1, 3001):
            x = complex(i, 0)
            batch = i % 10 == 0
            try:
                try:
                    limit = batch_span if batch else scalar_span
                    signal.setitimer(signal.ITIMER_REAL, rng.uniform(1e-6, limit))
                    got: Any = client.add_many(a, x) if batch else client.add(x, 0)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                # Checked once the timer is off: numpy's array_equal turns an
                # exception raised inside it into False.
                ok = bool(np.array_equal(got, a + x)) if batch else got == x
            except Tick:
                interrupted += 1
                continue
            completed += 1
            if not ok:
                wrong.append(i)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert wrong == [], f"{len(wrong)} wrong of {completed} completed calls"
    assert interrupted > 0, "the timer never interrupted a call: the test tested nothing"
    assert completed > 0, "no call ever completed: the test tested nothing"
    # ... and the client is as good as new.
    assert client.add(10, 0) == 10
    assert np.array_equal(client.add_many(a, 1), a + 1)


# --- fake servers --------------------------------------------------------------------

TIMEOUT = 2.0
Behaviour = Callable[[socket.socket], None]


def drip(reply: bytes) -> Behaviour:
    def act(conn: socket.socket) -> None:
        for byte in reply:
            conn.sendall(bytes([byte]))
            time.sleep(0.2)

    return act


def endless(chunk: bytes) -> Behaviour:
    def act(conn: socket.socket) -> None:
        block = chunk * (65536 // len(chunk))
        end = time.monotonic() + TIMEOUT + 5
        while time.monotonic() < end:
            conn.sendall(block)

    return act


def send(reply: bytes) -> Behaviour:
    def act(conn: socket.socket) -> None:
        conn.sendall(reply)
        conn.recv(1)  # keep the connection open until the client leaves

    return act


def silent(conn: socket.socket) -> None:
    """Read whatever the client sends, answer nothing, until it leaves."""
    while conn.recv(65536):
        pass


def reply_frame(status: int, length: int, payload: bytes = b"") -> bytes:
    return struct.pack("<4sBxxxQ", b"OXB\x02", status, length) + payload


def http_reply(head: str, body: bytes = b"") -> bytes:
    return f"HTTP/1.1 {head}\r\n\r\n".encode() + body


IPC_FAKES: dict[str, tuple[str, Behaviour]] = {
    "drip": ("add", drip(b'{"result":[1.0,2.0]}\n')),
    "endless-line": ("add", endless(b"x")),
    "malformed-json": ("add", send(b"{not json}\n")),
    "not-utf8": ("add", send(b'{"result":["\xff",1]}\n')),
    "wrong-shape": ("add", send(b'{"result":"x"}\n')),
    "bool-parts": ("add", send(b'{"result":[true,false]}\n')),
    "missing-result": ("add", send(b'{"other":1}\n')),
    "not-an-object": ("add", send(b"[1,2]\n")),
    "two-replies": ("add", send(b'{"result":[1,2]}\n{"result":[3,4]}\n')),
    "bad-error": ("add", send(b'{"error":5}\n')),
    "message-not-text": ("greet", send(b'{"message":5}\n')),
    "closes": ("add", lambda conn: None),
    "batch-huge-count": ("batch", send(reply_frame(0, 1 << 40))),
    "batch-wrong-count": ("batch", send(reply_frame(0, 1, b"\x00" * 16))),
    "batch-huge-error": ("batch", send(reply_frame(1, 1 << 30))),
    "batch-bad-magic": ("batch", send(b"XXXX" + b"\x00" * 12)),
    "batch-drip": ("batch", drip(reply_frame(0, 4) + b"\x00" * 64)),
}

HTTP_FAKES: dict[str, tuple[str, Behaviour]] = {
    "drip-head": ("add", drip(http_reply("200 OK\r\nContent-Length: 17", b'{"result":[1,2]}'))),
    "endless-head": ("add", endless(b"X-Pad: y\r\n")),
    "endless-body": ("add", endless(b"x")),
    "huge-length": ("add", send(http_reply("200 OK\r\nContent-Length: 99999999999"))),
    "bad-length": ("add", send(http_reply("200 OK\r\nContent-Length: ten"))),
    "no-framing": ("add", send(http_reply("200 OK", b'{"result":[1,2]}'))),
    "not-http": ("add", send(b"SSH-2.0-OpenSSH\r\n\r\n")),
    "malformed-json": ("add", send(http_reply("200 OK\r\nContent-Length: 9", b"{not json"))),
    "wrong-shape": ("add", send(http_reply("200 OK\r\nContent-Length: 14", b'{"result":"x"}'))),
    "bad-chunk": ("add", send(http_reply("200 OK\r\nTransfer-Encoding: chunked", b"zz\r\n"))),
    "huge-chunk": (
        "add",
        send(http_reply("200 OK\r\nTransfer-Encoding: chunked", b"fffffffffff\r\n")),
    ),
    "error-not-a-problem": ("add", send(http_reply("500 Oops\r\nContent-Length: 4", b"oops"))),
    "batch-huge-error": ("batch", send(http_reply("422 No\r\nContent-Length: 999999999"))),
    "batch-wrong-length": ("batch", send(http_reply("200 OK\r\nContent-Length: 32", b"\x00" * 32))),
}


def fake_server(family: str, where: Path, behaviour: Behaviour) -> tuple[socket.socket, str]:
    """A listener that reads each request's first bytes, then does ``behaviour``."""
    if family == "unix":
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(where))
        url = f"unix://{where}"
    else:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # the test closed the listener
            with conn:
                conn.settimeout(TIMEOUT + 10)
                try:
                    conn.recv(65536)
                    behaviour(conn)
                except OSError:
                    pass  # the client gave up and left, as it should

    threading.Thread(target=serve, daemon=True).start()
    return listener, url


def call_of(client: oxbridge.Client, what: str) -> Callable[[], object]:
    if what == "greet":
        return lambda: client.greet("a", "b")
    if what == "batch":
        return lambda: client.mul_many(np.ones(4, dtype=np.complex128), 2)
    return lambda: client.add(1, 2)


#: Each broken server is met by the sync client and by the asyncio one.
CONNECTS: dict[str, Callable[..., Any]] = {"sync": oxbridge.connect, "aio": blocking.connect}


def assert_fails_cleanly(url: str, what: str, flavour: str) -> oxbridge.OxbridgeError:
    client = CONNECTS[flavour](url, timeout=TIMEOUT)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(oxbridge.OxbridgeError) as info:
            call_of(client, what)()
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        client.close()
    assert elapsed < TIMEOUT + 1.5, f"the call took {elapsed:.1f} s with a {TIMEOUT} s deadline"
    assert peak < 200 << 20, f"the client held {peak >> 20} MiB"
    assert str(info.value)
    return info.value


@pytest.mark.parametrize("flavour", CONNECTS)
@pytest.mark.parametrize("case", IPC_FAKES, ids=list(IPC_FAKES))
def test_ipc_client_against_a_broken_server(tmp_path: Path, case: str, flavour: str) -> None:
    what, behaviour = IPC_FAKES[case]
    listener, url = fake_server("unix", tmp_path / "fake.sock", behaviour)
    with listener:
        assert_fails_cleanly(url, what, flavour)


@pytest.mark.parametrize("flavour", CONNECTS)
@pytest.mark.parametrize("case", HTTP_FAKES, ids=list(HTTP_FAKES))
def test_http_client_against_a_broken_server(case: str, flavour: str) -> None:
    what, behaviour = HTTP_FAKES[case]
    listener, url = fake_server("tcp", Path(), behaviour)
    with listener:
        assert_fails_cleanly(url, what, flavour)


def gateway_page(status: int) -> Behaviour:
    """What nginx answers when no server behind it did: its own HTML page."""
    page = f"<html><body><h1>{status} Bad Gateway</h1></body></html>".encode()
    head = f"HTTP/1.1 {status} Bad Gateway\r\nContent-Type: text/html\r\n"
    return lambda conn: conn.sendall(f"{head}Content-Length: {len(page)}\r\n\r\n".encode() + page)


@pytest.mark.parametrize("flavour", CONNECTS)
@pytest.mark.parametrize("what", ["add", "batch"])
@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_proxys_own_error_page_is_a_broken_link(what: str, status: int, flavour: str) -> None:
    listener, url = fake_server("tcp", Path(), gateway_page(status))
    with listener:
        error = assert_fails_cleanly(url, what, flavour)
    assert type(error) is oxbridge.TransportError, error
    assert f"no server answered behind the proxy at {url}" in str(error)
    assert f"HTTP {status}" in str(error)


# gRPC: a real grpcio server whose handlers answer with the wrong messages.
GRPC_FAKES: dict[str, tuple[str, str, bytes]] = {
    "empty-reply": ("add", "Add", b""),
    "missing-imaginary": ("add", "Add", b"\x0a\x09\x09" + struct.pack("<d", 5.0)),
    "not-protobuf": ("add", "Add", b"\xff\xff\xff"),
    "batch-one-for-four": ("batch", "MulMany", b"\x0a\x10" + b"\x00" * 16),
    "batch-past-the-end": ("batch", "MulMany", b"\x0a\x40" + b"\x00" * 16),
    "batch-not-protobuf": ("batch", "MulMany", b"\xff\xff\xff"),
}


@pytest.mark.parametrize("flavour", CONNECTS)
@pytest.mark.parametrize("case", GRPC_FAKES, ids=list(GRPC_FAKES))
def test_grpc_client_against_a_broken_server(case: str, flavour: str) -> None:
    what, method, reply = GRPC_FAKES[case]
    answered = threading.Event()

    def answer(_request: bytes, _context: grpc.ServicerContext) -> bytes:
        answered.set()
        return reply

    handler = grpc.method_handlers_generic_handler(
        "calculator.v1.Functions", {method: grpc.unary_unary_rpc_method_handler(answer)}
    )
    # The catalogue is the true one: the fault is in the method's reply.
    catalogue = grpc.method_handlers_generic_handler(
        "oxbridge.Catalogue",
        {"Get": grpc.unary_unary_rpc_method_handler(lambda _r, _c: grpc_catalogue_reply())},
    )
    fake = grpc.server(futures.ThreadPoolExecutor(2), handlers=[handler, catalogue])
    port = fake.add_insecure_port("127.0.0.1:0")
    fake.start()
    try:
        error = assert_fails_cleanly(f"grpc://127.0.0.1:{port}", what, flavour)
    finally:
        fake.stop(None)
    assert answered.is_set(), "the fake's method was never called: the test tested nothing"
    assert type(error) is oxbridge.ProtocolError, repr(error)
    assert f"bad reply from grpc://127.0.0.1:{port}" in str(error)


# --- one error per condition ---------------------------------------------------------


@pytest.mark.parametrize("bridge", NETWORK)
def test_no_server_is_a_transport_error_at_once(tmp_path: Path, bridge: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    url = {
        "ipc": f"unix://{tmp_path}/none.sock",
        "http": f"http://127.0.0.1:{port}",
        "grpc": f"grpc://127.0.0.1:{port}",
    }[bridge]
    client = oxbridge.connect(url, timeout=10)
    started = time.monotonic()
    with pytest.raises(oxbridge.TransportError) as info:
        client.add(1, 1)
    assert type(info.value) is oxbridge.TransportError
    assert time.monotonic() - started < 3, "a refused connection is not worth the whole deadline"


def test_over_the_limit_is_the_same_error_on_every_bridge(tmp_path: Path) -> None:
    limit = 1 << 20
    with serving(*ephemeral(tmp_path), "--max-request-bytes", str(limit)) as s:
        for bridge in NETWORK:
            client = oxbridge.connect(s.url(bridge), timeout=WAIT)
            with pytest.raises(oxbridge.PayloadTooLargeError) as info:
                client.greet("x" * (2 * limit), "y")
            assert str(info.value) == f"request is larger than the server's limit of {limit} bytes"
            assert client.greet("still", "served") == "still, served"
            # A batch is split to fit the server's limit, whatever it is.
            a = np.arange(100_000, dtype=np.complex128) + 1j
            assert np.array_equal(client.mul_many(a, a), a * a)
