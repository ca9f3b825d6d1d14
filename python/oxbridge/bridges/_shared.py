"""IPC batches over shared memory: the operands and results of a large batch
never cross the socket (see ``crates/oxbridge-server/src/codec/frames/shared.rs``).

A socket that carries them passes sealed ``memfd`` regions to its server
(``SCM_RIGHTS``), each under a number (one byte); then each call sends a
small message saying in which region and where its operands are and its
results go. The server computes straight from the regions into them.

- A call's own region (a :class:`Shelf`'s ``own``) holds the operands it
  copies and its results. An operand that already lies in a region the
  server has is named where it is, not copied: an array :func:`empty` made
  (``client.empty``: any socket passes its region, whose descriptor it
  keeps), or a result the caller still holds (on the socket that made it).
- A batch that copies is cut into pieces, messages sent back to back, so
  the server computes one piece while this thread copies the next
  (natively, the GIL released: ``_native.shared_call``). A piece is
  small enough for the server to compute it on one core (below its
  ``PARALLEL_THRESHOLD``): a piece spread over every core would take the
  core this thread copies on, and the copy is the longer part. The pieces
  go round a ring of :data:`RING` slots, a slot written again once the
  server has answered for the piece before in it: the operands stay in
  the cache the cores share, and never go out to memory. A batch with
  nothing to copy goes whole, and the server uses every core.
- The result array *is* the own region's result area: no copy on the way
  back. While the caller holds it (or any view of it) the region is lent:
  the next call makes and passes a new own region instead of writing over
  it, and the lent one stays attached (the newest :data:`KEEP_HELD`) so
  that the result can come back as an operand. Regions whose arrays are
  gone are detached.
- A region belongs to one socket's server, and a socket to one call at a
  time (see :mod:`._socket`): threads, and signal handlers that call in the
  middle of a call, never share one. A call cut short drops its socket and
  with it the server's mappings.
"""

from __future__ import annotations

import fcntl
import itertools
import mmap
import os
import socket
import struct
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .. import _frames, _native
from .._functions import FunctionInfo
from ..errors import BadReply, ProtocolError
from ._socket import MAX_HEAD, SPINS, Connection, Stream
from ._wire import error_from

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from .._arrays import Array, Operand

MAGIC = b"OXB\x03"
HEADER = struct.Struct("<4sBBBBQQQ")
ATTACH, CALL, DETACH = 0, 1, 2
#: A socket's regions are numbered in one byte, from 1: a server from
#: before numbered regions answers every attach with 0.
MAX_REGIONS = 256
#: Regions of results still held kept attached on a socket, so that a
#: result passed back as an operand is read where it is; the oldest past
#: these is detached (it stays valid here, and is copied when passed back).
KEEP_HELD = 4
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
#: Slots of the ring the copied pieces go round: this thread copies into
#: one while the server computes from another.
RING = 4
#: The bytes of the ring's slots together: well inside the cache the cores
#: share. Measured on a 2-core EPYC (32 MiB L3), a 1e6 `mul_many` took
#: 1.06-1.14 ms with rings of 3-5 MiB, 1.27 ms with 8 MiB and 1.62 ms with
#: 2 MiB (a piece too small to hide the message's cost).
RING_BYTES = 4 << 20


def piece_most(per_element: int) -> int:
    """The most elements in one piece of a batch that copies
    ``per_element`` bytes of operands an element."""
    return max(1, min(PIECE_MOST, RING_BYTES // (RING * max(per_element, 1))))


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
    """A sealed ``memfd`` mapped here, and the array lent from it.

    A call's own region holds its copied operands and its results; the
    result array is lent from it. A region :func:`empty` makes holds one
    array of the caller's, and keeps its descriptor so that any socket can
    pass it to its server (closed once the array is gone)."""

    __slots__ = ("__weakref__", "address", "bytes", "fd", "keep", "lent", "mm", "size")

    def __init__(self, size: int, keep: bool = False) -> None:
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
        self.address: int = self.bytes.__array_interface__["data"][0]
        self.lent: weakref.ref[Array] | None = None
        #: Whether the descriptor is kept once passed, for other sockets.
        self.keep = keep

    def lend(self, owner: Array) -> None:
        """Lend ``owner``, an array over this region, to the caller.

        numpy makes every array derived from it (views of views included)
        refer to ``owner`` itself, so ``owner`` lives exactly as long as
        any of them."""
        self.lent = weakref.ref(owner)

    def free(self) -> bool:
        """Whether no array lent from this region is still referenced."""
        return self.lent is None or self.lent() is None

    def place_of(self, address: int, size: int) -> int | None:
        """Where in this region the ``size`` bytes at ``address`` lie, if
        they lie in it."""
        at = address - self.address
        return at if at >= 0 and at + size <= self.size else None

    def attach(self, stream: Stream, number: int) -> None:
        """Pass the region to the server on ``stream`` as region ``number``.
        A call's own region closes its descriptor once sent (the mapping
        stays); one that :func:`empty` made keeps it for other sockets."""
        header = HEADER.pack(MAGIC, ATTACH, 0, 0, 0, number, 0, 0)
        stream.budget()
        socket.send_fds(stream.sock, [header], [self.fd])
        try:
            # The server answers with the region's number; one from before
            # numbered regions answers 0 (it replaced its one region).
            error = read_reply(stream, number)
        except BadReply as e:  # a server from before shared memory
            error = ProtocolError(f"the server does not take shared memory: {e}")
        if error is not None:
            raise Refused(error, self.size)
        if not self.keep:
            self.close()

    def close(self) -> None:
        """Close the descriptor; the mapping lives on while an array uses it."""
        if getattr(self, "fd", -1) >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        self.close()


def read_reply(stream: Stream, expected: int) -> Exception | None:
    """One version-3 reply: ``None`` for ``expected`` results, or the
    server's error."""
    header = stream.recv_exactly(_frames.REPLY.size, spins=SPINS)
    return verdict(header, expected, lambda length: stream.recv_exactly(length, MAX_HEAD))


def verdict(header: bytes, expected: int, body: Callable[[int], bytes]) -> Exception | None:
    """What the version-3 reply ``header`` says: ``None`` for ``expected``
    results, or the server's error, its ``body(length)``."""
    magic, status, length = _frames.REPLY.unpack_from(header)
    if magic != MAGIC:
        raise BadReply(f"not a shared-memory reply: {magic!r}")
    if status != 0:
        return error_from(body(length), "the server")
    if length != expected:
        raise BadReply(f"the batch reply has {length} results, expected {expected}")
    return None


def piece_verdict(reply: bytes, expected: int) -> Exception | None:
    """What one piece's reply from :func:`_native.shared_call` says: its
    header, then an error's body (none when it declared more than
    ``MAX_HEAD`` bytes)."""
    size = _frames.REPLY.size

    def body(length: int) -> bytes:
        if len(reply) != size + length:
            raise BadReply(f"the reply declares {length} bytes, more than the {MAX_HEAD} allowed")
        return reply[size:]

    return verdict(reply, expected, body)


def aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


class Plan:
    """Where a batch's operands and results go in its own region, and the
    pieces it is cut into.

    Pieces let the server compute while this thread copies; with nothing
    to copy, one message lets it compute on every core. The region holds
    what is copied (each value for every element, then the ring of slots,
    each with a piece of each array), then the results."""

    __slots__ = ("bounds", "copies", "out_at", "pieces", "places", "ring", "size")

    def __init__(
        self,
        columns: Sequence[tuple[bool, Array]],
        found: Sequence[tuple[Region, int] | None],
        n: int,
        itemsize: int,
    ) -> None:
        copied = [
            spot is None and not one_for_all
            for (one_for_all, _), spot in zip(columns, found, strict=True)
        ]
        per_element = sum(
            values.itemsize for (_, values), c in zip(columns, copied, strict=True) if c
        )
        self.copies = per_element > 0
        count = max(PIECES, -(-n // piece_most(per_element))) if self.copies and n >= PIECES else 1
        self.bounds = [n * k // count for k in range(count + 1)]
        self.pieces = [(a, b) for a, b in itertools.pairwise(self.bounds) if b > a]
        widest = max((b - a for a, b in self.pieces), default=0)
        self.places = [-1 if spot is None else spot[1] for spot in found]
        at = 0
        for i, ((_, values), spot) in enumerate(zip(columns, found, strict=True)):
            if spot is None and not copied[i]:
                self.places[i] = at
                at = aligned(at + values.nbytes)
        ring_at = at
        for i, (_, values) in enumerate(columns):
            if copied[i]:
                self.places[i] = at
                at = aligned(at + widest * values.itemsize)
        slots = min(RING, len(self.pieces)) or 1
        self.ring = (slots, at - ring_at)
        self.out_at = ring_at + slots * (at - ring_at)
        self.size = self.out_at + n * itemsize

    def failure(self, replies: list[bytes]) -> Exception | None:
        """The first error among the pieces' ``replies`` (raises
        :class:`BadReply` when one is not a reply to its piece)."""
        if len(replies) < len(self.pieces):
            if replies:
                piece_verdict(replies[-1], 0)  # the one the client stopped at: raises
            raise BadReply("the batch replies stopped short")
        verdicts = (
            piece_verdict(reply, stop - start)
            for reply, (start, stop) in zip(replies, self.pieces, strict=True)
        )
        return next((e for e in verdicts if e is not None), None)


class Shelf:
    """The regions attached on one socket, each by the number its server
    knows it by (``Stream.extra``), and which one is the calls' own."""

    __slots__ = ("numbers", "own")

    def __init__(self) -> None:
        self.numbers: dict[Region, int] = {}
        self.own: Region | None = None

    def home(self, values: Array) -> tuple[Region, int] | None:
        """The region ``values`` lie in and their place in it, among the
        regions this socket's server has and those :func:`empty` made
        (which any socket may pass)."""
        address: int = values.__array_interface__["data"][0]
        for region in (*self.numbers, *list(_HOMES.values())):
            at = region.place_of(address, values.nbytes)
            if at is not None:
                return region, at
        return None

    def attach(self, stream: Stream, region: Region, keep: set[Region]) -> None:
        """Pass ``region`` to the server under a free number; when the server
        has no room for it, detach every region but ``keep`` and try again."""
        number = next(k for k in range(1, MAX_REGIONS) if k not in self.numbers.values())
        try:
            region.attach(stream, number)
        except Refused:
            others = [r for r in self.numbers if r not in keep]
            if not others:
                raise
            for other in others:
                self.detach(stream, other)
            region.attach(stream, number)
        self.numbers[region] = number

    def detach(self, stream: Stream, region: Region) -> None:
        """Have the server unmap ``region`` (it stays valid here)."""
        number = self.numbers.pop(region)
        stream.budget()
        stream.sock.sendall(HEADER.pack(MAGIC, DETACH, 0, 0, 0, number, 0, 0))
        error = read_reply(stream, number)
        if error is not None:
            raise error

    def sweep(self, stream: Stream, keep: set[Region]) -> None:
        """Detach what no call needs: regions whose arrays are gone, and all
        but the newest :data:`KEEP_HELD` of those still held."""
        held = []
        for region in list(self.numbers):
            if region in keep:
                continue
            if region.free():
                self.detach(stream, region)
            else:
                held.append(region)
        for region in held[: max(0, len(held) - KEEP_HELD)]:
            self.detach(stream, region)


def empty(n: int, dtype: DTypeLike) -> Array:
    """An array of ``n`` elements in a shared-memory region of its own: an
    IPC batch names it (or any view of it) where it is, and copies none of it."""
    import numpy as np  # noqa: PLC0415 - a batch: numpy is there

    size = max(n * np.dtype(dtype).itemsize, 1)
    region = Region(-(-size // PAGE) * PAGE, keep=True)
    owner = np.frombuffer(region.mm, dtype=dtype, count=n)
    region.lend(owner)
    key = id(region)
    _HOMES[key] = region
    weakref.finalize(owner, _forget, key)
    result: Array = owner[:]
    return result


def _forget(key: int) -> None:
    region = _HOMES.pop(key, None)
    if region is not None:
        region.close()


#: The regions :func:`empty` made whose arrays are alive, by ``id``.
_HOMES: dict[int, Region] = {}


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
    itemsize = np.dtype(dtype).itemsize

    def work(stream: Stream) -> Array | Exception | None:
        shelf: Shelf | None = stream.extra
        if shelf is None:
            shelf = stream.extra = Shelf()
        found = [None if one_for_all else shelf.home(values) for one_for_all, values in columns]
        homes = [None if spot is None else spot[0] for spot in found]
        plan = Plan(columns, found, n, itemsize)
        if plan.size > min(limit, MAX_REGION):
            return None
        keep = {home for home in homes if home is not None}
        own = shelf.own
        if own is None or own.size < plan.size or not own.free() or own in keep:
            own = shelf.own = Region(-(-plan.size // PAGE) * PAGE)
        keep.add(own)
        shelf.sweep(stream, keep)
        for region in keep:
            if region not in shelf.numbers:
                shelf.attach(stream, region, keep)
        number = shelf.numbers[own]
        layout = [
            (values.view(np.uint8), values.itemsize, one_for_all, shelf.numbers[home or own], place)
            for (one_for_all, values), home, place in zip(columns, homes, plan.places, strict=True)
        ]
        fd, seconds = stream.lend()
        # A batch computed on every core takes a while: wait for it asleep
        # rather than take a core from it.
        spins = SPINS if plan.copies or n < PIECE_MOST else 0
        replies = _native.shared_call(
            fd,
            seconds,
            own.bytes,
            number,
            f.call_name,
            layout,
            plan.bounds,
            plan.ring,
            plan.out_at,
            itemsize,
            spins,
            MAX_HEAD,
        )
        failure = plan.failure(replies)
        if failure is not None:
            return failure
        owner = np.frombuffer(own.mm, dtype=dtype, count=n, offset=plan.out_at)
        own.lend(owner)
        result: Array = owner[:]
        if own.size > KEEP_REGION:
            stream.reusable = False  # the server's mapping goes with the socket
        return result

    result = conn.run(work)
    if isinstance(result, Exception):
        raise result
    return result
