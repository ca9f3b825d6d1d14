"""The exported functions' stubs are generated from their definitions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

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


def test_the_example_librarys_stub_matches_a_fresh_generation() -> None:
    gen = _generator()
    fresh = gen.render_pystd(gen.STUB.read_text())
    assert gen.PYSTD_STUB.read_text() == fresh, "pystd's stub is stale: run `make stubs`"


def test_the_example_librarys_client_annotations_match_a_fresh_generation() -> None:
    gen = _generator()
    checked_in = gen.PYSTD_CLIENT.read_text()
    assert gen.render_pystd_client(checked_in) == checked_in, "stale: run `make stubs`"


def test_the_cffi_api_source_matches_a_fresh_generation() -> None:
    gen = _generator("gen_cffi")
    checked_in = gen.SOURCE.read_text()
    assert gen.render() == checked_in, "the cffi source is stale: run `make cffi`"
