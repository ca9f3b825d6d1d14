"""One fixture, parametrized over every registered bridge.

A bridge added to ``oxbridge.BRIDGES`` is tested by every test that takes
``client``, the shared vectors included, without touching the tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import oxbridge
import pytest


@pytest.fixture(params=list(oxbridge.BRIDGES), scope="session")
def client(request: pytest.FixtureRequest) -> Iterator[oxbridge.Client]:
    with oxbridge.connect(request.param) as c:
        yield c
