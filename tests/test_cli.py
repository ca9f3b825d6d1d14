"""The ``oxbridge`` command, run as a user runs it: a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import oxbridge
import pytest
from oxbridge._functions import FUNCTIONS
from oxbridge.cli import OPERATIONS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oxbridge", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("via", list(oxbridge.BRIDGES))
def test_article_command_line(via: str) -> None:
    done = run("--add", "--arg1", "1+3j", "--arg2", "-5j", "--via", via)
    assert (done.returncode, done.stdout, done.stderr) == (0, "(1-2j)\n", "")


@pytest.mark.parametrize(
    ("op", "expected"),
    [("--sub", 1 + 3j - -5j), ("--mul", (1 + 3j) * -5j), ("--div", (1 + 3j) / -5j)],
)
def test_other_operations(op: str, expected: complex) -> None:
    done = run(op, "--arg1", "1+3j", "--arg2", "-5j")
    assert done.stdout == f"{expected}\n"


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_flag_function_prints_what_the_core_gives(name: str) -> None:
    """One flag per function of complex arguments, derived from the catalogue."""
    f = FUNCTIONS[name]
    args = [1 + 1j, 2 + 0j][: len(f.params)]
    flags = [a for i, z in enumerate(args, start=1) for a in (f"--arg{i}", str(z))]
    done = run(f"--{name}", *flags)
    assert (done.returncode, done.stdout) == (0, f"{getattr(oxbridge.connect(), name)(*args)}\n")


def test_greet_subcommand() -> None:
    assert run("greet", "Welcome", "traveler").stdout == "Welcome, traveler\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--add", "--arg1", "abc", "--arg2", "1"], "'abc' is not a complex number"),
        (["--arg1", "1", "--arg2", "2"], "choose an operation"),
        (["--add", "--mul", "--arg1", "1", "--arg2", "2"], "choose one operation"),
        (["--div", "--arg1", "1", "--arg2", "0"], "complex division by zero"),
        (["--add", "--arg1", "1"], "needs --arg1 and --arg2"),
        (["--add", "--arg1", "1", "--arg2", "2", "--via", "smoke"], "Invalid value for '--via'"),
    ],
)
def test_bad_input_is_one_line_on_stderr(args: list[str], message: str) -> None:
    done = run(*args)
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("oxbridge: error: ")
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_options_are_the_servers_one_definition() -> None:
    """``oxbridge serve``, the ``oxbridge-server`` binary and a library's
    ``python -m PACKAGE serve`` parse the same options (the Rust server's
    ``ServeOptions``): the same help, environment variables named after
    each package, defaults shown, the same refusals."""
    root = Path(__file__).resolve().parents[1]

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)

    py = run(sys.executable, "-m", "oxbridge", "serve", "--help")
    binary = run(str(root / "target" / "release" / "oxbridge-server"), "--help")
    pystd = run(sys.executable, "-m", "pystd", "serve", "--help")
    assert py.returncode == binary.returncode == pystd.returncode == 0, py.stderr
    assert py.stdout.replace("oxbridge serve", "oxbridge-server") == binary.stdout
    assert pystd.stdout.replace("PYSTD_", "OXBRIDGE_").replace("pystd serve", "oxbridge serve") == (
        py.stdout
    )
    for shown in ("[env: OXBRIDGE_MEMORY_BUDGET=]", "[default: 60]", "--idle-timeout <SECONDS>"):
        assert shown in py.stdout, shown
    bad = run(sys.executable, "-m", "oxbridge", "serve", "--idle-timeout", "-1")
    assert bad.returncode == 2
    assert "not a positive number of seconds" in bad.stderr
