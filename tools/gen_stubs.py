"""Write the exported functions' part of ``python/oxbridge/_native.pyi`` and
of the ``Client`` class's annotations (``python/oxbridge/_client.py``) from
their definitions (``_native.functions()``): ``make stubs``.

Only the text between the ``BEGIN``/``END exported functions`` markers is
generated, by the same functions that write any library's stub and typed
client (``oxbridge stubs PACKAGE``, see ``oxbridge.stubs``);
``tests/test_stubs.py`` fails when it differs from a fresh generation,
stubtest checks the whole stub against the module, and mypy checks the
bridges and their callers against the annotations.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from oxbridge import _native  # noqa: E402 - from this tree
from oxbridge.stubs import client_annotations, native_stub, replace_sections  # noqa: E402

STUB = ROOT / "python" / "oxbridge" / "_native.pyi"
CLIENT = ROOT / "python" / "oxbridge" / "_client.py"


def render(stub: str) -> str:
    """oxbridge's stub with its generated sections written afresh."""
    return native_stub(stub, _native)


def render_client(source: str) -> str:
    """``_client.py`` with the ``Client`` annotations written afresh."""
    return replace_sections(source, [client_annotations(_native, "    ")], CLIENT)


if __name__ == "__main__":
    STUB.write_text(render(STUB.read_text()))
    CLIENT.write_text(render_client(CLIENT.read_text()))
    for path in (STUB, CLIENT):
        print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
