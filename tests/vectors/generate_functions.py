"""Fill in the vectors of exported functions from CPython itself:
``python tests/vectors/generate_functions.py`` (the calculator's, in
``tests/vectors/functions/``, and the example library's, in
``examples/pystd/vectors/``).

Each ``<name>.json`` names its function, a Python ``reference``
expression over the parameters, and a ``grid`` of argument expressions. The
generator writes one case per combination: the exact arguments and what the
reference gives (the result, or the error's kind and message).
``test_function_vectors.py`` re-checks every case against the reference on
every run, so the file cannot drift from Python.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import pystd  # noqa: E402
from oxbridge import _native  # noqa: E402
from oxbridge._functions import FunctionInfo  # noqa: E402
from oxbridge._library import CALCULATOR, Library  # noqa: E402

from tests.vectors.references import NAMESPACE  # noqa: E402
from tests.vectors.typed import encode_typed  # noqa: E402

#: Each library and the folder of its vectors.
SOURCES: list[tuple[Library, Path]] = [
    (CALCULATOR, Path(__file__).parent / "functions"),
    (pystd.LIBRARY, ROOT / "examples" / "pystd" / "vectors"),
]
#: Builtin exception class name -> error kind, from the core's table of kinds
#: (the first kind with that base; e.g. ValueError -> invalid_argument).
KIND_OF: dict[str, str] = {}
for name, _class, base, *_ in _native.error_kinds():
    KIND_OF.setdefault(base, name)


def evaluate(expression: str) -> Any:
    return eval(expression, dict(NAMESPACE))


def outcome(reference: str, args: dict[str, Any], returns: str) -> dict[str, Any]:
    """The ``expect`` or ``error`` of one case, from CPython."""
    try:
        value = eval(reference, {**NAMESPACE, **args})
    except Exception as e:
        base = next(c for c in type(e).__mro__ if c.__module__ == "builtins").__name__
        return {"error": {"kind": KIND_OF[base], "message": str(e)}}
    return {"expect": encode_typed(returns, value)}


def generate(path: Path, functions: dict[str, FunctionInfo]) -> None:
    spec = json.loads(path.read_text())
    f = functions[spec["function"]]
    cases = []
    grid = spec["grid"]
    for combination in itertools.product(*(grid[p.name] for p in f.params)):
        given = dict(zip((p.name for p in f.params), combination, strict=True))
        args = {name: evaluate(text) for name, text in given.items()}
        case = {
            "id": f"{f.name}:" + ":".join(combination),
            "args": {p.name: encode_typed(p.type, args[p.name]) for p in f.params},
            **outcome(spec["reference"], args, f.returns),
        }
        cases.append(case)
    spec["cases"] = cases
    text = json.dumps(spec, indent=1)
    path.write_text(text + "\n")
    print(f"{path.relative_to(ROOT)}: {len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    for library, folder in SOURCES:
        for spec_path in sorted(folder.glob("*.json")):
            generate(spec_path, library.functions)
