"""The exported functions' stubs are generated from their definitions."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_native_stub_matches_a_fresh_generation() -> None:
    spec = importlib.util.spec_from_file_location("gen_stubs", ROOT / "tools" / "gen_stubs.py")
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    checked_in = gen.STUB.read_text()
    assert gen.render(checked_in) == checked_in, "the stub is stale: run `make stubs`"


def test_client_annotations_match_a_fresh_generation() -> None:
    spec = importlib.util.spec_from_file_location("gen_stubs", ROOT / "tools" / "gen_stubs.py")
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    checked_in = gen.CLIENT.read_text()
    assert gen.render_client(checked_in) == checked_in, "stale annotations: run `make stubs`"
