"""The raw loopback round trip under the network bridges' batches.

``python -m oxbridge.bench.peer`` listens on a free loopback port, prints it,
and answers each request with no parsing and no computing: a 16-byte header
(the request's size and the reply's size, little-endian), then the request's
bytes are read and the reply's bytes written. It stops when its stdin closes.
The benchmark sends the bytes of a batch (two operands in) and reads the bytes
of its result back: the least any bridge can spend moving them.
"""

from __future__ import annotations

import socket
import struct
import threading

from .child import START_TIMEOUT, Child, until_stdin_closes

#: The request's size and the reply's size.
HEADER = struct.Struct("<QQ")


def _read_exact(conn: socket.socket, view: memoryview) -> bool:
    while view:
        got = conn.recv_into(view)
        if not got:
            return False
        view = view[got:]
    return True


def _answer(conn: socket.socket) -> None:
    head = bytearray(HEADER.size)
    sink = bytearray(1 << 20)
    reply = b""
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while _read_exact(conn, memoryview(head)):
            need, answer = HEADER.unpack(head)
            while need:
                got = conn.recv_into(sink, min(need, len(sink)))
                if not got:
                    return
                need -= got
            if len(reply) != answer:
                reply = bytes(answer)
            conn.sendall(reply)


def main() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    threading.Thread(target=until_stdin_closes, daemon=True).start()
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_answer, args=(conn,), daemon=True).start()


class RoundTrip:
    """A connection to a fresh peer process; calling it makes one round trip
    of ``request`` bytes out and ``reply`` bytes back."""

    def __init__(self, request: int, reply: int) -> None:
        self.peer = Child("oxbridge.bench.peer", "the round-trip peer")
        try:
            port = int(self.peer.line)
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=START_TIMEOUT)
        except BaseException:
            self.close()
            raise
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = HEADER.pack(request, reply) + bytes(request)
        self.reply = bytearray(reply)

    def __call__(self) -> None:
        self.sock.sendall(self.request)
        if not _read_exact(self.sock, memoryview(self.reply)):
            raise ConnectionError("the round-trip peer closed the connection")

    def close(self) -> None:
        """Stop the peer (closing its stdin), and kill it if it lingers."""
        sock = getattr(self, "sock", None)
        if sock is not None:
            sock.close()
        self.peer.close()


if __name__ == "__main__":
    main()
