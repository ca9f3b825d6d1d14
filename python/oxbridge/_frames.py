"""The frame codec of ``crates/oxbridge-server/src/codec/frames.rs``, version 2:
a vectorized call of any numeric function as one binary frame (IPC, HTTP),
and the splitting of large calls into frames under the server's limit."""

from __future__ import annotations

import os
import queue
import struct
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from ._functions import FunctionInfo
from .errors import BadReply, PayloadTooLargeError

if TYPE_CHECKING:
    from ._arrays import Array, Operand

__all__ = [
    "CHUNK",
    "FLAG_ONE_FOR_ALL",
    "REPLY",
    "FrameSize",
    "arguments",
    "byte_view",
    "each_frame",
    "frame_parts",
    "parse_reply_header",
    "request_frame",
    "shrink",
]

MAGIC = b"OXB\x02"
REQUEST = struct.Struct("<4sBBxxQQ8x")
COLUMN = struct.Struct("<B7xQ")
REPLY = struct.Struct("<4sBxxxQ")
FLAG_ONE_FOR_ALL = 1
#: Elements per frame: 4 MiB per complex argument, well under the 16 MiB request limit.
CHUNK = 1 << 18


def arguments(f: FunctionInfo, operands: Sequence[Operand]) -> list[tuple[bool, Any]]:
    """Each argument as ``(one_for_all, values)``, the values an array."""
    import numpy as np  # noqa: PLC0415 - a batch: numpy is there (see Client._many)

    from ._arrays import DTYPES  # noqa: PLC0415

    return [
        (False, value)
        if isinstance(value, np.ndarray)
        else (True, np.array([value], dtype=DTYPES[p.type]))
        for value, p in zip(operands, f.params, strict=True)
    ]


def request_frame(f: FunctionInfo, operands: Sequence[Operand], offset: int) -> list[Any]:
    """The buffers of one request frame: the header (with the function's
    name and the arguments' counts), then each argument's values (no copies)."""
    columns = arguments(f, operands)
    name = f.call_name.encode()
    heads = b"".join(COLUMN.pack(FLAG_ONE_FOR_ALL if all_ else 0, len(v)) for all_, v in columns)
    body = len(name) + len(heads) + sum(v.nbytes for _, v in columns)
    header = REQUEST.pack(MAGIC, len(name), len(columns), offset, body)
    return [header + name + heads, *(v for _, v in columns)]


def frame_size(frame: list[Any]) -> int:
    """The bytes of a frame made by :func:`request_frame`."""
    return len(frame[0]) + sum(int(v.nbytes) for v in frame[1:])


def parse_reply_header(header: bytes) -> tuple[bool, int]:
    """``(ok, length)`` of a reply frame header."""
    magic, status, length = REPLY.unpack(header)
    if magic != MAGIC:
        # Reported as the connection reports every broken reply, on every
        # bridge: ProtocolError, "bad reply from ...".
        raise BadReply(f"not an oxbridge batch reply: {header[:16]!r}")
    return status == 0, length


class FrameSize:
    """Elements per frame for one client: :data:`CHUNK`, halved for good each
    time a server refuses a frame as larger than its request limit."""

    __slots__ = ("elements",)

    def __init__(self) -> None:
        self.elements = CHUNK


def each_frame(
    operands: Sequence[Operand],
    n: int,
    size: FrameSize,
    send: Callable[[int, int, list[Operand]], None],
    workers: int = 1,
) -> None:
    """Send a call as frames of at most ``size.elements`` (one frame for an
    empty call): ``send(start, stop, parts)`` for each, the arrays sliced. A
    frame the server refuses as too large is sent again as smaller ones
    (every call is pure, so resending is safe).

    With ``workers``, a call of several frames sends them from that many
    threads at once (``send`` must be safe to call from threads): while one
    frame crosses the socket, the server computes another. The error raised
    is the first frame's, as one after another would raise it.
    """
    if workers > 1 and n > size.elements and _concurrently(operands, n, size, send, workers):
        return
    start = 0
    while True:
        stop = min(start + size.elements, n)
        try:
            send(start, stop, frame_parts(operands, start, stop))
        except PayloadTooLargeError:
            if not shrink(size, start, stop):
                raise
            continue
        start = stop
        if start >= n:
            return


def _concurrently(
    operands: Sequence[Operand],
    n: int,
    size: FrameSize,
    send: Callable[[int, int, list[Operand]], None],
    workers: int,
) -> bool:
    """:func:`each_frame`'s frames from ``workers`` threads; ``False`` when
    the server refused a frame as too large, for the caller to send them all
    again one after another, shrinking as it goes.

    The frames are sent by the process's long-lived frame workers, never by
    the calling thread, and no thread is started or joined per call: the
    calling thread only queues them and waits. An exception a signal
    handler raises in it (``signal.alarm``, Ctrl-C) therefore interrupts
    the wait and nothing else: it propagates at once, no lock is left
    held, the frames already under way finish within the call's deadline
    (handing their connections back for the next call), and those not yet
    started are skipped."""
    step = size.elements
    spans = [(start, min(start + step, n)) for start in range(0, n, step)]
    done = _WORKERS.run([(send, (a, b, frame_parts(operands, a, b))) for a, b in spans], workers)
    if any(isinstance(e, PayloadTooLargeError) for e in done):
        return False
    first = next((e for e in done if e is not None), None)
    if first is not None:
        raise first
    return True


#: A frame to send: the function, its arguments, where to say it is done
#: (its index and what it raised), and whether its caller gave up.
_Job = tuple[
    Callable[..., None],
    tuple[Any, ...],
    int,
    "queue.SimpleQueue[tuple[int, BaseException | None]]",
    list[bool],
]


#: The most frame workers a process starts.
MOST_WORKERS = 32


class _Workers:
    """Daemon threads that send the frames of every multi-frame call of the
    process, started as the calls in flight need them (up to
    :data:`MOST_WORKERS`) and never joined: an interpreter that exits does
    not wait for them, and a call's frames are bounded by its deadline."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._calls: set[object] = set()
        self._count = 0
        self._started = threading.Lock()

    def run(
        self, jobs: list[tuple[Callable[..., None], tuple[Any, ...]]], workers: int
    ) -> list[BaseException | None]:
        """Runs ``jobs`` on ``workers`` threads; what each raised, in order.

        The caller shares no lock with the workers: each says it is done on
        a queue of the call's own (C's ``SimpleQueue``, whose ``get`` a
        signal interrupts cleanly), so a handler's exception raised while
        waiting leaves nothing held that a worker would wait on."""
        # As many workers as the calls in flight ask for together (set.add
        # and discard are atomic): calls from several threads each get
        # theirs, as they did with a pool of their own.
        call = object()
        self._calls.add(call)
        try:
            self._ensure(min(MOST_WORKERS, workers * len(self._calls)))
            return self._run(jobs)
        finally:
            self._calls.discard(call)

    def _run(
        self, jobs: list[tuple[Callable[..., None], tuple[Any, ...]]]
    ) -> list[BaseException | None]:
        done: queue.SimpleQueue[tuple[int, BaseException | None]] = queue.SimpleQueue()
        # Set when the caller gives up: the frames not yet started are skipped.
        abandoned: list[bool] = []
        for i, (fn, args) in enumerate(jobs):
            self._jobs.put((fn, args, i, done, abandoned))
        errors: list[BaseException | None] = [None] * len(jobs)
        try:
            for _ in jobs:
                i, error = done.get()
                errors[i] = error
        except BaseException:
            abandoned.append(True)
            raise
        return errors

    def _ensure(self, workers: int) -> None:
        if self._count >= workers:
            return
        with self._started:
            while self._count < workers:
                name = f"oxbridge-frames-{self._count}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
                self._count += 1

    def _work(self) -> None:
        while True:
            fn, args, i, done, abandoned = self._jobs.get()
            error: BaseException | None = None
            try:
                if not abandoned:
                    fn(*args)
            except BaseException as e:  # handed to the caller, who raises it
                error = e
            done.put((i, error))


_WORKERS = _Workers()


def _after_fork() -> None:
    # A forked child has none of its parent's threads: it starts its own.
    global _WORKERS  # noqa: PLW0603 - one set of workers per process
    _WORKERS = _Workers()


os.register_at_fork(after_in_child=_after_fork)


def frame_parts(operands: Sequence[Operand], start: int, stop: int) -> list[Operand]:
    """The operands of elements ``start:stop``: arrays sliced, single values as they are."""
    import numpy as np  # noqa: PLC0415 - a batch: numpy is there (see Client._many)

    return [v[start:stop] if isinstance(v, np.ndarray) else v for v in operands]


def shrink(size: FrameSize, start: int, stop: int) -> bool:
    """Halve ``size`` after the server refused the frame ``start:stop`` as too
    large; ``False`` if it was a single element, which cannot be split."""
    if stop - start <= 1:
        return False
    size.elements = (stop - start) // 2
    return True


def byte_view(arr: Array) -> memoryview:
    """The bytes of a contiguous array, writable, without a copy."""
    return memoryview(cast(Any, arr)).cast("B")
