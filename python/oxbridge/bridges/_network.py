"""Addresses of the network bridges: URLs, environment, defaults, embedded."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from ..errors import UnknownBridgeError
from . import SCHEMES, _embedded

if TYPE_CHECKING:
    from .._library import Library

#: Seconds a network call may take before it raises BridgeTimeoutError.
DEFAULT_TIMEOUT = 10.0
#: Connections an asyncio client opens at once by default; more calls wait.
MAX_CONNECTIONS = 64

C = TypeVar("C")


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


def _refuse_unread(library: Library) -> None:
    """An error for ``$<PACKAGE>_IPC``, which no release reads (the socket's
    variable is the server's, ``$<PACKAGE>_UNIX``): a client that ignored it
    would talk to another server than the one it names."""
    old, new = f"{library.env_prefix}_IPC", library.env("unix")
    if os.environ.get(old) and not os.environ.get(new):
        raise UnknownBridgeError(f"${old} is not read: name the IPC socket with ${new}")


def configured_url(bridge: str, library: Library) -> str | None:
    """``$<PACKAGE>_<BRIDGE>`` (``$OXBRIDGE_HTTP``...): any URL
    :func:`~oxbridge.connect` takes for that bridge, or ``HOST:PORT`` (made
    a URL), or for ``ipc`` a socket path (kept as it is). The first of a
    comma-separated list."""
    env = library.env("unix" if bridge == "ipc" else bridge)
    if bridge == "ipc":
        _refuse_unread(library)
    value = os.environ.get(env, "").split(",")[0].strip()
    if not value:
        return None
    scheme, sep, _ = value.partition("://")
    if not sep:
        # A bare socket path may be relative: it is kept as it is, not read as a URL.
        return value if bridge == "ipc" else f"{bridge}://{value}"
    if SCHEMES.get(scheme) != bridge:
        forms = ", ".join(f"{s}://..." for s, b in SCHEMES.items() if b == bridge)
        plain = "a socket path" if bridge == "ipc" else "HOST:PORT"
        raise UnknownBridgeError(f"${env}: {value!r} is neither {plain} nor a URL like {forms}")
    return value


def tcp_address(
    bridge: str, url: str | None, default_port: int, library: Library
) -> list[tuple[str, int]]:
    """(host, port) for a TCP bridge: the URL, a server on the default port
    (oxbridge's own library only: another library's server has no address of
    its own to be found at), or else the embedded server. A URL may name
    several, comma-separated (``grpc://h1:p1,h2:p2``)."""
    if url is not None:
        netloc = urlsplit(url).netloc
        return [split_hostport(one, f"{bridge} URL {url!r}") for one in netloc.split(",")]
    if library.is_calculator and _reachable_tcp("127.0.0.1", default_port):
        return [("127.0.0.1", default_port)]
    embedded = getattr(_embedded.addresses(library), bridge)
    return [split_hostport(embedded, "embedded server")]


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class TcpTarget:
    """Where and how a TCP bridge connects."""

    host: str
    port: int
    token: str | None
    #: A CA bundle (PEM path) to verify the server with; TLS when not None.
    ca: str | None
    #: More servers beside (host, port), to balance calls over (gRPC only).
    others: tuple[tuple[str, int], ...] = ()

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        """Every server's (host, port), the first one first."""
        return ((self.host, self.port), *self.others)

    @property
    def netloc(self) -> str:
        return ",".join(_netloc(host, port) for host, port in self.addresses)


def tcp_target(
    bridge: str,
    address: str | None,
    default_port: int,
    token: str | None,
    ca: str | None,
    library: Library,
) -> TcpTarget:
    """What a TCP bridge's ``open()`` needs.

    The address comes from :func:`tcp_address` (``$OXBRIDGE_HTTP`` or
    ``$OXBRIDGE_GRPC`` among others; a grpc URL may name several servers),
    the token from the argument or
    ``$OXBRIDGE_TOKEN``. TLS is on for ``https://`` and ``grpcs://`` URLs,
    verified against ``ca`` (or ``$OXBRIDGE_CA``, else the system's roots).
    """
    url = address if address is not None else configured_url(bridge, library)
    (host, port), *others = tcp_address(bridge, url, default_port, library)
    if others and bridge != "grpc":
        raise UnknownBridgeError(
            f"{bridge} URL {url!r} names several servers: only grpc:// balances over"
            " several (round-robin); put a balancer in front for HTTP (see deploy/)"
        )
    secure = url is not None and urlsplit(url).scheme in ("https", "grpcs")
    ca_path = (ca or os.environ.get(library.env("ca")) or "") if secure else None
    token = token or os.environ.get(library.env("token"))
    return TcpTarget(host, port, token, ca_path, tuple(others))


def unix_path(url: str | None, library: Library) -> str:
    """The socket path: the URL, ``$OXBRIDGE_UNIX``, a live default socket,
    or else the embedded server's."""
    if url is None:
        url = configured_url("ipc", library)
        if url is not None and "://" not in url:
            return url
    if url is not None:
        path = urlsplit(url).path
        if not path:
            raise UnknownBridgeError(f"ipc URL {url!r} has no path: write unix:///path/to/socket")
        return path
    default: str = library.native.default_socket_path()
    if library.is_calculator and _reachable_unix(default):
        return default
    return _embedded.addresses(library).unix


@dataclass(frozen=True)
class Options:
    """What every network client takes, sync and asyncio alike: its
    deadline per call, and for the TCP bridges a bearer token and the CA
    bundle that verifies the server (``https://``, ``grpcs://``)."""

    timeout: float = DEFAULT_TIMEOUT
    token: str | None = None
    ca: str | None = None
    #: Connections open at once (the asyncio HTTP and IPC clients' pools).
    max_connections: int = MAX_CONNECTIONS


def opener(
    bridge: str, make: Callable[[Library, Any, Options], C], *, pooled: bool = False
) -> Callable[..., C]:
    """The ``open(address, library, **options)`` that the registry calls for
    a network client: ``address`` (a URL, or ``None`` for the environment,
    the default server or an embedded one) resolved to a :class:`TcpTarget`
    or a socket path, the options checked once (an unknown one, or a token
    for IPC, is refused by name), then ``make(library, where, options)``.
    ``pooled``: the client keeps a pool that ``max_connections`` bounds."""
    accepted = {"timeout"} | ({"max_connections"} if pooled else set())
    if bridge != "ipc":
        accepted |= {"token", "ca"}

    def open(address: str | None, library: Library, **given: Any) -> C:
        unknown = [name for name in given if name not in accepted]
        if unknown:
            raise TypeError(f"unexpected options for the {bridge} bridge: {', '.join(unknown)}")
        options = Options(**given)
        where: TcpTarget | str
        if bridge == "ipc":
            where = unix_path(address, library)
        else:
            port = getattr(library.native, f"DEFAULT_{bridge.upper()}_PORT")
            where = tcp_target(bridge, address, port, options.token, options.ca, library)
        return make(library, where, options)

    open.__doc__ = (
        f"A {bridge} client: ``connect({bridge!r})`` or a URL, with the options of"
        " :class:`Options`."
    )
    return open
