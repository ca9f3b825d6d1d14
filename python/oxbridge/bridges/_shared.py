"""IPC batches over shared memory: the operands and results of a large batch
never cross the socket (see ``crates/oxbridge-server/src/frames/shared.rs``).

A connection that carries them starts by passing a sealed ``memfd`` region
to the server (``SCM_RIGHTS``); then each call copies its operands into the
region and sends a small message saying where they are and where the
results go. The server computes straight from the region into it.

- A batch is cut into pieces, messages sent back to back, so the server
  computes one piece while this thread copies the next (natively, the GIL
  released: ``_native.send_shared_call``). A piece is small
  enough for the server to compute it on one core (below its
  ``PARALLEL_THRESHOLD``): a piece spread over every core would take the
  core this thread copies on, and the copy is the longer part.
- The result array *is* the region's result area: no copy on the way back.
  While the caller holds it (or any view of it) the region is lent, and the
  next call on that connection makes and passes a new region instead of
  writing over it.
- A region belongs to one socket, and a socket to one call at a time (see
  :mod:`._socket`): threads, and signal handlers that call in the middle of a
  call, never share one. A call cut short drops its socket and its region.
"""

from __future__ import annotations

import fcntl
import itertools
import mmap
import os
import socket
import struct
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import _frames, _native
from .._functions import FunctionInfo
from ..errors import ProtocolError
from ._socket import MAX_HEAD, SPINS, BadReply, Connection, Stream
from ._wire import error_from

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from .._arrays import Array, Operand

MAGIC = b"OXB\x03"
HEADER = struct.Struct("<4sBBBxQQQ")
ATTACH, CALL = 0, 1
#: Batches of at least this many bytes (operands and results) use shared memory.
SHARED_FROM = 1 << 16
#: The largest region made; a larger batch crosses the socket in frames.
MAX_REGION = 256 << 20
#: A region larger than this is not kept for the next call.
KEEP_REGION = 64 << 20
#: The fewest messages a batch is cut into, so that copying and computing overlap.
PIECES = 4
#: The most elements in one message: the server computes fewer on one core.
PIECE_MOST = _native.PARALLEL_THRESHOLD
#: Regions are made in whole pages.
PAGE = mmap.PAGESIZE
#: Each operand and the results start on a cache line.
ALIGN = 64


def available() -> bool:
    """Whether this platform has what shared-memory batches need (Linux)."""
    return all(
        (
            hasattr(os, "memfd_create"),
            hasattr(socket, "send_fds"),
            hasattr(fcntl, "F_ADD_SEALS"),
        )
    )


class Refused(Exception):
    """The server takes no region of this size (or none at all): the batch
    goes over the socket instead. ``error`` is the server's reason."""

    def __init__(self, error: Exception, size: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.size = size


class Region:
    """A sealed ``memfd`` mapped here, and the result view lent from it."""

    __slots__ = ("bytes", "fd", "lent", "mm", "size")

    def __init__(self, size: int) -> None:
        import numpy as np  # noqa: PLC0415 - a batch: numpy is there

        fd = os.memfd_create("oxbridge-ipc", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(fd, size)
            # Sealed: the server maps it, and a file that shrank under its
            # mapping would kill it with SIGBUS on the next access.
            seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
            self.mm = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self.size = size
        self.bytes = np.frombuffer(self.mm, dtype=np.uint8)
        self.lent: Array | None = None

    def free(self) -> bool:
        """Whether no result lent from this region is still referenced.

        Every array made from the lent array (and every view of those) holds
        a reference to it as its ``base``, so two references (this slot, the
        call's argument) mean none is left.
        """
        return self.lent is None or sys.getrefcount(self.lent) <= 2

    def attach(self, stream: Stream) -> None:
        """Pass the region to the server on ``stream``; its descriptor is
        closed here once sent (the mapping stays)."""
        header = HEADER.pack(MAGIC, ATTACH, 0, 0, 0, 0, 0)
        fd, self.fd = self.fd, -1
        try:
            stream.budget()
            socket.send_fds(stream.sock, [header], [fd])
        finally:
            os.close(fd)
        try:
            error = read_reply(stream, 0)
        except BadReply as e:  # a server from before shared memory
            error = ProtocolError(f"the server does not take shared memory: {e}")
        if error is not None:
            raise Refused(error, self.size)

    def close(self) -> None:
        """Forget the region; the mapping lives on while a result uses it."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def read_reply(stream: Stream, expected: int) -> Exception | None:
    """One version-3 reply: ``None`` for ``expected`` results, or the
    server's error."""
    reply = stream.recv_exactly(_frames.REPLY.size, spins=SPINS)
    magic, status, length = _frames.REPLY.unpack(reply)
    if magic != MAGIC:
        raise BadReply(f"not a shared-memory reply: {magic!r}")
    if status != 0:
        return error_from(stream.recv_exactly(length, MAX_HEAD), "the server")
    if length != expected:
        raise BadReply(f"the batch reply has {length} results, expected {expected}")
    return None


def aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def call(
    conn: Connection,
    f: FunctionInfo,
    operands: Sequence[Operand],
    n: int,
    dtype: DTypeLike,
    limit: int = MAX_REGION,
) -> Array | None:
    """``f(*operands)`` over shared memory on ``conn``, as a new array of
    ``n`` elements; ``None`` when the batch needs a region over ``limit``
    bytes.

    Raises :class:`Refused` when the server takes no region this size.
    """
    import numpy as np  # noqa: PLC0415 - a batch: numpy is there

    columns = _frames.arguments(f, operands)
    places, at = [], 0
    for _, values in columns:
        places.append(at)
        at = aligned(at + values.nbytes)
    itemsize = np.dtype(dtype).itemsize
    out_at = at
    size = out_at + n * itemsize
    if size > min(limit, MAX_REGION):
        return None
    count = max(PIECES, -(-n // PIECE_MOST)) if n >= PIECES else 1
    bounds = [n * k // count for k in range(count + 1)]
    pieces = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    layout = [
        (values.view(np.uint8), values.itemsize, one_for_all, place)
        for (one_for_all, values), place in zip(columns, places, strict=True)
    ]

    def work(stream: Stream) -> Array | Exception:
        region: Region | None = stream.extra
        if region is None or region.size < size or not region.free():
            if region is not None:
                region.close()
            stream.extra = None
            region = Region(-(-size // PAGE) * PAGE)
            region.attach(stream)
            stream.extra = region
        fd, seconds = stream.lend()
        _native.send_shared_call(
            fd, seconds, region.bytes, f.name, layout, bounds, out_at, itemsize
        )
        # Every reply is read, so the socket stays in step for the next call.
        errors = [read_reply(stream, stop - start) for start, stop in pieces]
        failure = next((e for e in errors if e is not None), None)
        if failure is not None:
            return failure
        # The caller gets a view of `owner`: numpy makes every array derived
        # from it (views of views included) refer to `owner` itself.
        owner = np.frombuffer(region.mm, dtype=dtype, count=n, offset=out_at)
        region.lent = owner
        result: Array = owner[:]
        if region.size > KEEP_REGION:
            stream.reusable = False  # the server's mapping goes with the socket
        return result

    result = conn.run(work)
    if isinstance(result, Exception):
        raise result
    return result
