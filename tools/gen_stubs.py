"""Write the exported functions' part of ``python/oxbridge/_native.pyi`` from
their definitions (``_native.functions()``): ``make stubs``.

Only the text between the ``BEGIN``/``END exported functions`` markers is
generated; ``tests/test_stubs.py`` fails when it differs from a fresh
generation, and stubtest checks the whole stub against the module.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "python" / "oxbridge" / "_native.pyi"
BEGIN, END = "# BEGIN exported functions (tools/gen_stubs.py)", "# END exported functions"

#: The Python annotation of each catalogue type.
PYTHON_TYPE = {
    "bool": "bool",
    "i64": "int",
    "f64": "float",
    "complex": "complex",
    "str": "str",
    "bytes": "bytes",
    "f64[]": "NDArray[np.float64]",
    "i64[]": "NDArray[np.int64]",
    "complex[]": "NDArray[np.complex128]",
}


def _functions() -> list[tuple[str, str, list[tuple[str, str]], str]]:
    sys.path.insert(0, str(ROOT / "python"))
    from oxbridge import _native

    return [(name, doc, params, returns) for name, doc, params, returns, *_ in _native.functions()]


def render(stub: str) -> str:
    """``stub`` with both generated sections written afresh."""
    functions = sorted(_functions())
    names = "".join(f'    "{name}",\n' for name, *_ in functions)
    arrays = any(
        t.endswith("[]") for _, _, params, r in functions for t in [r, *dict(params).values()]
    )
    defs = (
        "import numpy as np  # noqa: E402\nfrom numpy.typing import NDArray  # noqa: E402\n\n"
        if arrays
        else ""
    )
    for name, doc, params, returns in functions:
        args = ", ".join(f"{p}: {PYTHON_TYPE[t]}" for p, t in params)
        body = doc.replace('"""', '\\"\\"\\"').replace("\n", "\n    ").replace("\n    \n", "\n\n")
        defs += f'def {name}({args}) -> {PYTHON_TYPE[returns]}:\n    """{body}"""\n\n'
    pattern = re.compile(rf"(?P<indent>[ ]*){re.escape(BEGIN)}\n.*?{re.escape(END)}\n", re.S)
    sections = iter([names, defs])

    def replace(match: re.Match[str]) -> str:
        indent = match["indent"]
        return f"{indent}{BEGIN}\n{next(sections)}{indent}{END}\n"

    text, count = pattern.subn(replace, stub)
    if count != 2:
        raise SystemExit(f"{STUB}: expected 2 generated sections, found {count}")
    return text


if __name__ == "__main__":
    STUB.write_text(render(STUB.read_text()))
    print(f"wrote {STUB.relative_to(ROOT)}", file=sys.stderr)
