"""Type stubs for the PyO3 extension ``oxbridge._native`` (checked by stubtest)."""

__all__ = [  # noqa: RUF022 - the exported functions come first, generated
    # BEGIN exported functions (tools/gen_stubs.py)
    "abs",
    "add",
    "div",
    "greet",
    "mul",
    "pow",
    "sub",
    # END exported functions
    "ABI_VERSION",
    "CHECKSUM",
    "CONTRACT",
    "C_HEADER",
    "DEFAULT_GRPC_PORT",
    "DIRECT",
    "DEFAULT_HTTP_PORT",
    "LIBRARY",
    "LIBRARY_ABI_VERSION",
    "LIBRARY_VERSION",
    "PARALLEL_THRESHOLD",
    "ServeOptions",
    "Server",
    "__version__",
    "default_socket_path",
    "fast_many",
    "functions",
    "many",
    "parse_serve_args",
    "serve_environment",
    # BEGIN runtime only (tools/gen_stubs.py leaves it out of a library's stub)
    "COMPLEX_IN_PLACE",
    "GrpcChannel",
    "RUSTC_VERSION",
    "SIMD",
    "bare",
    "error_kinds",
    "load_library",
    "serve_anchors",
    "shared_call",
    # END runtime only
]

from collections.abc import Callable
from types import ModuleType, TracebackType
from typing import Any, final

__version__: str
ABI_VERSION: int
#: The version of the library ABI (`oxb_library`) the runtime loads.
LIBRARY_ABI_VERSION: int
C_HEADER: str
#: Where `serve` listens without --http / --grpc (and where clients look first).
DEFAULT_HTTP_PORT: int
DEFAULT_GRPC_PORT: int
LIBRARY: str
#: The version of the library's crate.
LIBRARY_VERSION: str
#: The checksum of the library's catalogue, 16 hex digits.
CHECKSUM: str
#: The library's contract, one line per function (what the checksum is of).
CONTRACT: str
#: The functions a loaded library's PyO3 bridge calls straight through their
#: own C symbols (scalars of a plain shape; see `direct.rs`).
DIRECT: tuple[str, ...]
#: Vectorized calls of at least this many elements are spread over the cores.
PARALLEL_THRESHOLD: int

# BEGIN runtime only
#: Whether `complex` arguments are read in place (their layout checked at import).
COMPLEX_IN_PLACE: bool
RUSTC_VERSION: str
#: The vector instructions batch kernels run with: "avx512f", "avx2" or
#: "baseline" (the widest the CPU has, capped by $OXBRIDGE_SIMD).
SIMD: str

def bare(a: object, b: object) -> object:
    """The cheapest PyO3 call with `add`'s shape: the benchmark's floor."""

def load_library(path: str, name: str) -> ModuleType:
    """Loads the library in the shared object at `path` and returns its module
    `name`; `ImportError` says why one cannot be loaded."""

def error_kinds() -> list[tuple[str, str, str, int, int, int]]:
    """The core's table of error kinds, one row per kind:
    `(name, python_class, python_base, http_status, grpc_code, c_status)`.
    `oxbridge.errors` builds its mapping from it."""

# END runtime only

# BEGIN exported functions (tools/gen_stubs.py)
def abs(z: complex) -> float:
    """`abs(z)`, exactly as Python computes it: a float; a finite `z` whose
    magnitude overflows raises."""

def add(a: complex, b: complex) -> complex:
    """`a + b`, exactly as Python computes it."""

def div(a: complex, b: complex) -> complex:
    """`a / b`, exactly as Python computes it; a zero divisor raises.

    Smith's algorithm, dividing through by the larger of the divisor's
    parts so that neither overflow nor underflow happens where the true
    quotient is representable."""

def greet(greeting: str, name: str) -> str:
    """`f"{greeting}, {name}"`, for any Unicode text (empty, NUL, emoji included)."""

def mul(a: complex, b: complex) -> complex:
    """`a * b`, exactly as Python computes it (the schoolbook formula, no rescaling)."""

def pow(a: complex, b: complex) -> complex:
    """`a ** b`, exactly as Python computes it for complex numbers.

    An integral real exponent up to 100 in size takes CPython's repeated
    squaring; any other exponent its polar formula. Zero to a negative or
    complex power raises, as does a result with an infinite part."""

def sub(a: complex, b: complex) -> complex:
    """`a - b`, exactly as Python computes it."""

# END exported functions

def functions() -> list[tuple[str, str, list[tuple[str, str]], str, str, list[str], bool]]:
    """The catalogue of the module's library, from its one definition: every
    Python bridge, the stubs and the CLI are derived from it."""

def fast_many(name: str, fallback: Callable[..., Any]) -> Callable[..., Any]:
    """``<name>_many`` as a built-in function: positional arguments ready as they
    are (1-D contiguous arrays of the parameter's dtype of one length, or a
    plain float or complex after the first) are computed into a new array at
    once; anything else goes to ``fallback(*args, **kwargs)``."""

# BEGIN runtime only
def serve_anchors() -> tuple[str, str]:
    """Serves the minimal axum handler and the minimal tonic service of `add`
    on free loopback ports, in a background thread that lives as long as the
    process: their `(http, grpc)` addresses (the benchmark's anchors)."""

# END runtime only

def default_socket_path() -> str:
    """The default IPC socket path, the one `serve` binds without `--unix`."""

@final
class ServeOptions:
    """A `serve` command line, parsed by the server's one definition of its options."""

    @property
    def json(self) -> bool: ...
    @property
    def watch_stdin(self) -> bool: ...
    @property
    def libraries(self) -> list[str]: ...
    @property
    def tls(self) -> bool: ...

def serve_environment(env_prefix: str) -> dict[str, str]:
    """Every server option's environment variable, by the option's long name."""

def parse_serve_args(
    prog: str, env_prefix: str, args: list[str]
) -> tuple[ServeOptions | None, str, int]: ...

# BEGIN runtime only
def shared_call(
    fd: int,
    seconds: float,
    region: Any,
    region_id: int,
    name: str,
    columns: list[tuple[Any, int, bool, int, int]],
    bounds: list[int],
    ring: tuple[int, int],
    out_at: int,
    out_size: int,
    spins: int,
    max_body: int,
) -> list[bytes]:
    """Copies a shared-memory call's operands into `region` (the server's
    region `region_id`) a piece at a time, round a ring of slots, sending
    each piece's call message on the socket `fd` (the IPC bridge's), and
    returns each piece's reply; an operand already in another of the
    server's regions is named there, not copied."""

# END runtime only

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
    def metrics(self) -> str | None: ...
    @property
    def running(self) -> bool: ...
    def __new__(cls, options: ServeOptions, libraries: list[ModuleType] = ...) -> Server: ...
    def stop(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def __enter__(self) -> Server: ...
    def __exit__(
        self,
        t: type[BaseException] | None,
        v: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

# BEGIN runtime only
@final
class GrpcChannel:
    """A gRPC client's connection to one server, or round-robin to several."""

    def __new__(
        cls,
        servers: list[tuple[str, int]],
        target: str,
        *,
        ca: bytes | None = None,
        token: str | None = None,
        health_service: str | None = None,
        max_message: int = 67108864,
        lane: int = 0,
    ) -> GrpcChannel: ...
    def call(self, path: str, request: bytes, timeout: float) -> bytes: ...
    def call_many(
        self,
        path: str,
        parts: list[bytes | memoryview],
        out: memoryview,
        timeout: float,
    ) -> bytes | None: ...
    def submit(self, path: str, request: bytes, timeout: float) -> int: ...
    def completed(self) -> list[tuple[int, bytes | BaseException]]: ...
    def cancel(self, id: int) -> None: ...
    def wake_fd(self) -> int: ...
    def close(self) -> None: ...

# END runtime only

def many(function: str, args: tuple[Any, ...], out: Any) -> None:
    """`out[:] = function(*args)` elementwise, for an exported numeric function:
    each argument a 1-D array of its parameter's element type or one scalar of
    it. The Python layer (`oxbridge._arrays`) converts the arguments and
    allocates `out`."""
