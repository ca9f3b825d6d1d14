"""The exported functions' stubs are generated from their definitions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import oxbridge.stubs
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _generator(name: str = "gen_stubs") -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def test_native_stub_matches_a_fresh_generation() -> None:
    gen = _generator()
    checked_in = gen.STUB.read_text()
    assert gen.render(checked_in) == checked_in, "the stub is stale: run `make stubs`"


def test_client_annotations_match_a_fresh_generation() -> None:
    gen = _generator()
    checked_in = gen.CLIENT.read_text()
    assert gen.render_client(checked_in) == checked_in, "stale annotations: run `make stubs`"


@pytest.mark.parametrize("package", ["pystd", "b64"])
def test_each_librarys_typed_client_and_stub_are_current(package: str) -> None:
    # Written by the library's own command (`oxbridge stubs PACKAGE`), not by
    # a list in oxbridge's tools.
    assert oxbridge.stubs.write(package, check=True) == [], f"run `oxbridge stubs {package}`"


def test_a_stale_stub_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = oxbridge.stubs.files("pystd")
    stub = next(p for p in files if p.name == "_native.pyi")
    assert "def gcd(a: int, b: int) -> int:" in files[stub]
    monkeypatch.setattr(oxbridge.stubs, "files", lambda _: {tmp_path / "_native.pyi": "x"})
    assert oxbridge.stubs.write("pystd", check=True) == [tmp_path / "_native.pyi"]
    assert not (tmp_path / "_native.pyi").exists()


def test_the_cffi_api_source_matches_a_fresh_generation() -> None:
    gen = _generator("gen_cffi")
    checked_in = gen.SOURCE.read_text()
    assert gen.render() == checked_in, "the cffi source is stale: run `make cffi`"
