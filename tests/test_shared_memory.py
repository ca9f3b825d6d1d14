"""IPC batches in shared memory: the same answers as in process, results
that are never written over while the caller holds them, a socket fallback
on servers that take no region, and a server that refuses every region it
should not map (and survives the attempt).
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import signal
import socket
import struct
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import numpy as np
import oxbridge
import pytest
from oxbridge.bridges import _shared

from .servers import Served, serving
from .test_metrics import scrape, value

WAIT = 30.0
HEADER = struct.Struct("<4sBBBxQQQ")
HEAD = struct.Struct("<B7xQQ")
REPLY = struct.Struct("<4sBxxxQ")
ATTACH, CALL = 0, 1
N = 100_003  # not a multiple of the pieces a batch is cut into

pytestmark = pytest.mark.skipif(not _shared.available(), reason="shared memory needs Linux")


def ipc_server(tmp: Path, *args: str) -> Any:
    return serving("--no-http", "--no-grpc", "--unix", str(tmp / "ox.sock"), *args)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with ipc_server(tmp_path_factory.mktemp("shm")) as s:
        yield s


@pytest.fixture
def client(server: Served) -> Iterator[oxbridge.Client]:
    with oxbridge.connect(server.url("ipc"), timeout=WAIT) as c:
        yield c


def region_of(result: np.ndarray) -> mmap.mmap | None:
    """The shared region a result lives in, if it does (see ``_shared``)."""
    owner = result.base
    buffer = owner.base if isinstance(owner, np.ndarray) else None
    mm = buffer.obj if isinstance(buffer, memoryview) else None
    return mm if isinstance(mm, mmap.mmap) else None


def operands(n: int = N, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n) + 1j * rng.normal(size=n)
    b = rng.normal(size=n) + 1j * rng.normal(size=n)
    return a, b


def same_bits(x: np.ndarray, y: np.ndarray) -> bool:
    return x.dtype == y.dtype and x.tobytes() == y.tobytes()


#: In process: what every bridge must give bit for bit (numpy's own complex
#: arithmetic may round differently from Python's).
LOCAL = oxbridge.connect("pyo3")


@pytest.mark.parametrize("n", [3000, 4097, N])
def test_large_batches_match_in_process_bit_for_bit(client: oxbridge.Client, n: int) -> None:
    a, b = operands(n)
    for name, args in [
        ("mul_many", (a, b)),
        ("div_many", (a, b)),
        ("add_many", (a, 2.5 - 1j)),  # one value for every element
        ("pow_many", (a, b)),
        ("abs_many", (a,)),  # a float64 result
    ]:
        got = getattr(client, name)(*args)
        assert region_of(got) is not None, f"{name} did not go through shared memory"
        assert same_bits(got, getattr(LOCAL, name)(*args)), name


def test_a_large_batch_goes_in_pieces_the_server_computes_on_one_core(tmp_path: Path) -> None:
    # Each piece below the server's parallel threshold, so that the server
    # computes on one core while the client copies the next piece.
    n = 5 * _shared.PIECE_MOST + 3
    a, b = operands(n)
    with ipc_server(tmp_path, "--metrics", "127.0.0.1:0") as s:
        assert s.metrics is not None
        with oxbridge.connect(s.url("ipc"), timeout=WAIT) as c:
            got = c.mul_many(a, b)
        samples = scrape(s.metrics)
    calls = value(samples, "oxbridge_calls_total", bridge="ipc", function="batch", outcome="ok")
    assert region_of(got) is not None
    assert same_bits(got, LOCAL.mul_many(a, b))
    assert _shared.PIECE_MOST == oxbridge._native.PARALLEL_THRESHOLD
    assert calls == 6, f"{n} elements in {calls:g} pieces, not 6 of at most {_shared.PIECE_MOST}"


def test_small_batches_stay_on_the_socket(client: oxbridge.Client) -> None:
    a, b = operands(100)
    got = client.mul_many(a, b)
    assert region_of(got) is None
    assert same_bits(got, LOCAL.mul_many(a, b))


def test_a_held_result_is_never_written_over(client: oxbridge.Client) -> None:
    a, b = operands()
    first = client.mul_many(a, b)
    view = first[1::3]  # only a view of it is kept
    region = region_of(first)
    del first
    second = client.mul_many(a, 3.0)
    third = client.add_many(b, 1.0)
    assert region_of(second) is not region, "a region still lent out was written over"
    assert same_bits(view, LOCAL.mul_many(a, b)[1::3])
    assert same_bits(second, LOCAL.mul_many(a, 3.0))
    assert same_bits(third, LOCAL.add_many(b, 1.0))


def test_a_region_is_reused_once_its_result_is_dropped(client: oxbridge.Client) -> None:
    a, b = operands()
    region = region_of(client.mul_many(a, b))
    assert region is not None
    again = client.sub_many(a, b)
    assert region_of(again) is region, "the free region was not reused"
    assert same_bits(again, LOCAL.sub_many(a, b))


def test_element_errors_name_their_index_and_the_connection_goes_on(
    client: oxbridge.Client,
) -> None:
    a, b = operands()
    b[N - 5] = 0  # in the last piece
    with pytest.raises(oxbridge.OxbridgeZeroDivisionError, match=f"at index {N - 5}$"):
        client.div_many(a, b)
    b[N - 5] = 1
    assert same_bits(client.div_many(a, b), LOCAL.div_many(a, b))


def test_threads_sharing_a_client_each_get_their_own_answers(client: oxbridge.Client) -> None:
    def work(seed: int) -> bool:
        a, b = operands(50_000, seed)
        expected = LOCAL.mul_many(a, b)
        return all(same_bits(client.mul_many(a, b), expected) for _ in range(5))

    with futures.ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))


def test_a_server_without_shared_memory_answers_over_the_socket(tmp_path: Path) -> None:
    a, b = operands()
    with (
        ipc_server(tmp_path, "--max-shared-bytes", "0") as s,
        oxbridge.connect(s.url("ipc"), timeout=WAIT) as c,
    ):
        for _ in range(2):
            got = c.mul_many(a, b)
            assert region_of(got) is None
            assert same_bits(got, LOCAL.mul_many(a, b))


def test_a_batch_over_the_servers_region_limit_crosses_the_socket(tmp_path: Path) -> None:
    limit = 1 << 20
    with (
        ipc_server(tmp_path, "--max-shared-bytes", str(limit)) as s,
        oxbridge.connect(s.url("ipc"), timeout=WAIT) as c,
    ):
        big, small = operands(30_000), operands(10_000)  # 1.4 MB and 480 kB
        got = c.mul_many(*big)
        assert region_of(got) is None
        assert same_bits(got, LOCAL.mul_many(*big))
        got = c.mul_many(*small)
        assert region_of(got) is not None
        assert same_bits(got, LOCAL.mul_many(*small))


# --- a hostile client: raw messages -------------------------------------------------


def memfd(size: int, seals: int = fcntl.F_SEAL_SHRINK) -> int:
    fd = os.memfd_create("test", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, size)
    if seals:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
    return fd


def a_socket() -> int:
    left, right = socket.socketpair()
    with left, right:
        return os.dup(left.fileno())


def connect(server: Served) -> socket.socket:
    assert server.unix is not None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(WAIT)
    sock.connect(server.unix)
    return sock


def attach(sock: socket.socket, fds: list[int]) -> None:
    header = HEADER.pack(b"OXB\x03", ATTACH, 0, 0, 0, 0, 0)
    socket.send_fds(sock, [header], fds)
    for fd in fds:
        os.close(fd)


def call_message(heads: list[tuple[int, int, int]], out_at: int, name: bytes = b"mul") -> bytes:
    body = name + b"".join(HEAD.pack(*h) for h in heads)
    return HEADER.pack(b"OXB\x03", CALL, len(name), len(heads), 0, len(body), out_at) + body


def reply(sock: socket.socket) -> tuple[int, Any]:
    """``(0, count)`` or ``(1, error document)``; ``(-1, None)`` if closed."""
    head = sock.recv(REPLY.size, socket.MSG_WAITALL)
    if not head:
        return -1, None
    magic, status, length = REPLY.unpack(head)
    assert magic == b"OXB\x03"
    if status == 0:
        return 0, length
    return 1, json.loads(sock.recv(length, socket.MSG_WAITALL))


def still_serves(server: Served) -> None:
    with oxbridge.connect(server.url("ipc"), timeout=WAIT) as c:
        a, b = operands()
        assert same_bits(c.mul_many(a, b), LOCAL.mul_many(a, b))
        assert c.add(1, 2j) == 1 + 2j


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: [memfd(4096, seals=0)], "F_SEAL_SHRINK"),
        (lambda: [memfd(4096, seals=fcntl.F_SEAL_GROW)], "F_SEAL_SHRINK"),
        (lambda: [memfd(0)], "empty"),
        (lambda: [memfd(4096, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_WRITE)], "read-write"),
        (lambda: [a_socket()], "not a memfd"),
        (lambda: [], "must carry the region's descriptor"),
    ],
    ids=["unsealed", "sealed-but-shrinkable", "empty", "write-sealed", "a-socket", "no-fd"],
)
def test_unusable_regions_are_refused(server: Served, make: Any, message: str) -> None:
    with connect(server) as sock:
        attach(sock, make())
        status, doc = reply(sock)
        assert status == 1
        assert doc["kind"] == "bad_request"
        assert message in doc["message"]
    still_serves(server)


def test_a_region_over_the_limit_is_refused_as_too_large(tmp_path: Path) -> None:
    with ipc_server(tmp_path, "--max-shared-bytes", "65536") as s:
        with connect(s) as sock:
            attach(sock, [memfd(65536 + 4096)])
            status, doc = reply(sock)
            assert (status, doc["kind"]) == (1, "payload_too_large")
        still_serves(s)


def test_two_descriptors_at_once_end_the_connection(server: Served) -> None:
    with connect(server) as sock:
        attach(sock, [memfd(4096), memfd(4096)])
        status, doc = reply(sock)
        assert status == 1
        assert "descriptor" in doc["message"]
        assert reply(sock) == (-1, None)
    still_serves(server)


def test_calls_outside_the_region_or_onto_their_operands_are_refused(server: Served) -> None:
    size = 1 << 16
    with connect(server) as sock:
        attach(sock, [memfd(size)])
        assert reply(sock) == (0, 0)
        cases = [
            ([(0, 100, 0), (0, 100, 1600)], size - 100),  # results past the end
            ([(0, 100, size - 16), (0, 100, 0)], 8000),  # an operand past the end
            ([(0, 100, 0), (0, 100, 1600)], 1000),  # results over an operand
            ([(0, 1 << 62, 0), (0, 1 << 62, 0)], 0),  # sizes that overflow
        ]
        for heads, out_at in cases:
            sock.sendall(call_message(heads, out_at))
            status, doc = reply(sock)
            assert status == 1, (heads, out_at)
            assert doc["kind"] == "bad_request"
            assert "outside the shared-memory region" in doc["message"]
        # The connection is still in step: a good call on it is answered.
        sock.sendall(call_message([(0, 100, 0), (0, 100, 1600)], 3200))
        assert reply(sock) == (0, 100)
    still_serves(server)


def test_a_call_before_any_region_is_refused(server: Served) -> None:
    with connect(server) as sock:
        sock.sendall(call_message([(0, 1, 0), (0, 1, 16)], 32))
        status, doc = reply(sock)
        assert status == 1
        assert "attach one first" in doc["message"]
    still_serves(server)


def test_a_shared_frame_on_an_ordinary_connection_is_refused(server: Served) -> None:
    """A version-3 message that does not open its connection is an error."""
    with connect(server) as sock:
        sock.sendall(b'{"command":"health"}')
        assert b"serving" in sock.recv(4096)
        sock.sendall(call_message([(0, 1, 0), (0, 1, 16)], 32))
        status, doc = reply(sock)
        assert status == 1
        assert "only served on an IPC connection" in doc["message"]
    still_serves(server)


def test_the_clients_regions_cannot_shrink_under_the_server() -> None:
    """What keeps the server safe from SIGBUS: the client seals its region."""
    region = _shared.Region(1 << 16)
    try:
        with pytest.raises(PermissionError):
            os.ftruncate(region.fd, 0)
    finally:
        region.close()


def test_a_client_that_never_reads_its_replies_is_dropped(tmp_path: Path) -> None:
    """A shared-memory connection is served on a thread of its own, which
    must not wait forever on a client that stops reading: it gives up after
    the idle timeout, and the server goes on."""
    calls = 5000  # far more replies than the socket buffers hold
    with ipc_server(tmp_path, "--idle-timeout", "1") as s, connect(s) as sock:
        attach(sock, [memfd(4096)])
        assert reply(sock) == (0, 0)
        # The client reads nothing until its last message is sent: it is
        # still sending when the server, unable to write, gives up on it.
        with pytest.raises(BrokenPipeError):
            sock.sendall(call_message([(0, 1, 0), (0, 1, 16)], 32) * calls)
        answered = 0
        while True:
            try:
                got = reply(sock)
            except ConnectionResetError:  # closed with our messages unread
                break
            if got == (-1, None):
                break
            assert got == (0, 1)
            answered += 1
        assert answered < calls, "the server never gave up on the client"
        still_serves(s)


def test_the_server_stops_at_once_with_an_idle_shared_memory_connection(tmp_path: Path) -> None:
    """Shutdown wakes a shared-memory connection's thread: the server does
    not wait out the idle timeout."""
    with ipc_server(tmp_path, "--idle-timeout", "3600") as s, connect(s) as sock:
        attach(sock, [memfd(4096)])
        assert reply(sock) == (0, 0)
        s.process.send_signal(signal.SIGTERM)
        assert s.process.wait(timeout=WAIT) == 0
        assert reply(sock) == (-1, None)
