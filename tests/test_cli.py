"""The ``oxbridge`` command, run as a user runs it: a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import oxbridge
import pytest
from oxbridge._functions import FUNCTIONS
from oxbridge.cli import OPERATIONS


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oxbridge", *args],
        env={**os.environ, **(env or {})},
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


def test_no_arguments_print_the_help() -> None:
    done = run()
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("Usage: oxbridge")
    assert "--via" in done.stdout
    assert "greet" in done.stdout


def test_via_takes_what_connect_takes(tmp_path: Path) -> None:
    """A URL as well as a bridge name, for the CLI as for ``connect()``; and
    ``$OXBRIDGE_HTTP`` and friends take the same URL forms as ``HOST:PORT``."""
    from .servers import ephemeral, serving  # noqa: PLC0415 - only this test serves

    with serving(*ephemeral(tmp_path)) as s:
        for url in (s.url("ipc"), s.url("http"), s.url("grpc")):
            done = run("--add", "--arg1", "1+3j", "--arg2", "-5j", "--via", url)
            assert (done.returncode, done.stdout, done.stderr) == (0, "(1-2j)\n", ""), url
        for bridge, value in [
            ("http", s.url("http")), ("http", s.http[0]),
            ("grpc", s.url("grpc")), ("grpc", s.grpc[0]),
            ("ipc", s.url("ipc")), ("ipc", str(s.unix)),
        ]:  # fmt: skip
            # The server's own variables: OXBRIDGE_UNIX names the socket.
            env = {oxbridge.CALCULATOR.env("unix" if bridge == "ipc" else bridge): value}
            done = run("--mul", "--arg1", "2j", "--arg2", "3j", "--via", bridge, env=env)
            assert (done.returncode, done.stdout, done.stderr) == (0, "(-6+0j)\n", ""), value
    env = {"OXBRIDGE_HTTP": "grpc://127.0.0.1:1"}
    wrong = run("--add", "--arg1", "1", "--arg2", "2", "--via", "http", env=env)
    assert wrong.returncode != 0
    assert wrong.stderr == (
        "oxbridge: error: $OXBRIDGE_HTTP: 'grpc://127.0.0.1:1' is neither HOST:PORT nor a URL "
        "like http://..., https://...\n"
    )


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
        (["--add", "--arg1", "1", "--arg2", "2", "--via", "smoke"], "unknown bridge 'smoke'"),
        (["--add", "--arg1", "1", "--arg2", "2", "--via", "ftp://x"], "Invalid value for '--via'"),
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
    from .servers import BINARY  # noqa: PLC0415 - as the test above

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)

    py = run(sys.executable, "-m", "oxbridge", "serve", "--help")
    binary = run(str(BINARY), "--help")
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
