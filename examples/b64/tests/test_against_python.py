"""b64 against Python's own ``base64`` module (``b64.reference``), on
inputs hypothesis draws: the same bytes and text, and a refusal exactly
where Python refuses."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

import b64
import oxbridge
import pytest
from b64 import reference
from hypothesis import given, settings
from hypothesis import strategies as st

BRIDGES = ["pyo3", "cffi", "http"]
#: Text near base64: its alphabet, padding, and a few characters it lacks.
NEARLY = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n!",
    max_size=24,
)


@pytest.fixture(scope="module", params=BRIDGES)
def client(request: pytest.FixtureRequest) -> Iterator[Any]:
    with b64.connect(request.param) as opened:
        yield opened


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_encoding_is_pythons(client: Any, data: bytes) -> None:
    assert client.encode(data) == reference.encode(data)
    assert client.encode_urlsafe(data) == reference.encode_urlsafe(data)
    assert client.decode(client.encode(data)) == data


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(NEARLY, st.binary(max_size=30).map(lambda d: base64.b64encode(d).decode())))
def test_decoding_refuses_exactly_what_python_refuses(client: Any, text: str) -> None:
    try:
        want = reference.decode(text)
    except binascii.Error:
        with pytest.raises(oxbridge.InvalidArgumentError) as info:
            client.decode(text)
        # Python's binascii.Error is a ValueError, as this error is.
        assert isinstance(info.value, ValueError)
        return
    assert client.decode(text) == want
