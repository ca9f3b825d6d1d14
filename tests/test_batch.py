"""Batches on every bridge: the shared batch vectors, zero copies, big arrays."""

from __future__ import annotations

import operator
import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import oxbridge
import pytest
from oxbridge import _frames, _native

from .servers import serving
from .vectors import assert_raises_like, decode, load

CASES = load("batch")
#: In process, the reference every bridge's answer is compared with.
LOCAL = oxbridge.connect("pyo3")
SCALAR_OPS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
}


def elementwise(op: str, a: Any, b: Any) -> Any:
    """CPython's own scalar operator, element by element: the definition."""
    fn = SCALAR_OPS[op.removesuffix("_many")]
    scalar = isinstance(b, complex | int | float)
    bs = [b] * len(a) if scalar else np.asarray(b, dtype=np.complex128).tolist()
    return np.array([fn(x, y) for x, y in zip(a.tolist(), bs, strict=True)], dtype=np.complex128)


def same_bits(x: Any, y: Any) -> bool:
    """Bitwise equality, every NaN folded to one (as for scalars)."""
    fx, fy = x.view(np.float64).copy(), y.view(np.float64).copy()
    fx[np.isnan(fx)] = np.nan
    fy[np.isnan(fy)] = np.nan
    return bool(x.shape == y.shape and np.array_equal(fx.view(np.uint64), fy.view(np.uint64)))


def expected(case: dict[str, Any]) -> Any:
    return decode(case["expect"]) if case["expect"] else np.array([], np.complex128)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bridge_passes_batch_vector(client: oxbridge.Client, case: dict[str, Any]) -> None:
    a, b = decode(case["a"]), decode(case["b"])
    call = getattr(client, case["op"])
    if "error" in case:
        assert_raises_like(case["error"], call, a, b)
        return
    got = call(a, b)
    assert got.dtype == np.complex128
    if case["expect"] == "elementwise":
        assert same_bits(got, elementwise(case["op"], np.asarray(a, dtype=np.complex128), b))
    else:
        assert same_bits(got, expected(case))


@pytest.mark.parametrize(
    "case", [c for c in CASES if isinstance(c.get("expect"), list)], ids=lambda c: c["id"]
)
def test_batch_vector_matches_cpython(case: dict[str, Any]) -> None:
    a, b = np.asarray(decode(case["a"]), dtype=np.complex128), decode(case["b"])
    assert same_bits(elementwise(case["op"], a, b), expected(case))


def test_numpy_is_not_the_reference_cpython_is() -> None:
    # numpy's complex multiply may fuse or reorder and need not match Python;
    # oxbridge promises Python's answer, element by element.
    a = decode({"ramp": 1000, "scale": 0.37})
    b = decode({"ramp": 1000, "scale": -2.5})
    assert same_bits(oxbridge.connect("pyo3").mul_many(a, b), elementwise("mul", a, b))


@pytest.mark.parametrize("n", [0, 1, 5000])
def test_read_only_and_empty_operands_give_the_in_process_answer(
    client: oxbridge.Client, n: int
) -> None:
    """Operands numpy will not let anyone write (bytes seen as an array, a
    view marked read-only) are taken as they are, on every bridge; sizes on
    both sides of where ctypes starts releasing the GIL."""
    rng = np.random.default_rng(n)
    values = rng.normal(size=n) + 1j * rng.normal(size=n)
    a = np.frombuffer(values.tobytes(), dtype=np.complex128)
    b = (values[::-1] + 0.5).copy()
    b.flags.writeable = False
    assert not a.flags.writeable
    assert not b.flags.writeable
    want = LOCAL.mul_many(values, values[::-1] + 0.5)
    assert same_bits(client.mul_many(a, b), want)
    assert same_bits(client.mul_many(b, a), LOCAL.mul_many(b.copy(), a.copy()))
    assert same_bits(client.add_many(a, 2j), LOCAL.add_many(values, 2j))


@pytest.mark.parametrize("n", [0, 3, 100_003])
def test_arrays_from_empty_are_operands_like_any_other(client: oxbridge.Client, n: int) -> None:
    """``client.empty`` gives ``n`` writable elements of the dtype asked
    for on every bridge (in shared memory on IPC); filled and passed whole,
    as a view or as an offset slice, they give the in-process answer."""
    rng = np.random.default_rng(n)
    values = rng.normal(size=n) + 1j * rng.normal(size=n)
    a = client.empty(n)
    assert (a.shape, a.dtype, a.flags.writeable) == ((n,), np.dtype(np.complex128), True)
    a[:] = values
    reals = client.empty(n, np.float64)
    assert reals.dtype == np.float64
    reals[:] = values.real
    assert same_bits(client.mul_many(a, a), LOCAL.mul_many(values, values))
    assert same_bits(client.add_many(a[1:], 2j), LOCAL.add_many(values[1:], 2j))
    assert same_bits(client.abs_many(a), LOCAL.abs_many(values))
    assert same_bits(client.sub_many(values, a), LOCAL.sub_many(values, values))
    assert same_bits(client.mul_many(reals, a), LOCAL.mul_many(values.real, values))


@pytest.mark.parametrize("bridge", ["pyo3", "ctypes", "cffi"])
def test_in_process_batches_allocate_only_the_output(bridge: str) -> None:
    import tracemalloc  # noqa: PLC0415 - deliberately local

    n = 1_000_000
    a = np.arange(n, dtype=np.complex128)
    b = np.ones(n, dtype=np.complex128)
    client = oxbridge.connect(bridge)
    client.mul_many(a[:10], b[:10])  # warm up imports and caches
    tracemalloc.start()
    out = client.mul_many(a, b)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # numpy reports its buffers to tracemalloc: a copy of an input would show.
    assert out.nbytes <= peak <= 1.2 * out.nbytes


@pytest.mark.parametrize("bridge", ["ipc", "http", "grpc"])
def test_arrays_larger_than_one_request_cross_the_wire(bridge: str) -> None:
    n = 2_500_000  # 40 MB per operand: more than twice the 16 MiB request limit
    a = decode({"ramp": n, "scale": 0.37})
    b = decode({"ramp": n, "scale": -1.25})
    want = oxbridge.connect("pyo3").div_many(a, b)
    assert same_bits(oxbridge.connect(bridge).div_many(a, b), want)


def test_frames_sent_concurrently_raise_the_first_frames_error() -> None:
    """From two threads, frame 3 fails before frame 1 does: frame 1's error
    is still the one raised, as one frame after another would raise it."""
    size = _frames.FrameSize()
    size.elements = 10
    third_failed = threading.Event()

    def send(start: int, stop: int, parts: list[Any]) -> None:
        assert len(parts[0]) == stop - start
        if start == 30:
            third_failed.set()
            raise oxbridge.OxbridgeZeroDivisionError("frame 3")
        if start == 10:
            assert third_failed.wait(30), "frame 3 never ran alongside frame 1"
            raise oxbridge.OxbridgeZeroDivisionError("frame 1")

    a = np.zeros(45, dtype=np.complex128)
    with pytest.raises(oxbridge.OxbridgeZeroDivisionError, match="frame 1"):
        _frames.each_frame([a, 1j], 45, size, send, workers=2)


def test_frames_sent_concurrently_shrink_when_the_server_refuses_them() -> None:
    size = _frames.FrameSize()
    size.elements = 16
    sent: list[tuple[int, int]] = []
    lock = threading.Lock()

    def send(start: int, stop: int, _parts: list[Any]) -> None:
        if stop - start > 5:
            raise oxbridge.PayloadTooLargeError("over the limit")
        with lock:
            sent.append((start, stop))

    _frames.each_frame([np.zeros(50, dtype=np.complex128), 1j], 50, size, send, workers=2)
    # A frame accepted before the refusal is sent again: every call is pure.
    assert sorted(set(sent)) == [(s, min(s + 4, 50)) for s in range(0, 50, 4)]
    assert size.elements == 4


def connections_to(port: int) -> int:
    """This process's established TCP connections to ``port`` on loopback."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            mine.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # closed since it was listed
            continue
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port, state, inode = int(fields[2].rsplit(":", 1)[1], 16), fields[3], fields[9]
            established = state == "01"
            count += established and remote_port == port and f"socket:[{inode}]" in mine
    return count


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts sockets in /proc")
def test_a_grpc_batch_of_several_frames_crosses_two_connections() -> None:
    # As HTTP's: while one frame's bytes cross one connection, another
    # thread moves the other's over the second (each on a runtime of its own).
    with serving("--no-http", "--no-ipc", "--grpc", "127.0.0.1:0") as s:
        port = int(s.grpc[0].rsplit(":", 1)[1])
        with oxbridge.connect(s.url("grpc"), timeout=30) as client:
            assert client.add(1, 2j) == 1 + 2j
            small = decode({"ramp": 1000, "scale": 0.5})
            want = oxbridge.connect("pyo3").mul_many(small, 2j)
            for _ in range(3):
                assert same_bits(client.mul_many(small, 2j), want)
            assert connections_to(port) == 1, "batches of one frame opened a second connection"
            n = 3 * _frames.FrameSize().elements + 7
            a = decode({"ramp": n, "scale": 0.37})
            b = decode({"ramp": n, "scale": -1.25})
            assert same_bits(client.div_many(a, b), oxbridge.connect("pyo3").div_many(a, b))
            assert connections_to(port) == 2
            assert client.add(3, 4j) == 3 + 4j


def test_a_grpc_channel_on_a_lane_that_does_not_exist_is_refused() -> None:
    words = r"^no gRPC client lane 2: there are 2$"
    with pytest.raises(oxbridge.InvalidArgumentError, match=words):
        _native.GrpcChannel([("127.0.0.1", 1)], "127.0.0.1:1", lane=2)
