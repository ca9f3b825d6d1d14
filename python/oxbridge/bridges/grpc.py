"""The gRPC bridge through grpcio: every exported function at
``/<library>.v1.Functions/<Name>``, and its vectorized form at ``<Name>Many``."""

from __future__ import annotations

import json
import re
import socket
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from .. import _frames
from .._args import complex_arg
from .._client import Client
from .._functions import FunctionInfo, bind, checked, named
from ..errors import (
    BridgeTimeoutError,
    InternalError,
    OxbridgeError,
    TransportError,
    error_for,
)
from ._network import DEFAULT_TIMEOUT, TcpTarget, tcp_target
from ._protobuf import decode_many_reply, decode_reply, encode_many_request, encode_request

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library

#: Metadata key the server uses for the exact error kind.
ERROR_KIND_KEY = "oxbridge-error-kind"
MAX_MESSAGE = 64 * 1024 * 1024

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    # Reconnect quickly after a server restart instead of backing off for seconds.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


#: tonic's words for a request over the server's decoding limit.
_DECODE_LIMIT = re.compile(r"message length too large: found \d+ bytes, the limit is: (\d+) bytes")


#: Two complex arguments in fields 1 and 2: the calculator's request, in one pack.
_PAIR = struct.Struct("<BBBdBdBBBdBd")


def _address_list(addresses: Sequence[tuple[str, int]]) -> str:
    """Several servers as one static gRPC target (``ipv4:a:p,b:q``): grpc's
    own name syntax for a fixed list, which wants addresses, not names."""
    v4: list[str] = []
    v6: list[str] = []
    for host, port in addresses:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as e:
            raise TransportError(f"cannot resolve {host!r} for grpc: {e}") from None
        ips = {family: str(sockaddr[0]) for family, _, _, _, sockaddr in reversed(found)}
        if socket.AF_INET in ips:
            v4.append(f"{ips[socket.AF_INET]}:{port}")
        if socket.AF_INET6 in ips:
            v6.append(f"[{ips[socket.AF_INET6]}]:{port}")
    if len(v4) == len(addresses):
        return "ipv4:" + ",".join(v4)
    if len(v6) == len(addresses):
        return "ipv6:" + ",".join(v6)
    raise TransportError("grpc balances over servers of one address family: all IPv4 or all IPv6")


def channel_args(where: TcpTarget, library: Library) -> tuple[str, list[tuple[str, Any]]]:
    """The channel's target and options. One server as it is named; several
    balanced by grpc's own ``round_robin`` policy, each checked with
    ``grpc.health.v1`` so that a draining server gets no new calls."""
    if not where.others:
        return where.netloc, CHANNEL_OPTIONS
    config = {
        "loadBalancingConfig": [{"round_robin": {}}],
        "healthCheckConfig": {"serviceName": f"{library.name}.v1.Functions"},
    }
    # The :authority of every call (and the name TLS verifies) is the first
    # server's: grpc would send the whole list, which is no authority at all.
    first = where.netloc.split(",")[0]
    options = [
        *CHANNEL_OPTIONS,
        ("grpc.service_config", json.dumps(config)),
        ("grpc.default_authority", first),
    ]
    return _address_list(where.addresses), options


def is_listening(addresses: Sequence[tuple[str, int]], deadline: float) -> bool:
    """Whether a TCP connection to one of the servers can be made now."""
    for host, port in addresses:
        try:
            socket.create_connection(
                (host, port), timeout=max(deadline - time.monotonic(), 0.001)
            ).close()
        except OSError:
            continue
        return True
    return False


def method_name(name: str) -> str:
    """A function's gRPC method name: ``greet`` → ``Greet``, ``pow_many`` → ``PowMany``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def error_from_rpc(e: grpc.RpcError, target: str) -> OxbridgeError:
    """The bridge's exception for a failed RPC."""
    code, details = e.code(), e.details() or ""
    # The server's own kind first: its "unavailable" (busy) is not a broken link.
    kind = dict(e.trailing_metadata() or ()).get(ERROR_KIND_KEY)
    if isinstance(kind, str):
        return error_for(kind, details)
    too_large = _DECODE_LIMIT.search(details) if code == grpc.StatusCode.OUT_OF_RANGE else None
    if too_large:
        # tonic refuses an oversized message in its codec, before oxbridge
        # sees it: the same condition as HTTP's 413, said the same way.
        return error_for(
            "payload_too_large",
            f"request is larger than the server's limit of {too_large[1]} bytes",
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return BridgeTimeoutError(f"no reply from grpc://{target} in time")
    if code == grpc.StatusCode.UNAVAILABLE:
        return TransportError(f"grpc://{target} is unavailable: {details}")
    return InternalError(f"gRPC {code.name} from grpc://{target}: {details}")


def pair_encoder(f: FunctionInfo) -> Callable[[Any, Any], bytes]:
    """The request of a function of two complex numbers, packed in one go."""
    pair = _PAIR
    name_a, name_b = f.params[0].name, f.params[1].name

    def encode(a: Any, b: Any) -> bytes:
        x = a if type(a) is complex else complex_arg(a, name_a)
        y = b if type(b) is complex else complex_arg(b, name_b)
        return pair.pack(0x0A, 18, 0x09, x.real, 0x11, x.imag,
                         0x12, 18, 0x09, y.real, 0x11, y.imag)  # fmt: skip

    return encode


def request_encoder(f: FunctionInfo) -> Callable[[Sequence[object], Mapping[str, object]], bytes]:
    """``encode(args, kwargs)``: a call's arguments, checked, as ``f``'s request message."""
    if f.all_complex and len(f.params) == 2:
        encode_pair = pair_encoder(f)

        def pair(args: Sequence[object], kwargs: Mapping[str, object]) -> bytes:
            a, b = args if len(args) == 2 and not kwargs else bind(f, args, kwargs)
            return encode_pair(a, b)

        return pair
    return lambda args, kwargs: encode_request(f, checked(f, args, kwargs))


class GrpcClient(Client):
    """Calls over gRPC (HTTP/2) to an oxbridge server."""

    bridge = "grpc"

    def __init__(
        self, library: Library, where: TcpTarget, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        super().__init__(library)
        self.target = where.netloc
        self._addresses = where.addresses
        self._frames = _frames.FrameSize()
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {where.token}"),) if where.token else None
        target, options = channel_args(where, library)
        if where.ca is None:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            roots = Path(where.ca).read_bytes() if where.ca else None
            credentials = grpc.ssl_channel_credentials(root_certificates=roots)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        self._service = f"/{library.name}.v1.Functions"
        for f in library.functions.values():
            setattr(self, f.name, self._method(f))

    def call(self, method: Any, request: Any) -> Any:
        """One RPC. On UNAVAILABLE, when something listens at the address (a
        restarted server the channel has not reconnected to yet), once more,
        waiting for the channel within what is left of the deadline; when
        nothing listens, a :class:`TransportError` at once."""
        deadline = time.monotonic() + self.timeout
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            unavailable = e.code() == grpc.StatusCode.UNAVAILABLE
            if not unavailable or not is_listening(self._addresses, deadline):
                raise error_from_rpc(e, self.target) from None
        try:
            return method(
                request,
                timeout=max(deadline - time.monotonic(), 0.001),
                metadata=self._metadata,
                wait_for_ready=True,
            )
        except grpc.RpcError as e:
            raise error_from_rpc(e, self.target) from None

    def _method(self, f: FunctionInfo) -> Callable[..., Any]:
        """``f`` as ``/<library>.v1.Functions/<Name>``, its messages written and
        read from its signature (``_protobuf``)."""
        rpc = self._channel.unary_unary(f"{self._service}/{method_name(f.name)}")
        where = f"grpc://{self.target}"
        if f.all_complex and len(f.params) == 2:
            encode_pair = pair_encoder(f)

            def op(a: Any, b: Any) -> complex:
                result: complex = decode_reply(f, self.call(rpc, encode_pair(a, b)), where)
                return result

            return named(op, f)

        encode = request_encoder(f)

        def call(*args: object, **kwargs: object) -> Any:
            return decode_reply(f, self.call(rpc, encode(args, kwargs)), where)

        call.__name__ = call.__qualname__ = f.name
        call.__doc__ = f.doc
        return call

    def _fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        method = f"{self._service}/{method_name(f.name)}Many"
        rpc = self._channel.unary_unary(method)
        where = f"grpc://{self.target}"

        import numpy as np  # noqa: PLC0415 - a batch: numpy is there (see Client._many)

        def send(start: int, stop: int, parts: list[Operand]) -> None:
            reply = self.call(rpc, encode_many_request(f, parts, start))
            result = decode_many_reply(reply, (stop - start) * out.itemsize, where)
            out[start:stop] = np.frombuffer(result, dtype=out.dtype)

        _frames.each_frame(operands, len(out), self._frames, send)

    def close(self) -> None:
        self._channel.close()

    def __repr__(self) -> str:
        return f"<oxbridge.Client bridge='grpc' target={self.target!r}{self._library_note()}>"


def open(
    address: str | None,
    library: Library,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    token: str | None = None,
    ca: str | None = None,
    **options: Any,
) -> Client:
    """``connect("grpc")``, ``connect("grpc://host:port")`` or
    ``connect("grpcs://host:port", ca="ca.pem")``; ``token`` (or
    ``$OXBRIDGE_TOKEN``) is sent as a bearer token. Several servers,
    ``grpc://h1:p1,h2:p2``, share the calls round-robin."""
    port = library.native.DEFAULT_GRPC_PORT
    where = tcp_target("grpc", address, port, token, ca, options, library)
    return GrpcClient(library, where, timeout)
