"""Batch kernels run with the CPU's widest vectors (``oxbridge-simd``), and
every level gives the same bits: a process capped to the baseline by
``$OXBRIDGE_SIMD`` computes exactly what this one does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import oxbridge
from oxbridge import _native

from .test_batch import same_bits

#: Parts where a fused or reordered operation would change the bits.
PARTS = [
    0.0,
    -0.0,
    1.0,
    -1 / 3,
    1e308,
    -1e308,
    1e-308,
    5e-324,
    -5e-324,
    float("inf"),
    float("-inf"),
    float("nan"),
    1 + sys.float_info.epsilon,
    1e154,
    -1e-154,
]
OPS = ("add_many", "sub_many", "mul_many", "div_many")
BRIDGES = ("pyo3", "ctypes", "cffi")

#: Run in a child process: every op on every in-process bridge, saved.
CHILD = """
import sys
import numpy as np
import oxbridge
from oxbridge import _native

folder = sys.argv[1]
a, b = np.load(f"{folder}/a.npy"), np.load(f"{folder}/b.npy")
print(_native.SIMD)
for bridge in sys.argv[2].split(","):
    with oxbridge.connect(bridge) as client:
        for op in sys.argv[3].split(","):
            np.save(f"{folder}/{bridge}-{op}.npy", getattr(client, op)(a, b))
"""


def operands() -> tuple[Any, Any]:
    """Every pair of special complex numbers, then enough random ones to
    spread over the cores; no zero divisor (a batch stops at one)."""
    parts = np.array(PARTS)
    z = np.empty(parts.size**2, np.complex128)
    z.real, z.imag = np.repeat(parts, parts.size), np.tile(parts, parts.size)
    a, b = np.repeat(z, z.size), np.tile(z, z.size)
    rng = np.random.default_rng(11)
    n = 3 * _native.PARALLEL_THRESHOLD
    a = np.concatenate([a, rng.standard_normal(n) + 1j * rng.standard_normal(n)])
    b = np.concatenate([b, rng.standard_normal(n) * 1e-3 + 1j * rng.standard_normal(n)])
    b[b == 0] = complex(-0.0, 5e-324)
    return a, b


def cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_the_level_is_the_widest_the_cpu_has_unless_capped() -> None:
    flags = cpu_flags()
    widest = "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "baseline"
    order = ["baseline", "avx2", "avx512f"]
    cap = os.environ.get("OXBRIDGE_SIMD", "avx512f").strip()
    want = order[min(order.index(widest), order.index(cap))] if cap in order else widest
    assert want == _native.SIMD


def test_a_process_capped_to_the_baseline_gives_the_same_bits(tmp_path: Path) -> None:
    a, b = operands()
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    env = {**os.environ, "OXBRIDGE_SIMD": "baseline"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), ",".join(BRIDGES), ",".join(OPS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split()[0] == "baseline"
    for bridge in BRIDGES:
        with oxbridge.connect(bridge) as client:
            for op in OPS:
                here = getattr(client, op)(a, b)
                there = np.load(tmp_path / f"{bridge}-{op}.npy")
                assert same_bits(here, there), f"{bridge} {op} at {_native.SIMD}"
