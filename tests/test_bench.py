"""``oxbridge bench --quick --output DIR``: the whole benchmark, as a smoke test."""

from __future__ import annotations

import json
import mmap
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import oxbridge
import pytest
from oxbridge import bench
from oxbridge.bench.cases import LARGE, shared_copy, shared_operands
from oxbridge.bench.measure import Result, _calls_per_sample, settings
from oxbridge.bench.peer import RoundTrip
from oxbridge.bench.report import evaluate, targets
from oxbridge.bridges import _shared

from .servers import serving


def test_quick_bench_writes_every_output_for_every_bridge(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oxbridge", "bench", "--quick", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    assert {"cpu", "cores", "python", "rust"} <= set(doc["machine"])
    assert doc["machine"]["rust"].startswith("rustc ")
    cases = {c["name"]: c for c in doc["cases"]}
    for case in cases.values():
        assert case["count"] > 0
        assert 0 < case["min"] <= case["median"] <= case["p99"]
    for bridge in oxbridge.BRIDGES:
        assert f"{bridge} add" in cases
        assert f"{bridge} greet" in cases
        assert any(c["bridge"] == bridge and c["group"] == "batch" for c in doc["cases"])
    baselines = {
        "python a+b", "python operator.add", "ctypes article wrapper",
        "cffi naive ABI compute()", "pyo3 bare call", "ctypes bare call", "cffi bare call",
        "ipc raw echo", "http raw keep-alive", "http article requests.post", "grpc bare stub",
        "grpc article client", "ipc article client", "numpy a*b @1", "numpy a*b @1000",
        # A library loaded by the runtime (pystd, installed with the tests), and CPython's own.
        "python math.gcd", "pyo3 library gcd",
    }  # fmt: skip
    assert baselines <= set(cases)
    assert {r["bridge"] for r in doc["concurrency"]} == {"ipc", "http", "grpc"}
    assert {r["threads"] for r in doc["concurrency"]} == {1, 4, 16}
    # The server under load against its anchors: a paired ratio per bridge,
    # judged like every other target.
    load = {r["bridge"]: r for r in doc["throughput"]}
    assert set(load) == {"http", "grpc"}
    for r in load.values():
        assert r["server_per_second"] > 0
        assert r["anchor_per_second"] > 0
    load_targets = [t for t in doc["targets"] if " server under " in t["case"]]
    assert [t["ratio"] for t in load_targets] == [load["http"]["ratio"], load["grpc"]["ratio"]]
    assert all(t["verdict"] == ("met" if t["ratio"] <= t["limit"] else "missed")
               for t in load_targets)  # fmt: skip
    targets = [t for t in doc["targets"] if t not in load_targets]
    assert len(targets) == 20
    # A quick run measures the single calls and the small batches; the 1e6
    # targets say they were not measured, with no ratio, rather than judge
    # another size.
    for t in targets:
        if "@1000000" in t["case"]:
            assert (t["verdict"], t["ratio"]) == ("not measured", None)
        else:
            assert t["verdict"] in {"met", "missed"}
            # Paired round by round: the median of the per-round ratios.
            case, baseline = cases[t["case"]]["rounds"], cases[t["baseline"]]["rounds"]
            assert len(case) == len(baseline) == doc["settings"]["rounds"]
            ratios = [c / b for c, b in zip(case, baseline, strict=True)]
            assert t["ratio"] == pytest.approx(statistics.median(ratios))
    report = (tmp_path / "report.md").read_text()
    assert "## Targets" in report
    assert "## Server throughput" in report
    assert "pyo3 add vs operator.add(a, b)" in report
    assert "nan" not in report
    for png in ("scalar_latency.png", "batch_throughput.png"):
        assert (tmp_path / png).read_bytes().startswith(b"\x89PNG")
        assert f"]({png})" in report


def timed(name: str, *rounds: float) -> Result:
    return Result(name, "batch", None, "case", len(rounds), rounds[0], rounds[0], rounds[0],
                  rounds=list(rounds))  # fmt: skip


def test_a_target_under_its_transports_floor_says_no_client_can_meet_it() -> None:
    big = "@1000000"
    rows = {
        r["target"]: r
        for r in evaluate([
            timed(f"pyo3 mul_many {big}", 1.0, 2.0),
            timed(f"http mul_many {big}", 20.0, 36.0),
            timed(f"raw loopback round trip {big}", 14.0, 30.0),
        ])
    }  # fmt: skip
    http = rows["http mul_many vs in process (1e6)"]
    assert (http["verdict"], http["ratio"], http["floor_ratio"]) == ("missed", 19.0, 14.5)
    assert http["means"].endswith(
        f"raw loopback round trip {big} alone takes 14.50x, so no client can meet it"
    )
    # Against the round trip itself the floor is the baseline: no sentence.
    raw = rows["http mul_many vs a raw loopback round trip of its bytes (1e6)"]
    assert raw["floor_ratio"] is None
    assert "no client" not in raw["means"]
    # Not measured: no ratio, no floor.
    grpc = rows["grpc mul_many vs in process (1e6)"]
    assert (grpc["verdict"], grpc["ratio"], grpc["floor_ratio"]) == ("not measured", None, None)


def test_a_floor_under_the_limit_is_given_without_a_word() -> None:
    big = "@1000000"
    rows = evaluate([
        timed(f"pyo3 mul_many {big}", 4.0),
        timed(f"http mul_many {big}", 30.0),
        timed(f"raw loopback round trip {big}", 20.0),
    ])  # fmt: skip
    http = next(r for r in rows if r["target"] == "http mul_many vs in process (1e6)")
    assert (http["verdict"], http["floor_ratio"]) == ("missed", 5.0)
    assert "no client" not in http["means"]


class Hiccup:
    """A timer of a 30 ns call whose first timing a 25 µs preemption slows."""

    def __init__(self) -> None:
        self.hiccups = 1

    def repeat(self, repeat: int, number: int) -> list[float]:
        taken = []
        for _ in range(repeat):
            taken.append(number * 30e-9 + 25e-6 * self.hiccups)
            self.hiccups = 0
        return taken

    def timeit(self, number: int) -> float:
        return self.repeat(1, number)[0]


def test_one_slow_spell_does_not_set_a_cases_sample_size() -> None:
    # Calibrated on the slow timing alone, a sample would be one call, and
    # the timer's own overhead would dominate every sample of the case.
    calls, per_call = _calls_per_sample(Hiccup(), 20e-6)  # type: ignore[arg-type]
    assert per_call == pytest.approx(30e-9)
    assert calls == round(20e-6 / 30e-9)


def test_bench_rejects_an_unknown_bridge() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oxbridge", "bench", "--quick", "--bridges", "pyo3,telegraph"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "unknown bridge(s) telegraph" in done.stderr


def bench_without(modules: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``oxbridge bench ARGS`` in a Python where ``modules`` cannot be imported,
    as after a plain ``pip install oxbridge``."""
    code = (
        f"import sys; sys.modules.update(dict.fromkeys({modules!r})); "
        "from oxbridge.cli import main; main()"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "bench", "--quick", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_without_matplotlib_the_measurements_are_written_and_the_plots_skipped(
    tmp_path: Path,
) -> None:
    done = bench_without(["matplotlib"], "--bridges", "pyo3", "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "no plots: they need matplotlib (pip install 'oxbridge[bench]')" in done.stdout
    cases = json.loads((tmp_path / "results.json").read_text())["cases"]
    assert any(c["name"] == "pyo3 add" for c in cases)
    report = (tmp_path / "report.md").read_text()
    assert "pyo3 add" in report
    assert list(tmp_path.glob("*.png")) == []
    # Targets whose cases were not run say so, with no ratio made up.
    targets = json.loads((tmp_path / "results.json").read_text())["targets"]
    unmeasured = [t for t in targets if t["verdict"] == "not measured"]
    assert unmeasured
    assert all(t["ratio"] is None for t in unmeasured)
    assert "nan" not in report
    assert "lower is better" in report


def test_a_plain_install_measures_what_it_can_and_names_the_extra_for_the_rest(
    tmp_path: Path,
) -> None:
    plain = ["numpy", "requests", "matplotlib"]
    done = bench_without(plain, "--bridges", "pyo3,http", "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "skipped: batches, which need numpy (pip install 'oxbridge[bench]')\n"
        "skipped: the HTTP article's client, which needs requests (pip install 'oxbridge[bench]')\n"
    )
    cases = {c["name"] for c in json.loads((tmp_path / "results.json").read_text())["cases"]}
    assert {"pyo3 add", "http add", "http greet", "http raw keep-alive"} <= cases
    assert not any("numpy" in name or "@" in name for name in cases)
    assert "http article requests.post" not in cases
    report = (tmp_path / "report.md").read_text()
    assert "Skipped: batches, which need numpy" in report


def test_an_unwritable_output_is_one_line_before_measuring(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    where = tmp_path / "a-file" / "report"
    done = subprocess.run(
        [sys.executable, "-m", "oxbridge", "bench", "--quick", "--output", str(where)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr == f"oxbridge: error: cannot write to --output {where}: Not a directory\n"
    assert done.stdout == ""


def test_the_round_trip_floor_moves_the_bytes_and_its_peer_stops() -> None:
    trip = RoundTrip(request=3 << 20, reply=1 << 20)
    try:
        for _ in range(3):
            trip()
        assert len(trip.reply) == 1 << 20
        assert len(trip.request) == 16 + (3 << 20)
    finally:
        trip.close()
    assert trip.peer.process.returncode == 0


@pytest.mark.skipif(not _shared.available(), reason="shared memory needs Linux")
def test_the_shared_memory_floor_copies_both_operands_round_a_shared_ring() -> None:
    n = (_shared.RING + 2) * _shared.piece_most(32) + 5  # round the ring and more
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, n)) + 1j * rng.normal(size=(2, n))
    case = shared_copy(a, b)
    region, ring, bounds = (case.namespace[k] for k in ("region", "ring", "bounds"))
    assert isinstance(region.base.obj, mmap.mmap)  # a memoryview of the mapping
    slots = len(ring)
    assert len(bounds) - 1 > slots == _shared.RING
    region[:] = 0
    case.namespace["f"]()
    # Each slot holds the last piece that went round into it.
    for k in range(len(bounds) - 1 - slots, len(bounds) - 1):
        lo, hi = bounds[k], bounds[k + 1]
        assert ring[k % slots, 0, : hi - lo].tobytes() == a[lo:hi].tobytes()
        assert ring[k % slots, 1, : hi - lo].tobytes() == b[lo:hi].tobytes()
    ipc = next(t for t in targets() if t.case == f"ipc mul_many @{LARGE}")
    assert ipc.floor == case.name.replace(f"@{n}", f"@{LARGE}")


@pytest.mark.skipif(not _shared.available(), reason="shared memory needs Linux")
def test_the_shared_operands_case_calls_ipc_on_arrays_in_shared_memory(tmp_path: Path) -> None:
    n = 5000
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, n)) + 1j * rng.normal(size=(2, n))
    with (
        serving("--no-http", "--no-grpc", "--unix", str(tmp_path / "ox.sock")) as s,
        oxbridge.connect(s.url("ipc")) as client,
    ):
        case = shared_operands(client, a, b)
        space = case.namespace
        for operand, values in ((space["a"], a), (space["b"], b)):
            assert isinstance(operand.base.base.obj, mmap.mmap), "not in shared memory"
            assert operand.tobytes() == values.tobytes()
        got = space["f"](space["a"], space["b"])
        assert got.tobytes() == oxbridge.connect("pyo3").mul_many(a, b).tobytes()
    shared = next(t for t in targets() if t.case.startswith("ipc mul_many on shared arrays"))
    assert shared.case == case.name.replace(f"@{n}", f"@{LARGE}")
    assert shared.baseline == f"pyo3 mul_many @{LARGE}"


def test_without_load_generators_throughput_is_skipped_and_said(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bench, "missing_tools", lambda: ["wrk (Debian: wrk)"])
    notes = bench.skipped(["pyo3", "http"])
    assert notes[-1] == (
        "server throughput, which needs the load generators wrk (Debian: wrk)"
        " (`make bench` installs them)"
    )
    assert bench.server_throughput(["http"], settings(True, ["http"])) == []
    assert not any("throughput" in n for n in bench.skipped(["pyo3", "ctypes"]))
