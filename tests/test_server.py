"""The server as its users meet it: startup, shutdown, limits, health, faults."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import oxbridge
import pytest

from .servers import ephemeral, free_port, serving, start, wait_gone


def http_get(addr: str, path: str) -> tuple[int, dict[str, object]]:
    with urllib.request.urlopen(f"http://{addr}{path}", timeout=5) as r:
        return r.status, json.loads(r.read())


def test_health_and_version_on_every_bridge(tmp_path: Path) -> None:
    with serving(*ephemeral(tmp_path)) as s:
        assert http_get(s.http[0], "/healthz") == (200, {"status": "serving"})
        status, version = http_get(s.http[0], "/version")
        assert (status, version["version"]) == (200, oxbridge.__version__)

        ipc = oxbridge.connect(f"unix://{s.unix}")
        assert ipc.health() == {"status": "serving", "version": oxbridge.__version__}  # type: ignore[attr-defined]

        with grpc.insecure_channel(s.grpc[0]) as channel:
            check = channel.unary_unary("/grpc.health.v1.Health/Check")
            # HealthCheckRequest{} -> HealthCheckResponse{status: SERVING (1)}
            assert check(b"", timeout=5) == b"\x08\x01"
            reflect = channel.stream_stream(
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
            )
            # ServerReflectionRequest{list_services: "*"}
            replies = b"".join(reflect(iter([b"\x3a\x01*"]), timeout=5))
            for service in (
                b"oxbridge.v1.Calculator",
                b"greeter_service.GreeterService",
                b"grpc.health.v1.Health",
            ):
                assert service in replies


def test_sigterm_drains_exits_zero_and_removes_the_socket(tmp_path: Path) -> None:
    s = start(*ephemeral(tmp_path))
    client = oxbridge.connect(f"http://{s.http[0]}")
    assert client.add(1, 2) == 3
    assert s.unix is not None
    assert os.path.exists(s.unix)
    assert s.stop(signal.SIGTERM) == 0
    assert wait_gone(s.unix)
    with pytest.raises(oxbridge.TransportError):
        client.add(1, 2)


@pytest.mark.parametrize("command", ["python", "binary"])
def test_a_stop_first_drains_then_closes(tmp_path: Path, command: str) -> None:
    """SIGTERM with --drain-delay: health says draining at once (HTTP 503,
    gRPC NOT_SERVING, every service), calls are still answered, each closing
    its keep-alive connection (tests/test_deploy.py rolls replicas to the end)."""
    args = [*ephemeral(tmp_path), "--drain-delay", "60"]
    with serving(*args, binary=command == "binary") as s:
        host, port = s.http[0].rsplit(":", 1)
        keep = http.client.HTTPConnection(host, int(port), timeout=5)
        keep.request("GET", "/healthz")
        assert keep.getresponse().read() == b'{"status":"serving"}'
        s.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while health_status(s.http[0]) != 503:
            assert time.monotonic() < deadline, "health never said draining"
            time.sleep(0.01)
        with grpc.insecure_channel(s.grpc[0]) as channel:
            check = channel.unary_unary("/grpc.health.v1.Health/Check")
            for service in (b"", b"calculator.v1.Functions", b"oxbridge.v1.Calculator"):
                request = b"\x0a" + bytes([len(service)]) + service if service else b""
                assert check(request, timeout=5) == b"\x08\x02", service  # NOT_SERVING
        keep.request("POST", "/add", b'{"a":[1,0],"b":[0,1]}', {"Content-Type": "application/json"})
        reply = keep.getresponse()
        assert (reply.status, reply.read()) == (200, b'{"result":[1.0,1.0]}')
        assert reply.getheader("Connection") == "close"
        for bridge in ("ipc", "http", "grpc"):
            with oxbridge.connect(s.url(bridge)) as client:
                assert client.add(2, 3j) == 2 + 3j
        assert s.process.poll() is None


@pytest.mark.parametrize("command", ["python", "binary"])
def test_a_sigterm_right_after_the_ready_line_is_a_clean_stop(tmp_path: Path, command: str) -> None:
    """The stop signals are caught before the ready line is printed: a
    SIGTERM at once is a graceful stop (exit 0), never the default action."""
    for _ in range(5):
        s = start(*ephemeral(tmp_path), binary=command == "binary")
        assert s.stop(signal.SIGTERM) == 0


def health_status(addr: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{addr}/healthz", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return e.code


def test_a_stopped_server_watching_stdin_exits_zero(tmp_path: Path) -> None:
    """SIGTERM while --watch-stdin waits on an open stdin: a clean exit, not
    the interpreter's abort over a reader thread."""
    s = start(*ephemeral(tmp_path), "--watch-stdin", stdin=subprocess.PIPE)
    assert oxbridge.connect(f"http://{s.http[0]}").add(1, 1) == 2
    assert s.stop(signal.SIGTERM) == 0


def test_sigint_stops_cleanly_too(tmp_path: Path) -> None:
    s = start(*ephemeral(tmp_path))
    assert s.stop(signal.SIGINT) == 0
    assert s.unix is not None
    assert wait_gone(s.unix)


def test_a_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "ox.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: what a crash leaves
    assert path.exists()
    with serving("--no-http", "--no-grpc", "--unix", str(path)):
        assert oxbridge.connect(f"unix://{path}").add(1j, 1j) == 2j


def test_a_live_socket_is_not_stolen(tmp_path: Path) -> None:
    path = tmp_path / "ox.sock"
    with serving("--no-http", "--no-grpc", "--unix", str(path)):
        with pytest.raises(RuntimeError, match="a live server already answers there"):
            start("--no-http", "--no-grpc", "--unix", str(path))
        # ... and the first server still serves.
        assert oxbridge.connect(f"unix://{path}").mul(2, 3) == 6


@pytest.mark.parametrize("bridge", ["http", "grpc"])
def test_a_busy_port_is_a_clear_startup_error(tmp_path: Path, bridge: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--no-ipc", "--no-http", "--no-grpc"]
        args.remove(f"--no-{bridge}")
        with pytest.raises(
            RuntimeError,
            match=rf"cannot serve {bridge} on 127.0.0.1:{port}: the address is already in use",
        ):
            start(*args, f"--{bridge}", f"127.0.0.1:{port}")


def test_default_socket_lives_in_a_private_directory(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    with serving("--no-http", "--no-grpc", env=env) as s:
        assert s.unix == str(runtime / "oxbridge" / "oxbridge.sock")
        assert stat.S_IMODE(os.stat(runtime / "oxbridge").st_mode) == 0o700
        assert stat.S_IMODE(os.stat(s.unix).st_mode) == 0o600


def test_a_shared_socket_directory_is_refused(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    (runtime / "oxbridge").mkdir(parents=True)
    os.chmod(runtime / "oxbridge", 0o777)
    with pytest.raises(RuntimeError, match=r"must be a directory owned by uid .* with mode 0700"):
        start("--no-http", "--no-grpc", env={"XDG_RUNTIME_DIR": str(runtime)})


def test_one_set_of_variables_in_url_form_serves_and_reaches_every_bridge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "OXBRIDGE_HTTP": f"http://127.0.0.1:{free_port()}",
        "OXBRIDGE_GRPC": f"grpc://127.0.0.1:{free_port()}",
        "OXBRIDGE_UNIX": f"unix://{tmp_path}/ox.sock",
    }
    with serving(env=env) as s:
        assert s.http == [env["OXBRIDGE_HTTP"].removeprefix("http://")]
        assert s.grpc == [env["OXBRIDGE_GRPC"].removeprefix("grpc://")]
        assert s.unix == f"{tmp_path}/ox.sock"
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        for bridge in ("http", "grpc", "ipc"):
            with oxbridge.connect(bridge, timeout=10) as client:
                assert client.add(1, 1j) == 1 + 1j, bridge


@pytest.mark.parametrize("bridge", ["http", "ipc", "grpc"])
def test_client_reconnects_after_a_server_restart(tmp_path: Path, bridge: str) -> None:
    http, grpc_port = free_port(), free_port()
    args = [
        "--http",
        f"127.0.0.1:{http}",
        "--grpc",
        f"127.0.0.1:{grpc_port}",
        "--unix",
        str(tmp_path / "ox.sock"),
    ]
    url = {
        "http": f"http://127.0.0.1:{http}",
        "grpc": f"grpc://127.0.0.1:{grpc_port}",
        "ipc": f"unix://{tmp_path}/ox.sock",
    }[bridge]
    with serving(*args):
        client = oxbridge.connect(url, timeout=5)
        assert client.add(1, 1) == 2
    with serving(*args):
        assert client.add(2, 2) == 4


@pytest.mark.parametrize("bridge", ["http", "ipc"])
def test_a_silent_server_times_out_instead_of_hanging(tmp_path: Path, bridge: str) -> None:
    if bridge == "http":
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    else:
        silent = socket.socket(socket.AF_UNIX)
        silent.bind(str(tmp_path / "silent.sock"))
        url = f"unix://{tmp_path}/silent.sock"
    silent.listen()
    with silent:
        client = oxbridge.connect(url, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(oxbridge.BridgeTimeoutError, match=r"within 0\.5 s"):
            client.add(1, 1)
        assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:{port}", "grpc://127.0.0.1:{port}", "unix:///nonexistent/ox.sock"]
)
def test_nothing_listening_is_a_transport_error(url: str) -> None:
    client = oxbridge.connect(url.format(port=free_port()), timeout=2)
    with pytest.raises(oxbridge.TransportError) as info:
        client.add(1, 1)
    assert isinstance(info.value, ConnectionError)


def test_unknown_url_scheme() -> None:
    with pytest.raises(oxbridge.UnknownBridgeError, match="unknown bridge 'ftp://x'"):
        oxbridge.connect("ftp://x")


def test_each_failed_call_is_logged_once_by_its_bridges_layer(tmp_path: Path) -> None:
    """Errors are converted without logging and logged once, after the reply,
    by each bridge's logging layer: one line per failed call, with its kind."""
    s = start(*ephemeral(tmp_path), env={"RUST_LOG": "oxbridge_server=debug"})
    try:
        for bridge in ("http", "grpc"):
            with oxbridge.connect(s.url(bridge)) as c, pytest.raises(oxbridge.OxbridgeError):
                c.div(1, 0)
    finally:
        assert s.stop() == 0
    assert s.process.stderr is not None
    log = s.process.stderr.read().decode(errors="replace")
    for bridge in ("http", "grpc"):
        lines = [
            line
            for line in log.splitlines()
            if "complex division by zero" in line and f'bridge="{bridge}"' in line
        ]
        assert len(lines) == 1, (bridge, log[-3000:])
        assert "zero_division" in lines[0]
