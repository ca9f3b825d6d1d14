"""The one exception hierarchy every bridge raises.

Each class is also a subclass of the matching builtin, so ``except
ZeroDivisionError`` keeps working. Bridges never pick classes themselves: they
hand an error *kind* (the core's stable name, or a C ABI status code) and the
message to :func:`error_for`, the only place that maps kinds to classes.

The mapping is built from the core's one table of error kinds
(``_native.error_kinds()``: name, class, builtin base, HTTP status, gRPC code,
C status): a kind whose class is missing here, or has another base, fails at
import, so the table and the classes cannot drift apart.
"""

from __future__ import annotations

import builtins

from ._native import error_kinds

__all__ = [
    "AbiMismatchError",
    "AccessDeniedError",
    "ArgumentTypeError",
    "BridgeTimeoutError",
    "CatalogueMismatchError",
    "InternalError",
    "InvalidArgumentError",
    "MethodNotAllowedError",
    "MissingExtraError",
    "NotFoundError",
    "OxbridgeError",
    "OxbridgeOverflowError",
    "OxbridgeZeroDivisionError",
    "PayloadTooLargeError",
    "ProtocolError",
    "ServerBusyError",
    "StartupError",
    "TransportError",
    "UnknownBridgeError",
    "UnsupportedMediaTypeError",
    "argument_type_error",
    "error_for",
    "error_for_status",
]


class OxbridgeError(Exception):
    """Base of every error oxbridge raises."""

    kind = "oxbridge"


class OxbridgeZeroDivisionError(OxbridgeError, ZeroDivisionError):
    """Division by zero (also a :class:`ZeroDivisionError`)."""

    kind = "zero_division"


class InvalidArgumentError(OxbridgeError, ValueError):
    """An argument of the right type with a bad value (also a :class:`ValueError`)."""

    kind = "invalid_argument"


class OxbridgeOverflowError(OxbridgeError, OverflowError):
    """A result too large to represent (also an :class:`OverflowError`)."""

    kind = "overflow"


class PayloadTooLargeError(InvalidArgumentError):
    """A request larger than the server's limit (also a :class:`ValueError`).

    Batches are split to fit by themselves; a single value (a long text)
    cannot be."""

    kind = "payload_too_large"


class ArgumentTypeError(OxbridgeError, TypeError):
    """An argument of the wrong type (also a :class:`TypeError`)."""

    kind = "invalid_type"


class InternalError(OxbridgeError, RuntimeError):
    """A fault inside oxbridge itself, such as a caught panic. Please report it."""

    kind = "internal"


class TransportError(OxbridgeError, ConnectionError):
    """The bridge could not reach its server, or the connection broke."""

    kind = "transport"


class AccessDeniedError(OxbridgeError, PermissionError):
    """The server refused the caller: a missing or wrong token, another user."""

    kind = "permission_denied"


class BridgeTimeoutError(TransportError, TimeoutError):
    """The server did not answer within the client's timeout."""

    kind = "timeout"


class ProtocolError(TransportError):
    """The server's reply broke the protocol: malformed, too large, the wrong
    shape. Not something a retry fixes; is the address an oxbridge server?"""

    kind = "protocol"


class ServerBusyError(TransportError):
    """The server cannot take the call now (too many connections, memory in use).

    Not a fault of the call: the same call may succeed when retried later.
    """

    kind = "unavailable"


class NotFoundError(OxbridgeError, LookupError):
    """The server has no such operation, path or command (also a :class:`LookupError`)."""

    kind = "not_found"


class MethodNotAllowedError(OxbridgeError, ValueError):
    """The path exists on the server, but not for the request's HTTP method."""

    kind = "method_not_allowed"


class UnsupportedMediaTypeError(OxbridgeError, ValueError):
    """The request body was not declared with the media type the endpoint reads."""

    kind = "unsupported_media_type"


class StartupError(OxbridgeError, OSError):
    """A server could not start: a busy port, a live socket, no permission."""

    kind = "startup"


class AbiMismatchError(OxbridgeError, ImportError):
    """The loaded native library is not the version this package was built for."""

    kind = "abi_mismatch"


class CatalogueMismatchError(AbiMismatchError):
    """A server serves another version of the client's library: a function
    differs in name, types, result or errors. Raised when the client
    connects, before any call; the message names the first such function."""

    kind = "catalogue_mismatch"


class UnknownBridgeError(OxbridgeError, ValueError):
    """``connect()`` was given a bridge name or URL it does not know."""

    kind = "unknown_bridge"


class MissingExtraError(OxbridgeError, ImportError):
    """A feature needs an optional dependency that is not installed; the
    message names the ``pip install 'oxbridge[...]'`` that adds it."""

    kind = "missing_extra"


def _from_table() -> tuple[dict[str, type[OxbridgeError]], dict[int, str]]:
    by_kind: dict[str, type[OxbridgeError]] = {}
    by_status: dict[int, str] = {}
    for name, class_name, base_name, _http, _grpc, status in error_kinds():
        cls = globals().get(class_name)
        base = getattr(builtins, base_name, None)
        if not (
            isinstance(cls, type)
            and issubclass(cls, OxbridgeError)
            and isinstance(base, type)
            and issubclass(cls, base)
        ):
            raise ImportError(
                f"error kind {name!r}: oxbridge.errors has no class {class_name} "
                f"deriving from OxbridgeError and {base_name}"
            )
        by_kind[name] = cls
        by_status[status] = name
    # Kinds only a client raises (a broken connection, a wrong argument type).
    for cls in (ArgumentTypeError, TransportError, ProtocolError, StartupError):
        by_kind.setdefault(cls.kind, cls)
    return by_kind, by_status


_BY_KIND, _BY_STATUS = _from_table()


def error_for(kind: str, message: str) -> OxbridgeError:
    """The exception for an error of ``kind`` (e.g. ``"zero_division"``)."""
    cls = _BY_KIND.get(kind)
    if cls is None:
        return InternalError(f"unknown error kind {kind!r}: {message}")
    return cls(message)


def error_for_status(status: int, message: str) -> OxbridgeError:
    """The exception for a non-zero C ABI status code."""
    return error_for(_BY_STATUS.get(status, f"status {status}"), message)


class BadReply(Exception):
    """A reply that broke the protocol: too large, malformed, the wrong
    shape. Internal: the connection that read it raises it as
    :class:`ProtocolError`, naming the server."""


class Missing:
    """The default of each parameter of a fast path (see
    ``_functions.named``): an argument the caller did not pass, which every
    check refuses with :func:`argument_type_error`, worded as a missing
    argument is on every bridge."""

    __slots__ = ("function", "parameter")

    def __init__(self, function: str, parameter: str) -> None:
        self.function, self.parameter = function, parameter

    def __repr__(self) -> str:
        return f"<missing argument '{self.parameter}' of {self.function}()>"

    def error(self) -> ArgumentTypeError:
        """The error of calling without it, in PyO3's words."""
        return ArgumentTypeError(f"{self.function}() missing required argument '{self.parameter}'")


def argument_type_error(name: str, value: object, expected: str) -> ArgumentTypeError:
    """The error for argument ``name`` not being of the ``expected`` type
    (or not passed at all: a :class:`Missing`)."""
    if type(value) is Missing:
        return value.error()
    return ArgumentTypeError(f"argument '{name}' must be {expected}, not {type(value).__name__}")
