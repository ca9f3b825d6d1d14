"""What the sync and the asyncio stream clients share, written once: the idle
streams kept to one server, and what an exchange that broke raises.

The sync clients (``_socket.Connection``) and the asyncio ones
(``aio/_connection.AsyncConnection``) differ only in how they wait: a call
takes an idle stream or opens one, and gives it back only once its whole
reply is read; a stream opened before :meth:`Idle.drain` is never kept; a
request that broke on a *reused* stream is sent once more on a fresh one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from ..errors import BadReply, BridgeTimeoutError, ProtocolError, TransportError

S = TypeVar("S")

#: Idle streams kept per connection; more are closed when their call ends.
KEEP_IDLE = 8


class Closed(Exception):
    """The peer closed the connection before the reply was complete."""


def why(e: BaseException) -> str:
    """Why a connection failed, in a few words."""
    if isinstance(e, Closed):
        return "the server closed the connection"
    return e.strerror or str(e) if isinstance(e, OSError) else str(e)


class Idle(Generic[S]):
    """The idle streams to one server, each tagged with the generation it
    was opened in."""

    def __init__(self, keep: int = KEEP_IDLE) -> None:
        self._idle: list[tuple[int, S]] = []
        self._generation = 0
        self._keep = keep

    @property
    def generation(self) -> int:
        """The generation a stream opened now belongs to."""
        return self._generation

    def take(self) -> tuple[int, S] | None:
        """An idle stream and its generation, or ``None`` to open one.

        ``list.pop`` and ``list.append`` are atomic: no lock to leak if a
        call is interrupted, and a stream is only ever in one call's hands."""
        try:
            return self._idle.pop()
        except IndexError:
            return None

    def give_back(self, generation: int, stream: S) -> bool:
        """Keep ``stream`` for the next call; ``False`` when it is to be
        closed instead (opened before a :meth:`drain`, or enough are kept)."""
        if generation == self._generation and len(self._idle) < self._keep:
            self._idle.append((generation, stream))
            return True
        return False

    def drain(self) -> Iterator[S]:
        """Every idle stream, taken out to be closed; those in calls are
        closed when their call ends."""
        self._generation += 1
        while (taken := self.take()) is not None:
            yield taken[1]


def fail(e: BaseException, where: str, timeout: float, *, retry: bool) -> None:
    """Raise what a call whose exchange broke with ``e`` raises: a timeout as
    :class:`BridgeTimeoutError`, a malformed reply as :class:`ProtocolError`,
    a broken stream as :class:`TransportError`, anything else (Ctrl-C, a
    signal handler's exception, a cancelled task) as it is. Returns when the
    broken stream was a reused one (``retry``): the call is tried again on a
    fresh one."""
    if isinstance(e, TimeoutError | BlockingIOError):
        raise BridgeTimeoutError(f"no reply from {where} within {timeout:g} s") from None
    if isinstance(e, BadReply):
        raise ProtocolError(f"bad reply from {where}: {e}") from None
    if isinstance(e, OSError | Closed):
        if retry:
            return
        raise TransportError(f"connection to {where} broke: {why(e)}") from None
    raise e
