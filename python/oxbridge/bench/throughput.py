"""Server throughput: the oxbridge server's ``add`` under load from a load
generator that is not Python, against the least axum and tonic can do.

``wrk`` (HTTP/1.1, :data:`CONNECTIONS` keep-alive connections) posts the
same JSON ``add`` to the server and to a minimal axum handler; ``h2load``
(HTTP/2, :data:`CONNECTIONS` connections of :data:`STREAMS` streams each)
sends the same gRPC ``Add`` to the server and to a minimal tonic service
(see :mod:`.anchors`). Server and anchor take turns, round after round, and
the figure is the anchor's rate over the server's in each round (the
server's cost per request relative to the anchor's; lower is better), the
median over the rounds. Each is loaded for :data:`WARMUP_SECONDS` first,
unmeasured: a server's first seconds under load ran up to 1.3x slower than
its later ones, in one round or three.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .child import Child

#: Connections of each load generator.
CONNECTIONS = 32
#: Concurrent streams on each of h2load's connections.
STREAMS = 8
#: The HTTP anchor's and the server's route, and the request body.
HTTP_PATH = "/add"
HTTP_BODY = '{"a":[1.0,3.0],"b":[-0.0,-5.0]}'
#: The gRPC method of ``add`` (the calculator's package).
GRPC_PATH = "/calculator.v1.Functions/Add"
#: Seconds of unmeasured load on the server and on each anchor before the rounds.
WARMUP_SECONDS = 1
#: The tools, and the Debian package of each.
TOOLS = {"wrk": "wrk", "h2load": "nghttp2-client"}


def missing_tools() -> list[str]:
    """The load generators this machine lacks, as ``tool (Debian package)``."""
    return [f"{t} (Debian: {p})" for t, p in TOOLS.items() if shutil.which(t) is None]


def grpc_request() -> bytes:
    """One length-prefixed gRPC message: ``AddRequest{a: 1+3j, b: -0-5j}``."""

    def complex_(re: float, im: float) -> bytes:
        return b"\x09" + struct.pack("<d", re) + b"\x11" + struct.pack("<d", im)

    a, b = complex_(1.0, 3.0), complex_(-0.0, -5.0)
    message = bytes([0x0A, len(a)]) + a + bytes([0x12, len(b)]) + b
    return b"\x00" + struct.pack(">I", len(message)) + message


class LoadError(RuntimeError):
    """A load generator failed, or saw failed requests."""


def _run(command: list[str], seconds: int) -> str:
    try:
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=seconds + 30
        )
    except subprocess.TimeoutExpired:
        raise LoadError(f"{command[0]} did not finish within {seconds + 30} s") from None
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip()
        raise LoadError(f"{command[0]} failed ({done.returncode}): {why}")
    return done.stdout


def wrk_rate(address: str, seconds: int, script: Path) -> float:
    """Requests per second ``wrk`` gets from ``POST http://address/add``."""
    out = _run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script),
         f"http://{address}{HTTP_PATH}"],
        seconds,
    )  # fmt: skip
    for failure in ("Non-2xx", "Socket errors"):
        if failure in out:
            raise LoadError(f"wrk against {address}: {out.strip()}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not found:
        raise LoadError(f"wrk printed no rate: {out.strip()}")
    return float(found.group(1))


def h2load_rate(address: str, seconds: int, body: Path) -> float:
    """Requests per second ``h2load`` gets from the gRPC ``Add`` at ``address``."""
    out = _run(
        ["h2load", "-t1", f"-c{CONNECTIONS}", f"-m{STREAMS}", "-D", str(seconds),
         "-d", str(body), "-H", "content-type: application/grpc", "-H", "te: trailers",
         f"http://{address}{GRPC_PATH}"],
        seconds,
    )  # fmt: skip
    counts = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored", out)
    rate = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    if not counts or not rate:
        raise LoadError(f"h2load printed no rate: {out.strip()}")
    if int(counts.group(1)) == 0 or int(counts.group(2)) or int(counts.group(3)):
        raise LoadError(f"h2load against {address}: {counts.group(0)}")
    return float(rate.group(1))


@dataclass
class Rates:
    """One bridge's throughput, the server's and its anchor's, round by round."""

    bridge: str
    tool: str
    anchor: str
    server: list[float]
    baseline: list[float]

    def row(self) -> dict[str, Any]:
        ratios = [b / s for s, b in zip(self.server, self.baseline, strict=True)]
        return {
            "bridge": self.bridge,
            "tool": self.tool,
            "anchor": self.anchor,
            "server_per_second": statistics.median(self.server),
            "anchor_per_second": statistics.median(self.baseline),
            "ratio": statistics.median(ratios),
            "rounds": len(ratios),
        }


def throughput(server: dict[str, str], rounds: int, seconds: int) -> list[dict[str, Any]]:
    """``server``'s ``http`` and ``grpc`` addresses (either may be absent)
    under load, against the anchors, in ``rounds`` interleaved rounds of
    ``seconds`` (whole: ``wrk`` takes no fraction) a run.

    Raises :class:`LoadError` when a load generator fails or sees a failed
    request."""
    anchors = Child("oxbridge.bench.anchors", "the throughput anchors")
    try:
        where = json.loads(anchors.line)
        with tempfile.TemporaryDirectory(prefix="oxbridge-load-") as tmp:
            script, body = Path(tmp, "post.lua"), Path(tmp, "add.grpc")
            script.write_text(
                'wrk.method = "POST"\n'
                f"wrk.body = '{HTTP_BODY}'\n"
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            body.write_bytes(grpc_request())
            plans: list[tuple[str, str, str, Callable[[str, int], float]]] = []
            if "http" in server:
                plans.append(("http", "wrk", "minimal axum handler",
                              lambda a, s: wrk_rate(a, s, script)))  # fmt: skip
            if "grpc" in server:
                plans.append(("grpc", "h2load", "minimal tonic service",
                              lambda a, s: h2load_rate(a, s, body)))  # fmt: skip
            results = [Rates(b, t, anchor, [], []) for b, t, anchor, _ in plans]
            with click.progressbar(
                length=(rounds + 1) * len(plans) * 2, label=f"{'throughput':<12}", file=sys.stderr
            ) as bar:
                for bridge, _, _, rate in plans:
                    for addresses in (server, where):
                        rate(addresses[bridge], WARMUP_SECONDS)
                        bar.update(1)
                for r in range(rounds):
                    for rates, (bridge, _, _, rate) in zip(results, plans, strict=True):
                        # Who goes first alternates, so a drift favours neither.
                        order = [(server, rates.server), (where, rates.baseline)]
                        for addresses, into in order[:: 1 if r % 2 == 0 else -1]:
                            into.append(rate(addresses[bridge], seconds))
                            bar.update(1)
    finally:
        anchors.close()
    return [r.row() for r in results]
