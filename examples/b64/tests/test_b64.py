"""b64's vectors (``vectors/*.json``) on all six bridges: exactly the
expected answer, or the expected error's class and message, everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import b64
import oxbridge
import pytest
from oxbridge.testing import Case, cases, check_case

CASES = cases(b64.LIBRARY, Path(__file__).resolve().parents[1] / "vectors")


@pytest.fixture(scope="module", params=sorted(oxbridge.BRIDGES))
def client(request: pytest.FixtureRequest) -> Iterator[oxbridge.Client]:
    with b64.connect(request.param) as opened:
        yield opened


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_vector(client: oxbridge.Client, case: Case) -> None:
    check_case(b64.LIBRARY, client, case)
