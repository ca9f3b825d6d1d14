"""The IPC bridge: the article's JSON requests over one Unix socket connection.

Each request is one JSON object and each reply one line of JSON, on the same
connection, which stays open for the next call.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import _batch
from .._client import Client
from ._network import DEFAULT_TIMEOUT, unix_path
from ._socket import SPINS, Connection, recv_exactly, recv_into_exactly, recv_more
from ._wire import complex_from, error_from, greet_fields, operands

if TYPE_CHECKING:
    from .._batch import ComplexArray, Operand


def read_line(sock: socket.socket, spins: int = SPINS) -> tuple[int, bytes]:
    """One reply: a line of JSON (one request is in flight at a time)."""
    buf = bytearray()
    recv_more(sock, buf, spins)
    while not buf.endswith(b"\n"):
        recv_more(sock, buf)
    return 0, bytes(buf)


def read_batch_reply(sock: socket.socket, target: memoryview) -> tuple[int, bytes]:
    """One batch reply frame, its results received straight into ``target``."""
    ok, length = _batch.parse_reply_header(recv_exactly(sock, _batch.REPLY.size))
    if not ok:
        raise error_from(recv_exactly(sock, length), "batch error reply")
    if length * 16 != target.nbytes:
        raise ValueError(f"batch reply has {length} results, expected {target.nbytes // 16}")
    recv_into_exactly(sock, target)
    return 0, b""


class IpcClient(Client):
    """Calls over a Unix domain socket to an oxbridge server."""

    bridge = "ipc"

    def __init__(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = path

        def opener(t: float) -> socket.socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(t)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            return sock

        self._conn = Connection(opener, read_line, f"unix://{path}", timeout)
        self.add = self._arithmetic("add")
        self.sub = self._arithmetic("sub")
        self.mul = self._arithmetic("mul")
        self.div = self._arithmetic("div")
        self.greet = self._greet

    def request(self, fields: str) -> dict[str, Any]:
        """Send ``{fields}`` as one request; the decoded reply, or the exception."""
        _, line = self._conn.exchange(("{" + fields + "}\n").encode())
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise error_from(line, f"error reply from unix://{self.path}")
        return reply

    def _arithmetic(self, name: str) -> Callable[[complex, complex], complex]:
        command = f'"command":"{name}",'

        def op(a: complex, b: complex) -> complex:
            return complex_from(self.request(command + operands(a, b)))

        op.__name__ = op.__qualname__ = name
        return op

    def _greet(self, greeting: str, name: str) -> str:
        message: str = self.request('"command":"greet",' + greet_fields(greeting, name))["message"]
        return message

    def _fill(self, op: str, a: ComplexArray, b: Operand, out: ComplexArray) -> None:
        for start, stop, a_part, b_part in _batch.split(a, b):
            frame = _batch.request_frame(op, a_part, b_part, start)
            target = _batch.byte_view(out[start:stop])

            def reader(sock: socket.socket, target: memoryview = target) -> tuple[int, bytes]:
                return read_batch_reply(sock, target)

            self._conn.exchange(frame, reader)

    def health(self) -> dict[str, Any]:
        """The server's ``health`` reply."""
        return self.request('"command":"health"')

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"<oxbridge.Client bridge='ipc' path={self.path!r}>"


def open(address: str | None, *, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> Client:
    """``connect("ipc")`` or ``connect("unix:///path/to/socket")``."""
    if options:
        raise TypeError(f"unexpected options for the ipc bridge: {', '.join(options)}")
    return IpcClient(unix_path(address), timeout)
