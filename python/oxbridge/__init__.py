"""oxbridge: one Rust core, called from Python six ways.

>>> import oxbridge
>>> with oxbridge.connect("pyo3") as client:
...     client.add(1 + 3j, -5j)
(1-2j)
"""

from __future__ import annotations

from ._client import Client
from ._library import CALCULATOR, Library
from ._native import __version__
from .bridges import BRIDGES, connect
from .errors import (
    AbiMismatchError,
    AccessDeniedError,
    ArgumentTypeError,
    BridgeTimeoutError,
    CatalogueMismatchError,
    InternalError,
    InvalidArgumentError,
    MethodNotAllowedError,
    MissingExtraError,
    NotFoundError,
    OxbridgeError,
    OxbridgeOverflowError,
    OxbridgeZeroDivisionError,
    PayloadTooLargeError,
    ProtocolError,
    ServerBusyError,
    TransportError,
    UnknownBridgeError,
    UnsupportedMediaTypeError,
)

__all__ = [
    "BRIDGES",
    "CALCULATOR",
    "AbiMismatchError",
    "AccessDeniedError",
    "ArgumentTypeError",
    "BridgeTimeoutError",
    "CatalogueMismatchError",
    "Client",
    "InternalError",
    "InvalidArgumentError",
    "Library",
    "MethodNotAllowedError",
    "MissingExtraError",
    "NotFoundError",
    "OxbridgeError",
    "OxbridgeOverflowError",
    "OxbridgeZeroDivisionError",
    "PayloadTooLargeError",
    "ProtocolError",
    "ServerBusyError",
    "TransportError",
    "UnknownBridgeError",
    "UnsupportedMediaTypeError",
    "__version__",
    "connect",
]
