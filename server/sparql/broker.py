"""The query broker: one process that owns the query workers and their fair share for every web
process of a server, so that adding web processes neither splits nor multiplies a client's limits.

A web process asks the broker for a worker for a client; the broker queues the request fairly
(`share.FairShare`) and, when it is the client's turn, passes the worker's end of its pipe to the
web process (SCM_RIGHTS over a Unix socket). The web process sends the job and reads the answer
straight from the worker, as with its own pool, then says whether the worker came back clean; the
broker kills and replaces it otherwise. A web process that dies while it holds a worker closes its
connection, and the broker kills that worker. The socket lives in a private directory (0700).

Messages are JSON arrays, one per SOCK_SEQPACKET record: data only, so a process that reaches the
socket can send the broker nothing but these requests (never code to run, as unpickling allowed):
  web -> broker: ["lease", client, timeout] | ["back", clean] | ["status"] | ["ping"]
  broker -> web: ["leased", pid, usage] + the worker's fd | ["refused", status, message, headers]
                 | ["preempted", retry_after] | ["status", dict] | ["pong"]
A record that is not one of the web process's messages ends its connection.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import select
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from treatygraph.core.config import Config

from .pool import WorkerEnd
from .queries import Lease, LocalQueries
from .share import PREEMPTED_RETRY_AFTER, Cancelled, Refused, Usage

log = logging.getLogger(__name__)

ENV = "TREATYGRAPH_QUERY_BROKER"
MESSAGE_BYTES = 64 * 1024
WAIT_SLICE = 0.2  # seconds between checks that the client is still there while it waits its turn


class BadMessage(Exception):
    """A record on the broker's socket that is not one of its messages."""


def encode(*message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def decode(data: bytes) -> list:
    """A web process's message, checked field by field; `BadMessage` for anything else."""
    try:
        message = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise BadMessage(f"not a JSON message ({err})") from None
    if not isinstance(message, list) or not message or message[0] not in _SHAPES:
        raise BadMessage(f"unknown message {str(message)[:80]!r}")
    fields = _SHAPES[message[0]]
    if len(message) != 1 + len(fields) or not all(
        isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        for value, kind in zip(message[1:], fields, strict=True)
    ):
        raise BadMessage(f"malformed {message[0]!r} message")
    return message


# What each message of a web process carries after its name.
_SHAPES: dict[str, tuple] = {
    "lease": (str, (int, float)),
    "back": (bool,),
    "status": (),
    "ping": (),
}


def _closed(sock: socket.socket) -> bool:
    """Whether the peer has closed `sock` (readable with nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class Broker:
    """The broker's side: a listening socket, and a thread per connected web-process thread."""

    def __init__(self, config: Config, path: Path):
        self.queries = LocalQueries(config)
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(str(path))
        self.listener.listen(256)

    def serve_forever(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        lease: Lease | None = None
        try:
            while True:
                data = conn.recv(MESSAGE_BYTES)
                if not data:
                    return
                message = decode(data)
                if message[0] == "lease":
                    lease = self._lease(conn, message[1], message[2])
                    if lease is None and _closed(conn):
                        return
                elif message[0] == "back" and lease is not None:
                    self.queries.give_back(lease, clean=message[1])
                    lease = None
                elif message[0] == "status":
                    conn.send(encode("status", self.queries.status()))
                elif message[0] == "ping":
                    conn.send(encode("pong"))
        except BadMessage as err:
            log.warning("query broker: connection dropped: %s", err)
        except OSError:
            pass
        finally:
            if lease is not None:  # the web process went away holding it: state unknown
                self.queries.give_back(lease, clean=False)
            conn.close()

    def _lease(self, conn: socket.socket, client: str, timeout: float) -> Lease | None:
        try:
            lease = self.queries.lease(client, timeout, cancelled=lambda: _closed(conn))
        except Refused as refusal:
            conn.send(encode("refused", refusal.status, refusal.message, refusal.headers))
            return None
        except Cancelled:
            return None
        try:
            socket.send_fds(
                conn,
                [encode("leased", lease.worker.pid, dataclasses.asdict(lease.usage))],
                [lease.worker.conn.fileno()],
            )
        except OSError:
            self.queries.give_back(lease, clean=True)  # it never got a job
            raise

        def tell() -> None:
            with contextlib.suppress(OSError):
                conn.send(encode("preempted", PREEMPTED_RETRY_AFTER), socket.MSG_DONTWAIT)

        self.queries.share.when_stopped(lease.grant, tell)
        return lease

    def close(self) -> None:
        self.listener.close()
        self.queries.close()


class BrokerQueries:
    """The web process's side: the same calls as `LocalQueries`, answered by the broker.

    Each lease lives on a connection of its own, taken from a pool of idle ones (threads and
    greenlets alike) and given back with the worker.
    """

    def __init__(self, path: str):
        self.path = path
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()

    def _connection(self) -> socket.socket:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            sock.connect(self.path)
        except OSError as err:
            sock.close()
            raise self._down(err) from None
        return sock

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            self._idle.append(sock)

    def _down(self, err: Exception) -> Refused:
        log.error("query broker at %s unreachable: %s", self.path, err)
        return Refused(
            503,
            f"the query broker of this server is not answering ({err}); try again shortly",
            retry_after=10,
        )

    def _ask(self, sock: socket.socket, message: tuple, cancelled=lambda: False):
        """Send a message and wait for the answer; the connection is closed on any failure."""
        try:
            sock.send(encode(*message))
            while not select.select([sock], [], [], WAIT_SLICE)[0]:
                if cancelled():
                    sock.close()  # the broker sees the connection close and forgets the request
                    raise Cancelled()
            reply = None
            while reply is None or reply[0] == "preempted":  # late, for a query already back
                data, fds, _, _ = socket.recv_fds(sock, MESSAGE_BYTES, 1)
                if not data:
                    raise ConnectionResetError("connection closed")
                reply = json.loads(data)
        except OSError as err:
            sock.close()
            raise self._down(err) from None
        return reply, fds

    def lease(
        self, client: str, timeout: float, cancelled: Callable[[], bool] = lambda: False
    ) -> Lease:
        sock = self._connection()
        reply, fds = self._ask(sock, ("lease", client, timeout), cancelled)
        if reply[0] == "refused":
            self._keep(sock)
            refusal = Refused(reply[1], reply[2])
            refusal.headers = reply[3]
            raise refusal
        _, pid, usage = reply
        return Lease(WorkerEnd(Connection(fds[0]), pid), Usage(**usage), broker_connection=sock)

    def preempted(self, lease: Lease) -> bool:
        """Whether the broker said the lease's query is to stop for a light client."""
        sock = lease.broker_connection
        if not lease.preempted and select.select([sock], [], [], 0)[0]:
            with contextlib.suppress(OSError):
                data = sock.recv(MESSAGE_BYTES, socket.MSG_DONTWAIT)
                lease.preempted = bool(data) and json.loads(data)[0] == "preempted"
        return lease.preempted

    def give_back(self, lease: Lease, clean: bool) -> None:
        lease.worker.conn.close()
        sock = lease.broker_connection
        try:
            sock.send(encode("back", clean))
        except OSError:
            sock.close()  # closing the connection gives the worker back too (as not clean)
            return
        self._keep(sock)

    def status(self) -> dict:
        sock = self._connection()
        reply, _ = self._ask(sock, ("status",))
        self._keep(sock)
        return reply[1]

    def check(self) -> None:
        """`Refused` (503) unless the broker answers."""
        sock = self._connection()
        self._ask(sock, ("ping",))
        self._keep(sock)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()


def start(timeout: float = 60.0) -> str:
    """Start a broker for a server about to take over this process; the path of its socket.

    The broker reads the server's configuration from the environment and lives as long as any
    process holds its lifeline: the write end of a pipe left open (and inheritable) here, so the
    server's processes hold it after exec and fork, and the broker never outlives them.
    """
    import subprocess

    folder = tempfile.mkdtemp(prefix="treatygraph-broker-")  # 0700: only this user may connect
    path = os.path.join(folder, "socket")
    lifeline_read, lifeline_write = os.pipe()
    ready_read, ready_write = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "server.sparql.broker", path, str(lifeline_read), str(ready_write)],
        pass_fds=[lifeline_read, ready_write],
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # a signal to the server's group reaches it through the lifeline
    )
    os.close(lifeline_read)
    os.close(ready_write)
    with os.fdopen(ready_read, "rb") as ready:
        said = ready.readline() if select.select([ready], [], [], timeout)[0] else b""
    if said != b"ready\n":
        process.kill()
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"the query broker did not start (exit status {process.poll()})")
    os.set_inheritable(lifeline_write, True)
    return path


def main(argv: list[str]) -> None:
    """`python -m server.sparql.broker SOCKET LIFELINE_FD READY_FD`."""
    path, lifeline, ready = Path(argv[0]), int(argv[1]), int(argv[2])
    config = Config.from_env()
    broker = Broker(config, path)
    broker.queries.warm()
    os.write(ready, b"ready\n")
    os.close(ready)

    threading.Thread(target=broker.serve_forever, daemon=True).start()
    with contextlib.suppress(OSError):
        while os.read(lifeline, 1):
            pass
    broker.close()
    shutil.rmtree(path.parent, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
