"""The README and the guide (``docs/``): every Python example in them runs,
every relative link resolves, the generated reference is current, and the
guide builds with mdBook without a warning.

Each Markdown file is one session, its examples run in order in a fresh
interpreter: a ``pycon`` block (``>>>``) as a doctest, its output checked; a
``python`` block as a script. An example that stopped working, or whose
printed output changed, fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "src"
PAGES = [ROOT / "README.md", *sorted(GUIDE.glob("*.md"))]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")

#: Runs one page's examples (its path is argv[1]) in order, in one namespace.
RUNNER = r"""
import doctest, re, sys
from pathlib import Path

page = Path(sys.argv[1])
text = page.read_text()
fence = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
scope = {"__name__": "__main__"}
parser = doctest.DocTestParser()
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
ran = 0
for match in fence.finditer(text):
    language, code = match.group(1), match.group(2)
    line = text.count("\n", 0, match.start()) + 2
    if language == "pycon":
        test = parser.get_doctest(code, scope, str(page), str(page), line - 1)
        result = runner.run(test, clear_globs=False)
        scope.update(test.globs)  # a DocTest runs in a copy of the namespace
        if result.failed:
            sys.exit(f"{page}:{line}: the example's output differs (above)")
    elif language == "python":
        try:
            exec(compile(code, f"{page}:{line}", "exec"), scope)
        except BaseException as e:
            raise SystemExit(f"{page}:{line}: the example raised {e!r}") from e
    else:
        continue
    ran += 1
print(ran)
"""


def _examples(page: Path) -> list[str]:
    return [
        m.group(1) for m in FENCE.finditer(page.read_text()) if m.group(1) in ("python", "pycon")
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_example_runs(page: Path, tmp_path: Path) -> None:
    expected = len(_examples(page))
    if expected == 0:
        assert "```py" not in page.read_text(), f"{page}: an example in a fence this test skips"
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(page)],
        cwd=tmp_path,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(expected)


def test_the_readme_is_a_front_page() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines: move detail into the guide"


def _anchors(page: Path) -> set[str]:
    """The anchors mdBook and GitHub make of a page's headings."""
    heads = re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        found = resolved.exists() and (
            not anchor or resolved.suffix != ".md" or anchor in _anchors(resolved)
        )
        if not found:
            broken.append(target)
    assert not broken, f"{page}: links to nothing: {broken}"


def test_every_chapter_is_in_the_summary() -> None:
    summary = (GUIDE / "SUMMARY.md").read_text()
    listed = set(re.findall(r"\]\(([^)]+\.md)\)", summary))
    chapters = {p.name for p in GUIDE.glob("*.md")} - {"SUMMARY.md"}
    assert listed == chapters


def test_the_reference_is_generated_from_the_definitions() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_guide_builds_without_warnings(tmp_path: Path) -> None:
    mdbook = shutil.which("mdbook") or str(Path.home() / ".cargo" / "bin" / "mdbook")
    assert Path(mdbook).exists(), "mdbook is missing: make docs installs it"
    done = subprocess.run(
        [mdbook, "build", str(ROOT / "docs"), "--dest-dir", str(tmp_path / "book")],
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert not re.search(r"\b(WARN|ERROR)\b", output), output
    assert (tmp_path / "book" / "index.html").exists()
    assert (tmp_path / "book" / "reference.html").exists()
