"""Check the portable wheel as a user meets it: ``python tools/check_wheel.py WHEEL``.

1. ``auditwheel show``: a manylinux tag no newer than ``_2_28``;
   ``abi3audit --strict``: only the stable ABI of CPython 3.11;
   the extension stripped (no ``.symtab``).
2. For CPython 3.11, 3.12 and 3.13 (found through pyenv or on ``PATH``), a fresh
   venv outside the repository: a plain ``pip install`` of the wheel runs every
   bridge's scalar calls without numpy (``tests/plain_install.py``); the newest
   also runs ``oxbridge bench --quick``. Then numpy and pytest are added, and the
   shared vectors (``tests/test_vectors.py``, ``tests/test_batch.py``) run on all
   six bridges against the installed wheel.

Every step prints what it does; the first failure stops with its output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHONS = ("3.11", "3.12", "3.13")
#: The newest glibc a wheel may need: the distributions people still run.
NEWEST_GLIBC = (2, 28)
VECTORS = ["tests/test_vectors.py", "tests/test_batch.py"]


def run(*args: str | Path, cwd: Path | None = None) -> str:
    """Run a command, echoing it; its output, or exit with it on failure."""
    shown = " ".join(str(a) for a in args)
    print(f"$ {shown}", flush=True)
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {shown}\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def interpreter(version: str) -> Path:
    """CPython ``version``: pyenv's, else ``pythonX.Y`` on ``PATH``."""
    pyenv = shutil.which("pyenv")
    if pyenv:
        done = subprocess.run(
            [pyenv, "prefix", version], capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            candidate = Path(done.stdout.strip().splitlines()[-1]) / "bin" / f"python{version}"
            if candidate.exists():
                return candidate
    found = shutil.which(f"python{version}")
    if found is None:
        sys.exit(
            f"no CPython {version} here (pyenv install {version}, or put python{version} on PATH)"
        )
    return Path(found)


def check_tags(wheel: Path, tools: Path) -> None:
    shown = run(tools / "auditwheel", "show", wheel)
    tags = re.findall(r"manylinux_(\d+)_(\d+)_x86_64", shown)
    assert tags, shown
    newest = min((int(a), int(b)) for a, b in tags)
    if newest > NEWEST_GLIBC:
        sys.exit(f"{wheel.name} needs glibc {newest}, newer than {NEWEST_GLIBC}:\n{shown}")
    print(f"auditwheel: manylinux_{newest[0]}_{newest[1]}")
    run(tools / "abi3audit", "--strict", "--assume-minimum-abi3", "3.11", wheel)
    print("abi3audit: clean")
    with zipfile.ZipFile(wheel) as z:
        so = next(n for n in z.namelist() if n.endswith(".so"))
        data = z.read(so)
    if b".symtab" in data:
        sys.exit(f"{so} is not stripped (it has a .symtab)")
    print(f"stripped: {so}, {len(data) / 1e6:.1f} MB")


def check_python(version: str, wheel: Path, work: Path, *, bench: bool) -> None:
    venv = work / f"py{version}"
    shutil.rmtree(venv, ignore_errors=True)
    run(interpreter(version), "-m", "venv", venv)
    py = venv / "bin" / "python"
    run(py, "-m", "pip", "install", "--quiet", wheel)
    # Outside the repository, so that only the installed wheel can be imported.
    where = run(py, "-c", "import oxbridge, sys; print(oxbridge.__file__)", cwd=work)
    assert str(venv) in where, where
    print(run(py, ROOT / "tests" / "plain_install.py", cwd=work).strip())
    if bench:
        out = run(venv / "bin" / "oxbridge", "bench", "--quick", cwd=work)
        assert "Traceback" not in out, out
        print("bench --quick on a plain install: ok")
    run(py, "-m", "pip", "install", "--quiet", "numpy>=1.26", "pytest>=8")
    out = run(
        py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(ROOT / v for v in VECTORS), cwd=work
    )
    print(f"CPython {version}: shared vectors: {out.strip().splitlines()[-1]}")


def main() -> None:
    wheel = Path(sys.argv[1]).resolve()
    work = ROOT / "target" / "wheel-check"
    work.mkdir(parents=True, exist_ok=True)
    tools = Path(sys.executable).parent
    check_tags(wheel, tools)
    for version in PYTHONS:
        check_python(version, wheel, work, bench=version == PYTHONS[-1])
    print(f"{wheel.name}: ok on CPython {', '.join(PYTHONS)}")


if __name__ == "__main__":
    main()
