"""The worst moments: a server killed mid-call, stopped under load, restarted."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import oxbridge
import pytest

from .servers import free_port, serving, start


def fixed_args(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    http, grpc_port = free_port(), free_port()
    sock = tmp_path / "ox.sock"
    args = ["--http", f"127.0.0.1:{http}", "--grpc", f"127.0.0.1:{grpc_port}", "--unix", str(sock)]
    urls = {
        "http": f"http://127.0.0.1:{http}",
        "grpc": f"grpc://127.0.0.1:{grpc_port}",
        "ipc": f"unix://{sock}",
    }
    return args, urls


def in_flight(thread: threading.Thread) -> bool:
    """Whether ``thread`` is inside a bridge's exchange with its server, or
    has threads of its own inside one (a call of several frames sends them
    from a pool: see ``_frames.each_frame``)."""
    stacks = sys._current_frames()

    def exchanging(ident: int | None) -> bool:
        frame = stacks.get(ident or -1)
        while frame is not None:
            code = frame.f_code
            if "bridges" in code.co_filename and code.co_name in ("exchange", "call"):
                return True
            frame = frame.f_back
        return False

    senders = [t for t in threading.enumerate() if t.name.startswith("oxbridge-frames")]
    return exchanging(thread.ident) or any(exchanging(t.ident) for t in senders)


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> bool:
    """Whether ``condition`` holds within ``timeout`` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.mark.parametrize("bridge", ["ipc", "http", "grpc"])
def test_sigkill_mid_call_raises_within_the_timeout_then_recovers(
    tmp_path: Path, bridge: str
) -> None:
    args, urls = fixed_args(tmp_path)
    timeout = 3.0
    client = oxbridge.connect(urls[bridge], timeout=timeout)
    a = np.arange(6_000_000, dtype=np.complex128) + 1j  # long enough to be in flight
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            client.div_many(a, a)
            outcome.append(None)
        except BaseException as e:
            outcome.append(e)

    s = start(*args)
    try:
        assert client.add(1, 1) == 2  # the connection is open and reused below
        worker = threading.Thread(target=call)
        started = time.monotonic()
        worker.start()
        assert wait_for(lambda: in_flight(worker)), "the call never reached the server"
    finally:
        s.stop(signal.SIGKILL)  # also when the test fails: no server outlives it
    worker.join(timeout + 10)
    assert not worker.is_alive(), "the client hung"
    assert time.monotonic() - started < timeout + 5
    # Killed mid-call: a transport error; or the call had already finished.
    assert outcome[0] is None or isinstance(outcome[0], oxbridge.TransportError), repr(outcome[0])
    with pytest.raises(oxbridge.TransportError):
        client.add(1, 1)
    with serving(*args):
        assert client.add(2, 3) == 5  # a new connection, same client


@pytest.mark.parametrize("bridge", ["ipc", "http", "grpc"])
def test_sigterm_under_load_finishes_in_flight_calls(tmp_path: Path, bridge: str) -> None:
    args, urls = fixed_args(tmp_path)
    s = start(*args)
    stop = threading.Event()
    good, refused = [0], [0]
    wrong: list[object] = []

    def work() -> None:
        client = oxbridge.connect(urls[bridge], timeout=5)
        while not stop.is_set():
            try:
                result = client.mul(1 + 3j, -5j)
            except oxbridge.TransportError:
                refused[0] += 1
                time.sleep(0.01)
                continue
            except Exception as e:
                wrong.append(e)
                continue
            if result == (1 + 3j) * -5j:
                good[0] += 1
            else:
                wrong.append(result)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    assert wait_for(lambda: good[0] >= 200), "the load never got going"
    assert s.stop(signal.SIGTERM, timeout=20) == 0
    assert wait_for(lambda: refused[0] > 0), "calls after the stop were not refused"
    stop.set()
    for t in threads:
        t.join(10)
    assert good[0] > 0
    assert wrong == [], wrong[:3]  # every reply was whole and right, or the call was refused
