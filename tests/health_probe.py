"""A health prober in its own process: ``python -m tests.health_probe HOST:PORT``
sends ``GET /healthz`` every 20 ms on a fresh connection until its standard
input closes, then prints the slowest answer and the count as JSON.

Its own process, so that what it measures is the server, not the GIL of a
test that drives hundreds of client threads at once.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import time


def probe(host: str, port: int) -> tuple[float, float]:
    """Seconds for one health check on a fresh connection (10 s at most),
    and of those, the seconds until the connection was established."""
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=10) as sock:
        connected = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = sock.recv(65536)
    if not reply.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"health check failed: {reply[:100]!r}")
    return time.monotonic() - started, connected - started


def main() -> None:
    host, port = sys.argv[1].rsplit(":", 1)
    latencies, connects = [], []
    while True:
        latency, connect = probe(host, int(port))
        latencies.append(latency)
        connects.append(connect)
        stop, _, _ = select.select([sys.stdin], [], [], 0.02)
        if stop:
            break
    latencies.sort()
    print(
        json.dumps(
            {
                "count": len(latencies),
                "slowest_ms": round(latencies[-1] * 1000, 1),
                "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
                "slowest_connect_ms": round(max(connects) * 1000, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
