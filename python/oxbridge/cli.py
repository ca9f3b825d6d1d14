"""The ``oxbridge`` command line.

``oxbridge --add --arg1 1+3j --arg2 -5j`` is the article's CLI, unchanged;
``--via`` picks the bridge. Subcommands: ``greet``, ``demo``, ``bench``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import click

from . import bridges
from ._functions import FUNCTIONS
from ._library import CALCULATOR
from .errors import OxbridgeError
from .serve import serve_command

#: The functions the article-style flags reach: one or two complex arguments
#: (``--arg1``, ``--arg2``), from the catalogue of exported functions.
FLAG_FUNCTIONS = [
    f for f in FUNCTIONS.values() if 1 <= len(f.params) <= 2 and f.params_all("complex")
]
OPERATIONS = tuple(f.name for f in FLAG_FUNCTIONS)


def _operation_flags(command: Callable[..., None]) -> Callable[..., None]:
    """``--add``, ``--sub``, ... one flag per function in :data:`FLAG_FUNCTIONS`."""
    for f in reversed(FLAG_FUNCTIONS):
        command = click.option(f"--{f.name}", "command", flag_value=f.name, help=f.summary)(command)
    return command


def _parse_complex(
    _ctx: click.Context, param: click.Parameter, value: str | None
) -> complex | None:
    if value is None:
        return None
    try:
        return complex(value.replace(" ", ""))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a complex number (write it like 1+3j or -5j)", param=param
        ) from None


def _parse_target(_ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        bridges.resolve(value)
    except OxbridgeError as e:
        raise click.BadParameter(str(e), param=param) from None
    return value


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@_operation_flags
@click.option("--arg1", callback=_parse_complex, help="First complex number in the form x+yj")
@click.option("--arg2", callback=_parse_complex, help="Second complex number in the form x'+y'j")
@click.option(
    "--via",
    callback=_parse_target,
    default="pyo3",
    show_default=True,
    help=(
        f"The bridge that carries the call: {', '.join(bridges.BRIDGES)}, or a URL "
        "(unix:///PATH, http[s]://HOST:PORT, grpc[s]://HOST:PORT), as connect() takes."
    ),
)
@click.version_option(package_name="oxbridge")
@click.pass_context
def cli(
    ctx: click.Context,
    command: str | None,
    arg1: complex | None,
    arg2: complex | None,
    via: str,
) -> None:
    """Compute with the oxbridge Rust core over any bridge."""
    ctx.obj = via
    if ctx.invoked_subcommand is not None:
        if command is not None:
            raise click.UsageError(f"--{command} cannot be combined with a subcommand")
        return
    if command is None and arg1 is None and arg2 is None:
        click.echo(ctx.get_help())
        return
    if command is None:
        flags = ", ".join(f"--{name}" for name in OPERATIONS)
        raise click.UsageError(f"choose an operation: {flags}")
    args = [arg1, arg2][: len(FUNCTIONS[command].params)]
    if any(a is None for a in args):
        needed = " and ".join(f"--arg{i}" for i in range(1, len(args) + 1))
        raise click.UsageError(f"--{command} needs {needed}")
    with bridges.connect(via) as client:
        click.echo(getattr(client, command)(*args))


def _reject_repeated_operations(args: list[str]) -> None:
    # click keeps the last of several flag_value options silently; two
    # operations in one call are a mistake worth naming.
    given = [a for a in args if a.removeprefix("--") in OPERATIONS and a.startswith("--")]
    if len(given) > 1:
        raise click.UsageError(f"choose one operation, not {' and '.join(given)}")


@cli.command()
@click.argument("greeting")
@click.argument("name")
@click.pass_obj
def greet(via: str, greeting: str, name: str) -> None:
    """Print "GREETING, NAME", computed by the core."""
    with bridges.connect(via) as client:
        click.echo(client.greet(greeting, name))


@cli.command()
@click.option("--calls", default=20_000, show_default=True, help="Calls timed per bridge.")
def demo(calls: int) -> None:
    """The article's example, (1+3j) + (-5j), through every bridge, with its cost."""
    from .bench import run_demo  # noqa: PLC0415 - the benchmark loads only for its command

    run_demo(calls)


@cli.command()
@click.option(
    "--quick", is_flag=True, help="Fewer rounds and sizes: a smoke test (under a minute)."
)
@click.option(
    "--bridges",
    "chosen",
    default=",".join(bridges.BRIDGES),
    show_default=True,
    help="Comma-separated bridges to measure.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write results.json, report.md and PNG plots to this directory.",
)
def bench(quick: bool, chosen: str, output: Path | None) -> None:
    """Measure every bridge side by side against Python, its floor and the articles."""
    from .bench import iter_names, run_bench  # noqa: PLC0415

    names = list(iter_names(chosen))
    unknown = [n for n in names if n not in bridges.BRIDGES]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown bridge(s) {', '.join(unknown) or '(none)'}: "
            f"choose from {', '.join(bridges.BRIDGES)}",
            param_hint="--bridges",
        )
    run_bench(quick=quick, chosen=names, output=output)


@cli.command()
@click.argument("name")
@click.option(
    "--path",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Make the library's folder in this folder.",
)
@click.option(
    "--crates",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Depend on oxbridge's crates in this folder (a clone's crates/);"
    " by default those of the clone this oxbridge runs from, else their published versions.",
)
def new(name: str, parent: Path, crates: Path | None) -> None:
    """Make a new library NAME: a crate, its Python package, vectors, tests, README."""
    from .new import NewError, create, source_crates  # noqa: PLC0415

    try:
        folder = create(name, parent, (crates or source_crates()))
    except NewError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"made the library {name} in {folder}")
    click.echo(f"next, in a virtual environment with oxbridge:\n  cd {folder}")
    click.echo("  pip install -e '.[test]'   # build")
    click.echo(f"  oxbridge stubs {name}        # its typed client and stub, after each change")
    click.echo("  python -m pytest           # test on all six bridges")
    click.echo("  python -m build            # ship: dist/ holds its sdist and wheel")


@cli.command()
@click.argument("package")
@click.option("--check", is_flag=True, help="Write nothing; fail when a file is stale.")
def stubs(package: str, check: bool) -> None:
    """Write the typed client and stub of the library PACKAGE (its _client.py
    and _native.pyi) from its catalogue."""
    from .stubs import write  # noqa: PLC0415

    changed = write(package, check=check)
    for path in changed:
        click.echo(f"{'stale' if check else 'wrote'} {path}")
    if check and changed:
        raise click.ClickException(f"stale: run `oxbridge stubs {package}`")


cli.add_command(serve_command(CALCULATOR))


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"oxbridge: error: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: one line on stderr for any error."""
    args = sys.argv[1:] if argv is None else argv
    try:
        _reject_repeated_operations(args)
        cli.main(args=args, prog_name="oxbridge", standalone_mode=False)
    except click.ClickException as e:
        _fail(e.format_message(), e.exit_code)
    except click.Abort:
        _fail("aborted", 130)
    except OxbridgeError as e:
        _fail(str(e), 1)
    except (ArithmeticError, ValueError, TypeError) as e:
        _fail(str(e), 1)
