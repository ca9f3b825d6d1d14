"""The JSON shapes the HTTP and IPC bridges share with the server (``codec/wire.rs``).

A complex is ``[re, im]``; a non-finite part is the string ``"inf"``,
``"-inf"`` or ``"nan"``. Finite parts are written with ``repr``, the shortest
text that reads back to the same float, so every value round-trips exactly.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import _extras
from .._args import complex_arg
from .._functions import FunctionInfo, bind, checked
from ..errors import OxbridgeError, ProtocolError, TransportError, error_for


def part(x: float) -> str:
    """One part as JSON: ``repr`` for a finite float, a string otherwise."""
    text = repr(x)
    # repr of a finite float always ends in a digit; inf and nan do not.
    return text if text[-1].isdigit() else f'"{text}"'


def json_reply(body: bytes, where: str) -> dict[str, Any]:
    """A reply body as a JSON object, or :class:`ProtocolError` saying why not."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError
        raise ProtocolError(f"bad reply from {where}: not JSON ({e}): {body[:100]!r}") from None
    if not isinstance(doc, dict):
        raise ProtocolError(f"bad reply from {where}: not a JSON object: {body[:100]!r}")
    return doc


_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _part(value: object) -> float:
    if type(value) is float or type(value) is int:
        return float(value)
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    raise ValueError(value)


def complex_from(reply: dict[str, Any], where: str) -> complex:
    """The complex in ``{"result": [re, im]}``, checked."""
    result = reply.get("result")
    if type(result) is list and len(result) == 2:
        re, im = result
        if type(re) is float and type(im) is float:  # the server's usual answer
            return complex(re, im)
    try:
        re, im = reply["result"]
        return complex(_part(re), _part(im))
    except (KeyError, TypeError, ValueError):
        raise ProtocolError(
            f'bad reply from {where}: expected {{"result": [re, im]}}, got {str(reply)[:100]}'
        ) from None


#: What a proxy in front of servers answers when none of them did.
GATEWAY_FAILURES = frozenset({502, 503, 504})


def error_from(body: bytes, where: str, status: int = 0) -> OxbridgeError:
    """The exception for an error reply: problem+json or ``{"error": {...}}``;
    a balancer's own 502, 503 or 504 page (HTTP ``status``) is a broken link."""
    try:
        doc = json.loads(body)
        doc = doc.get("error", doc)
        # problem+json calls the message "detail"; IPC and batch frames, "message".
        kind, message = doc["kind"], doc["message"] if "message" in doc else doc["detail"]
        if isinstance(kind, str) and isinstance(message, str):
            return error_for(kind, message)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        pass
    if status in GATEWAY_FAILURES:
        return TransportError(f"no server answered behind the proxy at {where}: HTTP {status}")
    return ProtocolError(f"bad error reply from {where}: {body[:200]!r}")


# Any exported function: its arguments as one JSON object by parameter name,
# its result as {"<result field>": value} (the server's codec/json_call.rs).


def json_value(type_name: str, value: Any) -> str:
    """One checked argument (see ``_functions.check``) as JSON text."""
    if type_name == "complex":
        return f"[{part(value.real)},{part(value.imag)}]"
    if type_name == "f64":
        return part(value)
    if type_name == "bool":
        return "true" if value else "false"
    if type_name == "i64":
        return str(value)
    if type_name == "str":
        # json.dumps escapes a lone surrogate as \udXXX; the server refuses it
        # as invalid text, with the same error as every bridge.
        return json.dumps(value)
    if type_name == "bytes":
        return '"' + base64.b64encode(value).decode("ascii") + '"'
    if type_name == "f64[]":
        return "[" + ",".join(part(x) for x in value.tolist()) + "]"
    if type_name == "i64[]":
        return "[" + ",".join(str(x) for x in value.tolist()) + "]"
    if type_name == "complex[]":
        return "[" + ",".join(f"[{part(z.real)},{part(z.imag)}]" for z in value.tolist()) + "]"
    raise ValueError(f"no JSON form for {type_name}")


def json_fields(f: FunctionInfo, args: Sequence[object]) -> str:
    """``"name":value,...`` (no braces) for checked arguments (``_functions.checked``)."""
    return ",".join(
        f'"{p.name}":{json_value(p.type, value)}' for p, value in zip(f.params, args, strict=True)
    )


def _complex_result(value: object) -> complex:
    if type(value) is list and len(value) == 2:
        return complex(_part(value[0]), _part(value[1]))
    raise ValueError(value)


def _exact(expected: type) -> Callable[[object], Any]:
    def read(value: object) -> Any:
        if type(value) is not expected:
            raise ValueError(value)
        return value

    return read


def _bytes_result(value: object) -> bytes:
    if type(value) is not str:
        raise ValueError(value)
    return base64.b64decode(value, validate=True)


def _array_result(element: str, dtype: str) -> Callable[[object], Any]:
    def read(value: object) -> Any:
        np = _extras.numpy()
        if type(value) is not list:
            raise ValueError(value)
        return np.array([_RESULTS[element](x) for x in value], dtype=dtype)

    return read


#: Each type's reader from a JSON reply, by its catalogue name.
_RESULTS: dict[str, Callable[[object], Any]] = {
    "complex": _complex_result,
    "f64": _part,
    "bool": _exact(bool),
    "i64": _exact(int),
    "str": _exact(str),
    "bytes": _bytes_result,
    "f64[]": _array_result("f64", "float64"),
    "i64[]": _array_result("i64", "int64"),
    "complex[]": _array_result("complex", "complex128"),
}


def json_result(f: FunctionInfo, reply: dict[str, Any], where: str) -> Any:
    """The result in ``{"<result field>": value}``, checked against the function's type."""
    try:
        return _RESULTS[f.returns](reply[f.result_field])
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise ProtocolError(
            f'bad reply from {where}: expected {{"{f.result_field}": {f.returns}}}, '
            f"got {str(reply)[:100]}"
        ) from None


def json_encoder(f: FunctionInfo) -> Callable[[Sequence[object], Mapping[str, object]], str]:
    """``encode(args, kwargs)``: a call of ``f``'s arguments, checked, as the
    ``"name":value,...`` of its JSON request (no braces)."""
    if f.all_complex and len(f.params) == 2 and f.result_field == "result":
        name_a, name_b = f.params[0].name, f.params[1].name

        def pair(args: Sequence[object], kwargs: Mapping[str, object]) -> str:
            if len(args) == 2 and not kwargs:
                a, b = args
            else:
                a, b = bind(f, args, kwargs)
            x = a if type(a) is complex else complex_arg(a, name_a)
            y = b if type(b) is complex else complex_arg(b, name_b)
            return (
                f'"{name_a}":[{part(x.real)},{part(x.imag)}],'
                f'"{name_b}":[{part(y.real)},{part(y.imag)}]'
            )

        return pair

    def general(args: Sequence[object], kwargs: Mapping[str, object]) -> str:
        return json_fields(f, checked(f, args, kwargs))

    return general


def json_decoder(f: FunctionInfo, where: str) -> Callable[[dict[str, Any]], Any]:
    """``decode(reply)``: ``f``'s result from its decoded JSON reply, checked."""
    if f.all_complex and f.result_field == "result":
        return lambda reply: complex_from(reply, where)
    return lambda reply: json_result(f, reply, where)


def json_method(
    f: FunctionInfo, send: Callable[[str], dict[str, Any]], where: str
) -> Callable[..., Any]:
    """The client method for ``f`` over a JSON bridge: ``send(fields)`` posts
    ``{fields}`` and returns the decoded reply (or raises the server's error)."""
    encode, decode = json_encoder(f), json_decoder(f, where)

    def method(*args: object, **kwargs: object) -> Any:
        return decode(send(encode(args, kwargs)))

    method.__name__ = method.__qualname__ = f.name
    method.__doc__ = f.doc
    return method
