"""Write the cffi API-mode source of the calculator's C ABI
(``crates/oxbridge-native/cffi/_cffi_api.c``): ``make cffi``.

cffi's API mode, as the article uses it (``ffi.set_source`` and compile): C
that calls the ``oxb_*`` functions directly, with no ``dlopen`` and no libffi
per call. The source is generated here from the library's own header and
catalogue, committed, and compiled into ``oxbridge._native`` by the crate's
``build.rs`` (as pyca/cryptography compiles its cffi module into its Rust
extension), so a build needs no Python step; ``tests/test_stubs.py`` fails
when it differs from a fresh generation.

Besides the header's declarations, it defines ``oxb_flat_<name>`` for each
function of scalars: the same call with every argument flattened to plain C
values (a complex as two doubles, a text as pointer and length), which cffi
converts from Python objects with no struct built per call.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cffi

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "crates" / "oxbridge-native" / "cffi" / "_cffi_api.c"
#: The module cffi generates; its init function is ``PyInit__cffi_api``.
MODULE = "oxbridge._native._cffi_api"


def flat_wrapper(f: object) -> tuple[str, str]:
    """``oxb_flat_<name>``'s declaration (for cffi) and definition (C)."""
    from oxbridge.bridges import _cabi  # noqa: PLC0415

    params: list[str] = []
    passed: list[str] = []
    for i, p in enumerate(f.params):  # type: ignore[attr-defined]
        names = [f"p{i}_{k}" for k in range(len(_cabi.FLAT_C[p.type]))]
        params += [f"{c} {n}" for c, n in zip(_cabi.FLAT_C[p.type], names, strict=True)]
        if p.type == "complex":
            passed.append(f"(OxbComplex){{{names[0]}, {names[1]}}}")
        elif p.type in ("str", "bytes"):
            kind = "OxbStr" if p.type == "str" else "OxbBytes"
            passed.append(f"({kind}){{(const uint8_t *){names[0]}, {names[1]}}}")
        else:
            passed.append(names[0])
    returns = f.returns  # type: ignore[attr-defined]
    out = "double" if returns == "complex" else _cabi.C_OUT[returns]
    params += [f"{out} *out", "OxbString *err"]
    passed.append("(OxbComplex *)out" if returns == "complex" else "out")
    passed.append("err")
    name = f.name  # type: ignore[attr-defined]
    head = f"OxbStatus oxb_flat_{name}({', '.join(params)})"
    body = f"static {head} {{\n    return oxb_{name}({', '.join(passed)});\n}}\n"
    return head + ";", body


def render() -> str:
    """The generated C source, as ``emit_c_code`` writes it."""
    sys.path.insert(0, str(ROOT / "python"))
    from oxbridge._library import CALCULATOR  # noqa: PLC0415
    from oxbridge.bridges import _cabi  # noqa: PLC0415

    wrappers = [flat_wrapper(f) for f in CALCULATOR.functions.values() if _cabi.has_fast_path(f)]
    ffi = cffi.FFI()
    ffi.cdef(_cabi.cdef(CALCULATOR.c_header) + "\n" + "\n".join(d for d, _ in wrappers))
    # The header itself, not an #include: the source needs no include path.
    ffi.set_source(MODULE, CALCULATOR.c_header + "\n" + "\n".join(b for _, b in wrappers))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "api.c"
        ffi.emit_c_code(str(out))
        return out.read_text()


def main() -> None:
    SOURCE.parent.mkdir(parents=True, exist_ok=True)
    SOURCE.write_text(render())
    print(f"wrote {SOURCE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
