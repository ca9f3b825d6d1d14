"""Vectorized functions blockwise over dask arrays, on a ``dask.distributed``
cluster: ``pip install 'oxbridge[dask]'``.

>>> import dask.array as da
>>> from oxbridge import dask as oxdask
>>> a = da.ones(20_000_000, dtype="complex128", chunks=2_000_000)
>>> product = oxdask.apply("mul_many", a, 2j)   # lazy: one task per block
>>> oxdask.compute(product)                      # the whole result, a numpy array
array([0.+2.j, 0.+2.j, ...])

Each block is one vectorized call (any ``*_many`` of oxbridge's library, or
of another library exported through oxbridge: ``library="pystd"``), made on
the worker that holds the block, through the in-process bridge, or through
any bridge or server URL given as ``via`` (``via="http://host:8080"``). Every
worker makes one client per library and bridge and keeps it.

A failing element raises its error as the vectorized call does, naming its
index in the whole array, not in its block. :func:`compute` raises the
error of the first failing element in the array, whichever block failed
first in time. Without a ``client``, :func:`compute` uses the current
``distributed`` client, or else starts a ``LocalCluster`` of its own (one
worker process per core, at least two) and keeps it until exit.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import math
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _extras
from .errors import NotFoundError, OxbridgeError

if TYPE_CHECKING:
    from ._client import Client

__all__ = ["apply", "compute", "default_client"]

_FEATURE = "vectorized functions over dask arrays (oxbridge.dask)"
#: How every vectorized call's error ends: the failing element's index.
_AT_INDEX = re.compile(r" at index (\d+)$")


def _dask_array() -> Any:
    _extras.numpy()
    return _extras.require("dask.array", "dask", _FEATURE)


def _distributed() -> Any:
    return _extras.require("distributed", "dask", _FEATURE)


@functools.cache
def _client(library: str, via: str) -> Client:
    """The client of ``library`` (a package: ``oxbridge``, ``pystd``...) over
    ``via``, one per process: each worker makes its own on first use."""
    module = importlib.import_module(library)
    connect: Callable[[str], Client] = module.connect
    return connect(via)


def _function(library: str, name: str) -> Callable[..., Any]:
    """``library``'s vectorized function ``name``, found in process."""
    client = _client(library, "pyo3")
    found = getattr(client, name, None) if name.endswith("_many") else None
    if not callable(found) or name.startswith("_"):
        have = ", ".join(n for n in sorted(dir(client)) if n.endswith("_many") and n[0] != "_")
        raise NotFoundError(f"{library} has no vectorized function {name!r}: it has {have}")
    function: Callable[..., Any] = found
    return function


def _shifted(error: OxbridgeError, offset: int) -> OxbridgeError:
    """``error`` of a block starting at ``offset``, its index made global
    (and kept as ``error.index``)."""
    message = str(error)
    found = _AT_INDEX.search(message)
    if found is None:
        return error
    index = int(found[1]) + offset
    shifted = type(error)(f"{message[: found.start()]} at index {index}")
    shifted.index = index  # type: ignore[attr-defined]
    return shifted


def _block(
    *blocks: Any, library: str, function: str, via: str, block_info: dict[Any, Any] | None = None
) -> Any:
    """One block's vectorized call, on the worker that holds the block."""
    offset = block_info[None]["array-location"][0][0] if block_info else 0
    try:
        return getattr(_client(library, via), function)(*blocks)
    except OxbridgeError as e:
        raise _shifted(e, offset) from None


def apply(name: str, *operands: Any, library: str = "oxbridge", via: str = "pyo3") -> Any:
    """``library``'s vectorized function ``name`` (``"mul_many"``...) over
    one-dimensional dask arrays, blockwise: a lazy dask array of the results.

    As with the vectorized call itself, the first operand is an array; each
    other one is an array of the same length (rechunked to match the first)
    or one value for every element.
    """
    da = _dask_array()
    np = _extras.numpy()
    function = _function(library, name)
    if not operands or not isinstance(operands[0], da.Array):
        raise TypeError(f"{name}: the first operand must be a dask array")
    for operand in operands:
        if isinstance(operand, da.Array) and operand.ndim != 1:
            raise ValueError(f"{name}: operands must be one-dimensional, not {operand.shape}")
    # The result's type: the same call on empty operands, in process.
    empty = [np.empty(0, dtype=op.dtype) if isinstance(op, da.Array) else op for op in operands]
    dtype = function(*empty).dtype
    return da.map_blocks(
        # (`name` is map_blocks' own keyword: the function goes as `function`.)
        _block,
        *operands,
        dtype=dtype,
        meta=np.empty(0, dtype),
        library=library,
        function=name,
        via=via,
    )


_EMBEDDED: Any = None


def default_client() -> Any:
    """The current ``distributed`` client, or else an embedded
    ``LocalCluster``'s (started once, closed at exit)."""
    distributed = _distributed()
    global _EMBEDDED  # noqa: PLW0603 - one embedded cluster per process
    try:
        return distributed.get_client()
    except ValueError:  # no client yet
        pass
    if _EMBEDDED is None:
        cluster = distributed.LocalCluster(
            n_workers=max(2, os.cpu_count() or 1),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        _EMBEDDED = distributed.Client(cluster)
        atexit.register(_close_embedded)
    return _EMBEDDED


def _close_embedded() -> None:
    global _EMBEDDED  # noqa: PLW0603
    if _EMBEDDED is not None:
        cluster = _EMBEDDED.cluster
        _EMBEDDED.close()
        cluster.close()
        _EMBEDDED = None


def compute(array: Any, client: Any = None) -> Any:
    """``array`` (a one-dimensional dask array, such as :func:`apply` gives)
    computed on the cluster of ``client`` (see :func:`default_client`): a
    numpy array. If elements failed, the error of the first of them in the
    array, with its global index, once every block has run."""
    distributed = _distributed()
    np = _extras.numpy()
    client = client or default_client()
    futures = client.compute(list(array.to_delayed().ravel()))
    distributed.wait(futures)
    failed = [f.exception() for f in futures if f.status == "error"]
    if failed:
        # Errors of elements first, by index; any other (a lost worker...) after.
        raise min(failed, key=lambda e: getattr(e, "index", math.inf))
    return np.concatenate(client.gather(futures))
