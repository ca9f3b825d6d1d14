"""Client processes that call a server steadily and check every reply, for
``tests/test_deploy.py``: each is its own process (its own GIL), as the
clients of a deployed service are.

A :class:`Load` starts ``processes`` of them on one URL. Each calls ``add``
(and every 16th call a small ``mul_many`` batch) until told to stop,
counting its calls where the parent can read them, and keeping every failure
and every wrong reply with its start time.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import time
from dataclasses import dataclass
from typing import Any

#: A start method that does not copy the parent's threads and sockets.
_CONTEXT = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Failure:
    """One call that did not give the right answer."""

    url: str
    #: Wall-clock seconds (time.time()) when the call began and ended.
    began: float
    ended: float
    #: The exception's class name, or "wrong" for a wrong reply.
    kind: str
    message: str


def _drive(url: str, seed: int, calls: Any, stop: Any, results: Any) -> None:
    import numpy as np  # noqa: PLC0415 - in the child, after spawn
    import oxbridge  # noqa: PLC0415
    from oxbridge.errors import OxbridgeError  # noqa: PLC0415

    failures: list[Failure] = []
    client = oxbridge.connect(url)
    i = 0
    while not stop.is_set():
        i += 1
        a, b = complex(seed, i), complex(i * 0.5, -seed)
        began = time.time()
        try:
            if i % 16:
                got = [client.add(a, b)]
                right = got == [a + b]
            else:
                xs = np.array([a, b, a * 1j], dtype=np.complex128)
                ys = np.array([b, a, 2.5 - i * 1j], dtype=np.complex128)
                many = client.mul_many(xs, ys)
                got = many.tolist()
                right = got == [x * y for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
        except OxbridgeError as e:
            failures.append(Failure(url, began, time.time(), type(e).__name__, str(e)))
            continue
        if not right:
            failures.append(Failure(url, began, time.time(), "wrong", f"{a}, {b}: {got!r}"))
        calls.value += 1
    client.close()
    results.send(failures)


class Load:
    """``processes`` client processes calling ``url`` until :meth:`stop`."""

    def __init__(self, url: str, processes: int) -> None:
        self.url = url
        self._stop = _CONTEXT.Event()
        self._calls = [_CONTEXT.RawValue("q", 0) for _ in range(processes)]
        self._pipes: list[multiprocessing.connection.Connection] = []
        self._processes = []
        for seed, calls in enumerate(self._calls, start=1):
            receive, send = _CONTEXT.Pipe(duplex=False)
            process = _CONTEXT.Process(
                target=_drive, args=(url, seed, calls, self._stop, send), daemon=True
            )
            process.start()
            send.close()
            self._pipes.append(receive)
            self._processes.append(process)

    def counts(self) -> list[int]:
        """Calls each process has completed so far (right or wrong)."""
        return [int(c.value) for c in self._calls]

    def wait_for_calls(self, more: int, timeout: float = 60.0) -> None:
        """Until every process has completed ``more`` calls beyond now."""
        floor = [n + more for n in self.counts()]
        deadline = time.monotonic() + timeout
        while any(n < f for n, f in zip(self.counts(), floor, strict=True)):
            dead = [p for p in self._processes if not p.is_alive()]
            if dead:
                raise AssertionError(f"a client process of {self.url} died: {dead}")
            if time.monotonic() > deadline:
                raise AssertionError(f"clients of {self.url} stalled at {self.counts()}")
            time.sleep(0.01)

    def stop(self, timeout: float = 60.0) -> list[Failure]:
        """Stops every process; every failure they met."""
        self._stop.set()
        failures: list[Failure] = []
        for pipe, process in zip(self._pipes, self._processes, strict=True):
            if not pipe.poll(timeout):
                process.kill()
                raise AssertionError(f"a client process of {self.url} did not report")
            failures.extend(pipe.recv())
            process.join(timeout)
        return failures

    def kill(self) -> None:
        """Ends every process still running at once (cleanup after a failed test)."""
        for process in self._processes:
            if process.is_alive():
                process.kill()
                process.join()

    def __enter__(self) -> Load:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.kill()
