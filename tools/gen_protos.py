"""Generate the Python gRPC stubs from ``proto/`` into ``python/oxbridge/_proto``.

``python tools/gen_protos.py [OUT_DIR]``. The checked-in stubs are compared with
a fresh generation by ``tests/test_grpc_stubs.py``; run ``make protos`` after
changing a ``.proto``. grpcio-tools is pinned in pyproject so that a fresh
generation is byte-for-byte reproducible.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTOS = ["oxbridge/v1/calculator.proto", "greeter_service.proto"]


def generate(out: Path) -> list[Path]:
    """Write the stubs to ``out`` (flat, with package-relative imports)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{ROOT / 'proto'}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *(str(ROOT / "proto" / p) for p in PROTOS),
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        written = []
        for path in sorted(Path(tmp).rglob("*.py*")):
            text = path.read_text()
            # protoc writes absolute imports (`from oxbridge.v1 import ...`,
            # `import greeter_service_pb2`) that would collide with this package.
            text = re.sub(r"^from oxbridge\.v1 import (\w+)", r"from . import \1", text, flags=re.M)
            text = re.sub(r"^import (\w+_pb2) as", r"from . import \1 as", text, flags=re.M)
            target = out / path.name
            target.write_text(text)
            written.append(target)
    (out / "__init__.py").write_text(INIT)
    return written


#: The package's ``__init__``: grpcio is an extra, named when it is missing.
INIT = '''"""Generated gRPC stubs: do not edit, run `make protos`.

For grpcio, as the articles' own clients use them; oxbridge's gRPC bridge
does not (its client is in the extension). Without grpcio and protobuf,
importing them names the extra that brings both.
"""

from .._extras import require

require("google.protobuf", "grpcio", "the generated gRPC stubs (oxbridge._proto)")
require("grpc", "grpcio", "the generated gRPC stubs (oxbridge._proto)")
'''


if __name__ == "__main__":
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "python" / "oxbridge" / "_proto"
    for f in generate(dest):
        print(f.relative_to(dest.parent) if dest in f.parents else f)
