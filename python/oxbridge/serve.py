"""``oxbridge serve``: the Rust server, run from the installed package."""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from . import _native
from ._library import Library


def run_server(library: Library, prog: str, args: list[str]) -> None:
    """Parse ``args`` with the server's one definition of its options (help,
    environment variables, defaults and validation are all the Rust
    server's), start the server, report where it listens, serve until told to
    stop."""
    options, text, status = library.native.parse_serve_args(prog, library.env_prefix, args)
    if options is None:
        click.echo(text.rstrip("\n"), err=status != 0)
        sys.exit(status)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # Both signals are ours before the server exists, so a Ctrl-C that comes
    # right after (or even before) the ready line is a clean stop, never
    # click's "aborted".
    try:
        others = [_load(name).native for name in options.libraries]
    except ImportError as e:
        click.echo(f"{prog}: error: cannot serve the library {e.name}: {e}", err=True)
        sys.exit(2)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = library.native.Server(options, others)
        try:
            _serve(
                server,
                stop,
                as_json=options.json,
                watch_stdin=options.watch_stdin,
                tls=options.tls,
            )
        finally:
            server.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not options.json:
        click.echo("stopped", err=True)


def _load(name: str) -> Library:
    """The library ``--library NAME`` names: the path of a library's shared
    object, or an installed package that ships one (its ``LIBRARY``)."""
    path = Path(name)
    if path.suffix == ".so" or path.is_file():
        try:
            native = _native.load_library(str(path.resolve()), f"oxbridge._served.{path.stem}")
        except ImportError as e:
            raise ImportError(str(e), name=name) from None
        return Library(native, path.stem)
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        raise ImportError(f"no package {name!r} is installed ({e})", name=name) from None
    found = getattr(module, "LIBRARY", None)
    if not isinstance(found, Library):
        raise ImportError(f"the package {name!r} has no oxbridge LIBRARY", name=name)
    return found


def _serve(
    server: _native.Server, stop: threading.Event, *, as_json: bool, watch_stdin: bool, tls: bool
) -> None:
    """Announce where ``server`` listens, then wait until ``stop`` or the server ends."""
    if watch_stdin:
        # The parent's end of our stdin closes when it exits, however it exits.
        # Raw reads: a daemon thread blocked in sys.stdin's buffered reader
        # holds its lock, and the interpreter aborts when it exits around it.
        def wait_for_eof() -> None:
            fd = sys.stdin.fileno()
            while os.read(fd, 65536):
                pass
            stop.set()

        threading.Thread(target=wait_for_eof, daemon=True).start()

    if as_json:
        where = {"http": server.http, "grpc": server.grpc, "unix": server.unix}
        print(json.dumps({**where, "metrics": server.metrics}), flush=True)
    else:
        http_scheme, grpc_scheme = ("https", "grpcs") if tls else ("http", "grpc")
        for addr in server.http:
            click.echo(f"http listening on {http_scheme}://{addr}")
        for addr in server.grpc:
            click.echo(f"grpc listening on {grpc_scheme}://{addr}")
        if server.unix:
            click.echo(f"ipc listening on unix://{server.unix}")
        if server.metrics:
            click.echo(f"metrics on http://{server.metrics}/metrics")
        click.echo("press Ctrl-C to stop")
    while not stop.is_set() and not server.wait(0.2):
        pass


def serve_command(library: Library) -> click.Command:
    """The ``serve`` command of ``library``: ``oxbridge serve``, or a library
    package's ``python -m PACKAGE serve``. Its options are the Rust server's
    (``ServeOptions``, shared with the ``oxbridge-server`` binary), parsed
    there; their environment variables are named after the package
    (``OXBRIDGE_HTTP``, ``PYSTD_HTTP``...)."""

    @click.command(
        context_settings={"ignore_unknown_options": True, "help_option_names": []},
        short_help="Serve the library over HTTP, IPC and gRPC until Ctrl-C or SIGTERM.",
        add_help_option=False,
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def serve(args: tuple[str, ...]) -> None:
        """Serve the library over HTTP, IPC and gRPC (see --help)."""
        run_server(library, f"{library.package} serve", list(args))

    return serve


def main(library: Library, argv: list[str] | None = None) -> None:
    """``python -m PACKAGE`` of a library package: its commands (``serve``),
    with one line on stderr for any error."""

    @click.group(
        invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]}
    )
    @click.pass_context
    def group(ctx: click.Context) -> None:
        if ctx.invoked_subcommand is None:
            click.echo(ctx.get_help())

    group.help = f"The {library.name} library of exported Rust functions, as a server."
    group.add_command(serve_command(library))
    try:
        group.main(args=argv, prog_name=library.package, standalone_mode=False)
    except click.ClickException as e:
        click.echo(f"{library.package}: error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
