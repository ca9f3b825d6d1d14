"""The frame codec of ``crates/oxbridge-server/src/frames.rs``, version 2:
a vectorized call of any numeric function as one binary frame (IPC, HTTP),
and the splitting of large calls into frames under the server's limit."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from ._functions import FunctionInfo
from .errors import PayloadTooLargeError, ProtocolError

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
    name = f.name.encode()
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
        raise ProtocolError(f"not an oxbridge batch reply: {header[:16]!r}")
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
    again one after another, shrinking as it goes."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - large calls only

    step = size.elements
    spans = [(start, min(start + step, n)) for start in range(0, n, step)]
    with ThreadPoolExecutor(workers, thread_name_prefix="oxbridge-frames") as pool:
        done = [pool.submit(send, a, b, frame_parts(operands, a, b)) for a, b in spans]
    errors = [d.exception() for d in done]
    if any(isinstance(e, PayloadTooLargeError) for e in errors):
        return False
    first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first
    return True


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
