"""The JSON shapes the HTTP and IPC bridges share with the server (``wire.rs``).

A complex is ``[re, im]``; a non-finite part is the string ``"inf"``,
``"-inf"`` or ``"nan"``. Finite parts are written with ``repr``, the shortest
text that reads back to the same float, so every value round-trips exactly.
"""

from __future__ import annotations

import json
from typing import Any

from .._client import complex_arg, text_arg
from ..errors import InternalError, OxbridgeError, error_for


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


def complex_from(reply: dict[str, Any]) -> complex:
    """The complex in ``{"result": [re, im]}``."""
    re, im = reply["result"]
    return complex(float(re), float(im))


def error_from(body: bytes, fallback: str) -> OxbridgeError:
    """The exception for an error reply: problem+json or ``{"error": {...}}``."""
    try:
        doc = json.loads(body)
        doc = doc.get("error", doc)
        # problem+json calls the message "detail"; IPC and batch frames, "message".
        return error_for(doc["kind"], doc["message"] if "message" in doc else doc["detail"])
    except (ValueError, KeyError, TypeError):
        return InternalError(f"{fallback}: {body[:200]!r}")
