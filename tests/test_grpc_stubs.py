"""The checked-in gRPC stubs are what the protos generate (no hand edits, no drift)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_python_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "tools" / "gen_protos.py")
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    sys.modules["gen_protos"] = gen
    spec.loader.exec_module(gen)
    fresh = {p.name: p.read_text() for p in gen.generate(tmp_path)}
    checked_in = ROOT / "python" / "oxbridge" / "_proto"
    assert fresh, "nothing generated"
    for name, text in fresh.items():
        assert (checked_in / name).read_text() == text, f"{name} drifted: run `make protos`"
    assert sorted(p.name for p in checked_in.glob("*_pb2*")) == sorted(fresh)
