"""The articles' own clients, unchanged, against oxbridge's server.

The server runs on the articles' addresses (localhost:3000, [::1]:50051), so
the clients' code is the articles' code, addresses included. The IPC client
is the article's too; only its socket path differs (``/tmp/socket`` is shared
by everyone on a machine) and, unlike the article, it waits for the reply.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

from .servers import Served, serving

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def article_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sock = tmp_path_factory.mktemp("article") / "socket"
    # No address flags: the defaults are the articles' ports.
    with serving("--unix", str(sock)) as s:
        yield s


def test_http_article_client(article_server: Served) -> None:
    import requests  # noqa: PLC0415 - the article's client, verbatim

    def compute(command: str, n1: complex, n2: complex) -> complex:
        json: dict[str, list[float]] = dict(a=[n1.real, n1.imag], b=[n2.real, n2.imag])
        req = requests.post(f"http://localhost:3000/{command}", json=json)
        body: dict[str, list[float]] = req.json()
        if body and "result" in body:
            real: Optional[str] = body["result"][0]  # type: ignore[assignment]  # noqa: UP045
            imaginary: Optional[str] = body["result"][1]  # type: ignore[assignment]  # noqa: UP045
            return complex(float(real), float(imaginary))  # type: ignore[arg-type]
        raise Exception()

    assert compute("add", 1 + 3j, -5j) == 1 - 2j
    assert compute("sub", 1 + 3j, -5j) == 1 + 8j
    assert compute("mul", 1 + 3j, -5j) == (1 + 3j) * -5j


@pytest.mark.parametrize("newline", [b"", b"\n"])
def test_ipc_article_client_gets_its_reply(article_server: Served, newline: bytes) -> None:
    n1, n2, command = 1 + 3j, -5j, "add"
    assert article_server.unix is not None
    with socket.socket(socket.AF_UNIX) as client:
        data: dict[str, object] = dict(command=command, a=[n1.real, n1.imag], b=[n2.real, n2.imag])
        encoded: bytes = json.dumps(data).encode("UTF-8")
        client.connect(article_server.unix)
        client.send(encoded + newline)
        # The step the article could not make: the reply comes back.
        client.settimeout(5)
        reply = json.loads(client.recv(4096))
    assert reply == {"result": [1.0, -2.0]}


def test_grpc_article_client(article_server: Served, tmp_path: Path) -> None:
    # The article's own commands: generate its stubs, run its script.
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-Iproto", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", "proto/greeter_service.proto"],
        cwd=ROOT, check=True,
    )  # fmt: skip
    (tmp_path / "grpc_example.py").write_text(
        """import grpc
import greeter_service_pb2
import greeter_service_pb2_grpc

def run():
    with grpc.insecure_channel("[::1]:50051") as channel:
        stub = greeter_service_pb2_grpc.GreeterServiceStub(channel)
        request = greeter_service_pb2.GreetRequest(
            greeting="Aloha",
            name="amigo",
        )
        response = stub.Greet(request)
        print(response.message)


if __name__ == "__main__":
    run()
"""
    )
    done = subprocess.run(
        [sys.executable, "grpc_example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "Aloha, amigo\n"), done.stderr
