"""Starting real servers for the tests: ``python -m oxbridge serve`` in a child."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Served:
    """A server child and where it listens."""

    process: subprocess.Popen[bytes]
    http: list[str]
    grpc: list[str]
    unix: str | None
    #: The address serving only /metrics (`--metrics`), if any.
    metrics: str | None = None

    def url(self, bridge: str) -> str:
        """The URL of this server's ``ipc``, ``http`` or ``grpc`` bridge."""
        if bridge == "ipc":
            return f"unix://{self.unix}"
        return f"http://{self.http[0]}" if bridge == "http" else f"grpc://{self.grpc[0]}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


#: The Rust server binary: the newest of ``make build``'s (``target/fast``)
#: and ``make bench``'s or ``cargo build --release``'s (``target/release``).
_TARGET = Path(__file__).resolve().parent.parent / "target"
BINARY = max(
    (_TARGET / profile / "oxbridge-server" for profile in ("fast", "release")),
    key=lambda b: b.stat().st_mtime if b.exists() else 0.0,
)


def start(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 30,
    package: str = "oxbridge",
    binary: bool = False,
    stdin: int | None = None,
) -> Served:
    """Start ``python -m PACKAGE serve --json ARGS`` (oxbridge's, or another
    library's), or with ``binary`` the ``oxbridge-server`` binary, and wait
    for its ready line."""
    command = [str(BINARY)] if binary else [sys.executable, "-m", package, "serve"]
    process = subprocess.Popen(
        [*command, "--json", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else b""
    if not line:
        process.kill()
        _, err = process.communicate()
        raise RuntimeError(f"server did not start: {err.decode(errors='replace')}")
    info: dict[str, Any] = json.loads(line)
    return Served(process, info["http"], info["grpc"], info["unix"], info.get("metrics"))


@contextmanager
def serving(
    *args: str, env: dict[str, str] | None = None, package: str = "oxbridge", binary: bool = False
) -> Iterator[Served]:
    """A server for the duration of a ``with`` block."""
    served = start(*args, env=env, package=package, binary=binary)
    try:
        yield served
    finally:
        if served.process.poll() is None:
            served.process.kill()
        served.process.wait()


def ephemeral(tmp: Path) -> list[str]:
    """Arguments for a server on free loopback ports and a socket in ``tmp``."""
    return ["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--unix", str(tmp / "ox.sock")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_gone(path: str, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def catalogue_reply(library: Any = None) -> bytes:
    """What a server answers a client's catalogue request with (JSON), for
    the fake servers that speak the protocol up to the fault they play."""
    from oxbridge import CALCULATOR  # noqa: PLC0415

    native = (library or CALCULATOR).native
    entry = {
        "name": native.LIBRARY,
        "version": native.LIBRARY_VERSION,
        "checksum": native.CHECKSUM,
        "contract": native.CONTRACT.splitlines(),
    }
    return json.dumps({"libraries": [entry]}).encode()


def grpc_catalogue_reply(library: Any = None) -> bytes:
    """:func:`catalogue_reply` as the gRPC method's message (field 1, a string)."""
    from oxbridge.bridges._protobuf import _delimited  # noqa: PLC0415

    return _delimited(1, catalogue_reply(library))
