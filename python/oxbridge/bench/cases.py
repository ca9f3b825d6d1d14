"""The benchmark's cases: each bridge's own client, the floor of its
transport, the articles' approach and Python's own operation."""

from __future__ import annotations

import ctypes
import importlib.util
import itertools
import json
import math
import operator
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import _native, bridges
from .._library import CALCULATOR
from ..bridges import _shared as shared_memory

if TYPE_CHECKING:
    from .._client import Client

NETWORK = ("ipc", "http", "grpc")
BATCH_SIZES = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
#: The sizes the small-batch targets are set at, and a larger one.
QUICK_BATCH_SIZES = (1, 1_000, 10_000)
#: The size of the large-batch targets (measured in a full run only).
LARGE = 1_000_000
THREADS = (1, 4, 16)


@dataclass
class Case:
    """One timed statement: ``stmt`` run in ``namespace``."""

    name: str
    group: str
    bridge: str | None
    kind: str
    stmt: str
    namespace: dict[str, Any]
    size: int | None = None
    #: Releases what the case holds (a peer process), after the run.
    close: Callable[[], None] | None = None


def article_ctypes_add() -> Callable[[complex, complex], Any]:
    """The article's ctypes client, as printed, over our library."""
    rust = ctypes.CDLL(CALCULATOR.path)

    class RustComplex(ctypes.Structure):
        _fields_ = (("re", ctypes.c_double), ("im", ctypes.c_double))

        def __init__(self, c: complex, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.re = c.real
            self.im = c.imag

    def compute(command: str, n1: complex, n2: complex) -> Any:
        rust.compute.restype = RustComplex
        return rust.compute(command.encode("UTF-8"), RustComplex(n1), RustComplex(n2))

    return lambda a, b: compute("add", a, b)


def naive_cffi_add() -> Callable[[complex, complex], complex]:
    """A naive ABI-mode cffi client of ``compute()``: its declaration as the
    header gives it, ``dlopen``, and the struct arguments passed by value."""
    import cffi  # noqa: PLC0415 - the benchmark's dependencies load when it runs

    ffi = cffi.FFI()
    ffi.cdef(
        "typedef struct { double re; double im; } OxbComplex;"
        "OxbComplex compute(const char *command, OxbComplex a, OxbComplex b);"
    )
    lib = ffi.dlopen(CALCULATOR.path)

    def add(n1: complex, n2: complex) -> complex:
        r = lib.compute(b"add", (n1.real, n1.imag), (n2.real, n2.imag))
        return complex(r.re, r.im)

    return add


def in_process_floors(chosen: list[str]) -> list[Case]:
    """A bare call through each in-process bridge: no conversion, no allocation."""
    a, b = 1 + 3j, -5j
    cases = []
    if "pyo3" in chosen:
        cases.append(
            Case(
                "pyo3 bare call",
                "add",
                "pyo3",
                "floor",
                "f(a, b)",
                {"f": _native.bare, "a": a, "b": b},
            )
        )
    if "ctypes" in chosen:
        lib = ctypes.PyDLL(CALCULATOR.path)
        fn = lib["oxb_add"]  # no argtypes: prebuilt ctypes objects go straight through
        args = [ctypes.c_double(x) for x in (1.0, 3.0, 0.0, -5.0)]
        out = (ctypes.c_double * 2)()
        cases.append(
            Case("ctypes bare call", "add", "ctypes", "floor", "f(w, x, y, z, out, None)",
                 {"f": fn, "w": args[0], "x": args[1], "y": args[2], "z": args[3], "out": out})
        )  # fmt: skip
    if "cffi" in chosen:
        from ..bridges import cffi as cffi_bridge  # noqa: PLC0415

        # In API mode where the extension has cffi's module compiled in.
        loaded = cffi_bridge.load(CALCULATOR)
        out_c = loaded.flat_ffi.new("double[2]")
        bare = getattr(loaded.flat_lib, f"{loaded.flat_prefix}add")
        cases.append(
            Case("cffi bare call", "add", "cffi", "floor", "f(1.0, 3.0, 0.0, -5.0, out, null)",
                 {"f": bare, "out": out_c, "null": loaded.ffi.NULL})
        )  # fmt: skip
    return cases


def ipc_baselines(where: Any) -> list[Case]:
    """The raw echo under the IPC bridge, and the article's IPC client."""

    from ..bridges import ipc  # noqa: PLC0415 - the benchmark's dependencies load when it runs

    request = b'{"command":"add","a":[1.0,3.0],"b":[-0.0,-5.0]}\n'
    echo = socket.socket(socket.AF_UNIX)
    echo.connect(where.echo)

    def article_ipc(n1: complex, n2: complex) -> Any:
        # The article's client (a connection per call), plus the read it lacked.
        with socket.socket(socket.AF_UNIX) as client:
            data = {"command": "add", "a": [n1.real, n1.imag], "b": [n2.real, n2.imag]}
            client.connect(where.unix)
            client.send(json.dumps(data).encode("UTF-8"))
            return json.loads(client.recv(4096))

    floor_ns = {"send": echo.sendall, "req": request, "read": ipc.read_line, "sock": _stream(echo)}
    return [
        Case("ipc raw echo", "add", "ipc", "floor", "send(req); read(sock, 0)", floor_ns),
        Case(
            "ipc article client",
            "add",
            "ipc",
            "article",
            "f(a, b)",
            {"f": article_ipc, "a": 1 + 3j, "b": -5j},
        ),
    ]


def _stream(sock: Any) -> Any:
    """``sock`` as the bridges' readers take it, with no deadline."""

    from ..bridges._socket import Stream  # noqa: PLC0415

    stream = Stream(sock, 3600.0)
    stream.deadline = math.inf
    return stream


def http_baselines(where: Any) -> list[Case]:
    """A raw keep-alive request under the HTTP bridge, and ``requests.post``
    (the article's client) when requests is installed."""
    from ..bridges import http  # noqa: PLC0415 - the benchmark's dependencies load when it runs

    host, port = where.http.rsplit(":", 1)
    raw = socket.create_connection((host, int(port)))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = b'{"a":[1.0,3.0],"b":[-0.0,-5.0]}'
    head = f"POST /add HTTP/1.1\r\nHost: {where.http}\r\nContent-Type: application/json\r\n"
    raw_request = head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body

    def article_http(n1: complex, n2: complex) -> complex:
        import requests  # noqa: PLC0415 - an optional dependency (oxbridge[bench])

        body = {"a": [n1.real, n1.imag], "b": [n2.real, n2.imag]}
        req = requests.post(f"http://{where.http}/add", json=body, timeout=10)
        result = req.json()["result"]
        return complex(float(result[0]), float(result[1]))

    floor_ns = {
        "send": raw.sendall, "req": raw_request, "read": http.read_response, "sock": _stream(raw)
    }  # fmt: skip
    cases = [
        Case("http raw keep-alive", "add", "http", "floor", "send(req); read(sock, 0)", floor_ns),
    ]
    if importlib.util.find_spec("requests") is not None:
        cases.append(Case("http article requests.post", "add", "http", "article", "f(a, b)",
                          {"f": article_http, "a": 1 + 3j, "b": -5j}))  # fmt: skip
    return cases


def grpc_baselines(where: Any) -> list[Case]:
    """Bare grpcio stubs with prebuilt requests, and the article's gRPC client."""
    import grpc as grpcio  # noqa: PLC0415 - the benchmark's dependencies load when it runs

    from .._proto import calculator_pb2 as pb  # noqa: PLC0415
    from .._proto import calculator_pb2_grpc as pb_grpc  # noqa: PLC0415
    from .._proto import greeter_service_pb2 as gpb  # noqa: PLC0415
    from .._proto import greeter_service_pb2_grpc as gpb_grpc  # noqa: PLC0415
    from ..bridges import grpc as grpc_bridge  # noqa: PLC0415

    size = grpc_bridge.MAX_MESSAGE
    options = [("grpc.max_receive_message_length", size), ("grpc.max_send_message_length", size)]
    channel = grpcio.insecure_channel(where.grpc, options=options)
    stub = pb_grpc.CalculatorStub(channel)  # type: ignore[no-untyped-call]
    prebuilt = pb.BinaryRequest(a=pb.Complex(re=1.0, im=3.0), b=pb.Complex(re=-0.0, im=-5.0))
    greeter = gpb_grpc.GreeterServiceStub(channel)  # type: ignore[no-untyped-call]
    greet_req = gpb.GreetRequest(greeting="Aloha", name="amigo")

    def article_grpc() -> str:
        # The article's client: a channel per call.
        with grpcio.insecure_channel(where.grpc) as ch:
            s = gpb_grpc.GreeterServiceStub(ch)  # type: ignore[no-untyped-call]
            request = gpb.GreetRequest(greeting="Aloha", name="amigo")
            message: str = s.Greet(request).message
            return message

    return [
        Case("grpc bare stub", "add", "grpc", "floor", "f(req)", {"f": stub.Add, "req": prebuilt}),
        Case("grpc bare greeter stub", "greet", "grpc", "floor", "f(req)",
             {"f": greeter.Greet, "req": greet_req}),
        Case("grpc article client", "greet", "grpc", "article", "f()", {"f": article_grpc}),
    ]  # fmt: skip


def network_floors_and_articles(chosen: list[str]) -> list[Case]:
    """Raw transports under each chosen network bridge, and the articles' clients."""
    from ..bridges import _embedded  # noqa: PLC0415 - the benchmark's dependencies load when it runs

    where = _embedded.addresses(CALCULATOR)
    makers = {"ipc": ipc_baselines, "http": http_baselines}
    if importlib.util.find_spec("grpc") is not None:
        makers["grpc"] = grpc_baselines
    return [case for name, make in makers.items() if name in chosen for case in make(where)]


def library_cases(chosen: list[str]) -> list[Case]:
    """A library loaded by the runtime (pystd, when it is installed) called on
    pyo3, beside CPython's own builtin of the same function (``math.gcd``):
    the PyO3 floor of a library."""
    if "pyo3" not in chosen or importlib.util.find_spec("pystd") is None:
        return []
    import pystd  # noqa: PLC0415 - an optional example library

    client: Any = bridges.connect("pyo3", library=pystd.LIBRARY)
    a, b = 1071, 462
    return [
        Case("python math.gcd", "gcd", None, "python", "f(a, b)",
             {"f": math.gcd, "a": a, "b": b}),
        Case("pyo3 library gcd", "gcd", "pyo3", "oxbridge", "f(a, b)",
             {"f": client.gcd, "a": a, "b": b}),
    ]  # fmt: skip


def scalar_cases(chosen: list[str]) -> list[Case]:
    """``add`` and ``greet`` on every chosen bridge, with every baseline."""
    a, b = 1 + 3j, -5j
    cases = [
        Case("python a+b", "add", None, "python", "a + b", {"a": a, "b": b}),
        Case("python operator.add", "add", None, "python", "f(a, b)",
             {"f": operator.add, "a": a, "b": b}),
    ]  # fmt: skip
    cases.append(
        Case(
            "python f-string", "greet", None, "python", 'f"{g}, {n}"', {"g": "Aloha", "n": "amigo"}
        )
    )
    for name in chosen:
        client = bridges.connect(name)
        cases.append(
            Case(
                f"{name} add", "add", name, "oxbridge", "f(a, b)", {"f": client.add, "a": a, "b": b}
            )
        )
        cases.append(
            Case(
                f"{name} greet",
                "greet",
                name,
                "oxbridge",
                "f(g, n)",
                {"f": client.greet, "g": "Aloha", "n": "amigo"},
            )
        )
    if {"ctypes", "cffi"} & set(chosen):
        cases.append(
            Case(
                "ctypes article wrapper",
                "add",
                "ctypes",
                "article",
                "f(a, b)",
                {"f": article_ctypes_add(), "a": a, "b": b},
            )
        )
    if "cffi" in chosen:
        cases.append(Case("cffi naive ABI compute()", "add", "cffi", "article", "f(a, b)",
                          {"f": naive_cffi_add(), "a": a, "b": b}))  # fmt: skip
    cases += in_process_floors(chosen)
    cases += library_cases(chosen)
    if set(NETWORK) & set(chosen):
        cases += network_floors_and_articles(chosen)
    return cases


def batch_cases(chosen: list[str], sizes: tuple[int, ...]) -> list[Case]:
    """``mul_many`` at every size on every chosen bridge, and numpy's ``a*b``."""
    import numpy as np  # noqa: PLC0415 - numpy is imported only where arrays are

    rng = np.random.default_rng(0)
    cases = []
    clients = {name: bridges.connect(name) for name in chosen}
    for n in sizes:
        a = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        b = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        cases.append(Case(f"numpy a*b @{n}", "batch", None, "python", "a * b", {"a": a, "b": b}, n))
        if n == LARGE and set(NETWORK[1:]) & set(chosen):
            cases.append(raw_round_trip(n))
        if n == LARGE and "ipc" in chosen and shared_memory.available():
            cases.append(shared_copy(a, b))
        if n == sizes[-1]:
            cases.append(
                Case(f"numpy a+b @{n}", "batch-add", None, "python", "a + b", {"a": a, "b": b}, n)
            )
        for name, client in clients.items():
            cases.append(
                Case(
                    f"{name} mul_many @{n}",
                    "batch",
                    name,
                    "oxbridge",
                    "f(a, b)",
                    {"f": client.mul_many, "a": a, "b": b},
                    n,
                )
            )
            if n == LARGE and name == "ipc" and shared_memory.available():
                cases.append(shared_operands(client, a, b))
            if n == sizes[-1]:
                cases.append(
                    Case(
                        f"{name} add_many @{n}",
                        "batch-add",
                        name,
                        "oxbridge",
                        "f(a, b)",
                        {"f": client.add_many, "a": a, "b": b},
                        n,
                    )
                )
    return cases


def raw_round_trip(n: int) -> Case:
    """The bytes of a batch of ``n`` (two complex operands out, one complex
    result back) over loopback TCP to a peer process that only moves them:
    the floor of the HTTP and gRPC batches."""
    from .peer import RoundTrip  # noqa: PLC0415

    trip = RoundTrip(request=32 * n, reply=16 * n)
    return Case(f"raw loopback round trip @{n}", "batch", None, "floor", "f()", {"f": trip}, n,
                close=trip.close)  # fmt: skip


def shared_operands(client: Client, a: Any, b: Any) -> Case:
    """The IPC batch on operands made with ``client.empty`` (so already in
    shared memory the server maps): the same call without the copy."""
    n = len(a)
    shared_a, shared_b = client.empty(n), client.empty(n)
    shared_a[:], shared_b[:] = a, b
    namespace = {"f": client.mul_many, "a": shared_a, "b": shared_b}
    name = f"ipc mul_many on shared arrays @{n}"
    return Case(name, "batch-shared", "ipc", "oxbridge", "f(a, b)", namespace, n)


def shared_copy(a: Any, b: Any) -> Case:
    """The copy of a batch's two operands into memory shared with another
    process, a piece at a time round a ring of slots (a ``memfd`` mapping,
    reused as the IPC client reuses its region; see ``bridges/_shared.py``):
    what an IPC batch in shared memory cannot avoid, its floor. The loop is
    Python's (about 2 µs a piece more than the client's native one)."""
    import mmap  # noqa: PLC0415
    import os  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415 - numpy is imported only where arrays are

    n = len(a)
    piece = shared_memory.piece_most(a.itemsize + b.itemsize)
    count = max(shared_memory.PIECES, -(-n // piece))
    bounds = [n * k // count for k in range(count + 1)]
    widest = max(hi - lo for lo, hi in itertools.pairwise(bounds))
    slots = min(shared_memory.RING, count)
    fd = os.memfd_create("oxbridge-bench", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, slots * widest * 32)
        region = np.frombuffer(mmap.mmap(fd, slots * widest * 32), dtype=np.complex128)
    finally:
        os.close(fd)
    ring = region.reshape(slots, 2, widest)
    pieces = [(ring[k % slots], lo, hi) for k, (lo, hi) in enumerate(itertools.pairwise(bounds))]

    def copy() -> None:
        for slot, lo, hi in pieces:
            np.copyto(slot[0, : hi - lo], a[lo:hi])
            np.copyto(slot[1, : hi - lo], b[lo:hi])

    copy()  # its pages faulted in, as a reused region's are
    namespace = {"f": copy, "region": region, "ring": ring, "bounds": bounds}
    return Case(f"shared-memory copy @{n}", "batch", None, "floor", "f()", namespace, n)


# --- measuring -----------------------------------------------------------------
