"""Addresses of the network bridges: URLs, environment, defaults, embedded."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import UnknownBridgeError
from . import _embedded

if TYPE_CHECKING:
    from .._library import Library

#: Seconds a network call may take before it raises BridgeTimeoutError.
DEFAULT_TIMEOUT = 10.0


def _reachable_tcp(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.25).close()
    except OSError:
        return False
    return True


def _reachable_unix(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(0.25)
        try:
            s.connect(path)
        except OSError:
            return False
    return True


def split_hostport(text: str, where: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` as (host, port)."""
    parts = urlsplit(f"//{text}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise UnknownBridgeError(f"{where}: {text!r} is not HOST:PORT")
    return parts.hostname, port


def tcp_address(
    bridge: str, url: str | None, env: str, default_port: int, library: Library
) -> tuple[str, int]:
    """(host, port) for a TCP bridge: the URL, ``$env``, a server on the
    default port (oxbridge's own library only: another library's server has
    no address of its own to be found at), or else the embedded server."""
    if url is not None:
        parts = urlsplit(url)
        return split_hostport(parts.netloc, f"{bridge} URL {url!r}")
    configured = os.environ.get(env)
    if configured:
        return split_hostport(configured.split(",")[0].strip(), f"${env}")
    if library.is_calculator and _reachable_tcp("127.0.0.1", default_port):
        return "127.0.0.1", default_port
    embedded = getattr(_embedded.addresses(library), bridge)
    return split_hostport(embedded, "embedded server")


@dataclass(frozen=True)
class TcpTarget:
    """Where and how a TCP bridge connects."""

    host: str
    port: int
    token: str | None
    #: A CA bundle (PEM path) to verify the server with; TLS when not None.
    ca: str | None

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def tcp_target(
    bridge: str,
    address: str | None,
    default_port: int,
    token: str | None,
    ca: str | None,
    options: dict[str, object],
    library: Library,
) -> TcpTarget:
    """What a TCP bridge's ``open()`` needs.

    The address comes from :func:`tcp_address` (``$OXBRIDGE_HTTP`` or
    ``$OXBRIDGE_GRPC`` among others), the token from the argument or
    ``$OXBRIDGE_TOKEN``. TLS is on for ``https://`` and ``grpcs://`` URLs,
    verified against ``ca`` (or ``$OXBRIDGE_CA``, else the system's roots);
    unknown options are refused by name.
    """
    if options:
        raise TypeError(f"unexpected options for the {bridge} bridge: {', '.join(options)}")
    host, port = tcp_address(bridge, address, library.env(bridge.upper()), default_port, library)
    secure = address is not None and urlsplit(address).scheme in ("https", "grpcs")
    ca_path = (ca or os.environ.get(library.env("CA")) or "") if secure else None
    return TcpTarget(host, port, token or os.environ.get(library.env("TOKEN")), ca_path)


def unix_path(url: str | None, library: Library) -> str:
    """The socket path: the URL, ``$OXBRIDGE_UNIX``, a live default socket,
    or else the embedded server's."""
    if url is not None:
        path = urlsplit(url).path
        if not path:
            raise UnknownBridgeError(f"ipc URL {url!r} has no path: write unix:///path/to/socket")
        return path
    configured = os.environ.get(library.env("UNIX"))
    if configured:
        return configured
    default: str = library.native.default_socket_path()
    if library.is_calculator and _reachable_unix(default):
        return default
    return _embedded.addresses(library).unix
