"""Type stubs for the PyO3 extension ``oxbridge._native`` (checked by stubtest)."""

__all__ = [
    "ABI_VERSION",
    "C_HEADER",
    "LIBRARY",
    "RUSTC_VERSION",
    "Server",
    "__version__",
    "add",
    "bare",
    "default_socket_path",
    "div",
    "error_kinds",
    "functions",
    "greet",
    "many",
    "mul",
    "sub",
]

from types import TracebackType
from typing import Any, final

__version__: str
ABI_VERSION: int
C_HEADER: str
LIBRARY: str
RUSTC_VERSION: str

def bare(a: object, b: object) -> object:
    """The cheapest PyO3 call with `add`'s shape: the benchmark's floor."""

def add(a: complex, b: complex) -> complex:
    """`a + b`, exactly as Python computes it."""

def sub(a: complex, b: complex) -> complex:
    """`a - b`, exactly as Python computes it."""

def mul(a: complex, b: complex) -> complex:
    """`a * b`, exactly as Python computes it."""

def div(a: complex, b: complex) -> complex:
    """`a / b`, exactly as Python computes it; raises on a zero divisor."""

def greet(greeting: str, name: str) -> str:
    """`f"{greeting}, {name}"`."""

def error_kinds() -> list[tuple[str, str, str, int, int, int]]:
    """The core's table of error kinds, one row per kind:
    `(name, python_class, python_base, http_status, grpc_code, c_status)`.
    `oxbridge.errors` builds its mapping from it."""

def functions() -> list[tuple[str, str, list[tuple[str, str]], str, str, list[str], bool]]:
    """The catalogue of exported functions, from their one definition: every
    Python bridge, the stubs and the CLI are derived from it."""

def default_socket_path() -> str:
    """The default IPC socket path, the one `Server(unix=None)` binds."""

@final
class Server:
    """A running oxbridge server (HTTP, IPC and gRPC on one tokio runtime)."""

    @property
    def http(self) -> list[str]: ...
    @property
    def grpc(self) -> list[str]: ...
    @property
    def unix(self) -> str | None: ...
    @property
    def running(self) -> bool: ...
    def __new__(
        cls,
        *,
        http: list[str] | None = None,
        grpc: list[str] | None = None,
        unix: str | None = None,
        max_request_bytes: int | None = None,
        idle_timeout: float | None = None,
        memory_budget: int | None = None,
        echo_unix: str | None = None,
        allow_remote: bool = False,
        token: str | None = None,
        allow_other_users: bool = False,
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> Server: ...
    def stop(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def __enter__(self) -> Server: ...
    def __exit__(
        self,
        t: type[BaseException] | None,
        v: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

def many(op: str, a: Any, b: Any, out: Any) -> None:
    """`out[:] = a <op> b` elementwise on complex128 arrays (or a complex `b`)."""
