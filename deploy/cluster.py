"""Replicas of the oxbridge server behind nginx, all on loopback.

    python deploy/cluster.py [--replicas 3] [--http-port 8080] [--grpc-port 8081]

starts the replicas (``python -m oxbridge serve``, each on ports of its own)
and nginx with ``nginx.conf.template`` filled in for them, prints where to
call, and runs until Ctrl-C or SIGTERM, which stop them all. ``make deploy``
runs it. The tests drive the same :class:`Cluster` (``tests/test_deploy.py``):
they roll every replica and kill one while client processes call through
nginx and round-robin over the replicas.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
#: Seconds a replica or nginx may take to start, and a replica to drain.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
#: How long nginx may take to send a restarted replica calls again.
ROTATION_TIMEOUT = 30.0
#: The service a replica's gRPC health check names: the calculator's functions.
GRPC_SERVICE = "calculator.v1.Functions"
#: grpc.health.v1's serving statuses.
SERVING, NOT_SERVING = 1, 2
#: Starts of nginx, each on new free ports, before a taken port is an error.
BIND_ATTEMPTS = 5


class ClusterError(RuntimeError):
    """A replica or nginx did not start, stop or answer as it should."""


def wait_until(what: str, ready: Callable[[], bool], timeout: float) -> None:
    """Polls ``ready`` until it holds; :class:`ClusterError` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise ClusterError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.02)


def free_port() -> int:
    """A loopback port nothing listens on now (for nginx's own listeners)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_health(port: int) -> int | None:
    """The status of ``GET /healthz`` on a fresh connection; None when refused."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def answered(port: int, bridge: str, function: str) -> int:
    """How many calls of ``function`` on ``bridge`` the server whose HTTP
    port is ``port`` has answered, by its ``GET /metrics``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    # Whatever other labels a series has (library, outcome), in any order.
    wanted = {f'bridge="{bridge}"', f'function="{function}"'}

    def labels(line: str) -> set[str]:
        return set(line.partition("{")[2].rpartition("}")[0].split(","))

    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
               if line.startswith("oxbridge_calls_total{") and wanted <= labels(line))  # fmt: skip


def grpc_health(port: int, service: str = GRPC_SERVICE) -> int | None:
    """``grpc.health.v1.Health/Check`` of ``service``: its status, or None
    when the server cannot be reached."""
    from oxbridge import OxbridgeError, _native  # noqa: PLC0415 - needed here only

    name = service.encode()
    request = b"\x0a" + bytes([len(name)]) + name
    channel = _native.GrpcChannel([("127.0.0.1", port)], f"127.0.0.1:{port}")
    try:
        reply = channel.call("/grpc.health.v1.Health/Check", request, 5.0)
    except OxbridgeError:
        return None
    finally:
        channel.close()
    # HealthCheckResponse { ServingStatus status = 1; }: absent means UNKNOWN (0).
    return reply[1] if reply[:1] == b"\x08" else 0


def _read_line(stream: IO[bytes], timeout: float, what: str) -> bytes:
    """The first line of ``stream`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            raise ClusterError(f"{what}: no ready line within {timeout:.0f} s")
        # Unbuffered: a buffered read could take more than select() saw.
        byte = os.read(stream.fileno(), 1)
        if not byte:
            raise ClusterError(f"{what}: exited before it was ready")
        line += byte
    return line


class Replica:
    """One ``oxbridge serve`` process: HTTP and gRPC on loopback ports of its own."""

    def __init__(self, index: int, logs: Path, drain_delay: float) -> None:
        self.index = index
        self.http_port = 0
        self.grpc_port = 0
        self.drain_delay = drain_delay
        self._log = logs / f"replica-{index}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Starts it (on its old ports, if it had some) and waits until its
        health check says serving."""
        command = [
            sys.executable, "-m", "oxbridge", "serve",
            "--http", f"127.0.0.1:{self.http_port}",
            "--grpc", f"127.0.0.1:{self.grpc_port}",
            "--no-ipc", "--json", "--watch-stdin",
            "--drain-delay", str(self.drain_delay),
        ]  # fmt: skip
        with self._log.open("ab") as log:
            # stdin is a pipe it watches: the replica stops if we die.
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log
            )
        assert self.process.stdout is not None
        try:
            ready = json.loads(_read_line(self.process.stdout, START_TIMEOUT, str(self)))
        except ClusterError:
            self.stop(signal.SIGKILL)
            raise
        self.http_port = int(ready["http"][0].rsplit(":", 1)[1])
        self.grpc_port = int(ready["grpc"][0].rsplit(":", 1)[1])
        wait_until(f"{self} serving", lambda: http_health(self.http_port) == 200, START_TIMEOUT)
        wait_until(f"{self} serving gRPC", lambda: grpc_health(self.grpc_port) == SERVING, 10)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, float]:
        """Sends ``sig`` and waits for the process to end: its exit status and
        the seconds it took (for SIGTERM, the drain)."""
        process = self.process
        if process is None:
            raise ClusterError(f"{self} is not running")
        started = time.monotonic()
        if process.poll() is None:
            process.send_signal(sig)
        try:
            status = process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise ClusterError(f"{self} did not stop within {STOP_TIMEOUT:.0f} s") from None
        finally:
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
            self.process = None
        return status, time.monotonic() - started

    def __str__(self) -> str:
        return f"replica {self.index} (http {self.http_port}, grpc {self.grpc_port})"


class Nginx:
    """nginx balancing HTTP and gRPC over replicas, configured from the template."""

    def __init__(self, prefix: Path, http_port: int, grpc_port: int, workers: int) -> None:
        self.prefix = prefix
        # 0: a free port, chosen at each start (one chosen earlier may be taken by then).
        self._ports = (http_port, grpc_port)
        self.http_port = http_port
        self.grpc_port = grpc_port
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def render(self, replicas: list[Replica]) -> str:
        """The template with every ``${OXB_...}`` filled in for ``replicas``."""

        def servers(ports: list[int]) -> str:
            # A replica that refuses a connection is skipped for a second.
            return "\n".join(
                f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=1s;" for p in ports
            )

        values = {
            # nginx started as root runs its workers as nobody, who could not
            # write the temporary files below; as any other user, it has no say.
            "OXB_USER": "user root;" if os.geteuid() == 0 else "",
            "OXB_WORKERS": str(self.workers),
            "OXB_PREFIX": str(self.prefix),
            "OXB_HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            "OXB_GRPC_LISTEN": f"127.0.0.1:{self.grpc_port}",
            "OXB_HTTP_SERVERS": servers([r.http_port for r in replicas]),
            "OXB_GRPC_SERVERS": servers([r.grpc_port for r in replicas]),
        }
        return re.sub(r"\$\{(OXB_[A-Z_]+)\}", lambda m: values[m[1]], TEMPLATE.read_text())

    def start(self, replicas: list[Replica]) -> None:
        """Writes the configuration, starts nginx, waits until it listens on
        both ports. A free port another process took first is replaced by a
        new one (ports given by the caller are not)."""
        binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
        if binary is None:
            raise ClusterError("nginx is not installed: `make deploy` installs it (Debian nginx)")
        self.prefix.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, BIND_ATTEMPTS + 1):
            self.http_port, self.grpc_port = (p or free_port() for p in self._ports)
            try:
                self._start(binary, replicas)
                return
            except _PortTaken:
                if all(self._ports) or attempt == BIND_ATTEMPTS:
                    raise ClusterError(f"{self}: a port is taken by another process") from None

    def errors(self, chars: int = 4000) -> str:
        """The end of nginx's error log: why it failed a call, when it did."""
        return _tail(self.prefix / "error.log", max(0, _size(self.prefix / "error.log") - chars))

    def _start(self, binary: str, replicas: list[Replica]) -> None:
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.render(replicas))
        pid = self.prefix / "nginx.pid"
        pid.unlink(missing_ok=True)
        logs = [self.prefix / "error.log", self.prefix / "nginx.log"]
        seen = [_size(path) for path in logs]
        log = logs[1].open("ab")
        with log:
            self.process = subprocess.Popen(
                [binary, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        process = self.process

        # nginx writes its pid file only once it holds every listener: a port
        # that merely accepts may be another process's, nginx still retrying
        # its bind() (for 2.5 s) before it gives up.
        def listening() -> bool:
            if process.poll() is not None:
                self.process = None
                new = "".join(_tail(path, at) for path, at in zip(logs, seen, strict=True))
                if "Address already in use" in new:
                    raise _PortTaken
                raise ClusterError(f"nginx exited at start:\n{new[-2000:]}")
            try:
                return pid.read_text().strip() == str(process.pid)
            except FileNotFoundError:
                return False

        wait_until("nginx listening", listening, START_TIMEOUT)

    def stop(self) -> None:
        """A graceful stop (SIGQUIT: finish what is in flight), then a hard one."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __str__(self) -> str:
        return f"nginx (http {self.http_port}, grpc {self.grpc_port})"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _tail(path: Path, at: int) -> str:
    """What ``path`` gained past byte ``at`` ("" when there is no such file)."""
    try:
        with path.open("rb") as f:
            f.seek(at)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


class _PortTaken(Exception):
    """nginx could not bind a port: another process listens there."""


class Cluster:
    """``replicas`` oxbridge servers and an nginx in front of them."""

    def __init__(
        self,
        replicas: int = 3,
        *,
        http_port: int = 0,
        grpc_port: int = 0,
        drain_delay: float = 0.5,
        workers: int = 1,
        workdir: Path | None = None,
    ) -> None:
        if replicas < 1:
            raise ValueError("a cluster needs at least one replica")
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="oxbridge-cluster-")
        self.workdir = workdir or Path(self._tmp.name if self._tmp else ".")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.replicas = [Replica(i, self.workdir, drain_delay) for i in range(replicas)]
        self.nginx = Nginx(self.workdir / "nginx", http_port, grpc_port, workers)
        self._extra: list[Nginx] = []

    def start(self) -> Cluster:
        """Starts every replica, then nginx over them all."""
        try:
            for replica in self.replicas:
                replica.start()
            self.nginx.start(self.replicas)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def http_url(self) -> str:
        """HTTP through nginx."""
        return f"http://127.0.0.1:{self.nginx.http_port}"

    @property
    def grpc_url(self) -> str:
        """gRPC through nginx."""
        return f"grpc://127.0.0.1:{self.nginx.grpc_port}"

    @property
    def grpc_round_robin_url(self) -> str:
        """gRPC straight to every replica, balanced by the client."""
        return "grpc://" + ",".join(f"127.0.0.1:{r.grpc_port}" for r in self.replicas)

    def roll(self, index: int) -> float:
        """Restarts one replica gracefully (SIGTERM, drain, start again on the
        same ports, serving, back in nginx's rotation): the seconds its drain
        took."""
        replica = self.replicas[index]
        status, took = replica.stop(signal.SIGTERM)
        if status != 0:
            raise ClusterError(f"{replica} exited with status {status} when drained")
        replica.start()
        self._back_behind_nginx(replica)
        return took

    def _back_behind_nginx(self, replica: Replica) -> None:
        """Waits until nginx sends ``replica`` calls again, on both ports.

        nginx took it out of its rotation when it refused connections, for
        ``fail_timeout`` after the last refusal (up to two seconds: nginx
        counts whole seconds). Rolling the next replica before then would
        leave one replica to carry every call, and nothing to retry on."""
        self._until_reached(replica, "http", "healthz", lambda: http_health(self.nginx.http_port))
        self._until_reached(replica, "grpc", "health", lambda: grpc_health(self.nginx.grpc_port))

    @staticmethod
    def _until_reached(
        replica: Replica, bridge: str, function: str, probe: Callable[[], object]
    ) -> None:
        """Probes through nginx until ``replica`` answers one of the probes."""
        before = answered(replica.http_port, bridge, function)

        def reached() -> bool:
            probe()
            return answered(replica.http_port, bridge, function) > before

        wait_until(f"{replica} back behind nginx ({bridge})", reached, ROTATION_TIMEOUT)

    def balancer_over(self, indexes: list[int]) -> Nginx:
        """A second nginx, over only the replicas at ``indexes`` (stopped with the cluster)."""
        nginx = Nginx(self.workdir / f"nginx-{len(self._extra) + 1}", 0, 0, self.nginx.workers)
        self._extra.append(nginx)
        nginx.start([self.replicas[i] for i in indexes])
        return nginx

    def stop(self) -> None:
        """Stops nginx and every replica that still runs."""
        for nginx in [self.nginx, *self._extra]:
            nginx.stop()
        for replica in self.replicas:
            if replica.process is not None:
                replica.stop(signal.SIGTERM)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _v: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=3, help="servers behind nginx")
    parser.add_argument("--http-port", type=int, default=8080, help="nginx's HTTP port")
    parser.add_argument("--grpc-port", type=int, default=8081, help="nginx's gRPC port")
    parser.add_argument(
        "--drain-delay", type=float, default=0.5, help="seconds a stopping replica reports draining"
    )
    parser.add_argument("--workers", type=int, default=1, help="nginx worker processes")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _s, _f: stop.set())
    cluster = Cluster(
        args.replicas,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        drain_delay=args.drain_delay,
        workers=args.workers,
    )
    with cluster:
        for replica in cluster.replicas:
            print(f"{replica}: pid {replica.process.pid if replica.process else '-'}")
        print(f"nginx: {cluster.http_url} and {cluster.grpc_url} (config in {cluster.workdir})")
        print(f"round-robin gRPC, no nginx: {cluster.grpc_round_robin_url}")
        print("Ctrl-C stops them all", flush=True)
        stop.wait()
    print("stopped")


if __name__ == "__main__":
    main()
