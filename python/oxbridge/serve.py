"""``oxbridge serve``: the Rust server, run from the installed package."""

from __future__ import annotations

import json
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

import click

from . import _native

if TYPE_CHECKING:
    from ._library import Library


def run_server(
    library: Library,
    *,
    http: list[str] | None,
    grpc: list[str] | None,
    unix: str | None,
    max_request_bytes: int | None,
    idle_timeout: float | None,
    as_json: bool,
    watch_stdin: bool,
    echo_unix: str | None = None,
    allow_remote: bool = False,
    token: str | None = None,
    allow_other_users: bool = False,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    memory_budget: int | None = None,
) -> None:
    """Start the server, report where it listens, serve until told to stop."""
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # Both signals are ours before the server exists, so a Ctrl-C that comes
    # right after (or even before) the ready line is a clean stop, never
    # click's "aborted".
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = library.native.Server(
            http=http,
            grpc=grpc,
            unix=unix,
            max_request_bytes=max_request_bytes,
            idle_timeout=idle_timeout,
            memory_budget=memory_budget,
            echo_unix=echo_unix,
            allow_remote=allow_remote,
            token=token,
            allow_other_users=allow_other_users,
            tls_cert=tls_cert,
            tls_key=tls_key,
        )
        try:
            _serve(server, stop, as_json=as_json, watch_stdin=watch_stdin, tls=bool(tls_cert))
        finally:
            server.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not as_json:
        click.echo("stopped", err=True)


def _serve(
    server: _native.Server, stop: threading.Event, *, as_json: bool, watch_stdin: bool, tls: bool
) -> None:
    """Announce where ``server`` listens, then wait until ``stop`` or the server ends."""
    if watch_stdin:
        # The parent's end of our stdin closes when it exits, however it exits.
        def wait_for_eof() -> None:
            sys.stdin.buffer.read()
            stop.set()

        threading.Thread(target=wait_for_eof, daemon=True).start()

    if as_json:
        print(
            json.dumps({"http": server.http, "grpc": server.grpc, "unix": server.unix}), flush=True
        )
    else:
        http_scheme, grpc_scheme = ("https", "grpcs") if tls else ("http", "grpc")
        for addr in server.http:
            click.echo(f"http listening on {http_scheme}://{addr}")
        for addr in server.grpc:
            click.echo(f"grpc listening on {grpc_scheme}://{addr}")
        if server.unix:
            click.echo(f"ipc listening on unix://{server.unix}")
        click.echo("press Ctrl-C to stop")
    while not stop.is_set() and not server.wait(0.2):
        pass


def serve_command(library: Library) -> click.Command:
    """The ``serve`` command of ``library``: ``oxbridge serve``, or a library
    package's ``python -m PACKAGE serve``; its environment variables are
    named after the package (``OXBRIDGE_HTTP``, ``PYSTD_HTTP``...)."""

    @click.command(context_settings={"help_option_names": ["-h", "--help"]})
    @click.option(
        "--http",
        "http",
        multiple=True,
        metavar="ADDR",
        envvar=library.env("HTTP"),
        help="HTTP address, HOST:PORT (repeatable). Default: localhost:3000.",
    )
    @click.option(
        "--grpc",
        "grpc",
        multiple=True,
        metavar="ADDR",
        envvar=library.env("GRPC"),
        help="gRPC address, HOST:PORT (repeatable). Default: localhost:50051.",
    )
    @click.option(
        "--unix",
        "unix",
        metavar="PATH",
        envvar=library.env("UNIX"),
        help="IPC socket path. Default: a private per-user directory.",
    )
    @click.option("--no-http", is_flag=True, help="Do not serve HTTP.")
    @click.option("--no-grpc", is_flag=True, help="Do not serve gRPC.")
    @click.option("--no-ipc", is_flag=True, help="Do not serve IPC.")
    @click.option("--max-request-bytes", type=click.IntRange(min=1), help="Largest request.")
    @click.option(
        "--idle-timeout",
        type=click.FloatRange(min=0, min_open=True),
        help="Seconds an idle connection is kept.",
    )
    @click.option(
        "--memory-budget",
        type=click.IntRange(min=1),
        envvar=library.env("MEMORY_BUDGET"),
        help="Bytes held at once for requests and replies in flight, all bridges together"
        " (default 512 MiB); beyond it a request waits briefly, then is refused as busy.",
    )
    @click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the bound addresses as one JSON line on stdout.",
    )
    @click.option(
        "--watch-stdin", is_flag=True, help="Stop when stdin closes (for a parent process)."
    )
    @click.option(
        "--allow-remote",
        is_flag=True,
        help="Serve HTTP/gRPC on non-loopback addresses (other hosts can connect).",
    )
    @click.option(
        "--token",
        envvar=library.env("TOKEN"),
        metavar="TOKEN",
        help="Require 'Authorization: Bearer TOKEN' on HTTP and gRPC calls.",
    )
    @click.option(
        "--allow-other-users", is_flag=True, help="Accept IPC connections from other users."
    )
    @click.option(
        "--tls-cert",
        envvar=library.env("TLS_CERT"),
        metavar="PEM",
        help="Serve HTTP and gRPC over TLS with this certificate chain.",
    )
    @click.option(
        "--tls-key",
        envvar=library.env("TLS_KEY"),
        metavar="PEM",
        help="The private key of --tls-cert.",
    )
    @click.option(
        "--bench-echo",
        metavar="PATH",
        hidden=True,
        help="Also serve a raw echo socket at PATH: the benchmark's IPC floor.",
    )
    def serve(
        http: tuple[str, ...],
        grpc: tuple[str, ...],
        unix: str | None,
        no_http: bool,
        no_grpc: bool,
        no_ipc: bool,
        max_request_bytes: int | None,
        idle_timeout: float | None,
        memory_budget: int | None,
        as_json: bool,
        watch_stdin: bool,
        allow_remote: bool,
        token: str | None,
        allow_other_users: bool,
        tls_cert: str | None,
        tls_key: str | None,
        bench_echo: str | None,
    ) -> None:
        """Serve the library over HTTP, IPC and gRPC until Ctrl-C or SIGTERM."""
        if (tls_cert is None) != (tls_key is None):
            raise click.UsageError("--tls-cert and --tls-key go together")

        def addrs(values: tuple[str, ...], off: bool) -> list[str] | None:
            flat = [a.strip() for v in values for a in v.split(",") if a.strip()]
            return [] if off else (flat or None)

        run_server(
            library,
            http=addrs(http, no_http),
            grpc=addrs(grpc, no_grpc),
            unix="" if no_ipc else unix,
            max_request_bytes=max_request_bytes,
            idle_timeout=idle_timeout,
            memory_budget=memory_budget,
            as_json=as_json,
            watch_stdin=watch_stdin,
            echo_unix=bench_echo,
            allow_remote=allow_remote,
            token=token,
            allow_other_users=allow_other_users,
            tls_cert=tls_cert,
            tls_key=tls_key,
        )

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
