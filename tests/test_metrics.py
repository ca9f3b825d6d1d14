"""``GET /metrics``: calls by bridge, function and outcome, latency, calls in
flight and batch bytes, read back with Prometheus' own parser."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import oxbridge
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from .servers import Served, ephemeral, serving

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(address: str, token: str | None = None) -> Samples:
    """Every sample at ``http://ADDRESS/metrics``, parsed as OpenMetrics."""
    request = urllib.request.Request(f"http://{address}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        text = response.read().decode()
    families: list[Any] = list(text_string_to_metric_families(text))  # type: ignore[no-untyped-call]
    samples = [s for family in families for s in family.samples]
    return {(s.name, frozenset(s.labels.items())): s.value for s in samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` whose labels include ``labels``
    (those not given, such as ``library``, may have any value)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("metrics")
    with serving(*ephemeral(tmp), "--metrics", "127.0.0.1:0") as s:
        yield s


@pytest.mark.parametrize("bridge", ["ipc", "http", "grpc"])
def test_calls_move_the_counters_by_exactly_what_was_called(server: Served, bridge: str) -> None:
    before = scrape(server.http[0])
    with oxbridge.connect(server.url(bridge), timeout=10) as client:
        for _ in range(3):
            assert client.add(1, 2j) == 1 + 2j
        with pytest.raises(oxbridge.OxbridgeZeroDivisionError):
            client.div(1, 0)
        out = client.mul_many(np.arange(100, dtype=np.complex128), 2)
        assert np.array_equal(out, np.arange(100) * 2)
    after = scrape(server.http[0])

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    calls = "oxbridge_calls_total"
    assert moved(calls, bridge=bridge, function="add", outcome="ok") == 3
    assert moved(calls, bridge=bridge, function="div", outcome="zero_division") == 1
    assert moved(calls, bridge=bridge, function="batch", outcome="ok") == 1
    assert moved("oxbridge_call_seconds_count", bridge=bridge, function="add") == 3
    assert moved("oxbridge_call_seconds_sum", bridge=bridge, function="add") > 0
    # The results of 100 complex numbers, with a 16-byte frame header but on gRPC.
    reply = 100 * 16 + (0 if bridge == "grpc" else 16)
    assert moved("oxbridge_batch_bytes_total", bridge=bridge, direction="reply") == reply
    assert moved("oxbridge_batch_bytes_total", bridge=bridge, direction="request") > 1600
    assert value(after, "oxbridge_calls_in_flight", bridge=bridge) == (bridge == "http")


def test_the_metrics_port_serves_the_same_registry(server: Served) -> None:
    assert server.metrics is not None
    for _ in range(2):
        urllib.request.urlopen(f"http://{server.http[0]}/healthz", timeout=10).close()
    key = {"bridge": "http", "function": "healthz", "outcome": "ok"}
    on_http = value(scrape(server.http[0]), "oxbridge_calls_total", **key)
    assert on_http >= 2
    assert value(scrape(server.metrics), "oxbridge_calls_total", **key) == on_http
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"http://{server.metrics}/add", timeout=10)
    assert info.value.code == 404


def test_unknown_paths_share_one_label_so_the_registry_stays_bounded(server: Served) -> None:
    def unknown(i: int) -> None:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://{server.http[0]}/no-such-{i}", timeout=10)

    # The first unknown path and the first scrape make their series; no
    # later request may add any.
    unknown(-1)
    scrape(server.http[0])
    before = scrape(server.http[0])
    for i in range(50):
        unknown(i)
    after = scrape(server.http[0])
    assert len(after) == len(before)
    key = {"bridge": "http", "function": "other", "outcome": "not_found"}
    assert (
        value(after, "oxbridge_calls_total", **key) - value(before, "oxbridge_calls_total", **key)
        == 50
    )


def test_a_grpc_only_server_exposes_metrics_behind_its_token() -> None:
    args = ["--no-http", "--no-ipc", "--grpc", "127.0.0.1:0", "--metrics", "127.0.0.1:0"]
    with serving(*args, env={"OXBRIDGE_TOKEN": "s3cret"}) as s:
        assert s.http == []
        assert s.metrics is not None
        with oxbridge.connect(f"grpc://{s.grpc[0]}", token="s3cret", timeout=10) as client:
            assert client.mul(2, 3j) == 6j
        samples = scrape(s.metrics, token="s3cret")
        key = {"bridge": "grpc", "function": "mul", "outcome": "ok"}
        assert value(samples, "oxbridge_calls_total", **key) == 1
        with pytest.raises(urllib.error.HTTPError) as info:
            scrape(s.metrics)
        assert info.value.code in (401, 403)
