"""The bench's server throughput: the anchors answer the very requests the
load generators send, exactly as the oxbridge server does, and a load
generator that sees failures fails the measurement rather than report it."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from oxbridge._library import CALCULATOR
from oxbridge.bench.child import Child
from oxbridge.bench.throughput import (
    GRPC_PATH,
    HTTP_BODY,
    HTTP_PATH,
    WARMUP_SECONDS,
    LoadError,
    grpc_request,
    h2load_rate,
    missing_tools,
    throughput,
    wrk_rate,
)
from oxbridge.bridges._protobuf import decode_reply, encode_request

from .servers import Served, ephemeral, serving

ADD = CALCULATOR.functions["add"]


@pytest.fixture(scope="module")
def anchors() -> Iterator[dict[str, str]]:
    child = Child("oxbridge.bench.anchors", "the throughput anchors")
    try:
        yield json.loads(child.line)
    finally:
        child.close()
    assert child.process.returncode == 0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(*ephemeral(tmp_path_factory.mktemp("throughput"))) as served:
        yield served


def post_add(address: str) -> bytes:
    request = urllib.request.Request(
        f"http://{address}{HTTP_PATH}",
        data=HTTP_BODY.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200
        body: bytes = reply.read()
        return body


def grpc_add(address: str) -> bytes:
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(GRPC_PATH)
        reply: bytes = call(grpc_request()[5:], timeout=10)
        return reply


def test_the_grpc_request_is_the_clients_add_request() -> None:
    message = encode_request(ADD, [1 + 3j, complex(-0.0, -5.0)])
    assert grpc_request() == b"\x00" + len(message).to_bytes(4, "big") + message


def test_the_anchors_answer_as_the_server_does(anchors: dict[str, str], server: Served) -> None:
    assert json.loads(post_add(anchors["http"])) == json.loads(post_add(server.http[0]))
    assert json.loads(post_add(anchors["http"])) == {"result": [1.0, -2.0]}
    from_anchor, from_server = grpc_add(anchors["grpc"]), grpc_add(server.grpc[0])
    assert decode_reply(ADD, from_anchor, "anchor") == 1 - 2j
    assert decode_reply(ADD, from_server, "server") == 1 - 2j


def test_a_short_run_measures_both_bridges(server: Served) -> None:
    # `make test` installs the load generators: a missing one fails here.
    assert missing_tools() == []
    rows = throughput({"http": server.http[0], "grpc": server.grpc[0]}, 2, 1)
    assert [r["bridge"] for r in rows] == ["http", "grpc"]
    for r in rows:
        assert r["server_per_second"] > 0
        assert r["anchor_per_second"] > 0
        assert r["rounds"] == 2


def test_the_rounds_follow_an_unmeasured_warmup_of_each_side(
    server: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int]] = []

    def rate(address: str, seconds: int, _script: Path) -> float:
        calls.append((address, seconds))
        # The warm-up runs slow: counted, it would move the median.
        if len(calls) <= 2:
            return 1.0
        return 100.0 if address == server.http[0] else 110.0

    # The module, which the package's `throughput` function shadows.
    monkeypatch.setattr(sys.modules[throughput.__module__], "wrk_rate", rate)
    [row] = throughput({"http": server.http[0]}, 3, 2)
    assert [s for _, s in calls] == [WARMUP_SECONDS] * 2 + [2] * 6
    assert calls[0][0] == server.http[0] != calls[1][0]
    assert row["ratio"] == pytest.approx(1.1)
    assert row["rounds"] == 3


def test_failed_requests_fail_the_measurement(anchors: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "post.lua"
    script.write_text('wrk.method = "POST"\n')
    # The gRPC anchor speaks only HTTP/2: wrk's HTTP/1.1 requests all fail.
    with pytest.raises(LoadError, match="wrk"):
        wrk_rate(anchors["grpc"], 1, script)
    body = tmp_path / "add.grpc"
    body.write_bytes(grpc_request())
    # The HTTP anchor speaks only HTTP/1.1: h2load's streams all fail.
    with pytest.raises(LoadError, match="h2load"):
        h2load_rate(anchors["http"], 1, body)


def test_the_tools_are_named_with_their_debian_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _tool: None)
    assert missing_tools() == ["wrk (Debian: wrk)", "h2load (Debian: nghttp2-client)"]
