"""``python -m oxbridge.bench.anchors``: the server throughput anchors, a
minimal axum handler and a minimal tonic service of the calculator's ``add``
(``crates/oxbridge-server/src/anchors.rs``), in a helper process of their
own. Prints ``{"http": ADDR, "grpc": ADDR}`` and serves until stdin closes.
"""

from __future__ import annotations

import json

from .. import _native
from .child import until_stdin_closes


def main() -> None:
    http, grpc = _native.serve_anchors()
    print(json.dumps({"http": http, "grpc": grpc}), flush=True)
    until_stdin_closes()


if __name__ == "__main__":
    main()
