"""IPC batches in shared memory: the same answers as in process, results
that are never written over while the caller holds them, a socket fallback
on servers that take no region, and a server that refuses every region it
should not map (and survives the attempt).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import os
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import numpy as np
import oxbridge
import pytest
from oxbridge.bridges import _shared
from oxbridge.bridges._socket import Stream
from oxbridge.bridges.ipc import CATALOGUE

from .servers import Served, catalogue_reply, serving
from .test_metrics import scrape, value

WAIT = 30.0
HEADER = struct.Struct("<4sBBBBQQQ")
HEAD = struct.Struct("<H6xQQ")
REPLY = struct.Struct("<4sBxxxQ")
ATTACH, CALL, DETACH = 0, 1, 2
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
    piece = _shared.piece_most(32)  # two complex128 operands copied
    n = 5 * piece + 3
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
    assert piece <= _shared.PIECE_MOST
    assert calls == 6, f"{n} elements in {calls:g} pieces, not 6 of at most {piece}"


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


def region_size(result: np.ndarray) -> int:
    mm = region_of(result)
    assert mm is not None, "not a result in shared memory"
    return len(mm)


def pages(n: int) -> int:
    return -(-n // mmap.PAGESIZE) * mmap.PAGESIZE


def test_arrays_made_in_shared_memory_are_read_where_they_are(client: oxbridge.Client) -> None:
    """Operands from ``client.empty`` are not copied: the call's region holds
    its results alone."""
    a, b = operands()
    sa, sb = client.empty(N), client.empty(N)
    assert region_of(sa) is not None
    sa[:], sb[:] = a, b
    got = client.mul_many(sa, sb)
    assert same_bits(got, LOCAL.mul_many(a, b))
    assert region_size(got) == pages(16 * N), "the operands were copied"
    # A slice at an offset, and one operand in shared memory, one not.
    got = client.div_many(sa[7:], b[7:])
    assert same_bits(got, LOCAL.div_many(a[7:], b[7:]))
    assert region_size(got) < 3 * 16 * N
    # Written again, read again: nothing is cached.
    sa[:] = b
    assert same_bits(client.sub_many(sa, sb), LOCAL.sub_many(b, b))


def test_a_result_passed_back_is_read_where_it_is(client: oxbridge.Client) -> None:
    a, b = operands()
    first = client.mul_many(a, b)
    second = client.add_many(first, first[::-1].copy())
    assert same_bits(second, LOCAL.add_many(LOCAL.mul_many(a, b), LOCAL.mul_many(a, b)[::-1]))
    assert region_size(second) == pages(16 * N) + pages(16 * N), "one operand copied"
    third = client.mul_many(first, second)
    assert region_size(third) == pages(16 * N), "a held result was copied"
    assert same_bits(third, LOCAL.mul_many(first.copy(), second.copy()))


def test_many_held_results_stay_right_as_operands(client: oxbridge.Client) -> None:
    """More results held than a socket keeps attached: the oldest are
    detached from the server, and copied when passed back, still right."""
    a, b = operands(20_000)
    held = [client.mul_many(a, b + k) for k in range(_shared.KEEP_HELD + 4)]
    for k, result in enumerate(held):
        want = LOCAL.mul_many(a, b + k)
        assert same_bits(result, want)
        assert same_bits(client.add_many(result, result), LOCAL.add_many(want, want))
    del held
    assert same_bits(client.mul_many(a, b), LOCAL.mul_many(a, b))


def test_held_results_give_way_when_the_server_has_no_room(tmp_path: Path) -> None:
    """The server's limit holds for a connection's regions together: when
    the regions of held results fill it, the client detaches them to make
    room for the next call, which still runs in shared memory."""
    a, b = operands(20_000)  # a region of about 1 MB per call
    with (
        ipc_server(tmp_path, "--max-shared-bytes", str(2_500_000)) as s,
        oxbridge.connect(s.url("ipc"), timeout=WAIT) as c,
    ):
        held = [c.mul_many(a, b + k) for k in range(4)]
        for k, result in enumerate(held):
            assert region_of(result) is not None, f"call {k} left shared memory"
            assert same_bits(result, LOCAL.mul_many(a, b + k))
        again = c.add_many(held[0], held[3])
        assert region_of(again) is not None
        assert same_bits(again, LOCAL.add_many(held[0].copy(), held[3].copy()))


def test_threads_share_arrays_made_in_shared_memory(client: oxbridge.Client) -> None:
    """Each thread's socket passes the same region to the server."""
    a, b = operands(50_000)
    sa = client.empty(len(a))
    sa[:] = a

    def work(k: int) -> bool:
        expected = LOCAL.mul_many(a, b + k)
        return all(same_bits(client.mul_many(sa, b + k), expected) for _ in range(5))

    with futures.ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))


RING_WRAPS = (_shared.RING + 3) * _shared.piece_most(32) + 5  # the ring goes round twice


@pytest.mark.parametrize(
    ("n", "at"),
    [(N, N - 5), (RING_WRAPS, 5), (RING_WRAPS, RING_WRAPS // 2), (RING_WRAPS, RING_WRAPS - 1)],
    ids=["last-piece", "first-piece", "a-slot-used-again", "last-piece-of-many"],
)
def test_element_errors_name_their_index_and_the_connection_goes_on(
    client: oxbridge.Client, n: int, at: int
) -> None:
    a, b = operands(n)
    b[at] = 0
    with pytest.raises(oxbridge.OxbridgeZeroDivisionError, match=f"at index {at}$"):
        client.div_many(a, b)
    b[at] = 1
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
        # Having learnt that, the client makes ordinary arrays for operands.
        sa = c.empty(N)
        assert region_of(sa) is None
        sa[:] = a
        assert same_bits(c.mul_many(sa, b), LOCAL.mul_many(a, b))


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


def attach(sock: socket.socket, fds: list[int], number: int = 0) -> None:
    header = HEADER.pack(b"OXB\x03", ATTACH, 0, 0, 0, number, 0, 0)
    socket.send_fds(sock, [header], fds)
    for fd in fds:
        os.close(fd)


def call_message(
    heads: list[tuple[int, int, int]], out_at: int, name: bytes = b"mul", out_region: int = 0
) -> bytes:
    """Each head ``(flags | region << 8, count, at)``."""
    body = name + b"".join(HEAD.pack(*h) for h in heads)
    header = HEADER.pack(b"OXB\x03", CALL, len(name), len(heads), out_region, 0, len(body), out_at)
    return header + body


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


def complexes(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype=np.complex128).tobytes()


def test_a_call_reads_from_several_regions_and_writes_into_another(server: Served) -> None:
    a, b = operands(100)
    fds = [memfd(4096) for _ in range(3)]
    os.pwrite(fds[0], complexes(a), 0)
    os.pwrite(fds[1], complexes(b), 800)
    check = os.dup(fds[2])
    try:
        with connect(server) as sock:
            for number, fd in zip((1, 9, 255), fds, strict=True):
                attach(sock, [fd], number)
                assert reply(sock) == (0, number), "an attach is answered with its number"
            heads = [(1 << 8, 100, 0), (9 << 8, 100, 800)]
            sock.sendall(call_message(heads, 64, out_region=255))
            assert reply(sock) == (0, 100)
            got = np.frombuffer(os.pread(check, 1600, 64), dtype=np.complex128)
            assert same_bits(got, LOCAL.mul_many(a, b))
            # Region 9 detached: a call that names it is refused, and the
            # connection goes on.
            sock.sendall(HEADER.pack(b"OXB\x03", DETACH, 0, 0, 0, 9, 0, 0))
            assert reply(sock) == (0, 9)
            sock.sendall(call_message(heads, 64, out_region=255))
            status, doc = reply(sock)
            assert status == 1
            assert "outside the shared-memory regions it names" in doc["message"]
            sock.sendall(call_message([(1 << 8, 100, 0), (1 << 8, 100, 0)], 64, out_region=9))
            status, doc = reply(sock)
            assert status == 1
            assert "no shared-memory region 9" in doc["message"]
            # An id past one byte is refused, and so is one file twice.
            sock.sendall(HEADER.pack(b"OXB\x03", DETACH, 0, 0, 0, 256, 0, 0))
            status, doc = reply(sock)
            assert status == 1
            assert "0 to 255" in doc["message"]
            attach(sock, [os.dup(check)], 3)
            status, doc = reply(sock)
            assert status == 1
            assert "already attached as region 255" in doc["message"]
            sock.sendall(call_message([(1 << 8, 100, 0), (1 << 8, 100, 0)], 64, out_region=255))
            assert reply(sock) == (0, 100)
    finally:
        os.close(check)
    still_serves(server)


def test_a_server_with_one_region_is_refused_rather_than_misread() -> None:
    """A server from before numbered regions answers every attach with 0,
    having replaced its one region: a call naming two regions would read
    the wrong one, so the client takes that answer as a refusal."""
    left, right = socket.socketpair()
    with left, right:
        stream = Stream(left, WAIT)
        stream.deadline = time.monotonic() + WAIT
        right.sendall(REPLY.pack(b"OXB\x03", 0, 0))
        region = _shared.Region(4096)
        with pytest.raises(_shared.Refused) as refused:
            region.attach(stream, 3)
        assert isinstance(refused.value.error, oxbridge.ProtocolError)
        message, fds, _, _ = socket.recv_fds(right, HEADER.size, 1)
        for fd in fds:
            os.close(fd)
        assert (HEADER.unpack(message)[1], HEADER.unpack(message)[5]) == (ATTACH, 3)
        assert len(fds) == 1
        region.close()


def test_the_region_limit_holds_for_a_connections_regions_together(tmp_path: Path) -> None:
    with ipc_server(tmp_path, "--max-shared-bytes", "65536") as s:
        with connect(s) as sock:
            attach(sock, [memfd(40960)], 1)
            assert reply(sock) == (0, 1)
            attach(sock, [memfd(40960)], 2)
            status, doc = reply(sock)
            assert (status, doc["kind"]) == (1, "payload_too_large")
            # Replacing region 1 frees its room.
            attach(sock, [memfd(65536)], 1)
            assert reply(sock) == (0, 1)
        still_serves(s)


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


# --- a client against a broken shared-memory server ----------------------------------

#: The client's deadline against the fake servers.
FAKE_TIMEOUT = 2.0
#: A batch whose pieces go round the ring and more: the client waits for a
#: reply before it has sent every piece.
RING_AND_MORE = (_shared.RING + 2) * _shared.piece_most(32)


def fake_shared_server(where: Path, answer: Any) -> socket.socket:
    """A listener that takes every region (answering as a server does) and
    answers each call message with ``answer(call number)``: bytes to send,
    ``None`` for nothing, or ``...`` to close the connection."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(where))
    listener.listen()

    def serve(conn: socket.socket) -> None:
        calls = 0
        with conn:
            while True:
                if conn.recv(1, socket.MSG_PEEK) == b"{":
                    # A client's catalogue request, answered truly: the
                    # faults are in the shared-memory replies.
                    request = conn.recv(len(CATALOGUE), socket.MSG_WAITALL)
                    assert request == CATALOGUE, request
                    conn.sendall(catalogue_reply() + b"\n")
                    continue
                message, fds, _, _ = socket.recv_fds(conn, HEADER.size, 1, socket.MSG_WAITALL)
                for fd in fds:
                    os.close(fd)
                if len(message) < HEADER.size:
                    return  # the client left
                _, kind, _, _, _, offset, body, _ = HEADER.unpack(message)
                if kind != CALL:
                    conn.sendall(REPLY.pack(b"OXB\x03", 0, offset))
                    continue
                conn.recv(body, socket.MSG_WAITALL)
                got = answer(calls)
                calls += 1
                if got is ...:
                    return
                if got is not None:
                    conn.sendall(got)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # the test closed the listener
            conn.settimeout(FAKE_TIMEOUT + 10)
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    def serve_one(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the client gave up and left, as it should
            serve(conn)

    threading.Thread(target=accept, daemon=True).start()
    return listener


def ok(count: int) -> bytes:
    return REPLY.pack(b"OXB\x03", 0, count)


PIECE = -(-RING_AND_MORE // -(-RING_AND_MORE // _shared.piece_most(32)))

SHARED_FAKES: dict[str, tuple[Any, type[oxbridge.OxbridgeError], str]] = {
    "silent": (lambda k: None, oxbridge.BridgeTimeoutError, "no reply"),
    "closes": (lambda k: ..., oxbridge.TransportError, "broke"),
    "bad-magic": (lambda k: b"XXXX" + bytes(12), oxbridge.ProtocolError, "not a shared-memory"),
    "huge-error": (
        lambda k: REPLY.pack(b"OXB\x03", 1, 1 << 30),
        oxbridge.ProtocolError,
        "more than",
    ),
    "wrong-count": (lambda k: ok(PIECE + 1), oxbridge.ProtocolError, "results, expected"),
    "third-goes-silent": (
        lambda k: ok(PIECE) if k < 2 else None,
        oxbridge.BridgeTimeoutError,
        "no reply",
    ),
    "later-bad-magic": (
        lambda k: ok(PIECE) if k < _shared.RING else b"XXXX" + bytes(12),
        oxbridge.ProtocolError,
        "not a shared-memory",
    ),
}


@pytest.mark.parametrize("case", SHARED_FAKES, ids=list(SHARED_FAKES))
def test_a_batch_against_a_broken_shared_memory_server_fails_cleanly(
    tmp_path: Path, case: str
) -> None:
    """Every failure is an ``OxbridgeError`` within the deadline, also when
    the client is waiting for a slot of its ring."""
    answer, kind, words = SHARED_FAKES[case]
    a, b = operands(RING_AND_MORE)
    assert -(-RING_AND_MORE // PIECE) > _shared.RING
    with fake_shared_server(tmp_path / "fake.sock", answer):
        client = oxbridge.connect(f"unix://{tmp_path / 'fake.sock'}", timeout=FAKE_TIMEOUT)
        started = time.monotonic()
        with client, pytest.raises(oxbridge.OxbridgeError) as info:
            client.mul_many(a, b)
        elapsed = time.monotonic() - started
    assert type(info.value) is kind, info.value
    assert words in str(info.value)
    assert elapsed < FAKE_TIMEOUT + 1.5, f"the call took {elapsed:.1f} s"


class Tick(Exception):
    """What the test's timer raises."""


def test_a_signal_stops_a_batch_waiting_on_a_silent_server(tmp_path: Path) -> None:
    """The wait for a reply (without the GIL, in native code) lets Python's
    signal handlers run: Ctrl-C does not wait out the deadline."""
    a, b = operands(RING_AND_MORE)

    def tick(_signum: int, _frame: object) -> None:
        raise Tick

    with fake_shared_server(tmp_path / "fake.sock", lambda k: None):
        client = oxbridge.connect(f"unix://{tmp_path / 'fake.sock'}", timeout=WAIT)
        previous = signal.signal(signal.SIGALRM, tick)
        try:
            started = time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            with client, pytest.raises(Tick):
                client.mul_many(a, b)
            elapsed = time.monotonic() - started
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    assert elapsed < WAIT / 3, f"the signal waited {elapsed:.1f} s of a {WAIT:g} s deadline"


def test_a_slot_is_written_again_only_once_its_piece_is_answered(tmp_path: Path) -> None:
    """A slow server that reads each piece's operands from the ring only
    just before it answers still reads the right ones: the client never
    writes a slot over a piece the server has not answered."""
    maps: dict[int, np.ndarray] = {}
    pieces = []
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tmp_path / "slow.sock"))
    listener.listen()

    def serve() -> None:
        # The client checks the catalogue on a connection of its own first.
        greeting, _ = listener.accept()
        assert greeting.recv(len(CATALOGUE), socket.MSG_WAITALL) == CATALOGUE
        greeting.sendall(catalogue_reply() + b"\n")
        conn, _ = listener.accept()
        with conn, greeting:
            while True:
                message, fds, _, _ = socket.recv_fds(conn, HEADER.size, 1, socket.MSG_WAITALL)
                if len(message) < HEADER.size:
                    return
                _, kind, name_len, nargs, out_region, offset, body, out_at = HEADER.unpack(message)
                if kind == ATTACH:
                    size = os.fstat(fds[0]).st_size
                    maps[offset] = np.frombuffer(mmap.mmap(fds[0], size), dtype=np.uint8)
                    os.close(fds[0])
                    conn.sendall(REPLY.pack(b"OXB\x03", 0, offset))
                    continue
                assert kind == CALL
                heads = conn.recv(body, socket.MSG_WAITALL)[name_len:]
                time.sleep(0.002)  # the client copies on meanwhile, if it may
                operands = []
                for i in range(nargs):
                    flags_region, count, at = HEAD.unpack_from(heads, i * HEAD.size)
                    region = maps[flags_region >> 8]
                    operands.append(region[at : at + 16 * count].view(np.complex128))
                out = maps[out_region][out_at : out_at + 16 * count].view(np.complex128)
                np.add(operands[0], operands[1], out=out)  # exact: as the library adds
                pieces.append((offset, count))
                conn.sendall(REPLY.pack(b"OXB\x03", 0, count))

    server = futures.ThreadPoolExecutor(1).submit(serve)
    a, b = operands(RING_AND_MORE)
    with listener, oxbridge.connect(f"unix://{tmp_path / 'slow.sock'}", timeout=WAIT) as c:
        got = c.add_many(a, b)
    server.result(timeout=WAIT)
    assert len(pieces) > _shared.RING
    assert [start for start, _ in pieces] == sorted(start for start, _ in pieces)
    assert sum(count for _, count in pieces) == RING_AND_MORE
    assert same_bits(got, LOCAL.add_many(a, b))
