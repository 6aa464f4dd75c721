"""A small pool of long-lived query worker processes, killed and replaced when a query overruns."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

# A fresh interpreter, not a fork of the threaded web process and not a re-import of its __main__.
WORKER_COMMAND = "import sys; from server.sparql.worker import run; run(int(sys.argv[1]))"
JOBS_PER_WORKER = 500  # then the worker is replaced, so memory held by old queries comes back


class WorkerDied(Exception):
    """The worker process ended without answering (killed by the OS, crashed)."""


class Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self):
        parent, child = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER_COMMAND, str(child.fileno())],
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        child.close()
        self.conn = Connection(parent.detach())
        self.jobs = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def send(self, job) -> None:
        self.jobs += 1
        self.conn.send(job)

    def receive(self, deadline: float):
        """The next message, or None when the deadline passes first."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self.conn.poll(remaining):
            return None
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            raise WorkerDied(f"query worker {self.pid} ended unexpectedly") from None

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5)
        self.conn.close()


class QueryPool:
    """At most `size` workers; a query borrows one and gives it back, or has it killed."""

    def __init__(self, size: int):
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Worker] = []
        self._lock = threading.Lock()
        self.kills = 0

    def warm(self) -> None:
        """Start every worker now rather than on first use."""
        with self._lock:
            while len(self._idle) < self.size:
                self._idle.append(Worker())

    def acquire(self, timeout: float) -> Worker | None:
        if not self._slots.acquire(timeout=max(0.0, timeout)):
            return None
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        try:
            return Worker()
        except Exception:
            self._slots.release()
            raise

    def release(self, worker: Worker) -> None:
        """Give back a worker that finished its job cleanly."""
        if worker.jobs >= JOBS_PER_WORKER:
            self.discard(worker)
            return
        with self._lock:
            self._idle.append(worker)
        self._slots.release()

    def discard(self, worker: Worker) -> float:
        """Kill a worker (overrun, client gone, broken pipe) and start its replacement.

        Returns the seconds the kill took.
        """
        started = time.monotonic()
        worker.kill()
        took = time.monotonic() - started
        self.kills += 1
        log.warning("query worker %s killed in %.3f s", worker.pid, took)
        try:
            replacement = Worker()
        except Exception:
            log.exception("could not start a replacement query worker")
        else:
            with self._lock:
                self._idle.append(replacement)
        self._slots.release()
        return took

    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._idle if w.pid is not None]

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()
