"""Python values as the arguments the bridges send: the slow paths of the
bridges that cannot take a Python object directly (the PyO3 bridge applies
the same rules in Rust)."""

from __future__ import annotations

from typing import Any, cast

from .errors import argument_type_error

__all__ = ["complex_arg", "text_arg"]


def complex_arg(value: object, name: str) -> complex:
    """``value`` as a complex, accepting what ``complex(x)`` accepts from a non-string."""
    if type(value) is complex:
        return value
    if not isinstance(value, str | bytes | bytearray):
        try:
            return complex(cast(Any, value))
        except TypeError:
            pass
    raise argument_type_error(name, value, "complex")


def text_arg(value: object, name: str) -> bytes:
    """``value`` as UTF-8 bytes for a bridge that sends bytes.

    Lone surrogates are passed through (``surrogatepass``) so that the core
    refuses them with the same error on every bridge.
    """
    if not isinstance(value, str):
        raise argument_type_error(name, value, "str")
    return value.encode("utf-8", "surrogatepass")
