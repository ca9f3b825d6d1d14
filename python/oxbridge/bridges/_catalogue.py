"""What a network client checks when it connects: that the server serves its
library, and serves it as the client knows it.

The server answers with each library it serves and that library's contract
(``/catalogue`` over HTTP, the IPC command ``catalogue``, the gRPC method
``/oxbridge.Catalogue/Get``): one line per function, its name, parameter
and result types, reply field, error kinds and vectorized form. Equal
checksums mean equal contracts; otherwise the first function whose line
differs is named, so a stale client fails at once, never with a wrong answer
later.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..errors import BadReply, CatalogueMismatchError, NotFoundError, ProtocolError
from ._protobuf import _Reader

if TYPE_CHECKING:
    from .._library import Library

#: The gRPC method a client reads the catalogue with.
GRPC_PATH = "/oxbridge.Catalogue/Get"


def check(library: Library, reply: bytes, where: str) -> None:
    """Refuses a server whose ``catalogue`` reply (JSON) does not serve
    ``library`` exactly as this client knows it."""
    try:
        served = json.loads(reply)
        libraries = {entry["name"]: entry for entry in served["libraries"]}
    except (ValueError, KeyError, TypeError) as e:
        raise BadReply(f"a catalogue that is not one ({e})") from None
    entry = libraries.get(library.name)
    if entry is None:
        hosted = ", ".join(libraries) or "none"
        raise NotFoundError(
            f"{where} does not host the library {library.name!r} (it hosts {hosted})"
        )
    if entry.get("checksum") == library.native.CHECKSUM:
        return
    mine = library.native.CONTRACT.splitlines()
    theirs = [str(line) for line in entry.get("contract", [])]
    raise CatalogueMismatchError(
        f"{where} serves another version of the library {library.name!r}"
        f" ({entry.get('version', '?')}; this client has {library.native.LIBRARY_VERSION}):"
        f" {_first_difference(mine, theirs)}. Update the client or the server."
    )


def _function(line: str) -> str:
    """The function a contract line is about (``fn gcd(a: i64...`` → ``gcd``)."""
    return line.removeprefix("fn ").split("(", 1)[0]


def _first_difference(mine: list[str], theirs: list[str]) -> str:
    """The first function that differs, in words."""
    their_lines = {_function(line): line for line in theirs if line.startswith("fn ")}
    for line in mine:
        if not line.startswith("fn "):
            continue
        name = _function(line)
        other = their_lines.pop(name, None)
        if other is None:
            return f"its server does not have {name}()"
        if other != line:
            return f"{name}() differs: the server has `{other[3:]}`, this client `{line[3:]}`"
    if their_lines:
        return f"the server also has {next(iter(their_lines))}(), which this client does not know"
    return "their catalogues differ"


def check_grpc(library: Library, reply: bytes, where: str) -> None:
    """:func:`check` of the gRPC method's reply (its field 1)."""
    try:
        message = grpc_message(reply)
    except BadReply as e:
        raise ProtocolError(f"bad reply from {where}: {e}") from None
    check(library, message, where)


def grpc_message(reply: bytes) -> bytes:
    """Field 1 (a string) of the gRPC catalogue reply."""
    try:
        fields = _Reader(reply).fields()
    except ValueError as e:
        raise BadReply(f"a catalogue reply that is not protobuf ({e})") from None
    texts = [value for tag, wire, value in fields if tag == 1 and wire == 2]
    if not texts:
        raise BadReply("a catalogue reply without its field")
    return bytes(texts[-1])
