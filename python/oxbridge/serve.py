"""``oxbridge serve``: the Rust server, run from the installed package."""

from __future__ import annotations

import json
import signal
import sys
import threading
from types import FrameType

import click

from . import _native


def run_server(
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
) -> None:
    """Start the server, report where it listens, serve until told to stop."""
    server = _native.Server(
        http=http,
        grpc=grpc,
        unix=unix,
        max_request_bytes=max_request_bytes,
        idle_timeout=idle_timeout,
        echo_unix=echo_unix,
        allow_remote=allow_remote,
        token=token,
        allow_other_users=allow_other_users,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    stop = threading.Event()

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_sigterm)
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
        http_scheme, grpc_scheme = ("https", "grpcs") if tls_cert else ("http", "grpc")
        for addr in server.http:
            click.echo(f"http listening on {http_scheme}://{addr}")
        for addr in server.grpc:
            click.echo(f"grpc listening on {grpc_scheme}://{addr}")
        if server.unix:
            click.echo(f"ipc listening on unix://{server.unix}")
        click.echo("press Ctrl-C to stop")
    try:
        while not stop.is_set() and not server.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    if not as_json:
        click.echo("stopped", err=True)
