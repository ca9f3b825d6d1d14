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


def main() -> None:
    doc = {
        "about": "Shared cases every bridge must pass; see tests/vectors/generate.py.",
        "cases": arithmetic_cases() + TYPE_ERRORS + greet_cases(),
    }
    out = Path(__file__).with_name("scalar.json")
    # One case per line: diffs of this file stay readable.
    lines = ",\n".join("  " + json.dumps(c, ensure_ascii=True) for c in doc["cases"])
    out.write_text(f'{{"about": {json.dumps(doc["about"])},\n "cases": [\n{lines}\n]}}\n')
    print(f"wrote {len(doc['cases'])} cases to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
