"""The HTTP bridge: the article's JSON API over one keep-alive connection.

The article used ``requests.post`` per call, close to a millisecond each; this
client writes HTTP/1.1 itself on one persistent socket, which is what an
axum server answers in tens of microseconds.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import _frames
from .._client import Client
from .._functions import FunctionInfo
from ._network import DEFAULT_TIMEOUT, TcpTarget, tcp_target
from ._socket import MAX_HEAD, MAX_REPLY, SPINS, BadReply, Connection, Stream
from ._wire import error_from, json_method, json_reply

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library


def read_head(stream: Stream, spins: int = SPINS) -> tuple[int, int | None, bool, bytearray]:
    """Status, Content-Length, whether chunked, and the body bytes already read."""
    buf = bytearray()
    stream.recv_more(buf, spins, MAX_HEAD)
    while (end := buf.find(b"\r\n\r\n")) < 0:
        stream.recv_more(buf, 0, MAX_HEAD)
    head = bytes(buf[:end]).decode("latin-1")
    if not head.startswith("HTTP/1.") or not head[9:12].isdigit():
        raise BadReply(f"not an HTTP/1 response: {head[:40]!r}")
    status = int(head[9:12])
    length, chunked = None, False
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            if not value.strip().isdigit():
                raise BadReply(f"bad Content-Length {value.strip()!r}")
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value.lower()
    if length is None and not chunked:
        raise BadReply("a response with neither Content-Length nor chunks")
    if status < 200:
        raise BadReply(f"an unexpected interim response {status}")
    return status, length, chunked, buf[end + 4 :]


def read_response(stream: Stream, spins: int = SPINS) -> tuple[int, bytes]:
    """One HTTP/1.1 response: ``(status, body)``, by Content-Length or chunks."""
    status, length, chunked, body = read_head(stream, spins)
    if chunked:
        return status, _dechunk(stream, body)
    assert length is not None  # read_head refuses a response with neither
    if length > MAX_REPLY:
        raise BadReply(f"the reply declares {length} bytes, more than the {MAX_REPLY} allowed")
    while len(body) < length:
        stream.recv_more(body)
    if len(body) > length:
        raise BadReply("more than one response to one request")
    return status, bytes(body)


def _dechunk(stream: Stream, buf: bytearray) -> bytes:
    out = bytearray()
    while True:
        while (eol := buf.find(b"\r\n")) < 0:
            stream.recv_more(buf, 0, MAX_HEAD)
        try:
            size = int(bytes(buf[:eol]).split(b";")[0], 16)
        except ValueError:
            raise BadReply(f"bad chunk size {bytes(buf[:eol][:20])!r}") from None
        if size < 0 or len(out) + size > MAX_REPLY:
            raise BadReply(f"the chunked reply is larger than {MAX_REPLY} bytes")
        while len(buf) < eol + 2 + size + 2:
            stream.recv_more(buf, 0, eol + 2 + size + 2)
        out += buf[eol + 2 : eol + 2 + size]
        del buf[: eol + 2 + size + 2]
        if size == 0:
            return bytes(out)


def read_batch_response(stream: Stream, target: memoryview, itemsize: int) -> bytes | None:
    """A batch response, its results received straight into ``target``; the
    problem document instead, when the server refused the frame."""
    status, length, chunked, early = read_head(stream)
    if status != 200:
        if chunked or length is None or length > MAX_HEAD:
            raise BadReply(f"an error response (HTTP {status}) of no sensible size")
        while len(early) < length:
            stream.recv_more(early, 0, length)
        return bytes(early)
    expected = _frames.REPLY.size + target.nbytes
    if length != expected:
        raise BadReply(f"the batch reply has {length} bytes, expected {expected}")
    # The reply frame: header, then the results straight into `target`.
    while len(early) < _frames.REPLY.size:
        stream.recv_more(early, 0, expected)
    ok, count = _frames.parse_reply_header(bytes(early[: _frames.REPLY.size]))
    if not ok or count * itemsize != target.nbytes:
        raise BadReply(f"the batch reply has {count} results, expected {target.nbytes // itemsize}")
    got = early[_frames.REPLY.size :]
    if len(got) > target.nbytes:
        raise BadReply("more than one response to one request")
    target[: len(got)] = got
    stream.recv_into_exactly(target[len(got) :])
    return None


class HttpClient(Client):
    """Calls over HTTP/1.1 with keep-alive to an oxbridge server."""

    bridge = "http"

    def __init__(
        self, library: Library, target: TcpTarget, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        super().__init__(library)
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

        self._conn = Connection(opener, self.url, timeout)
        self._frames = _frames.FrameSize()
        self._host_header = netloc
        for f in library.functions.values():
            setattr(self, f.name, self._method(f))

    def post(self, path: str, body: bytes, content_type: str = "application/json") -> bytes:
        """POST ``body`` to ``path``; the reply body, or the bridge's exception."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host_header}\r\n{self._auth}"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        status, reply = self._conn.exchange(head.encode() + body, read_response)
        if status != 200:
            raise error_from(reply, f"{self.url}{path} (HTTP {status})")
        return reply

    def _method(self, f: FunctionInfo) -> Callable[..., Any]:
        path = f"/{f.name}"
        where = f"{self.url}{path}"

        def send(fields: str) -> dict[str, Any]:
            return json_reply(self.post(path, ("{" + fields + "}").encode()), where)

        return json_method(f, send, where)

    def _fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        def send(start: int, stop: int, parts: list[Operand]) -> None:
            frame = _frames.request_frame(f, parts, start)
            size = _frames.frame_size(frame)
            head = (
                f"POST /batch HTTP/1.1\r\nHost: {self._host_header}\r\n{self._auth}"
                f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
            )
            target = _frames.byte_view(out[start:stop])

            def reader(stream: Stream) -> bytes | None:
                return read_batch_response(stream, target, out.itemsize)

            head_bytes = head.encode()
            error = self._conn.exchange([head_bytes, *frame], reader, len(head_bytes) + size)
            if error is not None:
                raise error_from(error, f"{self.url}/batch")

        _frames.each_frame(operands, len(out), self._frames, send)

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"<oxbridge.Client bridge='http' url={self.url!r}{self._library_note()}>"


def open(
    address: str | None,
    library: Library,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    token: str | None = None,
    ca: str | None = None,
    **options: Any,
) -> Client:
    """``connect("http")``, ``connect("http://host:port")`` or
    ``connect("https://host:port", ca="ca.pem")``; ``token`` (or
    ``$OXBRIDGE_TOKEN``) is sent as a bearer token."""
    port = library.native.DEFAULT_HTTP_PORT
    where = tcp_target("http", address, port, token, ca, options, library)
    return HttpClient(library, where, timeout)
