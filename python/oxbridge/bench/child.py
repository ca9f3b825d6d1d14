"""The benchmark's helper processes: ``python -m MODULE`` prints one line
when it is ready, and exits as soon as its stdin closes, so that it never
outlives the benchmark (even one that was killed)."""

from __future__ import annotations

import os
import select
import subprocess
import sys

#: Seconds a helper may take to print its ready line.
START_TIMEOUT = 30.0


class Child:
    """A running helper, and the line it printed when ready."""

    def __init__(self, module: str, what: str) -> None:
        self.what = what
        self.process = subprocess.Popen(
            [sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        try:
            self.line = self._ready_line()
        except BaseException:
            self.close()
            raise

    def _ready_line(self) -> bytes:
        stream = self.process.stdout
        assert stream is not None
        if not select.select([stream], [], [], START_TIMEOUT)[0]:
            raise TimeoutError(f"{self.what} did not start within {START_TIMEOUT:g} s")
        line = stream.readline()
        if not line:
            raise ConnectionError(f"{self.what} exited at start")
        return line

    def close(self) -> None:
        """Stop the helper (closing its stdin), and kill it if it lingers."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def until_stdin_closes() -> None:
    """In a helper: block until stdin closes, then end the process at once."""
    while os.read(sys.stdin.fileno(), 1024):
        pass
    os._exit(0)
