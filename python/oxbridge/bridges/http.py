"""The HTTP bridge: the article's JSON API over one keep-alive connection.

The article used ``requests.post`` per call, close to a millisecond each; this
client writes HTTP/1.1 itself on one persistent socket, which is what an
axum server answers in tens of microseconds.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from .. import _batch
from .._client import Client
from ._network import DEFAULT_TIMEOUT, TcpTarget, tcp_target
from ._socket import SPINS, Closed, Connection, recv_exactly, recv_into_exactly, recv_more
from ._wire import complex_from, error_from, greet_fields, operands

if TYPE_CHECKING:
    from .._batch import ComplexArray, Operand


def read_head(sock: socket.socket, spins: int = SPINS) -> tuple[int, int | None, bool, bytearray]:
    """Status, Content-Length, whether chunked, and the body bytes already read."""
    buf = bytearray()
    recv_more(sock, buf, spins)
    while (end := buf.find(b"\r\n\r\n")) < 0:
        recv_more(sock, buf)
    head = bytes(buf[:end]).decode("latin-1")
    status = int(head[9:12])
    length, chunked = None, False
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value.lower()
    return status, length, chunked, buf[end + 4 :]


def read_response(sock: socket.socket, spins: int = SPINS) -> tuple[int, bytes]:
    """One HTTP/1.1 response: ``(status, body)``, by Content-Length or chunks."""
    status, length, chunked, body = read_head(sock, spins)
    if length is not None:
        while len(body) < length:
            recv_more(sock, body)
        return status, bytes(body[:length])
    if chunked:
        return status, _dechunk(sock, body)
    raise Closed  # no framing: cannot tell where the body ends


def _dechunk(sock: socket.socket, buf: bytearray) -> bytes:
    out = bytearray()
    while True:
        while (eol := buf.find(b"\r\n")) < 0:
            recv_more(sock, buf)
        size = int(bytes(buf[:eol]).split(b";")[0], 16)
        while len(buf) < eol + 2 + size + 2:
            recv_more(sock, buf)
        out += buf[eol + 2 : eol + 2 + size]
        del buf[: eol + 2 + size + 2]
        if size == 0:
            return bytes(out)


class HttpClient(Client):
    """Calls over HTTP/1.1 with keep-alive to an oxbridge server."""

    bridge = "http"

    def __init__(self, target: TcpTarget, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.host, self.port = target.host, target.port
        self._auth = f"Authorization: Bearer {target.token}\r\n" if target.token else ""
        netloc = target.netloc
        tls = None
        if target.ca is not None:
            tls = ssl.create_default_context(cafile=target.ca or None)
        self.url = f"{'https' if tls else 'http'}://{netloc}"

        def opener(t: float) -> socket.socket:
            sock = socket.create_connection((target.host, target.port), timeout=t)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                # TLS reads cannot poll with MSG_DONTWAIT or use kernel
                # timeouts; the socket keeps Python's own timeout.
                return tls.wrap_socket(sock, server_hostname=target.host)
            return sock

        self._conn = Connection(opener, read_response, self.url, timeout)
        self._host_header = netloc
        self.add = self._arithmetic("add")
        self.sub = self._arithmetic("sub")
        self.mul = self._arithmetic("mul")
        self.div = self._arithmetic("div")
        self.greet = self._greet

    def post(self, path: str, body: bytes, content_type: str = "application/json") -> bytes:
        """POST ``body`` to ``path``; the reply body, or the bridge's exception."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host_header}\r\n{self._auth}"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        status, reply = self._conn.exchange(head.encode() + body)
        if status != 200:
            raise error_from(reply, f"HTTP {status} from {self.url}{path}")
        return reply

    def _arithmetic(self, name: str) -> Callable[[complex, complex], complex]:
        path = f"/{name}"

        def op(a: complex, b: complex) -> complex:
            body = ("{" + operands(a, b) + "}").encode()
            return complex_from(json.loads(self.post(path, body)))

        op.__name__ = op.__qualname__ = name
        return op

    def _greet(self, greeting: str, name: str) -> str:
        body = ("{" + greet_fields(greeting, name) + "}").encode()
        message: str = json.loads(self.post("/greet", body))["message"]
        return message

    def _fill(self, op: str, a: ComplexArray, b: Operand, out: ComplexArray) -> None:
        for start, stop, a_part, b_part in _batch.split(a, b):
            frame = _batch.request_frame(op, a_part, b_part, start)
            size = sum(memoryview(cast(Any, p)).nbytes for p in frame)
            head = (
                f"POST /batch HTTP/1.1\r\nHost: {self._host_header}\r\n{self._auth}"
                f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
            )
            target = _batch.byte_view(out[start:stop])

            def reader(sock: socket.socket, target: memoryview = target) -> tuple[int, bytes]:
                return self._batch_reply(sock, target)

            self._conn.exchange([head.encode(), *frame], reader)

    def _batch_reply(self, sock: socket.socket, target: memoryview) -> tuple[int, bytes]:
        status, length, _, early = read_head(sock)
        if status != 200 or length is None:
            body = bytes(early)
            if length is not None and length > len(body):
                body += recv_exactly(sock, length - len(body))
            raise error_from(body, f"HTTP {status} from {self.url}/batch")
        # The reply frame: header, then the results straight into `target`.
        while len(early) < _batch.REPLY.size:
            recv_more(sock, early)
        _, count = _batch.parse_reply_header(bytes(early[: _batch.REPLY.size]))
        if count * 16 != target.nbytes:
            raise ValueError(f"batch reply has {count} results, expected {target.nbytes // 16}")
        got = early[_batch.REPLY.size :]
        target[: len(got)] = got
        recv_into_exactly(sock, target[len(got) :])
        return status, b""

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"<oxbridge.Client bridge='http' url={self.url!r}>"


def open(
    address: str | None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    token: str | None = None,
    ca: str | None = None,
    **options: Any,
) -> Client:
    """``connect("http")``, ``connect("http://host:port")`` or
    ``connect("https://host:port", ca="ca.pem")``; ``token`` (or
    ``$OXBRIDGE_TOKEN``) is sent as a bearer token."""
    return HttpClient(tcp_target("http", address, 3000, token, ca, options), timeout)
