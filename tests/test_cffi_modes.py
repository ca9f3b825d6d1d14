"""The cffi bridge in API mode (cffi's module compiled into the calculator's
extension, as the article's ``ffi.set_source`` builds it) and in ABI mode for
a library without one: the same answers and errors either way."""

from __future__ import annotations

from typing import Any

import oxbridge
import pystd
import pytest
from oxbridge import _native
from oxbridge._library import CALCULATOR
from oxbridge.bridges import cffi as cffi_bridge
from oxbridge.errors import ArgumentTypeError, OxbridgeZeroDivisionError


def test_the_calculator_is_called_in_api_mode() -> None:
    loaded = cffi_bridge.load(CALCULATOR)
    api: Any = getattr(_native, "_cffi_api")  # noqa: B009 - private, not in the stub
    assert loaded.lib is api.lib
    assert loaded.flat_prefix == "oxb_flat_"
    # API mode: a compiled function of the module, not a libffi call of a dlopened symbol.
    assert type(loaded.lib.oxb_flat_add).__name__ == "builtin_function_or_method"
    assert loaded.lib.oxb_abi_version() == _native.ABI_VERSION


def test_a_library_without_a_compiled_module_is_called_in_abi_mode() -> None:
    loaded = cffi_bridge.load(pystd.LIBRARY)
    assert loaded.flat_prefix == "oxb_"
    assert not hasattr(pystd._native, "_cffi_api")
    client: Any = oxbridge.connect("cffi", library=pystd.LIBRARY)
    assert client.gcd(12, 18) == 6


@pytest.mark.parametrize(
    ("a", "b"), [(1 + 3j, -5j), (1e308 + 1e308j, 10 + 0j), (-0.0 + 0j, 0j), (2, 0.5)]
)
def test_api_mode_gives_what_python_gives(a: complex, b: complex) -> None:
    client = oxbridge.connect("cffi", library=CALCULATOR)
    for name, op in [("add", complex.__add__), ("mul", complex.__mul__)]:
        want = op(complex(a), complex(b))
        got = getattr(client, name)(a, b)
        assert repr(got) == repr(want), name


def test_api_mode_raises_the_shared_errors() -> None:
    client = oxbridge.connect("cffi", library=CALCULATOR)
    with pytest.raises(OxbridgeZeroDivisionError, match="complex division by zero"):
        client.div(1j, 0)
    with pytest.raises(ArgumentTypeError, match="argument 'a' must be complex, not str"):
        client.add("1", 2j)  # type: ignore[arg-type]
    assert client.greet("Aloha", "amigo 🌺") == "Aloha, amigo 🌺"
    assert client.abs(3 + 4j) == 5.0
