"""The gRPC bridge: every exported function at ``/<library>.v1.Functions/<Name>``,
and its vectorized form at ``<Name>Many``.

The messages are written and read here (``_protobuf``); a tonic client inside
the extension (``_native.GrpcChannel``) carries them, with the GIL released
while it waits: the bridge needs no grpcio.
"""

from __future__ import annotations

import itertools
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _frames, _native
from .._args import complex_arg
from .._client import Client
from .._functions import FunctionInfo, bind, checked, named, too_many
from . import _catalogue
from ._network import Options, TcpTarget, opener
from ._protobuf import decode_many_reply, decode_reply, encode_request, many_request_parts

if TYPE_CHECKING:
    from .._arrays import Array, Operand
    from .._library import Library

#: The largest message either way, as the server's own limit.
MAX_MESSAGE = 64 * 1024 * 1024

#: The channels a batch's frames take turns on (see ``GrpcClient.exchange``).
BATCH_LANES = 2

#: Two complex arguments in fields 1 and 2: the calculator's request, in one pack.
_PAIR = struct.Struct("<BBBdBdBBBdBd")


def channel(where: TcpTarget, library: Library, lane: int = 0) -> _native.GrpcChannel:
    """The native channel to ``where``: one server as it is named; several
    round-robin, each checked with ``grpc.health.v1`` so that a draining
    server gets no new calls. TLS when ``where.ca`` is set (empty: the
    system's roots). ``lane``: the client runtime its connections run on."""
    roots = None if where.ca is None else Path(where.ca).read_bytes() if where.ca else b""
    return _native.GrpcChannel(
        list(where.addresses),
        where.netloc,
        ca=roots,
        token=where.token,
        health_service=f"{library.name}.v1.Functions" if where.others else None,
        max_message=MAX_MESSAGE,
        lane=lane,
    )


def method_name(name: str) -> str:
    """A function's gRPC method name: ``greet`` → ``Greet``, ``pow_many`` → ``PowMany``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


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
    _address = "target"

    def __init__(self, library: Library, where: TcpTarget, options: Options) -> None:
        super().__init__(library)
        self.target = where.netloc
        self._frames = _frames.FrameSize()
        self.timeout = options.timeout
        self._channel = channel(where, library)
        self._where, self._library = where, library
        # A batch's frames take turns on two channels, each on a runtime of
        # its own (a lane): two threads move their bytes at once, as HTTP's
        # two connections do. The second is made on the first batch of
        # several frames.
        self._lanes = [self._channel]
        self._lanes_made = threading.Lock()
        self._turns = itertools.count()
        self._service = f"/{library.name}.v1.Functions"
        self._checked = False
        for f in library.functions.values():
            setattr(self, f.name, self._first(f.name, self._method(f)))

    def _first(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        """``method``, after the client's first call has checked the
        server's catalogue; then the method itself takes its place."""

        def first(*args: Any, **kwargs: Any) -> Any:
            self._check_catalogue()
            setattr(self, name, method)
            return method(*args, **kwargs)

        first.__name__ = first.__qualname__ = name
        first.__doc__ = method.__doc__
        return first

    def _check_catalogue(self) -> None:
        """Refuses a server that does not serve this client's library as it
        knows it (see ``_catalogue``), once per client."""
        if self._checked:
            return
        reply = self._channel.call(_catalogue.GRPC_PATH, b"", self.timeout)
        _catalogue.check_grpc(self._library, reply, f"grpc://{self.target}")
        self._checked = True

    def call(self, method: str, request: bytes) -> bytes:
        """One RPC of ``method`` (its path) within the client's timeout. On
        UNAVAILABLE while something listens at the address (a restarted
        server the channel has not reconnected to yet), again until it
        answers or the deadline has passed (:class:`BridgeTimeoutError`);
        when nothing listens, a :class:`TransportError` at once."""
        self._check_catalogue()
        return self._channel.call(method, request, self.timeout)

    def exchange(
        self, method: str, pieces: list[Any], target: memoryview, *, lanes: bool = False
    ) -> bytes | None:
        """A batch's RPC, as :meth:`call`: the request written from
        ``pieces`` (bytes, and byte views of the arrays), the results read
        straight into ``target``; ``None`` when they were, else the reply,
        which does not hold exactly ``len(target)`` bytes of results. With
        ``lanes`` (a frame of several), on the next of the batch lanes."""
        chosen = self._channel
        if lanes:
            every = self._batch_lanes()
            chosen = every[next(self._turns) % len(every)]
        return chosen.call_many(method, pieces, target, self.timeout)

    def _batch_lanes(self) -> list[_native.GrpcChannel]:
        """The channels a batch's frames take turns on, the second made on
        the first batch of several frames."""
        if len(self._lanes) < BATCH_LANES:
            with self._lanes_made:
                if len(self._lanes) < BATCH_LANES:
                    self._lanes = [self._channel, channel(self._where, self._library, lane=1)]
        return self._lanes

    def _method(self, f: FunctionInfo) -> Callable[..., Any]:
        """``f`` as ``/<library>.v1.Functions/<Name>``, its messages written and
        read from its signature (``_protobuf``)."""
        path = f"{self._service}/{method_name(f.name)}"
        where = f"grpc://{self.target}"
        if f.all_complex and len(f.params) == 2:
            encode_pair = pair_encoder(f)
            call = self._channel.call
            refuse = too_many(f)

            def op(a: Any, b: Any, *extra: Any) -> complex:
                if extra:
                    refuse(extra)
                reply = call(path, encode_pair(a, b), self.timeout)
                result: complex = decode_reply(f, reply, where)
                return result

            return named(op, f)

        encode = request_encoder(f)

        def method(*args: object, **kwargs: object) -> Any:
            return decode_reply(f, self.call(path, encode(args, kwargs)), where)

        method.__name__ = method.__qualname__ = f.name
        method.__doc__ = f.doc
        return method

    def _fill(self, f: FunctionInfo, operands: list[Operand], out: Array) -> None:
        self._check_catalogue()
        path = f"{self._service}/{method_name(f.name)}Many"
        where = f"grpc://{self.target}"

        several = len(out) > self._frames.elements

        def send(start: int, stop: int, parts: list[Operand]) -> None:
            # The arrays' bytes go out and the results come in without a
            # copy in Python; a reply the channel could not place is read
            # here, which says what is wrong with it.
            pieces = many_request_parts(f, parts, start)
            target = _frames.byte_view(out[start:stop])
            reply = self.exchange(path, pieces, target, lanes=several)
            if reply is not None:
                target[:] = decode_many_reply(reply, len(target), where)

        # Two calls in flight: one crosses the connection while the server computes the other.
        _frames.each_frame(operands, len(out), self._frames, send, workers=2)

    def close(self) -> None:
        for lane in self._lanes:
            lane.close()


#: ``connect("grpc")``, ``connect("grpc://host:port")`` or
#: ``connect("grpcs://host:port", ca="ca.pem")``; ``token`` (or ``$OXBRIDGE_TOKEN``)
#: is sent as a bearer token. Several servers, ``grpc://h1:p1,h2:p2``, share the
#: calls round-robin.
open = opener("grpc", GrpcClient)
