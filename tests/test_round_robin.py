"""One gRPC client over several servers (``grpc://h1:p1,h2:p2``): grpc's own
round-robin, each server's ``grpc.health.v1`` watched, so a draining server
gets no new calls while it finishes the ones it has (issue #13)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator

import oxbridge
import oxbridge.aio
import pytest
from oxbridge.errors import UnknownBridgeError

from deploy.cluster import NOT_SERVING, grpc_health, http_health
from tests.servers import Served, start
from tests.test_metrics import scrape, value


def grpc_adds(server: Served) -> float:
    """The ``add`` calls a server has answered over gRPC."""
    samples = scrape(server.http[0])
    return value(samples, "oxbridge_calls_total", bridge="grpc", function="add", outcome="ok")


@pytest.fixture
def three() -> Iterator[list[Served]]:
    servers: list[Served] = []
    try:
        for _ in range(3):
            servers.append(start("--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--no-ipc"))
        yield servers
    finally:
        for s in servers:
            if s.process.poll() is None:
                s.process.kill()
            s.process.wait()


def url_of(servers: list[Served]) -> str:
    return "grpc://" + ",".join(s.grpc[0] for s in servers)


def call_until_all_served(client: oxbridge.Client, servers: list[Served]) -> None:
    """Calls until every server has answered one: grpc connects to each in
    the background, and round-robin uses those it has connected to."""
    deadline = time.monotonic() + 30
    while min(grpc_adds(s) for s in servers) == 0:
        assert time.monotonic() < deadline, [grpc_adds(s) for s in servers]
        for i in range(10):
            assert client.add(i, 1j) == i + 1j


def test_calls_are_shared_evenly(three: list[Served]) -> None:
    with oxbridge.connect(url_of(three)) as client:
        call_until_all_served(client, three)
        before = [grpc_adds(s) for s in three]
        for i in range(90):
            assert client.add(complex(i, 2), 0.5) == complex(i + 0.5, 2)
    shares = [grpc_adds(s) - b for s, b in zip(three, before, strict=True)]
    assert sum(shares) == 90
    # round_robin takes the ready servers in turn: 30 each, give or take a
    # server that reconnected in between.
    assert min(shares) >= 20, shares


def test_a_draining_server_gets_no_new_calls_but_finishes_its_own(three: list[Served]) -> None:
    draining = start(
        "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--no-ipc", "--drain-delay", "60"
    )
    servers = [*three, draining]
    try:
        with oxbridge.connect(url_of(servers)) as client:
            call_until_all_served(client, servers)
            draining.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 30
            while grpc_health(int(draining.grpc[0].rsplit(":", 1)[1])) != NOT_SERVING:
                assert time.monotonic() < deadline, "health never said NOT_SERVING"
                time.sleep(0.01)
            assert http_health(int(draining.http[0].rsplit(":", 1)[1])) == 503
            # The client learns it from its own health watch: wait for that,
            # then no call goes there any more.
            deadline = time.monotonic() + 30
            while True:
                before = grpc_adds(draining)
                for i in range(30):
                    assert client.add(i, 1) == i + 1
                if grpc_adds(draining) == before:
                    break
                assert time.monotonic() < deadline, "calls still go to the draining server"
            before = grpc_adds(draining)
            for i in range(60):
                assert client.add(i, -1j) == i - 1j
            assert grpc_adds(draining) == before
        # Draining is not stopped: a call made to it directly is answered.
        with oxbridge.connect(draining.url("grpc")) as direct:
            assert direct.add(2, 3j) == 2 + 3j
        assert draining.process.poll() is None
    finally:
        draining.process.kill()
        draining.process.wait()


def test_the_asyncio_client_balances_too(three: list[Served]) -> None:
    async def calls() -> list[complex]:
        client = oxbridge.aio.connect(url_of(three))
        try:
            return list(await asyncio.gather(*(client.add(i, 1j) for i in range(60))))
        finally:
            await client.aclose()

    assert asyncio.run(calls()) == [i + 1j for i in range(60)]
    assert sum(grpc_adds(s) for s in three) == 60


@pytest.mark.parametrize("url", ["http://127.0.0.1:1,127.0.0.1:2", "https://a:1,b:2"])
def test_only_grpc_takes_several_servers(url: str) -> None:
    with pytest.raises(UnknownBridgeError, match="only grpc:// balances over several"):
        oxbridge.connect(url)


def test_a_bad_server_in_the_list_is_named() -> None:
    with pytest.raises(UnknownBridgeError, match="is not HOST:PORT"):
        oxbridge.connect("grpc://127.0.0.1:1,nowhere")
