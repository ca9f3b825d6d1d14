"""The JSON shapes the HTTP and IPC bridges share with the server (``wire.rs``).

A complex is ``[re, im]``; a non-finite part is the string ``"inf"``,
``"-inf"`` or ``"nan"``. Finite parts are written with ``repr``, the shortest
text that reads back to the same float, so every value round-trips exactly.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .._client import complex_arg, text_arg
from ..errors import OxbridgeError, ProtocolError, error_for


def part(x: float) -> str:
    """One part as JSON: ``repr`` for a finite float, a string otherwise."""
    text = repr(x)
    # repr of a finite float always ends in a digit; inf and nan do not.
    return text if text[-1].isdigit() else f'"{text}"'


def operands(a: object, b: object) -> str:
    """``"a":[re,im],"b":[re,im]`` (no braces), checking both arguments."""
    x = a if type(a) is complex else complex_arg(a, "a")
    y = b if type(b) is complex else complex_arg(b, "b")
    return f'"a":[{part(x.real)},{part(x.imag)}],"b":[{part(y.real)},{part(y.imag)}]'


def greet_fields(greeting: object, name: object) -> str:
    """``"greeting":...,"name":...`` (no braces), checking both arguments.

    ``json.dumps`` escapes a lone surrogate as ``\\udXXX``; the server then
    refuses it as invalid text, with the same error as every bridge.
    """
    text_arg(greeting, "greeting")
    text_arg(name, "name")
    return f'"greeting":{json.dumps(greeting)},"name":{json.dumps(name)}'


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


def text_from(reply: dict[str, Any], where: str) -> str:
    """The text in ``{"message": "..."}``, checked."""
    message = reply.get("message")
    if not isinstance(message, str):
        raise ProtocolError(
            f'bad reply from {where}: expected {{"message": text}}, got {str(reply)[:100]}'
        )
    return message


def error_from(body: bytes, where: str) -> OxbridgeError:
    """The exception for an error reply: problem+json or ``{"error": {...}}``."""
    try:
        doc = json.loads(body)
        doc = doc.get("error", doc)
        # problem+json calls the message "detail"; IPC and batch frames, "message".
        kind, message = doc["kind"], doc["message"] if "message" in doc else doc["detail"]
        if isinstance(kind, str) and isinstance(message, str):
            return error_for(kind, message)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        pass
    return ProtocolError(f"bad error reply from {where}: {body[:200]!r}")
