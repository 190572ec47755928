"""Counting what a server asks of PostgreSQL, from the wire: a loopback relay between the
server and PostgreSQL that reads the protocol as it passes.

- statements: the client's simple queries (``Q``) and extended-protocol executions
  (``E``), transaction control (``BEGIN``, ``COMMIT``, ``ROLLBACK`` sent as simple
  queries) counted apart;
- round trips: the server's ``ReadyForQuery`` (``Z``) messages, one per exchange the
  client has to wait for, less the one that ends each connection's start-up;
- which statements: each execution's SQL text (from the ``Parse`` of the statement its
  ``Bind`` names), counted by text, so a report can say where the round trips go.

The same count for every candidate, whatever its driver or ORM: pool pings, implicit
``BEGIN``s and ``COMMIT``s included. The relay adds latency, so bench/web_bench.py uses it
in a counting stage of its own, never while timing. Connect with ``sslmode=disable`` and
``gssencmode=disable`` (see :func:`relayed_url`): the relay reads plain messages.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter

from sqlalchemy.engine import make_url

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


class WireCounter:
    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.statements = self.control = self.round_trips = self.connections = 0
        self.texts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def counts(self) -> tuple[int, int, int]:
        """(statements, transaction control statements, round trips) so far."""
        with self._lock:
            return self.statements, self.control, self.round_trips - self.connections

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
            reader = _ClientReader(self)
            threading.Thread(target=self._pump, args=(client, server, reader.message, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, self._server_message, False),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, count, untyped_first: bool) -> None:
        buffer = b""
        untyped = untyped_first  # the client's start-up message has no type byte
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
                buffer += chunk
                while True:
                    if untyped:
                        if len(buffer) < 4 or len(buffer) < int.from_bytes(buffer[:4], "big"):
                            break
                        buffer, untyped = buffer[int.from_bytes(buffer[:4], "big"):], False
                        continue
                    if len(buffer) < 5:
                        break
                    end = 1 + int.from_bytes(buffer[1:5], "big")
                    if len(buffer) < end:
                        break
                    count(buffer[:1], buffer[5:end])
                    buffer = buffer[end:]
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def executed(self, text: str) -> None:
        with self._lock:
            if text.lstrip().upper().startswith(CONTROL):
                self.control += 1
            else:
                self.statements += 1
                self.texts[" ".join(text.split())[:160]] += 1

    def _server_message(self, kind: bytes, _body: bytes) -> None:
        if kind == b"Z":
            with self._lock:
                self.round_trips += 1

    def close(self) -> None:
        self._listener.close()


class _ClientReader:
    """One connection's client messages: which SQL each execution runs."""

    def __init__(self, counter: WireCounter):
        self.counter = counter
        self.prepared: dict[bytes, str] = {}  # statement name → SQL ("" the unnamed one)
        self.bound = ""

    def message(self, kind: bytes, body: bytes) -> None:
        if kind == b"Q":
            self.counter.executed(body.rstrip(b"\0").decode(errors="replace"))
        elif kind == b"P":
            name, _, rest = body.partition(b"\0")
            self.prepared[name] = rest.partition(b"\0")[0].decode(errors="replace")
        elif kind == b"B":
            statement = body.partition(b"\0")[2].partition(b"\0")[0]
            self.bound = self.prepared.get(statement, "?")
        elif kind == b"E":
            self.counter.executed(self.bound)


def relayed_url(url: str, counter: WireCounter) -> str:
    """``url`` (postgresql://…) pointed at the relay, in plain text."""
    parsed = make_url(url).set(host="127.0.0.1", port=counter.port)
    parsed = parsed.update_query_dict({"sslmode": "disable", "gssencmode": "disable"})
    return parsed.render_as_string(hide_password=False)
