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
from ..errors import BadReply
from . import _catalogue
from ._network import Options, TcpTarget, opener
from ._socket import MAX_HEAD, MAX_REPLY, SPINS, Connection, Stream
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
    status, length, chunked = parse_head(bytes(buf[:end]))
    return status, length, chunked, buf[end + 4 :]


def parse_head(raw: bytes) -> tuple[int, int | None, bool]:
    """Status, Content-Length and whether chunked, from a response head
    (without its blank line)."""
    head = raw.decode("latin-1")
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
    return status, length, chunked


def read_response(stream: Stream, spins: int = SPINS) -> tuple[int, bytes]:
    """One HTTP/1.1 response: ``(status, body)``, by Content-Length or chunks."""
    status, length, chunked, body = read_head(stream, spins)
    if chunked:
        out = bytearray()
        while (need := next_chunks(body, out)) is not None:
            stream.recv_more(body, 0, need)
        return status, bytes(out)
    assert length is not None  # parse_head refuses a response with neither
    if length > MAX_REPLY:
        raise BadReply(f"the reply declares {length} bytes, more than the {MAX_REPLY} allowed")
    while len(body) < length:
        stream.recv_more(body)
    return status, whole_body(body, length)


def whole_body(body: bytearray, length: int) -> bytes:
    """A body of ``length`` bytes, checked to be all that came."""
    if len(body) > length:
        raise BadReply("more than one response to one request")
    return bytes(body)


def next_chunks(buf: bytearray, out: bytearray) -> int | None:
    """Move the complete chunks at the start of ``buf`` to ``out``: ``None``
    once the last chunk is read, else how many bytes ``buf`` may hold when
    it is read into again."""
    while True:
        eol = buf.find(b"\r\n")
        if eol < 0:
            return MAX_HEAD
        try:
            size = int(bytes(buf[:eol]).split(b";")[0], 16)
        except ValueError:
            raise BadReply(f"bad chunk size {bytes(buf[:eol][:20])!r}") from None
        if size < 0 or len(out) + size > MAX_REPLY:
            raise BadReply(f"the chunked reply is larger than {MAX_REPLY} bytes")
        end = eol + 2 + size + 2
        if len(buf) < end:
            return end
        out += buf[eol + 2 : eol + 2 + size]
        del buf[:end]
        if size == 0:
            return None


def read_batch_response(
    stream: Stream, target: memoryview, itemsize: int
) -> tuple[int, bytes] | None:
    """A batch response, its results received straight into ``target``; the
    status and problem document instead, when the server refused the frame."""
    status, length, chunked, early = read_head(stream)
    if status != 200:
        length = error_length(status, length, chunked)
        while len(early) < length:
            stream.recv_more(early, 0, length)
        return status, bytes(early)
    expected = batch_length(length, target)
    # The reply frame: header, then the results straight into `target`.
    while len(early) < _frames.REPLY.size:
        stream.recv_more(early, 0, expected)
    got = batch_start(early, target, itemsize)
    stream.recv_into_exactly(target[got:])
    return None


def error_length(status: int, length: int | None, chunked: bool) -> int:
    """The length of an error response's body, which must be small and declared."""
    if chunked or length is None or length > MAX_HEAD:
        raise BadReply(f"an error response (HTTP {status}) of no sensible size")
    return length


def batch_length(length: int | None, target: memoryview) -> int:
    """A batch response's length, checked against the results it must carry."""
    expected = _frames.REPLY.size + target.nbytes
    if length != expected:
        raise BadReply(f"the batch reply has {length} bytes, expected {expected}")
    return expected


def batch_start(early: bytearray, target: memoryview, itemsize: int) -> int:
    """Check the reply frame's header at the start of ``early`` and copy the
    results that came with it into ``target``; how many bytes it copied."""
    ok, count = _frames.parse_reply_header(bytes(early[: _frames.REPLY.size]))
    if not ok or count * itemsize != target.nbytes:
        raise BadReply(f"the batch reply has {count} results, expected {target.nbytes // itemsize}")
    got = early[_frames.REPLY.size :]
    if len(got) > target.nbytes:
        raise BadReply("more than one response to one request")
    target[: len(got)] = got
    return len(got)


class HeadWriter:
    """The head of each request to one server: its Host, and its token if any."""

    __slots__ = ("_fixed",)

    def __init__(self, target: TcpTarget) -> None:
        auth = f"Authorization: Bearer {target.token}\r\n" if target.token else ""
        self._fixed = f"Host: {target.netloc}\r\n{auth}"

    def get(self, path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\n{self._fixed}\r\n".encode()

    def post(self, path: str, content_type: str, length: int) -> bytes:
        return (
            f"POST {path} HTTP/1.1\r\n{self._fixed}"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
        ).encode()


class HttpClient(Client):
    """Calls over HTTP/1.1 with keep-alive to an oxbridge server."""

    bridge = "http"
    _address = "url"

    def __init__(self, library: Library, target: TcpTarget, options: Options) -> None:
        super().__init__(library)
        self.host, self.port = target.host, target.port
        self._head = HeadWriter(target)
        netloc = target.netloc
        tls = None
        if target.ca is not None:
            tls = ssl.create_default_context(cafile=target.ca or None)
        self.url = f"{'https' if tls else 'http'}://{netloc}"

        def connect(t: float) -> socket.socket:
            sock = socket.create_connection((target.host, target.port), timeout=t)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                # TLS reads cannot poll with MSG_DONTWAIT or use kernel
                # timeouts; the socket keeps Python's own timeout.
                return tls.wrap_socket(sock, server_hostname=target.host)
            return sock

        def greet(stream: Stream) -> None:
            request = self._head.get("/catalogue")
            stream.send(request, len(request))
            status, reply = read_response(stream)
            if status != 200:
                raise error_from(reply, f"{self.url}/catalogue (HTTP {status})", status)
            _catalogue.check(library, reply, self.url)

        self._conn = Connection(connect, self.url, options.timeout, greet)
        self._frames = _frames.FrameSize()
        for f in library.functions.values():
            setattr(self, f.name, self._method(f))

    def post(self, path: str, body: bytes, content_type: str = "application/json") -> bytes:
        """POST ``body`` to ``path``; the reply body, or the bridge's exception."""
        head = self._head.post(path, content_type, len(body))
        status, reply = self._conn.exchange(head + body, read_response)
        if status != 200:
            raise error_from(reply, f"{self.url}{path} (HTTP {status})", status)
        return reply

    def _method(self, f: FunctionInfo) -> Callable[..., Any]:
        path = f.http_path
        where = f"{self.url}{path}"

        def send(fields: str) -> dict[str, Any]:
            return json_reply(self.post(path, ("{" + fields + "}").encode()), where)

        return json_method(f, send, where)

    def _fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        def send(start: int, stop: int, parts: list[Operand]) -> None:
            frame = _frames.request_frame(f, parts, start)
            size = _frames.frame_size(frame)
            head = self._head.post("/batch", "application/octet-stream", size)
            target = _frames.byte_view(out[start:stop])

            def reader(stream: Stream) -> tuple[int, bytes] | None:
                return read_batch_response(stream, target, out.itemsize)

            error = self._conn.exchange([head, *frame], reader, len(head) + size)
            if error is not None:
                raise error_from(error[1], f"{self.url}/batch (HTTP {error[0]})", error[0])

        # Two connections: a frame crosses one while the server computes the other's.
        _frames.each_frame(operands, len(out), self._frames, send, workers=2)

    def close(self) -> None:
        self._conn.close()


#: ``connect("http")``, ``connect("http://host:port")`` or
#: ``connect("https://host:port", ca="ca.pem")``; ``token`` (or ``$OXBRIDGE_TOKEN``)
#: is sent as a bearer token.
open = opener("http", HttpClient)
