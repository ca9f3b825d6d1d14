"""The HTTP bridge: the article's JSON API over one keep-alive connection.

The article used ``requests.post`` per call, close to a millisecond each; this
client writes HTTP/1.1 itself on one persistent socket, which is what an
axum server answers in tens of microseconds.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

from .._client import Client
from ._network import DEFAULT_TIMEOUT, tcp_address
from ._socket import SPINS, Closed, Connection, recv_more
from ._wire import complex_from, error_from, greet_fields, operands


def read_response(sock: socket.socket, spins: int = SPINS) -> tuple[int, bytes]:
    """One HTTP/1.1 response: ``(status, body)``, by Content-Length or chunks."""
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
    body = buf[end + 4 :]
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

    def __init__(self, host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.host, self.port = host, port
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.url = f"http://{netloc}"

        def opener(t: float) -> socket.socket:
            sock = socket.create_connection((host, port), timeout=t)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
            f"POST {path} HTTP/1.1\r\nHost: {self._host_header}\r\n"
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

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"<oxbridge.Client bridge='http' url={self.url!r}>"


def open(address: str | None, *, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> Client:
    """``connect("http")`` or ``connect("http://host:port")``."""
    if options:
        raise TypeError(f"unexpected options for the http bridge: {', '.join(options)}")
    host, port = tcp_address("http", address, "OXBRIDGE_HTTP", 3000)
    return HttpClient(host, port, timeout)
