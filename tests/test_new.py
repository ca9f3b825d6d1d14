"""The walk-through of the README's "your own library", as a newcomer runs
it, outside the repository: oxbridge's wheel into a fresh virtual
environment, ``oxbridge new`` there, the library built, tested on all six
bridges and shipped with the commands its README gives, then its wheel
installed beside oxbridge's in another fresh environment and called there."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAME = "walkthrough"
#: The cargo profile the wheel is built in: the one `make build` compiled.
PROFILE = os.environ.get("OXBRIDGE_TEST_PROFILE", "fast")


def run(args: list[str | Path], cwd: Path, **env: str) -> str:
    """Runs a command as a user types it; its whole output on failure."""
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{output[-6000:]}"
    return output


def venv(folder: Path, *packages: str | Path) -> Path:
    """A fresh virtual environment with ``packages``; its ``bin`` folder."""
    run([sys.executable, "-m", "venv", folder], folder.parent)
    bin_ = folder / "bin"
    run([bin_ / "python", "-m", "pip", "install", "--quiet", *packages], folder.parent)
    return bin_


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """oxbridge's wheel, from the build the tests run (its crates compiled already)."""
    out = tmp_path_factory.mktemp("oxbridge-wheel")
    run(
        [
            Path(sys.executable).parent / "maturin",
            "build",
            "--profile",
            PROFILE,
            "--interpreter",
            sys.executable,
            "--quiet",
            "--out",
            out,
        ],
        ROOT,
    )
    (found,) = out.glob("oxbridge-*.whl")
    return found


def test_a_new_library_builds_tests_ships_and_installs_beside_oxbridge(
    wheel: Path, tmp_path: Path
) -> None:
    assert not tmp_path.is_relative_to(ROOT)
    user = venv(tmp_path / "venv", wheel)

    # `oxbridge new`, depending on this clone's crates (not published yet).
    made = run([user / "oxbridge", "new", NAME, "--crates", ROOT / "crates"], tmp_path)
    library = tmp_path / NAME
    assert f"made the library {NAME}" in made
    readme = (library / "README.md").read_text()
    for command in (
        "pip install -e '.[test]'",
        f"oxbridge stubs {NAME}",
        "python -m pytest",
        "pip install build && python -m build",
        "pip install build cargo-zigbuild ziglang",
        'CARGO=cargo-zigbuild CARGO_ZIGBUILD_PYTHON_PATH="$(command -v python)"',
        "CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu.2.17",
    ):
        assert command in readme, command

    # The README's three steps, as written.
    run([user / "pip", "install", "--quiet", "-e", ".[test]"], library)
    run([user / "oxbridge", "stubs", NAME], library)
    package = library / "python" / NAME
    assert "def fib(n: int) -> int:" in (package / "_native.pyi").read_text()
    assert "fib: Callable[[int], int]" in (package / "_client.py").read_text()
    tested = run([user / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider"], library)
    # Every vector ran on each of the six bridges, and passed.
    vectors = [json.loads(p.read_text()) for p in (library / "vectors").glob("*.json")]
    cases = sum(len(v["cases"]) for v in vectors)
    assert {v["function"] for v in vectors} == {"fib", "hello"}
    # ... and the typed client and stub are current.
    assert re.search(rf"\b{cases * 6 + 1} passed", tested), tested
    assert "failed" not in tested, tested
    run([user / "pip", "install", "--quiet", "build"], library)
    # The wheel is built from the sdist (as `build` does), in the same cargo target.
    run([user / "python", "-m", "build"], library, CARGO_TARGET_DIR=str(library / "target"))
    (sdist,) = (library / "dist").glob(f"{NAME}-*.tar.gz")
    (local,) = (library / "dist").glob(f"{NAME}-*.whl")
    assert local.name.endswith("-cp311-abi3-linux_x86_64.whl"), local.name
    # The portable wheel, as the README says, beside it.
    local.unlink()
    run([user / "pip", "install", "--quiet", "cargo-zigbuild", "ziglang"], library)
    portable: list[str | Path] = [user / "python", "-m", "build", "--wheel"]
    plat = "-C--build-option=--plat-name=manylinux_2_17_x86_64"
    run(
        [*portable, plat],
        library,
        CARGO="cargo-zigbuild",
        # Its python (with ziglang), not the isolated build's.
        CARGO_ZIGBUILD_PYTHON_PATH=str(user / "python"),
        CARGO_BUILD_TARGET="x86_64-unknown-linux-gnu.2.17",
        CARGO_TARGET_DIR=str(library / "target"),
        # As in an activated virtual environment: its cargo-zigbuild.
        PATH=f"{user}{os.pathsep}{os.environ['PATH']}",
    )
    (built,) = (library / "dist").glob(f"{NAME}-*.whl")
    assert built.name == f"{NAME}-0.1.0-cp311-abi3-manylinux_2_17_x86_64.whl", built.name
    assert built.stat().st_size < 1_000_000, built.stat().st_size
    with zipfile.ZipFile(built) as archive:
        names = archive.namelist()
        metadata = archive.read(f"{NAME}-0.1.0.dist-info/METADATA").decode()
        shared = archive.read(f"{NAME}/_native.abi3.so")
    assert f"{NAME}/_native.abi3.so" in names, names
    # What the tag claims: no glibc symbol newer than 2.17 (versions named
    # in the object's version needs), and no symbols to strip.
    needed = {tuple(map(int, v.split(b"."))) for v in re.findall(rb"GLIBC_(2\.[0-9]+)", shared)}
    assert needed, "no glibc symbol versions found: the check checked nothing"
    assert max(needed) <= (2, 17), sorted(needed)
    assert b".symtab" not in shared
    assert "Requires-Dist: oxbridge" in metadata, metadata
    assert sdist.stat().st_size < 100_000

    # Its wheel beside oxbridge's, in another fresh environment, away from its sources.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = venv(tmp_path / "other", wheel, built)
    script = f"""
import oxbridge, {NAME}
for bridge in oxbridge.BRIDGES:
    with {NAME}.connect(bridge) as client:
        assert client.fib(50) == 12586269025, bridge
        assert client.hello("wörld") == "Hello, wörld!", bridge
        try:
            client.fib(93)
        except oxbridge.OxbridgeError as e:
            assert type(e).__name__ == "OxbridgeOverflowError", (bridge, e)
            assert str(e) == "fib() result does not fit in 64 bits", (bridge, e)
        else:
            raise AssertionError(bridge)
assert {NAME}.__file__.startswith({str(tmp_path / "other")!r}), {NAME}.__file__
print("six bridges: ok")
"""
    assert "six bridges: ok" in run([other / "python", "-c", script], elsewhere)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("My-Lib", "use lowercase letters, digits and _"),
        ("2fast", "use lowercase letters, digits and _"),
        ("class", "Python already uses that name"),
        ("json", "Python already uses that name"),
        ("oxbridge", "Python already uses that name"),
    ],
)
def test_a_name_that_cannot_be_a_package_is_refused(name: str, why: str, tmp_path: Path) -> None:
    from click.testing import CliRunner  # noqa: PLC0415
    from oxbridge.cli import cli  # noqa: PLC0415

    result = CliRunner().invoke(cli, ["new", name, "--path", str(tmp_path)])
    assert result.exit_code == 1
    assert why in result.output
    assert not any(tmp_path.iterdir())


def test_an_existing_folder_is_left_alone(tmp_path: Path) -> None:
    from oxbridge.new import NewError, create  # noqa: PLC0415

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("mine")
    with pytest.raises(NewError, match="already exists"):
        create("mine", tmp_path)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["keep.txt"]


def test_without_a_clone_it_depends_on_the_published_crates(tmp_path: Path) -> None:
    from oxbridge import _native  # noqa: PLC0415
    from oxbridge.new import create, source_crates  # noqa: PLC0415

    assert source_crates() == ROOT / "crates"
    cargo = (create("apart", tmp_path) / "Cargo.toml").read_text()
    assert f'oxbridge-ffi = "{_native.__version__}"' in cargo
    assert "path =" not in cargo
    folder = create("beside", tmp_path, Path(os.path.relpath(ROOT / "crates")))
    assert f'path = "{ROOT / "crates" / "oxbridge-ffi"}"' in (folder / "Cargo.toml").read_text()
    pyproject = (folder / "pyproject.toml").read_text()
    assert 'dependencies = ["oxbridge>=0.1,<0.2"]' in pyproject
    assert (folder / "python" / "beside" / "__init__.py").is_file()
    assert (folder / "tests" / "test_beside.py").is_file()
    assert (folder / ".gitignore").is_file()
    assert "{{" not in "".join(p.read_text() for p in folder.rglob("*") if p.is_file())
