"""Testing a library against its vectors, on every bridge.

A library's vectors are JSON files, one per function (``vectors/<name>.json``:
``{"function": ..., "cases": [{"id", "args", "expect" | "error"}]}``), its
values encoded by the catalogue's type: complex ``["<hex>", "<hex>"]``, f64
``"<hex>"``, i64 and bool as JSON, str as a string, bytes ``{"base64": ...}``,
arrays as lists of their elements, and ``{"raw": v}`` for ``v`` as is (a
wrong-type case). oxbridge's own tests and every library made by
``oxbridge new`` run them with :func:`check_case`: the same answer, or the
same exception class with the same message, on every bridge.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._client import Client
from ._library import Library
from .errors import OxbridgeError, error_for

__all__ = [
    "Case",
    "cases",
    "check_case",
    "decode_typed",
    "encode_typed",
    "float_bits",
    "same_typed",
]


def float_bits(x: float) -> int:
    """The IEEE-754 bits of ``x``, with every NaN folded to one value.

    NaN sign and payload are not part of the contract (CPython does not fix
    them either); everything else, signed zeros included, must match exactly.
    """
    if math.isnan(x):
        return 0x7FF8_0000_0000_0000
    bits: int = struct.unpack("<Q", struct.pack("<d", x))[0]
    return bits


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


@dataclass(frozen=True)
class Case:
    """One vector: a call of ``function`` and what it must give."""

    function: str
    id: str
    args: dict[str, Any]
    expect: Any = None
    error: dict[str, str] | None = None


def cases(library: Library, folder: Path | str) -> list[Case]:
    """Every case of the vector files in ``folder``, each checked to name a
    function of ``library`` and each of its parameters."""
    found = []
    for path in sorted(Path(folder).glob("*.json")):
        spec = json.loads(path.read_text())
        name = spec["function"]
        if name not in library.functions:
            raise ValueError(f"{path}: {library.name} has no function {name!r}")
        params = [p.name for p in library.functions[name].params]
        for case in spec["cases"]:
            if sorted(case["args"]) != sorted(params):
                raise ValueError(f"{path}: case {case['id']!r} does not give {params}")
            found.append(
                Case(name, case["id"], case["args"], case.get("expect"), case.get("error"))
            )
    return found


def check_case(library: Library, client: Client, case: Case) -> None:
    """Calls ``case`` on ``client`` (of ``library``) and raises
    ``AssertionError`` unless it gives exactly the expected result, or the
    expected error's class with its message."""
    f = library.functions[case.function]
    args = [decode_typed(p.type, case.args[p.name]) for p in f.params]
    call = getattr(client, f.name)
    if case.error is not None:
        want = error_for(case.error["kind"], case.error["message"])
        try:
            got = call(*args)
        except OxbridgeError as e:
            if type(e) is not type(want) or str(e) != str(want):
                raise AssertionError(
                    f"{case.id} on {client.bridge}: raised {type(e).__name__}({e}),"
                    f" want {type(want).__name__}({want})"
                ) from e
            return
        raise AssertionError(f"{case.id} on {client.bridge}: returned {got!r}, want {want!r}")
    want = decode_typed(f.returns, case.expect)
    try:
        got = call(*args)
    except OxbridgeError as e:
        raise AssertionError(
            f"{case.id} on {client.bridge}: raised {type(e).__name__}({e}), want {want!r}"
        ) from e
    if not same_typed(f.returns, got, want):
        raise AssertionError(f"{case.id} on {client.bridge}: returned {got!r}, want {want!r}")
