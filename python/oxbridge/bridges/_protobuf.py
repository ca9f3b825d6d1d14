"""The protobuf form of any exported function's request and reply, written
and read from its signature (the server's ``grpc/functions.rs``): one field per
parameter, numbered from 1 in order; the result in field 1.

Each type's form: ``bool``, ``int64`` (varint), ``double`` (fixed64),
``string`` and ``bytes``; complex as the message ``Complex {optional double
re = 1; optional double im = 2}``; arrays as packed ``repeated double`` and
``repeated int64``, and ``repeated Complex``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import _extras
from .._functions import FunctionInfo
from ..errors import ProtocolError

if TYPE_CHECKING:
    from .._arrays import Operand

_DOUBLE = struct.Struct("<d")
_COMPLEX = struct.Struct("<BdBd")  # 0x09 re 0x11 im
_MASK64 = (1 << 64) - 1


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(tag: int, wire: int) -> bytes:
    return _varint(tag << 3 | wire)


def _delimited(tag: int, payload: bytes) -> bytes:
    return _key(tag, 2) + _varint(len(payload)) + payload


def _complex(z: complex) -> bytes:
    return _COMPLEX.pack(0x09, z.real, 0x11, z.imag)


def encode_field(tag: int, type_name: str, value: Any) -> bytes:
    """One checked argument (``_functions.checked``) as field ``tag``."""
    if type_name == "complex":
        return _delimited(tag, _complex(value))
    if type_name == "f64":
        return _key(tag, 1) + _DOUBLE.pack(value)
    if type_name in ("i64", "bool"):
        return _key(tag, 0) + _varint(int(value) & _MASK64)
    if type_name == "str":
        return _delimited(tag, value.encode("utf-8", "surrogatepass"))
    if type_name == "bytes":
        return _delimited(tag, value)
    if type_name == "f64[]":
        return _delimited(tag, value.astype("<f8").tobytes()) if len(value) else b""
    if type_name == "i64[]":
        payload = b"".join(_varint(int(x) & _MASK64) for x in value.tolist())
        return _delimited(tag, payload) if payload else b""
    if type_name == "complex[]":
        return b"".join(_delimited(tag, _complex(z)) for z in value.tolist())
    raise ValueError(f"no protobuf form for {type_name}")


def encode_request(f: FunctionInfo, args: Sequence[Any]) -> bytes:
    """The request message for checked arguments in parameter order."""
    return b"".join(
        encode_field(i, p.type, value)
        for i, (p, value) in enumerate(zip(f.params, args, strict=True), start=1)
    )


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def varint(self) -> int:
        shift = result = 0
        while True:
            if self.at >= len(self.data) or shift > 63:
                raise ValueError("truncated or overlong varint")
            byte = self.data[self.at]
            self.at += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.data):
            raise ValueError("truncated field")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def fields(self) -> list[tuple[int, int, Any]]:
        """Every field as (tag, wire type, raw value)."""
        out: list[tuple[int, int, Any]] = []
        while self.at < len(self.data):
            key = self.varint()
            tag, wire = key >> 3, key & 7
            if wire == 0:
                out.append((tag, wire, self.varint()))
            elif wire == 1:
                out.append((tag, wire, self.take(8)))
            elif wire == 2:
                out.append((tag, wire, self.take(self.varint())))
            elif wire == 5:
                out.append((tag, wire, self.take(4)))
            else:
                raise ValueError(f"wire type {wire}")
        return out


def _signed(n: int) -> int:
    return n - (1 << 64) if n >= 1 << 63 else n


def _read_complex(raw: bytes) -> complex:
    fields = _Reader(raw).fields()
    parts = {tag: _DOUBLE.unpack(value)[0] for tag, wire, value in fields if wire == 1}
    if 1 not in parts or 2 not in parts:
        raise ValueError("a complex without both parts")
    return complex(parts[1], parts[2])


def decode_reply(f: FunctionInfo, data: bytes, where: str) -> Any:
    """The result in field 1 of a reply, checked against the function's type."""
    try:
        values = [(wire, raw) for tag, wire, raw in _Reader(data).fields() if tag == 1]
        return _result(f.returns, values)
    except (ValueError, struct.error, UnicodeDecodeError) as e:
        raise ProtocolError(f"bad reply from {where}: {e}: {data[:100]!r}") from None


def _last(values: list[tuple[int, Any]], wire: int) -> Any:
    """The last occurrence's raw value (protobuf: the last one wins), or None."""
    found = [raw for w, raw in values if w == wire]
    return found[-1] if found else None


def _complex_result(values: list[tuple[int, Any]]) -> complex:
    raw = _last(values, 2)
    if raw is None:
        raise ValueError("no complete result")
    return _read_complex(raw)


def _i64s(values: list[tuple[int, Any]]) -> Any:
    np = _extras.numpy()
    items: list[int] = []
    for wire, raw in values:
        if wire == 0:
            items.append(_signed(raw))
        else:
            reader = _Reader(raw)
            while reader.at < len(raw):
                items.append(_signed(reader.varint()))
    return np.array(items, dtype=np.int64)


def _f64s(values: list[tuple[int, Any]]) -> Any:
    np = _extras.numpy()
    return np.frombuffer(b"".join(v for w, v in values if w == 2), dtype="<f8").astype(np.float64)


def _complexes(values: list[tuple[int, Any]]) -> Any:
    np = _extras.numpy()
    return np.array([_read_complex(v) for w, v in values if w == 2], dtype=np.complex128)


def _or(raw: Any, read: Any, default: Any) -> Any:
    return default if raw is None else read(raw)


#: Each result type's reader, from field 1's occurrences (absent scalars are
#: their type's default, as protobuf leaves them out).
_RESULTS: dict[str, Any] = {
    "complex": _complex_result,
    "f64": lambda v: _or(_last(v, 1), lambda r: _DOUBLE.unpack(r)[0], 0.0),
    "i64": lambda v: _or(_last(v, 0), _signed, 0),
    "bool": lambda v: _or(_last(v, 0), bool, False),
    "str": lambda v: _or(_last(v, 2), lambda r: r.decode("utf-8"), ""),
    "bytes": lambda v: _or(_last(v, 2), bytes, b""),
    "f64[]": _f64s,
    "i64[]": _i64s,
    "complex[]": _complexes,
}


def _result(type_name: str, values: list[tuple[int, Any]]) -> Any:
    return _RESULTS[type_name](values)


def many_request_parts(f: FunctionInfo, parts: Sequence[Operand], offset: int) -> list[Any]:
    """The pieces of a ``<Name>ManyRequest`` (``grpc/many.rs``), the arrays'
    bytes not copied: each argument's values as bytes in fields 1..n, then
    the offset and the names of the arguments that are one value for every
    element."""
    from .._frames import arguments, byte_view  # noqa: PLC0415 - a batch only

    pieces: list[Any] = []
    shared: list[bytes] = []
    for i, (p, (one_for_all, values)) in enumerate(
        zip(f.params, arguments(f, parts), strict=True), start=1
    ):
        if one_for_all:
            shared.append(_delimited(len(f.params) + 2, p.name.encode()))
        pieces.append(_key(i, 2) + _varint(values.nbytes))
        pieces.append(byte_view(values))
    if offset:
        pieces.append(_key(len(f.params) + 1, 0) + _varint(offset))
    return pieces + shared


def encode_many_request(f: FunctionInfo, parts: Sequence[Operand], offset: int) -> bytes:
    """A ``<Name>ManyRequest`` in one piece (see :func:`many_request_parts`)."""
    return b"".join(many_request_parts(f, parts, offset))


def decode_many_reply(data: bytes, nbytes: int, where: str) -> bytes:
    """The results' bytes in field 1 of a ``<Name>ManyReply``, which must be ``nbytes`` long."""
    try:
        values = [raw for tag, wire, raw in _Reader(data).fields() if tag == 1 and wire == 2]
    except ValueError as e:
        raise ProtocolError(f"bad reply from {where}: {e}: {data[:100]!r}") from None
    result = values[-1] if values else b""
    if len(result) != nbytes:
        raise ProtocolError(
            f"bad reply from {where}: the batch reply has {len(result)} bytes, expected {nbytes}"
        )
    return result
