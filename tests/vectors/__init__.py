"""Loading the shared vectors: the contract every bridge is tested against."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oxbridge.testing import float_bits as float_bits

HERE = Path(__file__).parent


def load(name: str) -> list[dict[str, Any]]:
    """The cases of ``tests/vectors/<name>.json``."""
    cases: list[dict[str, Any]] = json.loads((HERE / f"{name}.json").read_text())["cases"]
    return cases


def decode(value: Any) -> Any:
    """A vector operand as the Python value it stands for.

    ``["<hex>", "<hex>"]`` is a complex, ``{"raw": v}`` is ``v`` as is,
    ``{"repeat": s, "times": n}`` is ``s * n``, ``{"concat": [...]}`` joins
    its decoded parts, and a plain string is itself.
    """
    if isinstance(value, list) and len(value) == 2 and all(isinstance(p, str) for p in value):
        return complex(float.fromhex(value[0]), float.fromhex(value[1]))
    if isinstance(value, list):
        # A batch operand: a list of complex pairs.
        import numpy as np  # noqa: PLC0415 - numpy is imported only where arrays are

        return np.array([decode(v) for v in value], dtype=np.complex128)
    if isinstance(value, dict):
        if "raw" in value:
            return value["raw"]
        if "repeat" in value:
            return value["repeat"] * value["times"]
        if "concat" in value:
            return "".join(decode(p) for p in value["concat"])
        if "ramp" in value:
            return ramp(value["ramp"], value["scale"], value.get("zero_at"))
    if isinstance(value, str):
        return value
    raise ValueError(f"cannot decode vector operand {value!r}")


def same_complex(x: complex, y: complex) -> bool:
    """Bit-for-bit equality of two complex numbers (NaNs folded)."""
    return (float_bits(x.real), float_bits(x.imag)) == (float_bits(y.real), float_bits(y.imag))


def ramp(n: int, scale: float, zero_at: int | None = None) -> Any:
    """A deterministic complex128 array of ``n`` varied, non-zero values."""
    import numpy as np  # noqa: PLC0415 - numpy is imported only where arrays are

    i = np.arange(n, dtype=np.float64)
    values = (i * scale + 1.0) + 1j * (np.sin(i) * scale - 0.5)
    if zero_at is not None:
        values[zero_at] = 0
    return values


def assert_raises_like(expected: dict[str, str], call: Any, *args: Any) -> None:
    """``call(*args)`` raises exactly the class and message of a vector's error."""
    import oxbridge  # noqa: PLC0415 - deliberately local
    import pytest  # noqa: PLC0415 - deliberately local
    from oxbridge.errors import error_for  # noqa: PLC0415 - deliberately local

    want = error_for(expected["kind"], expected["message"])
    with pytest.raises(oxbridge.OxbridgeError) as info:
        call(*args)
    assert type(info.value) is type(want)
    assert str(info.value) == str(want)
