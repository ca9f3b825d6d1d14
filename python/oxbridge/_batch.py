"""What every bridge shares about batches: argument checks and the wire frames.

:func:`prepare` is the one place that turns the caller's arguments into what
the kernels take: a one-dimensional, contiguous complex128 array for ``a``
(converted once, and not at all when it already is one), and for ``b`` the
same or a single complex. Length checks are the core's, in Rust.
"""

from __future__ import annotations

import numbers
import struct
from collections.abc import Callable
from typing import Any, TypeAlias, cast

import numpy as np
import numpy.typing as npt

from ._client import complex_arg
from .errors import ArgumentTypeError, InvalidArgumentError, PayloadTooLargeError, ProtocolError

ComplexArray: TypeAlias = npt.NDArray[np.complex128]
Operand: TypeAlias = "ComplexArray | complex"

#: Wire codes of the operations (``include/oxbridge.h``, ``batch.rs``).
OPS = {"add": 0, "sub": 1, "mul": 2, "div": 3}


def as_array(value: object, name: str) -> ComplexArray:
    """``value`` as a 1-D contiguous complex128 array, copied only if it must be."""
    try:
        arr = np.asarray(value)
    except ValueError:
        raise InvalidArgumentError(
            f"argument '{name}' is not a rectangular array of numbers"
        ) from None
    if arr.dtype.kind not in "biufc":
        raise ArgumentTypeError(
            f"argument '{name}' must be an array of numbers, not of {arr.dtype}"
        )
    if arr.ndim != 1:
        raise InvalidArgumentError(
            f"argument '{name}' must be one-dimensional, not of shape {arr.shape}"
        )
    return np.ascontiguousarray(arr, dtype=np.complex128)


def _is_scalar(value: object) -> bool:
    return isinstance(value, numbers.Number | np.generic) or (
        isinstance(value, np.ndarray) and value.ndim == 0
    )


def prepare(a: object, b: object) -> tuple[ComplexArray, Operand]:
    """The operands of a batch call, checked and converted."""
    a_arr = as_array(a, "a")
    if _is_scalar(b):
        return a_arr, complex_arg(b.item() if isinstance(b, np.ndarray) else b, "b")
    return a_arr, as_array(b, "b")


def length_mismatch(a: int, b: int) -> InvalidArgumentError:
    """The core's length error, for the network clients, which split arrays
    into frames before any server sees both lengths (same text as the core's
    ``CoreError::LengthMismatch``; the shared vectors hold them equal)."""
    return InvalidArgumentError(f"operands have different lengths: a has {a} elements, b has {b}")


# --- the binary frames of batch.rs --------------------------------------------------

MAGIC = b"OXB\x01"
REQUEST = struct.Struct("<4sBBxxQQQ")
REPLY = struct.Struct("<4sBxxxQ")
#: Elements per frame: 4 MiB per operand, well under the 16 MiB request limit.
CHUNK = 1 << 18


def request_frame(op: str, a: ComplexArray, b: Operand, offset: int) -> list[Any]:
    """The buffers of one request frame: header, ``a``, ``b`` (no copies)."""
    if isinstance(b, complex):
        b_buf: Any = np.array([b], dtype=np.complex128)
        scalar = 1
    else:
        b_buf, scalar = b, 0
    header = REQUEST.pack(MAGIC, OPS[op], scalar, offset, len(a), len(b_buf))
    return [header, a, b_buf]


def frame_size(frame: list[Any]) -> int:
    """The bytes of a frame made by :func:`request_frame`."""
    header, a, b = frame
    return len(header) + a.nbytes + b.nbytes  # type: ignore[no-any-return]


def parse_reply_header(header: bytes) -> tuple[bool, int]:
    """``(ok, length)`` of a reply frame header."""
    magic, status, length = REPLY.unpack(header)
    if magic != MAGIC:
        raise ProtocolError(f"not an oxbridge batch reply: {header[:16]!r}")
    return status == 0, length


def byte_view(arr: ComplexArray) -> memoryview:
    """The bytes of a contiguous array, writable, without a copy."""
    return memoryview(cast(Any, arr)).cast("B")


class FrameSize:
    """Elements per frame for one client: :data:`CHUNK`, halved for good each
    time a server refuses a frame as larger than its request limit."""

    __slots__ = ("elements",)

    def __init__(self) -> None:
        self.elements = CHUNK


def each_frame(
    a: ComplexArray,
    b: Operand,
    size: FrameSize,
    send: Callable[[int, int, ComplexArray, Operand], None],
) -> None:
    """Send a batch as frames of at most ``size.elements`` (one frame for an
    empty batch): ``send(start, stop, a_part, b_part)`` for each, lengths
    checked first. A frame the server refuses as too large is sent again as
    smaller ones (every call is pure, so resending is safe)."""
    if not isinstance(b, complex) and len(b) != len(a):
        raise length_mismatch(len(a), len(b))
    start, n = 0, len(a)
    while True:
        stop = min(start + size.elements, n)
        try:
            send(start, stop, a[start:stop], b if isinstance(b, complex) else b[start:stop])
        except PayloadTooLargeError:
            if stop - start <= 1:
                raise
            size.elements = (stop - start) // 2
            continue
        start = stop
        if start >= n:
            return
