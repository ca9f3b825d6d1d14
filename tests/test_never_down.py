"""Never down, never elsewhere: what a hostile or unlucky local client did to
the server and the clients, each now a test.

- Shared-memory regions are bounded per connection and across the server
  (mappings and bytes, inside the memory budget): the attacks that ran the
  server out of mappings or far past its budget leave it alive and within
  it.
- A batch of several frames interrupted by a signal handler's exception
  propagates that exception at once and leaves the client usable.
- The clients read the server's own environment variables.
- A bridge call in process leaves the C ``errno`` as it found it.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import oxbridge
import pytest
from oxbridge.bridges import _shared
from oxbridge.errors import TransportError, UnknownBridgeError

from .servers import Served, ephemeral, serving
from .test_memory import rss
from .test_shared_memory import attach, connect, ipc_server, memfd, reply, still_serves

MiB = 1 << 20

needs_shm = pytest.mark.skipif(not _shared.available(), reason="shared memory needs Linux")


def alive(server: Served) -> None:
    assert server.process.poll() is None, server.process.communicate()[1].decode()[-2000:]


# --- 1. mappings: per connection and across the server ----------------------------------


@needs_shm
def test_a_connection_attaches_at_most_32_regions(tmp_path: Path) -> None:
    with ipc_server(tmp_path) as s, connect(s) as sock:
        for number in range(32):
            attach(sock, [memfd(4096)], number)
            assert reply(sock) == (0, number)
        attach(sock, [memfd(4096)], 32)
        status, doc = reply(sock)
        assert (status, doc["kind"]) == (1, "unavailable"), doc
        assert "32 shared-memory regions attached" in doc["message"]
        # Replacing one of its regions is still allowed.
        attach(sock, [memfd(8192)], 5)
        assert reply(sock) == (0, 5)
        still_serves(s)


@needs_shm
def test_a_flood_of_one_page_regions_leaves_the_server_alive(tmp_path: Path) -> None:
    # The attack that aborted the server: 252 connections each attaching 256
    # one-page regions, 64,512 mappings against the kernel's 65,530.
    conns, per = 252, 256
    with ipc_server(tmp_path) as s:
        socks = [connect(s) for _ in range(conns)]
        attached = refused = 0
        try:
            for sock in socks:
                for number in range(per):
                    attach(sock, [memfd(4096)], number)
                    status, doc = reply(sock)
                    if status == 0:
                        attached += 1
                    else:
                        assert doc["kind"] == "unavailable", doc
                        assert doc["message"].startswith("server busy: "), doc
                        refused += 1
            alive(s)
            maps = len(Path(f"/proc/{s.process.pid}/maps").read_text().splitlines())
            # Every call still answers, while the regions stay attached.
            still_serves(s)
            with oxbridge.connect(s.url("ipc"), timeout=30) as c:
                assert c.pow(2, 10) == 1024
        finally:
            for sock in socks:
                sock.close()
        print(f"\nflood: {attached} attached, {refused} refused, {maps} mappings, server alive")
        assert attached == 4096, (attached, refused)
        assert attached + refused == conns * per
        assert maps < 16_384, f"{maps} mappings"
        alive(s)


# --- 2. shared memory inside the memory budget -------------------------------------------


@needs_shm
def test_untouched_large_regions_stay_within_the_budget(tmp_path: Path) -> None:
    budget = 512 * MiB
    with ipc_server(tmp_path, "--memory-budget", str(budget)) as s:
        idle = rss(s.process.pid)
        socks = [connect(s) for _ in range(12)]
        try:
            outcomes = []
            for sock in socks:
                attach(sock, [memfd(256 * MiB)], 1)
                status, doc = reply(sock)
                outcomes.append(status if status == 0 else doc["kind"])
            peak = rss(s.process.pid)
            alive(s)
            # Batches still answer, over the socket where no region fits.
            still_serves(s)
        finally:
            for sock in socks:
                sock.close()
        print(f"\n12 x 256 MiB: {outcomes}, peak {peak / MiB:.0f} MiB (idle {idle / MiB:.0f})")
        assert outcomes.count(0) == 1, outcomes
        assert outcomes.count("unavailable") == 11, outcomes
        assert peak <= budget + 128 * MiB, f"{peak / MiB:.0f} MiB (idle {idle / MiB:.0f})"


@needs_shm
def test_regions_given_back_make_room_again(tmp_path: Path) -> None:
    with ipc_server(tmp_path, "--memory-budget", str(64 * MiB)) as s:
        with connect(s) as sock:
            attach(sock, [memfd(32 * MiB)], 1)
            assert reply(sock) == (0, 1)
            with connect(s) as other:
                attach(other, [memfd(4 * MiB)], 1)
                status, doc = reply(other)
                assert (status, doc["kind"]) == (1, "unavailable"), doc
        # The first connection is gone and its region with it.
        deadline = time.monotonic() + 30
        while True:
            with connect(s) as sock:
                attach(sock, [memfd(32 * MiB)], 1)
                status, _ = reply(sock)
            if status == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status == 0


def test_the_server_gives_memory_back_after_a_load_on_every_bridge(tmp_path: Path) -> None:
    import numpy as np  # noqa: PLC0415

    budget = 512 * MiB
    with serving(*ephemeral(tmp_path), "--memory-budget", str(budget)) as s:
        pid = s.process.pid
        clients = {b: oxbridge.connect(s.url(b), timeout=60) for b in ("ipc", "http", "grpc")}
        for c in clients.values():
            assert c.add(1, 2j) == 1 + 2j
        idle = rss(pid)
        n = 2_500_000
        a = np.arange(n, dtype=np.complex128)
        want = a * a

        def load(bridge: str) -> str:
            try:
                got = clients[bridge].mul_many(a, a)
            except oxbridge.ServerBusyError:
                return "busy"
            assert np.array_equal(got, want)
            return "ok"

        peak = idle
        with futures.ThreadPoolExecutor(24) as pool:
            running = [pool.submit(load, b) for b in ["ipc", "http", "grpc"] * 16]
            while not all(f.done() for f in running):
                peak = max(peak, rss(pid))
                time.sleep(0.02)
        outcomes = [f.result() for f in running]
        alive(s)
        for c in clients.values():
            c.close()
        # Bounded: the server trims once its budget has been quiet a second.
        deadline = time.monotonic() + 30
        while (now := rss(pid)) > idle + 64 * MiB and time.monotonic() < deadline:
            time.sleep(0.1)
        report = f"idle {idle / MiB:.0f} MiB, peak {peak / MiB:.0f}, after {now / MiB:.0f}"
        print("\nmemory after a load:", report)
        assert outcomes.count("ok") > 0, outcomes
        assert now <= idle + 64 * MiB, report
        assert peak <= budget + 128 * MiB + idle, report


@needs_shm
def test_a_busy_refusal_sends_one_batch_on_the_socket_and_the_next_tries_again(
    tmp_path: Path,
) -> None:
    import numpy as np  # noqa: PLC0415

    from .test_shared_memory import region_of  # noqa: PLC0415

    n = 1_000_000  # a region of ~20 MiB: the ring and the results
    a = np.arange(n, dtype=np.complex128)
    # Regions may hold half of a 48 MiB budget: one such region, not two.
    with (
        ipc_server(tmp_path, "--memory-budget", str(48 * MiB)) as s,
        oxbridge.connect(s.url("ipc"), timeout=30) as first,
        oxbridge.connect(s.url("ipc"), timeout=30) as second,
    ):
        held = first.mul_many(a, a)  # its region stays attached while held
        assert region_of(held) is not None
        crossed = second.mul_many(a, a)
        assert region_of(crossed) is None, "a busy server took a second region"
        assert np.array_equal(crossed, held)
        del held
        first.close()
        # The first client's region goes with its connection; the second
        # client's next batch is in shared memory again.
        deadline = time.monotonic() + 30
        while region_of(got := second.mul_many(a, a)) is None:
            assert time.monotonic() < deadline, "shared memory never came back"
            time.sleep(0.05)
        assert np.array_equal(got, a * a)


# --- 3. an interrupted batch of several frames --------------------------------------------

INTERRUPTED = """
import signal, sys, time
import numpy as np
import oxbridge

url, rounds = sys.argv[1], int(sys.argv[2])
client = oxbridge.connect(url, timeout=3)
local = oxbridge.connect("pyo3")
rng = np.random.default_rng(1)
n = 700_000
a = rng.normal(size=n) + 1j * rng.normal(size=n)
b = rng.normal(size=n) + 1j * rng.normal(size=n)
want = local.mul_many(a, b)

class Alarm(Exception):
    pass

armed = False

def on_alarm(signum, frame):
    if armed:
        raise Alarm

signal.signal(signal.SIGALRM, on_alarm)
interrupted = slowest = 0.0
for i in range(rounds):
    started = time.monotonic()
    try:
        armed = True
        signal.setitimer(signal.ITIMER_REAL, 0.0002 + (i % 50) * 0.001)
        got = client.mul_many(a, b)
        armed = False
        assert got.tobytes() == want.tobytes(), "a wrong answer"
    except Alarm:
        interrupted += 1
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
    slowest = max(slowest, time.monotonic() - started)
assert slowest < 3.5, f"a call took {slowest:.2f} s, past its 3 s deadline"
assert client.mul_many(a, b).tobytes() == want.tobytes()
assert client.add(1, 2j) == 1 + 2j
print(f"ok {int(interrupted)} interrupted of {rounds}, slowest {slowest:.3f} s", flush=True)
"""


@pytest.mark.parametrize("bridge", ["http", "grpc"])
def test_a_signal_interrupts_a_batch_of_frames_and_the_client_goes_on(
    tmp_path: Path, bridge: str
) -> None:
    with serving(*ephemeral(tmp_path)) as s:
        done = subprocess.run(
            [sys.executable, "-c", INTERRUPTED, s.url(bridge), "100"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok "), done.stdout
    interrupted = int(done.stdout.split()[1])
    assert interrupted > 0, done.stdout


# --- 4. one list of environment variables ---------------------------------------------------


def test_the_clients_read_the_servers_variables() -> None:
    from pystd import LIBRARY as PYSTD  # noqa: PLC0415

    for library, prefix in ((oxbridge.CALCULATOR, "OXBRIDGE"), (PYSTD, "PYSTD")):
        env = library.native.serve_environment(library.env_prefix)
        assert env["unix"] == library.env("unix") == f"{prefix}_UNIX"
        assert env["http"] == library.env("http") == f"{prefix}_HTTP"
        assert env["token"] == library.env("token") == f"{prefix}_TOKEN"
        help_text = library.native.parse_serve_args("serve", library.env_prefix, ["--help"])[1]
        for option, variable in env.items():
            assert f"[env: {variable}" in help_text, (option, variable)


CONNECT = """
import sys, oxbridge
client = oxbridge.connect("ipc", timeout=5)
print(client.path, flush=True)
print(client.add(1, 2j), flush=True)
"""


def run_client(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OXBRIDGE_")}
    return subprocess.run(
        [sys.executable, "-c", CONNECT],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_documented_socket_variable_reaches_its_server(tmp_path: Path) -> None:
    with serving(*ephemeral(tmp_path)) as s:
        assert s.unix is not None
        done = run_client({"OXBRIDGE_UNIX": s.unix})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [s.unix, "(1+2j)"]


def test_a_socket_variable_naming_no_server_is_an_error_not_another_server(
    tmp_path: Path,
) -> None:
    done = run_client({"OXBRIDGE_UNIX": str(tmp_path / "nobody.sock")})
    assert done.returncode != 0
    assert TransportError.__name__ in done.stderr, done.stderr
    assert "nobody.sock" in done.stderr


def test_the_undocumented_ipc_variable_is_refused_not_ignored(tmp_path: Path) -> None:
    done = run_client({"OXBRIDGE_IPC": str(tmp_path / "ox.sock")})
    assert done.returncode != 0
    assert UnknownBridgeError.__name__ in done.stderr, done.stderr
    assert "$OXBRIDGE_UNIX" in done.stderr


# --- 5. one error per condition, on every bridge ---------------------------------------

#: ``(condition, call, class, message)``: what every bridge raises for it.
CONDITIONS = [
    ("missing argument", lambda c: c.add(1), "ArgumentTypeError",
     "add() missing required argument 'b'"),
    ("missing argument, another by keyword", lambda c: c.add(b=2), "ArgumentTypeError",
     "add() missing required argument 'a'"),
    ("no argument at all", lambda c: c.abs(), "ArgumentTypeError",
     "abs() missing required argument 'z'"),
    ("missing text argument", lambda c: c.greet(), "ArgumentTypeError",
     "greet() missing required argument 'greeting'"),
    ("too many arguments", lambda c: c.add(1, 2, 3), "ArgumentTypeError",
     "add() takes 2 positional arguments but 3 were given"),
    ("too many text arguments", lambda c: c.greet("a", "b", "c"), "ArgumentTypeError",
     "greet() takes 2 positional arguments but 3 were given"),
    ("too many, one parameter", lambda c: c.abs(1, 2), "ArgumentTypeError",
     "abs() takes 1 positional arguments but 2 were given"),
]  # fmt: skip


@pytest.mark.parametrize("condition", CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_one_error_per_condition_on_every_bridge(
    client: oxbridge.Client, condition: tuple[str, object, str, str]
) -> None:
    _, call, kind, message = condition
    with pytest.raises(oxbridge.OxbridgeError) as raised:
        call(client)  # type: ignore[operator]
    assert (type(raised.value).__name__, str(raised.value)) == (kind, message)


def test_an_unknown_batch_function_is_not_found_on_every_network_bridge(tmp_path: Path) -> None:
    import dataclasses  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    unknown = dataclasses.replace(oxbridge.CALCULATOR.functions["mul"], name="nosuch")
    a = np.ones(1000, dtype=np.complex128)
    with serving(*ephemeral(tmp_path)) as s:
        for bridge in ("ipc", "http", "grpc"):
            with oxbridge.connect(s.url(bridge), timeout=30) as c:
                with pytest.raises(oxbridge.NotFoundError) as raised:
                    c._fill(unknown, [a, a], np.empty_like(a))
                assert "nosuch" in str(raised.value).lower(), (bridge, raised.value)


def test_the_grpc_client_leaves_a_requests_size_to_the_servers_limit(tmp_path: Path) -> None:
    (tmp_path / "small").mkdir()
    with (
        serving(*ephemeral(tmp_path), "--max-request-bytes", str(128 * MiB)) as big,
        serving(*ephemeral(tmp_path / "small")) as small,
    ):
        # 70 MiB: over the client's own 64 MiB reply limit, under this server's.
        name = "x" * (70 * MiB)
        with oxbridge.connect(big.url("grpc"), timeout=60) as c:
            with pytest.raises(oxbridge.ProtocolError) as raised:
                c.greet("Hello", name)
            assert str(raised.value) == (
                f"bad reply from {big.url('grpc')}: the reply is larger than {64 * MiB} bytes"
            )
            assert c.greet("Hello", "x" * (40 * MiB)) == "Hello, " + "x" * (40 * MiB)
        with oxbridge.connect(small.url("grpc"), timeout=60) as c:
            with pytest.raises(oxbridge.PayloadTooLargeError) as too_large:
                c.greet("Hello", "x" * (20 * MiB))
            assert f"the server's limit of {16 * MiB} bytes" in str(too_large.value)


def test_a_bytes_argument_is_measured_as_itself_on_every_bridge(tmp_path: Path) -> None:
    # bytes travel as base64 in JSON (a third larger): the limit is the
    # argument's, so IPC and HTTP take what gRPC takes, and refuse what it
    # refuses, with the same error, also when the server stops reading.
    import zlib  # noqa: PLC0415

    import pystd  # noqa: PLC0415

    limit = 16 * MiB
    fits, too_large = b"\x01" * (12 * MiB), b"\x02" * (64 * MiB)
    with serving(*ephemeral(tmp_path), package="pystd") as s:
        for bridge in ("ipc", "http", "grpc"):
            with pystd.connect(s.url(bridge), timeout=60) as c:
                assert c.crc32(fits) == zlib.crc32(fits), bridge
                with pytest.raises(oxbridge.PayloadTooLargeError) as raised:
                    c.crc32(too_large)
                assert str(raised.value) == (
                    f"request is larger than the server's limit of {limit} bytes"
                ), bridge
                assert c.crc32(b"still") == zlib.crc32(b"still"), bridge


# --- 6. errno left as it was ---------------------------------------------------------------


@pytest.mark.parametrize("bridge", ["pyo3", "ctypes", "cffi"])
def test_an_overflowing_call_leaves_errno_as_it_was(bridge: str) -> None:
    client = oxbridge.connect(bridge)
    with pytest.raises(oxbridge.OxbridgeError):
        client.pow(1e300 + 0j, 2 + 0j)
    # CPython's complex abs of a NaN reads errno, which it does not clear:
    # a stale ERANGE left by the call made it raise OverflowError.
    for _ in range(3):
        assert math.isnan(abs(complex(math.nan, 1)))
        client.add(1, 2)
    assert math.isnan(abs(complex(math.nan, 1)))


# --- 5. a broken gRPC peer is the same error as a broken IPC or HTTP one -------------------

#: How each fake gRPC server answers a call: raw HTTP/2 (the ``h2`` package),
#: since no gRPC library sends replies this broken.
Answer = Callable[[Any, int], None]


def h2_fake(answer: Answer) -> tuple[socket.socket, str]:
    """A listener speaking HTTP/2 that answers every request with ``answer(conn, stream)``."""
    import h2.config  # noqa: PLC0415
    import h2.connection  # noqa: PLC0415
    import h2.events  # noqa: PLC0415
    import h2.exceptions  # noqa: PLC0415

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve_one(sock: socket.socket) -> None:
        # The client gives up on the broken peer and leaves, as it should.
        with contextlib.suppress(OSError, h2.exceptions.H2Error):
            answer_all(sock)

    def answer_all(sock: socket.socket) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        with sock:
            sock.settimeout(15)
            while data := sock.recv(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.StreamEnded):
                        answer(conn, event.stream_id)
                    if isinstance(event, h2.events.ConnectionTerminated):
                        return
                sock.sendall(conn.data_to_send())
                if conn.state_machine.state == h2.connection.ConnectionState.CLOSED:
                    return

    def serve() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return  # the test closed the listener
            threading.Thread(target=serve_one, args=(sock,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener, f"grpc://127.0.0.1:{listener.getsockname()[1]}"


ADD_REPLY = (
    bytes([0x0A, 0x12, 0x09]) + struct.pack("<d", 1.0) + bytes([0x11]) + struct.pack("<d", 2.0)
)


def grpc_message(payload: bytes, flag: int = 0) -> bytes:
    return bytes([flag]) + len(payload).to_bytes(4, "big") + payload


def reply_with(*bodies: bytes) -> Answer:
    def answer(conn: Any, stream: int) -> None:
        conn.send_headers(stream, [(":status", "200"), ("content-type", "application/grpc")])
        for body in bodies:
            conn.send_data(stream, body)
        conn.send_headers(stream, [("grpc-status", "0")], end_stream=True)

    return answer


def goaway(conn: Any, _stream: int) -> None:
    conn.close_connection()


GRPC_BROKEN: dict[str, tuple[Answer, type[oxbridge.OxbridgeError], str]] = {
    "two messages to one call": (
        reply_with(grpc_message(ADD_REPLY), grpc_message(ADD_REPLY)),
        oxbridge.ProtocolError,
        "more than one reply to one request",
    ),
    "a compressed message without an encoding": (
        reply_with(grpc_message(ADD_REPLY, flag=1)),
        oxbridge.ProtocolError,
        "compressed-flag",
    ),
    "a message cut short": (
        reply_with(grpc_message(ADD_REPLY)[:-4]),
        oxbridge.ProtocolError,
        "Missing response message",
    ),
    "GOAWAY to every call": (goaway, oxbridge.TransportError, "unavailable"),
}


@pytest.mark.parametrize("case", GRPC_BROKEN, ids=list(GRPC_BROKEN))
def test_a_broken_grpc_peer_fails_as_a_broken_ipc_or_http_one(case: str) -> None:
    answer, kind, words = GRPC_BROKEN[case]
    listener, url = h2_fake(answer)
    timeout = 10.0
    with listener, oxbridge.connect(url, timeout=timeout) as c:
        started = time.monotonic()
        with pytest.raises(oxbridge.OxbridgeError) as raised:
            c.add(1, 2)
        elapsed = time.monotonic() - started
    assert type(raised.value) is kind, repr(raised.value)
    assert words in str(raised.value), str(raised.value)
    if kind is oxbridge.ProtocolError:
        assert str(raised.value).startswith(f"bad reply from {url}: ")
    # As IPC and HTTP: at once, not after the call's whole deadline.
    assert elapsed < timeout / 2, f"{elapsed:.1f} s"
