"""A plain install: scalar calls without numpy, and one line naming the extra
for whatever needs one (see ``tests/plain_install.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import oxbridge
import pytest
from oxbridge import _extras

HERE = Path(__file__).parent


def run(code_or_script: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *code_or_script],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_every_bridge_calls_scalars_without_numpy_and_names_the_extra_for_batches() -> None:
    done = run([str(HERE / "plain_install.py"), "--block-numpy", "--block-grpcio"])
    assert done.returncode == 0, done.stderr
    assert "scalar calls on pyo3, ctypes, cffi, ipc, http, grpc without numpy or grpcio" in (
        done.stdout
    )


GRPC_WITHOUT_GRPCIO = """
import asyncio, sys
sys.modules["grpc"] = None  # as if grpcio were not installed
import numpy as np
import oxbridge, oxbridge.aio

with oxbridge.connect("grpc") as client:
    assert client.add(1 + 3j, -5j) == 1 - 2j
    assert client.mul_many(np.arange(5, dtype=complex), 2j).tolist() == [2j * i for i in range(5)]
    try:
        client.div(1, 0)
    except oxbridge.OxbridgeZeroDivisionError as e:
        print("sync:", type(e).__name__, e)

async def main():
    client = oxbridge.aio.connect("grpc")
    try:
        got = await asyncio.gather(*(client.add(i, 1j) for i in range(20)))
        assert got == [i + 1j for i in range(20)], got
        try:
            await client.div(1, 0)
        except oxbridge.OxbridgeZeroDivisionError as e:
            print("aio:", type(e).__name__, e)
    finally:
        await client.aclose()

asyncio.run(main())
assert sys.modules["grpc"] is None
"""


def test_the_grpc_bridge_works_without_grpcio() -> None:
    done = run(["-c", GRPC_WITHOUT_GRPCIO])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["sync", "aio"], done.stdout
    assert all("OxbridgeZeroDivisionError" in line for line in lines), done.stdout


def test_the_cli_adds_without_numpy() -> None:
    code = (
        "import sys; sys.modules['numpy'] = None; from oxbridge.cli import main; "
        "main(['--add', '--arg1', '1+3j', '--arg2', '-5j', '--via', 'http'])"
    )
    done = run(["-c", code])
    assert done.returncode == 0, done.stderr
    assert done.stdout == "(1-2j)\n"


def test_a_missing_extra_is_one_line_naming_the_pip_install() -> None:
    with pytest.raises(oxbridge.MissingExtraError) as info:
        _extras.require("oxbridge_no_such_module", "thing", "this feature")
    assert str(info.value) == (
        "this feature need oxbridge_no_such_module, which is not installed: "
        "pip install 'oxbridge[thing]'"
    )
    assert isinstance(info.value, ImportError)
    assert info.value.__cause__ is None


def test_a_module_missing_inside_an_installed_extra_is_not_blamed_on_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed package whose own import fails: its error, unchanged.
    (tmp_path / "oxbridge_broken_extra.py").write_text("import oxbridge_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        _extras.require("oxbridge_broken_extra", "thing", "this feature")
    assert not isinstance(info.value, oxbridge.MissingExtraError)
    assert info.value.name == "oxbridge_missing_dependency"


def import_error_without(modules: list[str], statement: str) -> str:
    """``Type message`` of the ImportError that ``statement`` raises in a
    fresh interpreter where ``modules`` cannot be imported."""
    blocked = "; ".join(f"sys.modules[{m!r}] = None" for m in modules)
    code = (
        f"import sys; {blocked}\n"
        "try:\n"
        f"    {statement}\n"
        "except ImportError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    done = run(["-c", code])
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_oxbridge_dask_without_dask_names_its_extra() -> None:
    statement = "from oxbridge import dask as oxdask; oxdask.apply('mul_many', None)"
    assert import_error_without(["dask", "dask.array"], statement) == (
        "MissingExtraError vectorized functions over dask arrays (oxbridge.dask) need dask,"
        " which is not installed: pip install 'oxbridge[dask]'\n"
    )


def test_the_generated_grpc_stubs_without_grpcio_name_their_extra() -> None:
    statement = "from oxbridge._proto import calculator_pb2_grpc"
    assert import_error_without(["grpc"], statement) == (
        "MissingExtraError the generated gRPC stubs (oxbridge._proto) need grpc,"
        " which is not installed: pip install 'oxbridge[grpcio]'\n"
    )
