"""The IPC bridge: the article's JSON requests over one Unix socket connection.

Each request is one JSON object and each reply one line of JSON, on the same
connection, which stays open for the next call.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import _frames
from .._client import Client, _arrays
from .._functions import FunctionInfo
from ..errors import BadReply, PayloadTooLargeError, ServerBusyError
from . import _catalogue
from . import _shared as shm
from ._network import Options, opener
from ._socket import MAX_HEAD, SPINS, Connection, Stream
from ._wire import error_from, json_method, json_reply

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

    from .._arrays import Array, Operand
    from .._library import Library


#: The request a client sends first on each connection (see ``_catalogue``).
CATALOGUE = b'{"command":"catalogue"}\n'


def read_line(stream: Stream, spins: int = SPINS) -> bytes:
    """One reply: a line of JSON, and nothing after it (one request is in
    flight at a time, so anything more is not ours to read)."""
    buf = bytearray()
    stream.recv_more(buf, spins)
    while not buf.endswith(b"\n"):
        stream.recv_more(buf)
    return one_line(buf)


def one_line(buf: bytearray) -> bytes:
    """A reply ending in a newline, checked to be one line."""
    if buf.index(b"\n") != len(buf) - 1:
        raise BadReply("more than one reply to one request")
    return bytes(buf)


def check_count(length: int, itemsize: int, target: memoryview) -> None:
    """A batch reply's count of results must fill ``target`` exactly."""
    if length * itemsize != target.nbytes:
        raise BadReply(
            f"the batch reply has {length} results, expected {target.nbytes // itemsize}"
        )


def read_batch_reply(stream: Stream, target: memoryview, itemsize: int) -> bytes | None:
    """One batch reply frame, its results received straight into ``target``;
    the error document instead, when the server refused the frame."""
    reply = stream.recv_exactly(_frames.REPLY.size, spins=SPINS)
    ok, length = _frames.parse_reply_header(reply)
    if not ok:
        return stream.recv_exactly(length, MAX_HEAD)
    check_count(length, itemsize, target)
    stream.recv_into_exactly(target)
    return None


def busy(error: Exception) -> bool:
    """Whether a refusal is the server's "busy" (every busy reply starts
    so), which passes, rather than a server that takes no regions."""
    return isinstance(error, ServerBusyError) and str(error).startswith("server busy")


class IpcClient(Client):
    """Calls over a Unix domain socket to an oxbridge server."""

    bridge = "ipc"
    _address = "path"

    def __init__(self, library: Library, path: str, options: Options) -> None:
        timeout = options.timeout
        super().__init__(library)
        self.path = path

        def connect(t: float) -> socket.socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(t)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            return sock

        self.where = f"unix://{path}"

        def greet(stream: Stream) -> None:
            stream.send(CATALOGUE, len(CATALOGUE))
            line = read_line(stream)
            if "error" in json_reply(line, self.where):
                raise error_from(line, self.where)
            _catalogue.check(library, line, self.where)

        self._conn = Connection(connect, self.where, timeout, greet)
        # Large batches go over connections of their own, in shared memory,
        # while the server takes regions of their size. Their first message
        # must be a region's: the catalogue is checked on `_conn` first.
        self._shared = Connection(connect, self.where, timeout) if shm.available() else None
        self._greeted = False
        self._shared_limit = shm.MAX_REGION
        self._frames = _frames.FrameSize()
        for f in library.functions.values():
            setattr(self, f.name, self._method(f))

    def request(self, fields: str) -> dict[str, Any]:
        """Send ``{fields}`` as one request; the decoded reply, or the exception."""
        line = self._conn.exchange(("{" + fields + "}\n").encode(), read_line)
        reply = json_reply(line, self.where)
        if "error" in reply:
            raise error_from(line, self.where)
        return reply

    def _method(self, f: FunctionInfo) -> Callable[..., Any]:
        command = f'"command":"{f.call_name}",'

        def send(fields: str) -> dict[str, Any]:
            return self.request(command + fields)

        return json_method(f, send, self.where)

    def empty(self, n: int, dtype: DTypeLike = "complex128") -> Array:
        size = n * _arrays().np.dtype(dtype).itemsize
        if self._shared is None or not shm.SHARED_FROM <= size <= self._shared_limit:
            return super().empty(n, dtype)
        return shm.empty(n, dtype)

    def _results(self, f: FunctionInfo, operands: list[Operand], n: int, dtype: DTypeLike) -> Array:
        """Large batches in shared memory when the server takes them; the
        rest, and all on a server that does not, in frames on the socket."""
        shared = self._shared
        if shared is not None and n * self._row_bytes(operands, dtype) >= shm.SHARED_FROM:
            if not self._greeted:
                # A socket of `_conn`, opened (and so greeted) if none is.
                self._conn.run(lambda _stream: None)
                self._greeted = True
            try:
                result = shm.call(shared, f, operands, n, dtype, self._shared_limit)
            except shm.Refused as e:
                if isinstance(e.error, PayloadTooLargeError):
                    # Too large for this server: smaller regions may still do.
                    self._shared_limit = e.size - 1
                elif not busy(e.error):
                    # A server that takes no regions at all.
                    self._shared_limit = 0
                # Busy (its regions' part of the budget, or their number, in
                # use): this batch crosses the socket, the next tries again.
            else:
                if result is not None:
                    return result
        return super()._results(f, operands, n, dtype)

    @staticmethod
    def _row_bytes(operands: list[Operand], dtype: DTypeLike) -> int:
        """Bytes per element of a batch: each array operand's and the result's."""
        import numpy as np  # noqa: PLC0415 - a batch: numpy is there

        arrays = sum(v.itemsize for v in operands if isinstance(v, np.ndarray))
        return arrays + int(np.dtype(dtype).itemsize)

    def _fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        def send(start: int, stop: int, parts: list[Operand]) -> None:
            frame = _frames.request_frame(f, parts, start)
            target = _frames.byte_view(out[start:stop])

            def reader(stream: Stream) -> bytes | None:
                return read_batch_reply(stream, target, out.itemsize)

            error = self._conn.exchange(frame, reader, _frames.frame_size(frame))
            if error is not None:
                raise error_from(error, self.where)

        _frames.each_frame(operands, len(out), self._frames, send)

    def health(self) -> dict[str, Any]:
        """The server's ``health`` reply."""
        return self.request('"command":"health"')

    def close(self) -> None:
        self._conn.close()
        if self._shared is not None:
            self._shared.close()


#: ``connect("ipc")`` or ``connect("unix:///path/to/socket")``.
open = opener("ipc", IpcClient)
