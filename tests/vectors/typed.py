"""Values of any exported type in the vectors, encoded by the catalogue's type.

complex ``["<hex>", "<hex>"]``; f64 ``"<hex>"``; i64 and bool as JSON; str as
a string; bytes ``{"base64": "..."}``; arrays as lists of their elements.
``{"raw": v}`` stands for ``v`` as is, whatever the type (a wrong-type case).
"""

from __future__ import annotations

import base64
from typing import Any

from . import float_bits


def decode_typed(type_name: str, value: Any) -> Any:
    """The Python value a vector's encoded value stands for."""
    if isinstance(value, dict) and "raw" in value:
        return value["raw"]
    if type_name == "complex":
        return complex(float.fromhex(value[0]), float.fromhex(value[1]))
    if type_name == "f64":
        return float.fromhex(value)
    if type_name == "bytes":
        return base64.b64decode(value["base64"])
    if type_name.endswith("[]"):
        import numpy as np  # noqa: PLC0415 - numpy is imported only where arrays are

        element = type_name[:-2]
        dtype = {"f64": np.float64, "i64": np.int64, "complex": np.complex128}[element]
        return np.array([decode_typed(element, v) for v in value], dtype=dtype)
    return value


def encode_typed(type_name: str, value: Any) -> Any:
    """A Python value in the vectors' encoding."""
    if type_name == "complex":
        z = complex(value)
        return [z.real.hex(), z.imag.hex()]
    if type_name == "f64":
        return float(value).hex()
    if type_name == "bytes":
        return {"base64": base64.b64encode(value).decode("ascii")}
    if type_name.endswith("[]"):
        return [encode_typed(type_name[:-2], v) for v in list(value)]
    return value


def _key(element: str, x: Any) -> Any:
    if element == "complex":
        z = complex(x)
        return (float_bits(z.real), float_bits(z.imag))
    if element == "f64":
        return float_bits(float(x))
    return int(x)


def same_typed(type_name: str, got: Any, want: Any) -> bool:
    """Exact equality by type: floats bit for bit (NaNs folded), arrays element
    by element, and the result of the declared Python type."""
    if type_name.endswith("[]"):
        import numpy as np  # noqa: PLC0415 - numpy is imported only where arrays are

        element = type_name[:-2]
        g, w = list(np.asarray(got)), list(np.asarray(want))
        return len(g) == len(w) and all(
            _key(element, a) == _key(element, b) for a, b in zip(g, w, strict=True)
        )
    if type_name in ("complex", "f64"):
        python_type = complex if type_name == "complex" else float
        return type(got) is python_type and _key(type_name, got) == _key(type_name, want)
    return type(got) is type(want) and got == want
