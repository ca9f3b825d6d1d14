"""Hostile and broken input on every network bridge.

Each case is sent over a raw connection. It must get a clear error (a status
or error kind, and a message) or a clean close, never a hang; and after each
case the server must still answer a valid request. A client's mistake is
logged at WARN at most, except a limit being hit, which the server names.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import time
from collections.abc import Iterator

import grpc
import oxbridge
import pytest

from .servers import Served, serving

LIMIT = 1 << 20  # a 1 MiB request limit makes "oversized" cheap to send
IDLE = 1.0
VALID_IPC = b'{"command":"add","a":[1,3],"b":[0,-5]}'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("bad")
    args = ["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--unix", str(tmp / "ox.sock"),
            "--max-request-bytes", str(LIMIT), "--idle-timeout", str(IDLE)]  # fmt: skip
    with serving(*args, env={"RUST_LOG": "info"}) as s:
        yield s
        s.stop()
        assert s.process.stderr is not None
        log = s.process.stderr.read().decode(errors="replace")
        # Client mistakes are not errors of ours.
        assert " ERROR " not in log, log[-2000:]


def exchange(sock: socket.socket, payload: bytes, *, shut: bool = True, wait: float = 3.0) -> bytes:
    """Send, optionally half-close, and read until the server closes or goes quiet."""
    sock.settimeout(wait)
    if payload:
        sock.sendall(payload)
    if shut:
        sock.shutdown(socket.SHUT_WR)
    out = bytearray()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
        if not shut and out.endswith(b"\n"):
            break
    return bytes(out)


def still_serving(s: Served) -> None:
    assert s.unix is not None
    assert oxbridge.connect(f"unix://{s.unix}", timeout=5).add(1, 2) == 3
    assert oxbridge.connect(f"http://{s.http[0]}", timeout=5).add(1, 2) == 3
    assert oxbridge.connect(f"grpc://{s.grpc[0]}", timeout=5).add(1, 2) == 3


def frame(
    op: int, flags: int, a_len: int, b_len: int, payload: bytes = b"", magic: bytes = b"OXB\x01"
) -> bytes:
    return struct.pack("<4sBBxxQQQ", magic, op, flags, 0, a_len, b_len) + payload


rng = random.Random(20261121)
RANDOM = [bytes(rng.randrange(256) for _ in range(n)) for n in (1, 7, 64, 4096)]

# --- IPC -------------------------------------------------------------------------

IPC_CASES: list[tuple[str, bytes]] = [
    ("truncated-object", b'{"command":"add","a":[1,'),
    ("missing-operands", b'{"command":"add"}'),
    ("missing-b", b'{"command":"add","a":[1,2]}'),
    ("short-pair", b'{"command":"add","a":[1],"b":[1,2]}'),
    ("long-pair", b'{"command":"add","a":[1,2,3],"b":[1,2]}'),
    ("string-operand", b'{"command":"add","a":"x","b":[1,2]}'),
    ("object-operand", b'{"command":"add","a":{"re":1},"b":[1,2]}'),
    ("bool-parts", b'{"command":"add","a":[true,false],"b":[1,2]}'),
    ("null-part", b'{"command":"add","a":[null,1],"b":[1,2]}'),
    ("unknown-command", b'{"command":"pow","a":[1,2],"b":[1,2]}'),
    ("numeric-command", b'{"command":5}'),
    ("no-command", b"{}"),
    ("array-request", b"[1,2,3]"),
    ("empty-array", b"[]"),
    ("greet-number", b'{"command":"greet","greeting":1,"name":"x"}'),
    ("greet-missing-name", b'{"command":"greet","greeting":"hi"}'),
    ("greet-lone-surrogate", b'{"command":"greet","greeting":"\\ud800","name":"x"}'),
    ("invalid-utf8", b'{"command":"greet","greeting":"\xff\xfe","name":"x"}'),
    ("nan-literal", b'{"command":"add","a":[NaN,1],"b":[1,2]}'),
    ("out-of-range", b'{"command":"add","a":[1e999,1],"b":[1,2]}'),
    ("bad-non-finite-word", b'{"command":"add","a":["infinity!",0],"b":[1,2]}'),
    ("non-finite-ok", b'{"command":"add","a":["inf","nan"],"b":["-inf",0]}'),
    ("extra-fields-ok", b'{"command":"add","a":[1,2],"b":[1,2],"x":{"y":[1,{}]}}'),
    ("escapes-ok", b'{"command":"greet","greeting":"a\\"b","name":"\\\\\\u0000"}'),
    ("plain-text", b"hello there\n"),
    ("bom", b'\xef\xbb\xbf{"command":"health"}'),
    ("deep-nesting", b"[" * 5000 + b"]" * 5000),
    ("oversized-json", b'{"command":"greet","greeting":"' + b"a" * (LIMIT + 10) + b'","name":"x"}'),
    ("whitespace-only", b" \n\t\r\n "),
    ("valid-then-garbage", VALID_IPC + b"}{"),
    ("unclosed-then-close", b'{"command":"add","a":[1,2],"b":[1,2]'),
    ("frame-bad-magic", frame(0, 0, 0, 0, magic=b"OXZ\x01")),
    ("frame-truncated-header", b"OXB\x01\x00"),
    ("frame-truncated-payload", frame(0, 0, 10, 10, b"\x00" * 50)),
    ("frame-huge-claim", frame(0, 0, 1 << 60, 1 << 60)),
    ("frame-over-limit", frame(0, 0, LIMIT // 16, 0)),
    ("frame-unknown-op", frame(9, 0, 1, 1, b"\x00" * 32)),
    ("frame-scalar-two", frame(0, 1, 1, 2, b"\x00" * 48)),
    ("frame-length-mismatch", frame(0, 0, 2, 1, b"\x00" * 48)),
    ("frame-zero-divisor", frame(3, 0, 1, 1, struct.pack("<4d", 1, 1, 0, 0))),
    ("frame-then-json", frame(0, 0, 0, 0) + VALID_IPC),
    ("nothing", b""),
    *[(f"random-{len(r)}", r) for r in RANDOM],
]


@pytest.mark.parametrize(("name", "payload"), IPC_CASES, ids=[c[0] for c in IPC_CASES])
def test_ipc_bad_input(server: Served, name: str, payload: bytes) -> None:
    assert server.unix is not None
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(server.unix)
        reply = exchange(sock, payload)
    for line in filter(None, reply.split(b"\n")):
        if line.startswith(b"OXB"):
            continue  # a binary reply frame (error frames are checked below)
        doc = json.loads(line)
        assert (
            "result" in doc
            or "message" in doc
            or "status" in doc
            or (doc["error"]["kind"] and doc["error"]["message"])
        ), doc
    if name.startswith("frame-") and reply.startswith(b"OXB\x01"):
        status, length = struct.unpack("<BxxxQ", reply[4:16])
        if status:
            err = json.loads(reply[16 : 16 + length])
            assert err["kind"]
            assert err["message"]
    still_serving(server)


def test_ipc_idle_connections_are_closed_and_do_not_block_others(server: Served) -> None:
    assert server.unix is not None
    idle = [socket.socket(socket.AF_UNIX) for _ in range(50)]
    try:
        for s in idle:
            s.connect(server.unix)
        still_serving(server)
        time.sleep(IDLE + 0.5)
        for s in idle[:5]:
            s.settimeout(2)
            assert s.recv(10) == b""  # closed by the server's idle timeout
    finally:
        for s in idle:
            s.close()


def test_ipc_client_dies_mid_request(server: Served) -> None:
    assert server.unix is not None
    for _ in range(5):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(server.unix)
            s.sendall(frame(2, 0, 1000, 1000, b"\x00" * 5000))  # then vanish
    still_serving(server)


# --- HTTP ------------------------------------------------------------------------


def post(path: str, body: bytes, ctype: str = "application/json", extra: str = "") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


HTTP_CASES: list[tuple[str, bytes]] = [
    ("malformed-json", post("/add", b"{not json")),
    ("empty-body", post("/add", b"")),
    ("missing-fields", post("/add", b'{"a":[1,2]}')),
    ("wrong-types", post("/add", b'{"a":"x","b":[1,2]}')),
    ("short-pair", post("/mul", b'{"a":[1],"b":[1,2]}')),
    ("nan-literal", post("/add", b'{"a":[NaN,1],"b":[1,2]}')),
    ("out-of-range", post("/add", b'{"a":[1e999,1],"b":[1,2]}')),
    ("non-finite-ok", post("/add", b'{"a":["inf","nan"],"b":["-inf",0]}')),
    ("zero-division", post("/div", b'{"a":[1,2],"b":[0,0]}')),
    ("greet-number", post("/greet", b'{"greeting":1,"name":"x"}')),
    ("greet-surrogate", post("/greet", b'{"greeting":"\\udc00","name":"x"}')),
    ("invalid-utf8", post("/greet", b'{"greeting":"\xff","name":"x"}')),
    ("array-body", post("/add", b"[1,2]")),
    ("deep-nesting", post("/add", b"[" * 5000 + b"]" * 5000)),
    ("text-plain-ok", post("/add", b'{"a":[1,2],"b":[1,2]}', "text/plain")),
    ("query-ok", post("/add?x=1", b'{"a":[1,2],"b":[1,2]}')),
    ("unknown-path", post("/pow", b"{}")),
    ("traversal", post("/../add", b"{}")),
    ("get-add", b"GET /add HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("put-greet", b"PUT /greet HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
    ("delete-root", b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("odd-method", b"FROB /add HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("oversized-body", post("/greet", b'{"greeting":"' + b"a" * (LIMIT + 10) + b'","name":"x"}')),
    ("oversized-claim", b"POST /add HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{}"),
    ("truncated-body", b'POST /add HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":'),
    ("bad-content-length", b"POST /add HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n{}"),
    (
        "bad-chunk",
        b"POST /add HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nabc\r\n0\r\n\r\n",
    ),
    ("huge-header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"),
    ("long-url", b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("garbage-request-line", b"\x00\x01\x02 / HTTP/9.9\r\n\r\n"),
    ("http10-no-host", b"GET /healthz HTTP/1.0\r\n\r\n"),
    ("expect-continue", post("/add", b'{"a":[1,2],"b":[1,2]}', extra="Expect: 100-continue\r\n")),
    ("pipelined", post("/add", b'{"a":[1,2],"b":[1,2]}') * 3),
    ("batch-not-a-frame", post("/batch", b"hello", "application/octet-stream")),
    (
        "batch-truncated",
        post("/batch", frame(0, 0, 4, 4, b"\x00" * 10), "application/octet-stream"),
    ),
    ("batch-huge-claim", post("/batch", frame(0, 0, 1 << 60, 0), "application/octet-stream")),
    (
        "batch-unknown-op",
        post("/batch", frame(7, 0, 1, 1, b"\x00" * 32), "application/octet-stream"),
    ),
    (
        "batch-zero-divisor",
        post(
            "/batch", frame(3, 0, 1, 1, struct.pack("<4d", 1, 1, 0, 0)), "application/octet-stream"
        ),
    ),
    ("tls-hello-on-plain", bytes.fromhex("160301002a010000260303") + b"\x00" * 40),
    ("nothing", b""),
    *[(f"random-{len(r)}", r) for r in RANDOM],
]


@pytest.mark.parametrize(("name", "payload"), HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_http_bad_input(server: Served, name: str, payload: bytes) -> None:
    host, port = server.http[0].rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        reply = exchange(sock, payload)
    if reply:
        status_line = reply.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1."), reply[:200]
        status = int(status_line.split()[1])
        if status >= 400 and b"application/problem+json" in reply.split(b"\r\n\r\n")[0]:
            doc = json.loads(reply.split(b"\r\n\r\n", 1)[1].split(b"HTTP/1.1")[0])
            assert doc["kind"]
            assert doc["detail"]
            assert doc["status"] == status
        assert status < 500 or status == 505, reply[:300]
    still_serving(server)


def test_http_idle_connections_and_dying_clients(server: Served) -> None:
    host, port = server.http[0].rsplit(":", 1)
    idle = [socket.create_connection((host, int(port))) for _ in range(50)]
    try:
        still_serving(server)
        for _ in range(5):
            with socket.create_connection((host, int(port))) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.sendall(b'POST /add HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"a"')
        still_serving(server)
    finally:
        for s in idle:
            s.close()


# --- gRPC ------------------------------------------------------------------------

METHODS = ["Add", "Sub", "Mul", "Div", "Greet", "Batch", "Version"]


def grpc_cases() -> list[tuple[str, str, bytes]]:
    cases = []
    for method in METHODS:
        for label, body in [
            ("random", RANDOM[2]),
            ("truncated", b"\x0a\x05\x09\x00"),
            ("wrong-wire-type", b"\x08\x01\x10\x02"),
        ]:
            cases.append((f"{method}-{label}", f"/oxbridge.v1.Calculator/{method}", body))
    complex_ab = b"\x0a\x12\x09" + struct.pack("<d", 1) + b"\x11" + struct.pack("<d", 2)
    cases += [
        ("add-empty", "/oxbridge.v1.Calculator/Add", b""),
        ("add-only-a", "/oxbridge.v1.Calculator/Add", complex_ab),
        ("div-by-zero", "/oxbridge.v1.Calculator/Div", complex_ab + b"\x12\x00"),
        ("greet-invalid-utf8", "/oxbridge.v1.Calculator/Greet", b"\x0a\x02\xff\xfe\x12\x01x"),
        ("batch-odd-bytes", "/oxbridge.v1.Calculator/Batch", b"\x12\x03abc"),
        ("batch-bad-op", "/oxbridge.v1.Calculator/Batch", b"\x08\x63"),
        ("batch-scalar-empty", "/oxbridge.v1.Calculator/Batch", b"\x20\x01"),
        ("batch-mismatch", "/oxbridge.v1.Calculator/Batch", b"\x12\x10" + b"\x00" * 16),
        (
            "batch-over-limit",
            "/oxbridge.v1.Calculator/Batch",
            b"\x12" + b"\x80\x80\x40" + b"\x00" * (1 << 20),
        ),
        ("article-greet-invalid-utf8", "/greeter_service.GreeterService/Greet", b"\x0a\x01\xff"),
        ("unknown-method", "/oxbridge.v1.Calculator/Pow", b""),
        ("unknown-service", "/nope.v1.Nope/Call", b""),
        ("health-unknown-service", "/grpc.health.v1.Health/Check", b"\x0a\x04nope"),
    ]
    return cases


GRPC_CASES = grpc_cases()


@pytest.mark.parametrize(("name", "path", "body"), GRPC_CASES, ids=[c[0] for c in GRPC_CASES])
def test_grpc_bad_input(server: Served, name: str, path: str, body: bytes) -> None:
    with grpc.insecure_channel(
        server.grpc[0], options=[("grpc.max_send_message_length", 4 << 20)]
    ) as channel:
        call = channel.unary_unary(path)
        failure: grpc.RpcError | None = None
        try:
            call(body, timeout=5)
        except grpc.RpcError as e:
            failure = e
        if failure is not None:
            # A clear refusal: a status and a message, never a timeout or a dead server.
            assert failure.code() not in (
                grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.UNAVAILABLE,
            ), name
            assert failure.details(), name
    still_serving(server)


@pytest.mark.parametrize(
    "payload",
    [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", *RANDOM, b""],
    ids=["http1", *[f"random-{len(r)}" for r in RANDOM], "nothing"],
)
def test_grpc_port_survives_non_grpc_bytes(server: Served, payload: bytes) -> None:
    host, port = server.grpc[0].rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        exchange(sock, payload)
    still_serving(server)


def test_grpc_idle_connections(server: Served) -> None:
    host, port = server.grpc[0].rsplit(":", 1)
    idle = [socket.create_connection((host, int(port))) for _ in range(50)]
    try:
        still_serving(server)
    finally:
        for s in idle:
            s.close()


def test_every_bridge_has_forty_bad_input_cases() -> None:
    assert len(IPC_CASES) >= 40
    assert len(HTTP_CASES) >= 40
    assert len(GRPC_CASES) + len(RANDOM) + 2 >= 40
