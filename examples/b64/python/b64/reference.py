"""What b64 is tested against: Python's own ``base64`` module.

``b64decode(text, validate=True)`` refuses padding past a whole group of
four (``"Zm9v="``) since Python 3.13; 3.11 and 3.12 accepted it. b64
follows 3.13, so on the older versions :func:`decode` refuses that too.
"""

from __future__ import annotations

import base64
import binascii
import sys

__all__ = ["decode", "encode", "encode_urlsafe"]


def encode(data: bytes) -> str:
    """``base64.b64encode(data).decode()``."""
    return base64.b64encode(data).decode()


def encode_urlsafe(data: bytes) -> str:
    """``base64.urlsafe_b64encode(data).decode()``."""
    return base64.urlsafe_b64encode(data).decode()


def decode(text: str) -> bytes:
    """``base64.b64decode(text, validate=True)``, as Python 3.13 gives it."""
    stripped = text.rstrip("=")
    if sys.version_info < (3, 13) and stripped != text and len(stripped) % 4 == 0:
        raise binascii.Error("Excess padding not allowed")
    return base64.b64decode(text, validate=True)
