"""The house of the Rust crates, read from their imports: no two files of a
crate import each other, in a circle or otherwise, and in the server no
floor imports the one above it (the ground imports no codec and no bridge,
the codecs no bridge, a bridge no other bridge). A test file is not a room.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CRATES = sorted(p.parent for p in (ROOT / "crates").glob("*/src"))
USE = re.compile(r"\buse\s+([^;]+);", re.DOTALL)
INLINE = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
COMMENT = re.compile(r"//[^\n]*")
TEST_MODULE = re.compile(r"#\[cfg\(test\)\]\s*mod \w+\s*\{.*", re.DOTALL)


def _expand(tree: str) -> list[str]:
    """``a::{b, c::{d, e}}`` as ``a::b``, ``a::c::d``, ``a::c::e``."""
    tree = "".join(tree.split())
    if "{" not in tree:
        return [tree]
    head, _, rest = tree.partition("{")
    inner = rest[: rest.rindex("}")]
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return [p for part in parts if part for p in _expand(head + part)]


def _module(src: Path, file: Path) -> tuple[str, ...]:
    parts = file.relative_to(src).with_suffix("").parts
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return tuple(parts)


def _file(src: Path, module: tuple[str, ...]) -> Path | None:
    if not module:
        return src / "lib.rs"
    for candidate in (src.joinpath(*module).with_suffix(".rs"), src.joinpath(*module, "mod.rs")):
        if candidate.exists():
            return candidate
    return None


def _rooms(src: Path) -> list[Path]:
    return [
        p
        for p in sorted(src.rglob("*.rs"))
        if p.name != "tests.rs" and not p.name.endswith("_tests.rs") and "tests" not in p.parts
    ]


def _absolute(src: Path, file: Path, path: str) -> tuple[str, ...] | None:
    """``path`` as written in ``file``, as a path from the crate's root;
    ``None`` for another crate's."""
    here = _module(src, file)
    segments = [s.split(" as ")[0] for s in path.split("::")]
    if segments[0] == "crate":
        return tuple(segments[1:])
    if segments[0] in ("super", "self"):
        base = here
        while segments and segments[0] in ("super", "self"):
            if segments[0] == "super":
                base = base[:-1]
            segments = segments[1:]
        return (*base, *segments)
    if _file(src, (*here, segments[0])) is not None:
        return (*here, *segments)  # a child module, named without self::
    return None


def _paths(text: str) -> list[str]:
    paths = [p for tree in USE.findall(text) for p in _expand(tree)]
    return paths + [m.group(1) + m.group(2) for m in INLINE.finditer(text)]


def _text(file: Path) -> str:
    return TEST_MODULE.sub("", COMMENT.sub("", file.read_text()))


def _exports(src: Path, file: Path) -> dict[str, tuple[str, ...]]:
    """What ``file`` re-exports (``pub use``), by name, as crate paths."""
    found = {}
    for tree in re.findall(r"\bpub use\s+([^;]+);", _text(file)):
        for path in _expand(tree):
            absolute = _absolute(src, file, path)
            if absolute:
                name = path.split("::")[-1].split(" as ")[-1]
                found[name] = absolute
    return found


def _resolve(src: Path, path: tuple[str, ...], depth: int = 0) -> Path | None:
    """The file ``path`` leads to: its longest prefix that is a file of the
    crate, through what that file re-exports."""
    for n in range(len(path), -1, -1):
        target = _file(src, path[:n])
        if target is not None:
            rest = path[n:]
            exported = _exports(src, target).get(rest[0]) if rest and depth < 4 else None
            if exported is not None and exported != path:
                return _resolve(src, exported, depth + 1) or target
            return target
    return None


def imports(src: Path) -> dict[Path, set[Path]]:
    """Each file of the crate at ``src``, and the files of it that it imports."""
    graph: dict[Path, set[Path]] = {}
    for file in _rooms(src):
        found = set()
        for path in _paths(_text(file)):
            absolute = _absolute(src, file, path.replace("pub(crate)", ""))
            target = _resolve(src, absolute) if absolute is not None else None
            if target is not None and target != file:
                found.add(target)
        graph[file] = found
    return graph


def circles(graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """The strongly connected components of more than one file (Tarjan)."""
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    found: list[list[Path]] = []

    def visit(v: Path) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("crate", CRATES, ids=lambda p: p.name)
def test_no_circle_of_files(crate: Path) -> None:
    graph = imports(crate / "src")
    assert graph, "no files read"
    found = circles(graph)
    assert not found, [[str(p.relative_to(ROOT)) for p in c] for c in found]


#: In the server, what each folder may import of the crate's other folders.
FLOORS = {
    "ground": set(),
    "codec": {"ground"},
    "http": {"ground", "codec"},
    "grpc": {"ground", "codec"},
    "ipc": {"ground", "codec"},
}


def test_the_servers_floors_import_only_what_is_below() -> None:
    src = ROOT / "crates" / "oxbridge-server" / "src"
    graph = imports(src)
    wrong = []
    for file, targets in graph.items():
        room = file.relative_to(src).parts[0]
        if room not in FLOORS:
            continue
        for target in targets:
            other = target.relative_to(src).parts[0]
            if other != room and other not in FLOORS[room]:
                wrong.append(f"{file.relative_to(src)} -> {target.relative_to(src)}")
    assert not wrong, wrong
    # The reading itself: the bridges do import the ground.
    http = src / "http" / "mod.rs"
    assert any(t.relative_to(src).parts[0] == "ground" for t in graph[http])


def test_a_circle_is_seen(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "lib.rs").write_text("mod a;\nmod b;\n")
    (src / "a" / "mod.rs").write_text("mod c;\nuse crate::b::B;\n")
    (src / "a" / "c.rs").write_text("pub struct C;\n")
    (src / "b.rs").write_text("use crate::{a::c::C, lib_item};\npub struct B;\n")
    (src / "a" / "c.rs").write_text("use crate::b::B;\npub struct C;\n")
    found = circles(imports(src))
    assert [sorted(p.name for p in c) for c in found] == [["b.rs", "c.rs"]]
