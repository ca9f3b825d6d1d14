"""What a plain ``pip install oxbridge`` (no extras) must do, as a script.

Every bridge's scalar calls work and never import numpy or grpcio (the gRPC
bridge's client is in the extension); a vectorized call fails with one line
naming the extra to install. ``tests/test_extras.py`` runs it with numpy and
grpcio made unimportable; ``tools/check_wheel.py`` runs it in fresh venvs
where neither was ever installed. Exits non-zero on a failure.

    python plain_install.py [--block-numpy] [--block-grpcio]
"""

from __future__ import annotations

import sys
from collections.abc import Callable

if "--block-numpy" in sys.argv:
    # As if numpy were not installed: `import numpy` raises ModuleNotFoundError.
    sys.modules["numpy"] = None  # type: ignore[assignment]
if "--block-grpcio" in sys.argv:
    sys.modules["grpc"] = None  # type: ignore[assignment]

import oxbridge

MISSING = (
    "arrays (the *_many calls, array arguments and results) need numpy, which is not "
    "installed: pip install 'oxbridge[numpy]'"
)


def check(bridge: str) -> None:
    """Scalars work on ``bridge``, a batch names the extra it needs."""
    with oxbridge.connect(bridge) as client:
        got = client.add(1 + 3j, -5j)
        assert got == 1 - 2j, (bridge, got)
        greeting = client.greet("Aloha", "amigo")
        assert greeting == "Aloha, amigo", (bridge, greeting)
        error = raised(client.div, 1, 0)
        assert isinstance(error, oxbridge.OxbridgeZeroDivisionError), (bridge, error)
        error = raised(client.mul_many, [1j], 2)
        assert isinstance(error, oxbridge.MissingExtraError), (bridge, error)
        assert isinstance(error, ImportError)
        assert str(error) == MISSING, (bridge, str(error))


def raised(call: Callable[..., object], *args: object) -> Exception | None:
    """What ``call(*args)`` raised (this runs where pytest may not be installed)."""
    try:
        call(*args)
    except Exception as e:  # returned, to be checked by the caller
        return e
    return None


def main() -> None:
    for bridge in oxbridge.BRIDGES:
        check(bridge)
    assert sys.modules.get("numpy") is None, "a scalar call imported numpy"
    assert sys.modules.get("grpc") is None, "a call imported grpcio"
    print(f"plain install: scalar calls on {', '.join(oxbridge.BRIDGES)} without numpy or grpcio")


if __name__ == "__main__":
    main()
