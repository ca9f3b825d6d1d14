"""``oxbridge.aio``: the shared vectors through each asyncio client, one event
loop driving a thousand concurrent calls, cancellation, timeouts, restarts."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import oxbridge
import oxbridge.aio
import pytest

from . import blocking
from .servers import free_port, serving
from .test_batch import test_bridge_passes_batch_vector
from .test_never_wrong import fake_server, silent
from .test_vectors import test_bridge_passes_vector

# The shared vectors, collected here again: with this module's `client`, they
# run through every asyncio client.
__all__ = ["test_bridge_passes_batch_vector", "test_bridge_passes_vector"]

AIO = list(oxbridge.aio.BRIDGES)


@pytest.fixture(params=AIO, scope="module")
def client(request: pytest.FixtureRequest) -> Iterator[blocking.Blocking]:
    c = blocking.connect(request.param)
    yield c
    c.close()


@pytest.mark.parametrize("bridge", AIO)
def test_one_event_loop_drives_a_thousand_concurrent_calls(bridge: str) -> None:
    xs = [complex(i, -i / 3) for i in range(1000)]
    arrays = [np.arange(i, i + 100, dtype=np.complex128) for i in range(20)]

    async def main() -> None:
        async with oxbridge.aio.connect(bridge, timeout=60) as c:
            products = [c.mul(x, 1 + 2j) for x in xs]
            greetings = [c.greet("Aloha", f"#{i}") for i in range(100)]
            batches = [c.mul_many(a, 2j) for a in arrays]
            got = await asyncio.gather(*products, *greetings, *batches, return_exceptions=True)
        errors = [g for g in got if isinstance(g, BaseException)]
        assert errors == []
        assert got[:1000] == [x * (1 + 2j) for x in xs]
        assert got[1000:1100] == [f"Aloha, #{i}" for i in range(100)]
        for a, result in zip(arrays, got[1100:], strict=True):
            assert np.array_equal(cast(Any, result), a * 2j)

    asyncio.run(main())


@pytest.mark.parametrize("bridge", AIO)
def test_arrays_from_empty_are_operands_as_on_the_sync_clients(bridge: str) -> None:
    async def main() -> None:
        async with oxbridge.aio.connect(bridge, timeout=60) as c:
            a = c.empty(100_003)
            assert (a.shape, a.dtype) == ((100_003,), np.dtype(np.complex128))
            a[:] = np.arange(len(a)) - 1j
            got = await c.mul_many(a, 2j)
        assert np.array_equal(got, oxbridge.connect("pyo3").mul_many(a, 2j))

    asyncio.run(main())


@pytest.mark.parametrize("bridge", AIO)
def test_cancelled_calls_never_give_another_call_their_reply(bridge: str) -> None:
    async def main() -> None:
        async with oxbridge.aio.connect(bridge, timeout=30) as c:
            for round_ in range(30):
                tasks = [
                    asyncio.create_task(c.add(complex(i, 0), complex(0, round_))) for i in range(40)
                ]
                # Cancel every other call at a different point of its exchange
                # each round: before it sends, mid-way, while its reply arrives.
                for _ in range(round_ % 6):
                    await asyncio.sleep(0)
                for t in tasks[::2]:
                    t.cancel()
                results = await asyncio.gather(*tasks, return_exceptions=True)
                for i, result in enumerate(results):
                    if isinstance(result, asyncio.CancelledError):
                        continue
                    assert result == complex(i, round_), (round_, i, result)
            after = await asyncio.gather(*(c.add(i, 1j) for i in range(200)))
            assert after == [complex(i, 1) for i in range(200)]

    asyncio.run(main())


def silent_server(bridge: str, tmp_path: Path) -> tuple[socket.socket, str]:
    """A listener that reads each request and never answers."""
    if bridge == "ipc":
        return fake_server("unix", tmp_path / "silent.sock", silent)
    # Silent all along: an HTTP/2 client sends its preface, settings and
    # call in more than one read, and a server that hung up after the
    # first would be a broken one, not a silent one.
    listener, url = fake_server("tcp", tmp_path, silent)
    return listener, url.replace("http://", f"{bridge}://")


@pytest.mark.parametrize("bridge", AIO)
def test_a_silent_server_is_a_timeout_within_the_deadline(bridge: str, tmp_path: Path) -> None:
    silent, url = silent_server(bridge, tmp_path)

    async def main() -> None:
        async with oxbridge.aio.connect(url, timeout=0.5) as c:
            started = time.monotonic()
            with pytest.raises(oxbridge.BridgeTimeoutError):
                await c.add(1, 1)
            assert time.monotonic() - started < 0.5 + 1.5

    with silent:
        asyncio.run(main())


@pytest.mark.parametrize("bridge", AIO)
def test_no_server_is_a_transport_error_at_once(bridge: str, tmp_path: Path) -> None:
    port = free_port()
    url = {
        "ipc": f"unix://{tmp_path}/none.sock",
        "http": f"http://127.0.0.1:{port}",
        "grpc": f"grpc://127.0.0.1:{port}",
    }[bridge]

    async def main() -> None:
        async with oxbridge.aio.connect(url, timeout=10) as c:
            started = time.monotonic()
            with pytest.raises(oxbridge.TransportError) as info:
                await c.add(1, 1)
            assert type(info.value) is oxbridge.TransportError
            assert time.monotonic() - started < 3

    asyncio.run(main())


@pytest.mark.parametrize("bridge", AIO)
def test_a_client_reconnects_after_a_server_restart(bridge: str, tmp_path: Path) -> None:
    http, grpc_port = free_port(), free_port()
    args = ["--http", f"127.0.0.1:{http}", "--grpc", f"127.0.0.1:{grpc_port}"]
    args += ["--unix", str(tmp_path / "ox.sock")]
    url = {
        "http": f"http://127.0.0.1:{http}",
        "grpc": f"grpc://127.0.0.1:{grpc_port}",
        "ipc": f"unix://{tmp_path}/ox.sock",
    }[bridge]
    c = blocking.connect(url, timeout=5)
    try:
        with serving(*args):
            assert c.add(1, 1) == 2
        with serving(*args):
            assert c.add(2, 2) == 4
    finally:
        c.close()


def test_in_process_bridges_have_no_asyncio_client() -> None:
    with pytest.raises(oxbridge.UnknownBridgeError, match="the cffi bridge has no asyncio client"):
        oxbridge.aio.connect("cffi")


def test_errors_are_the_sync_clients_errors() -> None:
    async def main() -> None:
        async with oxbridge.aio.connect("http") as c:
            with pytest.raises(
                oxbridge.OxbridgeZeroDivisionError, match="complex division by zero"
            ):
                await c.div(1, 0)
            with pytest.raises(oxbridge.ArgumentTypeError, match="argument 'a' must be complex"):
                await c.add("1", 2)

    asyncio.run(main())
