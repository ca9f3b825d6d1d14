"""Every library the tests reach, with its function vectors: oxbridge's own
calculator and the example library outside the core (``examples/pystd``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pystd
from oxbridge import CALCULATOR, Library

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Source:
    """A library and its vector specs (``<function>.json``), by function name."""

    library: Library
    specs: dict[str, dict[str, Any]]


def _specs(folder: Path) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


SOURCES = [
    Source(CALCULATOR, _specs(ROOT / "tests" / "vectors" / "functions")),
    Source(pystd.LIBRARY, _specs(ROOT / "examples" / "pystd" / "vectors")),
]
