"""``oxbridge new NAME``: a new library, ready to build, test and ship.

The folder holds a crate (``Cargo.toml``, ``src/lib.rs``: two functions to
start from), its Python package (``python/NAME``), its vectors and a test
that runs them on all six bridges, a README, and a ``pyproject.toml`` for
setuptools-rust: ``pip install -e .`` builds it, ``python -m pytest`` tests
it, ``python -m build`` makes its sdist and wheel.
"""

from __future__ import annotations

import keyword
import re
import sys
from pathlib import Path

from . import _native

__all__ = ["NewError", "create", "source_crates"]

#: The files of a new library, ``__package__`` in a path standing for its name.
TEMPLATE = Path(__file__).parent / "_new"
NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


class NewError(Exception):
    """A library cannot be made as asked; the message says why."""


def source_crates() -> Path | None:
    """The ``crates/`` folder of the source tree this oxbridge runs from, if
    it runs from one (a clone, installed with ``pip install -e``)."""
    crates = Path(__file__).resolve().parents[2] / "crates"
    return crates if (crates / "oxbridge-ffi" / "Cargo.toml").is_file() else None


def _dependencies(crates: Path | None) -> str:
    version = _native.__version__
    if crates is None:
        return "\n".join(f'{crate} = "{version}"' for crate in ("oxbridge-core", "oxbridge-ffi"))
    crates = crates.resolve()
    return "\n".join(
        f'{crate} = {{ version = "{version}", path = "{(crates / crate).as_posix()}" }}'
        for crate in ("oxbridge-core", "oxbridge-ffi")
    )


def _requirement() -> str:
    """The oxbridge versions whose runtime loads this library's ABI."""
    major, minor, *_ = (int(part) for part in _native.__version__.split("."))
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={major}.{minor},<{upper}"


def check_name(name: str) -> None:
    """Refuses a name that is not a Python package's, a crate's and a gRPC
    package's at once, or that would hide a module of the standard library."""
    if not NAME.match(name):
        raise NewError(
            f"{name!r} cannot name a library: use lowercase letters, digits and _,"
            " starting with a letter"
        )
    if keyword.iskeyword(name) or name in sys.stdlib_module_names or name == "oxbridge":
        raise NewError(f"{name!r} cannot name a library: Python already uses that name")


def create(name: str, parent: Path, crates: Path | None = None) -> Path:
    """Writes the library ``name`` into ``parent/name`` and returns that folder.
    Its crate depends on oxbridge's crates at ``crates`` (a clone's
    ``crates/`` folder), or on their published versions when ``None``."""
    check_name(name)
    folder = parent / name
    if folder.exists():
        raise NewError(f"{folder} already exists: choose another name or folder")
    values = {
        "{{name}}": name,
        "{{NAME}}": name.upper(),
        "{{dependencies}}": _dependencies(crates),
        "{{oxbridge_requirement}}": _requirement(),
    }
    for source in sorted(TEMPLATE.rglob("*.in")):
        relative = source.relative_to(TEMPLATE).with_suffix("")
        parts = [name if part == "__package__" else part for part in relative.parts]
        parts = [part.replace("__package__", name) for part in parts]
        if parts == ["gitignore"]:
            parts = [".gitignore"]
        text = source.read_text()
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        target = folder.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return folder
