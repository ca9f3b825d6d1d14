"""An asyncio client driven like a sync one, so that the tests written for
``oxbridge.Client`` (the shared vectors, the broken servers) run unchanged
through ``oxbridge.aio``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import oxbridge.aio


class Blocking:
    """``client``'s coroutine functions as plain calls, each run to completion
    on the adapter's own event loop."""

    def __init__(self, client: oxbridge.aio.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.aio = client
        self.loop = loop
        self.bridge = f"aio-{client.bridge}"

    def __getattr__(self, name: str) -> Callable[..., Any]:
        function = getattr(self.aio, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.loop.run_until_complete(function(*args, **kwargs))

        return call

    def close(self) -> None:
        self.loop.run_until_complete(self.aio.aclose())
        self.loop.close()


def connect(target: str, **options: Any) -> Blocking:
    """``oxbridge.aio.connect(target, **options)`` behind a :class:`Blocking`."""
    return Blocking(oxbridge.aio.connect(target, **options), asyncio.new_event_loop())
