"""The embedded default: a local server started on demand.

A network bridge opened with no address first looks for a server at the
default address (or the one in ``OXBRIDGE_HTTP`` / ``OXBRIDGE_GRPC`` /
``OXBRIDGE_UNIX``). When none answers, it starts ``python -m oxbridge serve``
(``python -m PACKAGE serve`` for another library) in a child process, on free
loopback ports and a private socket, shared by every bridge of this process
and stopped when the process exits (the child
also stops by itself when its stdin closes, so it never outlives a killed
parent).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import StartupError

if TYPE_CHECKING:
    from .._library import Library


@dataclass(frozen=True)
class Addresses:
    """Where a server listens."""

    http: str
    grpc: str
    unix: str
    #: The raw echo socket beside the IPC bridge: the benchmark's floor.
    echo: str


START_TIMEOUT = 30.0


class _Embedded:
    """The one embedded server of a library in this process, if started."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.lock = threading.Lock()
        self.child: subprocess.Popen[bytes] | None = None
        self.addresses: Addresses | None = None
        self.tmpdir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> Addresses:
        with self.lock:
            if self.addresses is not None and self.child is not None and self.child.poll() is None:
                return self.addresses
            self.tmpdir = tempfile.TemporaryDirectory(prefix="oxbridge-")
            os.chmod(self.tmpdir.name, 0o700)
            unix = os.path.join(self.tmpdir.name, "oxbridge.sock")
            echo = os.path.join(self.tmpdir.name, "echo.sock")
            cmd = [
                sys.executable, "-m", self.package, "serve",
                "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--unix", unix,
                "--json", "--watch-stdin", "--bench-echo", echo,
            ]  # fmt: skip
            self.child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self.addresses = _read_ready_line(self.child, echo, self.package)
            atexit.register(self.stop)
            return self.addresses

    def stop(self) -> None:
        with self.lock:
            child, self.child, self.addresses = self.child, None, None
        if child is None or child.poll() is not None:
            return
        assert child.stdin is not None
        child.stdin.close()  # the child's signal to drain and exit
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


#: Each library's embedded server, by its Python package.
_embedded: dict[str, _Embedded] = {}
_embedded_lock = threading.Lock()


def addresses(library: Library) -> Addresses:
    """The embedded server's addresses of ``library``, starting it on first use."""
    with _embedded_lock:
        server = _embedded.setdefault(library.package, _Embedded(library.package))
    return server.start()


def stop() -> None:
    """Stop every embedded server this process started."""
    with _embedded_lock:
        servers = list(_embedded.values())
    for server in servers:
        server.stop()


def _read_ready_line(child: subprocess.Popen[bytes], echo: str, package: str) -> Addresses:
    assert child.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([child.stdout], [], [], left)[0]:
            child.kill()
            raise StartupError(
                f"the embedded {package} server did not start within {START_TIMEOUT:g} s"
            )
        chunk = os.read(child.stdout.fileno(), 4096)
        if not chunk:
            code = child.wait()
            raise StartupError(f"the embedded {package} server exited at start (status {code})")
        line += chunk
    ready = json.loads(line)
    return Addresses(http=ready["http"][0], grpc=ready["grpc"][0], unix=ready["unix"], echo=echo)
