"""Write the exported functions' part of ``python/oxbridge/_native.pyi`` and
of the ``Client`` class's annotations (``python/oxbridge/_client.py``) from
their definitions (``_native.functions()``), and the example library's whole
stub (``examples/pystd/python/pystd/_native.pyi``: oxbridge's, with pystd's
functions, without what is marked as the runtime's only): ``make stubs``.

Only the text between the ``BEGIN``/``END exported functions`` markers is
generated; ``tests/test_stubs.py`` fails when it differs from a fresh
generation, stubtest checks the whole stub against the module, and mypy
checks the bridges and their callers against the annotations.
"""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "python" / "oxbridge" / "_native.pyi"
PYSTD_STUB = ROOT / "examples" / "pystd" / "python" / "pystd" / "_native.pyi"
CLIENT = ROOT / "python" / "oxbridge" / "_client.py"
PYSTD_CLIENT = ROOT / "examples" / "pystd" / "python" / "pystd" / "_client.py"
BEGIN, END = "# BEGIN exported functions (tools/gen_stubs.py)", "# END exported functions"
#: What only the runtime's own module has (its machinery, the benchmark's
#: anchors), not the module of a library it loads.
RUNTIME_ONLY = re.compile(
    r"^ *# BEGIN runtime only.*?# END runtime only\n\n?", re.MULTILINE | re.DOTALL
)

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


#: The numpy scalar type of each numeric type's arrays.
NUMPY_TYPE = {"i64": "np.int64", "f64": "np.float64", "complex": "np.complex128"}


def _catalogue(
    package: str = "oxbridge",
) -> list[tuple[str, str, list[tuple[str, str]], str, bool]]:
    sys.path.insert(0, str(ROOT / "python"))
    native = importlib.import_module(f"{package}._native")
    return sorted(
        (name, doc, params, returns, many)
        for name, doc, params, returns, _field, _raises, many in native.functions()
    )


def _functions(package: str) -> list[tuple[str, str, list[tuple[str, str]], str]]:
    return [(name, doc, params, returns) for name, doc, params, returns, _ in _catalogue(package)]


def _replace_sections(text: str, sections: list[str], path: Path) -> str:
    pattern = re.compile(rf"(?P<indent>[ ]*){re.escape(BEGIN)}\n.*?{re.escape(END)}\n", re.S)
    fresh = iter(sections)

    def replace(match: re.Match[str]) -> str:
        indent = match["indent"]
        return f"{indent}{BEGIN}\n{next(fresh)}{indent}{END}\n"

    text, count = pattern.subn(replace, text)
    if count != len(sections):
        raise SystemExit(f"{path}: expected {len(sections)} generated sections, found {count}")
    return text


def render_client(source: str, package: str = "oxbridge", indent: str = "    ") -> str:
    """``_client.py`` (of ``package``) with the ``Client`` annotations written
    afresh: one attribute per function, one ``<name>_many`` per numeric one."""
    lines = ""
    for name, doc, params, returns, many in _catalogue(package):
        summary = " ".join(doc.split("\n\n")[0].split())
        args = ", ".join(PYTHON_TYPE[t] for _, t in params)
        lines += "".join(
            f"{indent}#: {line}\n" for line in textwrap.wrap(summary, 96 - len(indent))
        )
        lines += f"{indent}{name}: Callable[[{args}], {PYTHON_TYPE[returns]}]\n"
        if many:
            lines += f"{indent}{name}_many: Callable[..., NDArray[{NUMPY_TYPE[returns]}]]\n"
    return _replace_sections(source, [lines], CLIENT)


def render_pystd_client(source: str) -> str:
    """The example library's ``Client`` annotations."""
    return render_client(source, "pystd", " " * 8)


def render(stub: str, package: str = "oxbridge") -> str:
    """``stub`` with both generated sections written afresh, for the
    functions of ``package``'s extension."""
    functions = sorted(_functions(package))
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
    return _replace_sections(stub, [names, defs], STUB)


def render_pystd(stub: str) -> str:
    """The example library's stub: oxbridge's (the module the runtime makes
    of every library it loads is the same but for its functions), without
    the runtime's own machinery, with pystd's functions."""
    header = (
        "# Generated by tools/gen_stubs.py from oxbridge's stub. Do not edit: run `make stubs`.\n"
    )
    return header + render(RUNTIME_ONLY.sub("", stub), "pystd")


if __name__ == "__main__":
    STUB.write_text(render(STUB.read_text()))
    CLIENT.write_text(render_client(CLIENT.read_text()))
    PYSTD_STUB.write_text(render_pystd(STUB.read_text()))
    PYSTD_CLIENT.write_text(render_pystd_client(PYSTD_CLIENT.read_text()))
    for path in (STUB, CLIENT, PYSTD_STUB, PYSTD_CLIENT):
        print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
