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
        server = _native.Server(
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
