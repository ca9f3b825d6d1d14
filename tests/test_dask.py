"""oxbridge.dask on a real ``dask.distributed`` LocalCluster of two worker
processes: 2e7 elements in blocks, bit for bit what Python's own scalar
operation gives; a failing element named by its index in the whole array
(issue #13)."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import distributed
import numpy as np
import oxbridge
import pytest
from oxbridge import dask as oxdask

from .servers import ephemeral, serving

N = 20_000_000
CHUNK = 2_000_000


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def operand_block(seed: int, block_id: tuple[int, ...] | None = None) -> Any:
    """One block of an operand, the same on any worker: random values, and
    edge cases at fixed places (signed zeros, infinities, subnormals, huge)."""
    assert block_id is not None
    rng = np.random.default_rng([seed, block_id[0]])
    block = rng.standard_normal(2 * CHUNK).view(np.complex128) * 10.0 ** rng.integers(-300, 300)
    edges = [
        complex(-0.0, 0.0),
        complex(math.inf, 1),
        complex(5e-324, -1e308),
        complex(1e308, 1e308),
    ]
    block[: len(edges)] = edges
    return block


def operand(seed: int) -> Any:
    return da.map_blocks(
        operand_block, seed, chunks=((CHUNK,) * (N // CHUNK),), dtype=np.complex128
    )


def python_agrees(op: str, x: Any, y: Any, z: Any) -> Any:
    """Whether block ``z`` is bit for bit Python's scalar ``op`` of ``x`` and ``y``."""
    ops = {"mul": complex.__mul__}
    expected = np.array([ops[op](p, q) for p, q in zip(x.tolist(), y.tolist(), strict=True)])
    return np.array([np.array_equal(expected.view(np.uint64), z.view(np.uint64))])


def test_twenty_million_elements_bit_equal_to_python(client: distributed.Client) -> None:
    a, b = operand(1), operand(2)
    product = oxdask.apply("mul_many", a, b)
    assert product.chunks == a.chunks
    assert product.dtype == np.complex128
    # Each block checked where it lies, against Python's own complex.__mul__.
    agrees = da.map_blocks(python_agrees, "mul", a, b, product, chunks=((1,) * (N // CHUNK),))
    verdicts = client.compute(agrees).result()
    assert verdicts.shape == (N // CHUNK,)
    assert verdicts.all()


def test_compute_gathers_the_whole_result(client: distributed.Client) -> None:
    a = da.arange(1_000_000, chunks=70_000).astype(np.complex128) - 0.5j
    got = oxdask.compute(oxdask.apply("pow_many", a, 2), client)
    expected = np.array([z**2 for z in a.compute().tolist()])
    assert np.array_equal(got.view(np.uint64), expected.view(np.uint64))


def test_the_first_failing_element_is_named_by_its_global_index(
    client: distributed.Client,
) -> None:
    zeros = [19_999_999, 13_500_001, 4_000_123]
    positions = da.arange(N, chunks=CHUNK)
    divisor = da.where(da.isin(positions, zeros), 0j, 1 + 1j)
    quotient = oxdask.apply("div_many", operand(1), divisor)
    with pytest.raises(oxbridge.OxbridgeZeroDivisionError) as info:
        oxdask.compute(quotient, client)
    assert str(info.value) == "complex division by zero at index 4000123"
    assert info.value.index == 4_000_123  # type: ignore[attr-defined]
    # dask's own compute raises whichever block failed first in time: still
    # with its global index.
    with pytest.raises(oxbridge.OxbridgeZeroDivisionError) as info:
        client.compute(quotient).result()
    assert info.value.index in zeros  # type: ignore[attr-defined]


def test_another_librarys_functions_run_the_same_way(client: distributed.Client) -> None:
    x = da.arange(3_000_000, chunks=250_000, dtype=np.int64) - 50
    got = oxdask.compute(oxdask.apply("gcd_many", x, 360, library="pystd"), client)
    assert got.tolist() == [math.gcd(v, 360) for v in range(-50, 3_000_000 - 50)]
    negative = da.where(
        da.isin(da.arange(3_000_000, chunks=250_000), [2_500_001, 1_750_000]), -1, 7
    )
    with pytest.raises(ValueError, match=r"must be nonnegative at index 1750000$"):
        oxdask.compute(oxdask.apply("isqrt_many", negative, library="pystd"), client)


def test_workers_call_a_server_when_told(client: distributed.Client, tmp_path: Path) -> None:
    a = da.arange(300_000, chunks=40_000).astype(np.complex128)
    with serving(*ephemeral(tmp_path)) as server:
        for bridge in ("ipc", "http", "grpc"):
            got = oxdask.compute(oxdask.apply("add_many", a, 1j, via=server.url(bridge)), client)
            assert got.tolist() == [complex(i, 1) for i in range(300_000)], bridge


def test_bad_calls_are_refused_before_anything_runs() -> None:
    a = da.ones(10, chunks=5, dtype=np.complex128)
    with pytest.raises(oxbridge.NotFoundError, match="no vectorized function 'add'"):
        oxdask.apply("add", a, 1)
    with pytest.raises(TypeError, match="first operand must be a dask array"):
        oxdask.apply("add_many", np.ones(3), 1)
    with pytest.raises(ValueError, match="one-dimensional"):
        oxdask.apply("add_many", da.ones((2, 2), chunks=1), 1)


def test_without_a_client_an_embedded_local_cluster_runs_it() -> None:
    script = (
        "import dask.array as da\n"
        "from oxbridge import dask as oxdask\n"
        "if __name__ == '__main__':\n"
        "    a = da.arange(100, chunks=30).astype('complex128')\n"
        "    print(oxdask.compute(oxdask.apply('mul_many', a, 1j)).tolist()[:3])\n"
        "    print(len(oxdask.default_client().scheduler_info()['workers']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    values, workers = done.stdout.splitlines()
    assert values == "[0j, 1j, 2j]", done.stderr
    assert int(workers) >= 2
