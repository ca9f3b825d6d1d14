"""Regenerate ``scalar.json`` from CPython itself: ``python tests/vectors/generate.py``.

The expected values are what this interpreter's own ``complex`` operators and
f-strings give; ``test_vectors.py`` re-checks them against CPython on every run,
so a hand edit that disagrees with Python fails too.
"""

from __future__ import annotations

import json
import math
import operator
import sys
from pathlib import Path
from typing import Any

INF, NAN = math.inf, math.nan
BIG, TINY, SUB = 1e308, 2.2250738585072014e-308, 5e-324

OPERANDS: dict[str, complex] = {
    "article-a": 1 + 3j,
    "article-b": complex(0.0, -5.0),
    "zero": complex(0.0, 0.0),
    "negzero": complex(-0.0, -0.0),
    "mixed-zero": complex(-0.0, 0.0),
    "one": 1 + 0j,
    "i": 1j,
    "inf": complex(INF, 0.0),
    "inf-inf": complex(INF, -INF),
    "nan": complex(NAN, 0.0),
    "nan-im": complex(1.0, NAN),
    "big": complex(BIG, BIG),
    "big-skew": complex(BIG, 3e307),
    "big-skew2": complex(2e307, BIG),
    "tiny": complex(TINY, -TINY),
    "subnormal": complex(SUB, 3 * SUB),
    "negative": complex(-2.5, -7.25),
    "third": complex(1 / 3, 2 / 3),
}

PAIRS = [
    ("article-a", "article-b"),
    ("zero", "zero"),
    ("negzero", "negzero"),
    ("mixed-zero", "one"),
    ("negzero", "mixed-zero"),
    ("one", "i"),
    ("inf", "one"),
    ("inf-inf", "i"),
    ("one", "inf"),
    ("inf", "inf-inf"),
    ("nan", "one"),
    ("one", "nan-im"),
    ("big", "big"),
    ("big-skew", "big-skew2"),
    ("big", "tiny"),
    ("tiny", "big"),
    ("tiny", "tiny"),
    ("subnormal", "subnormal"),
    ("subnormal", "tiny"),
    ("negative", "third"),
    ("third", "negative"),
    ("article-a", "zero"),
    ("article-a", "negzero"),
    ("nan", "zero"),
]

OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


def hexc(z: complex) -> list[str]:
    return [z.real.hex(), z.imag.hex()]


def arithmetic_cases() -> list[dict[str, Any]]:
    cases = []
    for x, y in PAIRS:
        for name, fn in OPS.items():
            a, b = OPERANDS[x], OPERANDS[y]
            case: dict[str, Any] = {"id": f"{name}:{x}:{y}", "op": name, "a": hexc(a), "b": hexc(b)}
            try:
                case["expect"] = hexc(fn(a, b))
            except ZeroDivisionError as e:
                case["error"] = {"kind": "zero_division", "message": str(e)}
            cases.append(case)
    return cases


# Arguments of the wrong type: the same class and message on every bridge.
TYPE_ERRORS: list[dict[str, Any]] = [
    {
        "id": "add:str",
        "op": "add",
        "a": {"raw": "1+2j"},
        "b": hexc(1j),
        "error": {"kind": "invalid_type", "message": "argument 'a' must be complex, not str"},
    },
    {
        "id": "mul:none",
        "op": "mul",
        "a": hexc(1j),
        "b": {"raw": None},
        "error": {"kind": "invalid_type", "message": "argument 'b' must be complex, not NoneType"},
    },
    {
        "id": "div:list",
        "op": "div",
        "a": {"raw": [1, 2]},
        "b": hexc(1j),
        "error": {"kind": "invalid_type", "message": "argument 'a' must be complex, not list"},
    },
    {"id": "sub:int", "op": "sub", "a": {"raw": 7}, "b": hexc(2j), "expect": hexc(7 - 2j)},
    {
        "id": "greet:int",
        "op": "greet",
        "greeting": {"raw": 5},
        "name": "x",
        "error": {"kind": "invalid_type", "message": "argument 'greeting' must be str, not int"},
    },
    {
        "id": "greet:none",
        "op": "greet",
        "greeting": "x",
        "name": {"raw": None},
        "error": {"kind": "invalid_type", "message": "argument 'name' must be str, not NoneType"},
    },
]

GREETINGS = [
    ("article", "Welcome", "traveler"),
    ("grpc-article", "Aloha", "amigo"),
    ("empty", "", ""),
    ("nul", "a\0b", "\0"),
    ("emoji", "👋🏽", "🦀 & 🐍"),
    ("combining", "e\u0301", "n\u0303o"),
    ("rtl", "مرحبا", "עולם"),
    ("newlines", "line1\nline2", "\r\n\t"),
    ("quotes", '"{}"', "\\u0000"),
]


def greet_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = [
        {"id": f"greet:{i}", "op": "greet", "greeting": g, "name": n, "expect": f"{g}, {n}"}
        for i, g, n in GREETINGS
    ]
    # Megabyte-long text, stored as a recipe instead of a megabyte of JSON.
    big_g = {"repeat": "é", "times": 600_000}
    big_n = {"repeat": "🦀x", "times": 250_000}
    cases.append(
        {
            "id": "greet:megabyte",
            "op": "greet",
            "greeting": big_g,
            "name": big_n,
            "expect": {"concat": [big_g, ", ", big_n]},
        }
    )
    cases.append(
        {
            "id": "greet:surrogate",
            "op": "greet",
            "greeting": "hi",
            "name": "\ud800",
            "error": {
                "kind": "invalid_argument",
                "message": "argument 'name' is not valid UTF-8 text",
            },
        }
    )
    return cases


def batch_cases() -> list[dict[str, Any]]:
    """Batches: element by element the scalar operation, or the same error."""
    xs = [OPERANDS[k] for k in ("article-a", "negzero", "inf", "big-skew", "subnormal", "third")]
    ys = [OPERANDS[k] for k in ("article-b", "i", "one", "big-skew2", "tiny", "negative")]
    cases: list[dict[str, Any]] = []
    for name, fn in OPS.items():
        cases.append(
            {
                "id": f"{name}_many:mixed",
                "op": f"{name}_many",
                "a": [hexc(x) for x in xs],
                "b": [hexc(y) for y in ys],
                "expect": [hexc(fn(x, y)) for x, y in zip(xs, ys, strict=True)],
            }
        )
        s = OPERANDS["negative"]
        cases.append(
            {
                "id": f"{name}_many:scalar-b",
                "op": f"{name}_many",
                "a": [hexc(x) for x in xs],
                "b": hexc(s),
                "expect": [hexc(fn(x, s)) for x in xs],
            }
        )
    cases += [
        {"id": "add_many:empty", "op": "add_many", "a": [], "b": [], "expect": []},
        {"id": "div_many:empty-by-zero", "op": "div_many", "a": [], "b": hexc(0j), "expect": []},
        {
            "id": "mul_many:ints-converted",
            "op": "mul_many",
            "a": {"raw": [1, 2, 3]},
            "b": {"raw": [4, 5, 6]},
            "expect": [hexc(complex(4)), hexc(complex(10)), hexc(complex(18))],
        },
        {
            "id": "div_many:zero-at-2",
            "op": "div_many",
            "a": [hexc(1j)] * 4,
            "b": [hexc(1 + 0j), hexc(2j), hexc(complex(-0.0, 0.0)), hexc(0j)],
            "error": {"kind": "zero_division", "message": "complex division by zero at index 2"},
        },
        {
            "id": "div_many:scalar-zero",
            "op": "div_many",
            "a": [hexc(1j)] * 3,
            "b": hexc(0j),
            "error": {"kind": "zero_division", "message": "complex division by zero at index 0"},
        },
        {
            "id": "add_many:length-mismatch",
            "op": "add_many",
            "a": [hexc(1j)] * 3,
            "b": [hexc(1j)] * 2,
            "error": {
                "kind": "invalid_argument",
                "message": "operands have different lengths: a has 3 elements, b has 2",
            },
        },
        {
            "id": "add_many:2d",
            "op": "add_many",
            "a": {"raw": [[1, 2], [3, 4]]},
            "b": hexc(1j),
            "error": {
                "kind": "invalid_argument",
                "message": "argument 'a' must be one-dimensional, not of shape (2, 2)",
            },
        },
        {
            "id": "mul_many:0d-a",
            "op": "mul_many",
            "a": {"raw": 5},
            "b": hexc(1j),
            "error": {
                "kind": "invalid_argument",
                "message": "argument 'a' must be one-dimensional, not of shape ()",
            },
        },
        {
            "id": "sub_many:strings",
            "op": "sub_many",
            "a": {"raw": ["1", "2"]},
            "b": hexc(1j),
            "error": {
                "kind": "invalid_type",
                "message": "argument 'a' must be an array of numbers, not of <U1",
            },
        },
        {
            "id": "sub_many:ragged",
            "op": "sub_many",
            "a": [hexc(1j)],
            "b": {"raw": [[1], [1, 2]]},
            "error": {
                "kind": "invalid_argument",
                "message": "argument 'b' is not a rectangular array of numbers",
            },
        },
        {
            "id": "add_many:none-b",
            "op": "add_many",
            "a": [hexc(1j)],
            "b": {"raw": None},
            "error": {
                "kind": "invalid_type",
                "message": "argument 'b' must be an array of numbers, not of object",
            },
        },
        # Larger than one frame (2**18) and than the parallel threshold (2**16):
        # the zero divisor sits in the second frame and a later parallel chunk.
        {
            "id": "div_many:ramp-zero-in-second-frame",
            "op": "div_many",
            "a": {"ramp": 300_000, "scale": 0.5},
            "b": {"ramp": 300_000, "scale": -1.5, "zero_at": 280_001},
            "error": {
                "kind": "zero_division",
                "message": "complex division by zero at index 280001",
            },
        },
        {
            "id": "mul_many:ramp",
            "op": "mul_many",
            "a": {"ramp": 300_000, "scale": 0.37},
            "b": {"ramp": 300_000, "scale": 2.5},
            "expect": "elementwise",
        },
        {
            "id": "div_many:ramp-scalar",
            "op": "div_many",
            "a": {"ramp": 70_000, "scale": 3.0},
            "b": hexc(OPERANDS["third"]),
            "expect": "elementwise",
        },
    ]
    return cases


def main() -> None:
    write("scalar", arithmetic_cases() + TYPE_ERRORS + greet_cases())
    write("batch", batch_cases())


def write(name: str, cases: list[dict[str, Any]]) -> None:
    out = Path(__file__).with_name(f"{name}.json")
    about = "Shared cases every bridge must pass; see tests/vectors/generate.py."
    # One case per line: diffs of this file stay readable.
    lines = ",\n".join("  " + json.dumps(c, ensure_ascii=True) for c in cases)
    out.write_text(f'{{"about": {json.dumps(about)},\n "cases": [\n{lines}\n]}}\n')
    print(f"wrote {len(cases)} cases to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
