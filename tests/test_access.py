"""Who may call: loopback by default, an optional bearer token, the IPC peer's uid."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import oxbridge
import pytest

from .servers import serving, start


@pytest.mark.parametrize("bridge", ["http", "grpc"])
def test_non_loopback_needs_an_explicit_flag(bridge: str, tmp_path: Path) -> None:
    other = "grpc" if bridge == "http" else "http"
    with pytest.raises(
        RuntimeError, match=rf"refusing to serve {bridge} on 0\.0\.0\.0:0: not a loopback"
    ):
        start("--no-ipc", f"--no-{other}", f"--{bridge}", "0.0.0.0:0")
    # With the flag it serves (the test still talks to it over loopback only).
    with serving("--no-ipc", f"--no-{other}", f"--{bridge}", "0.0.0.0:0", "--allow-remote") as s:
        port = (s.http or s.grpc)[0].rsplit(":", 1)[1]
        client = oxbridge.connect(f"{bridge}://127.0.0.1:{port}", timeout=5)
        assert client.add(1, 2) == 3


@pytest.mark.parametrize("bridge", ["http", "grpc"])
def test_bearer_token_guards_calls_but_not_health(bridge: str, tmp_path: Path) -> None:
    args = ["--no-ipc", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--token", "s3cret"]
    with serving(*args) as s:
        url = f"http://{s.http[0]}" if bridge == "http" else f"grpc://{s.grpc[0]}"
        with pytest.raises(
            oxbridge.AccessDeniedError, match="missing or wrong bearer token"
        ) as info:
            oxbridge.connect(url, timeout=5).add(1, 2)
        assert isinstance(info.value, PermissionError)
        with pytest.raises(oxbridge.AccessDeniedError):
            oxbridge.connect(url, timeout=5, token="s3cre").add(1, 2)
        assert oxbridge.connect(url, timeout=5, token="s3cret").add(1, 2) == 3
        assert oxbridge.connect(url, timeout=5, token="s3cret").mul_many([1, 2], 2).tolist() == [
            2,
            4,
        ]
        # Load balancers probe health without credentials.
        if bridge == "http":
            with urllib.request.urlopen(f"{url}/healthz", timeout=5) as r:
                assert json.loads(r.read()) == {"status": "serving"}
            with pytest.raises(urllib.error.HTTPError) as http_error:
                urllib.request.urlopen(f"{url}/version", timeout=5)
            assert http_error.value.code == 401
            assert http_error.value.headers["WWW-Authenticate"] == "Bearer"
        else:
            with grpc.insecure_channel(s.grpc[0]) as channel:
                check = channel.unary_unary("/grpc.health.v1.Health/Check")
                assert check(b"", timeout=5) == b"\x08\x01"


# With "late", the client sends only once the server's answer is already
# waiting: the worst timing for a server that refuses before it has read.
NOBODY_CLIENT = """
import json, os, select, socket, sys
os.setgid(65534)
os.setuid(65534)
with socket.socket(socket.AF_UNIX) as s:
    s.settimeout(5)
    s.connect(sys.argv[1])
    if sys.argv[2] == "late":
        select.select([s], [], [], 5)
    s.sendall(b'{"command":"add","a":[1,0],"b":[2,0]}')
    print(s.recv(4096).decode())
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another user needs root")
def test_ipc_refuses_other_users_by_their_uid() -> None:
    # pytest's own temporary directories are 0700: another user cannot even
    # reach a socket there, which is not what this test is about.
    shared = Path(tempfile.mkdtemp(prefix="oxbridge-peercred-"))
    shared.chmod(0o755)
    sock = shared / "ox.sock"
    try:
        check_peer_uid(sock)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def as_nobody(sock: Path, timing: str) -> Any:
    done = subprocess.run(
        ["/usr/bin/python3", "-c", NOBODY_CLIENT, str(sock), timing],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def check_peer_uid(sock: Path) -> None:
    with serving("--no-http", "--no-grpc", "--unix", str(sock)):
        # Defeat the file mode on purpose: the uid check must still refuse.
        os.chmod(sock, 0o666)
        for timing in ("early", "late"):
            reply = as_nobody(sock, timing)
            assert reply["error"]["kind"] == "permission_denied", timing
            assert "uid 65534 may not use this server" in reply["error"]["message"]
        # Our own user is still served.
        assert oxbridge.connect(f"unix://{sock}").add(1, 2) == 3
    with serving("--no-http", "--no-grpc", "--unix", str(sock), "--allow-other-users"):
        os.chmod(sock, 0o666)
        assert as_nobody(sock, "early") == {"result": [3.0, 0.0]}


def test_socket_files_are_private(tmp_path: Path) -> None:
    with serving("--no-http", "--no-grpc", "--unix", str(tmp_path / "ox.sock")) as s:
        assert s.unix is not None
        assert os.stat(s.unix).st_mode & 0o777 == 0o600
        with socket.socket(socket.AF_UNIX) as probe:
            probe.connect(s.unix)  # reachable by its owner
