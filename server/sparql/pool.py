"""A small pool of long-lived query worker processes, killed and replaced when a query overruns."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

# A fresh interpreter, not a fork of the threaded web process and not a re-import of its __main__.
WORKER_COMMAND = "import sys; from server.sparql.worker import run; run(int(sys.argv[1]))"
WATCH_INTERVAL = 0.2  # seconds between memory checks of a busy worker
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
JOBS_PER_WORKER = 500  # then the worker is replaced, so memory held by old queries comes back


class MemoryExceeded(Exception):
    """The worker's resident memory passed the limit while it ran a query."""

    def __init__(self, limit_kib: int):
        super().__init__(f"more than {limit_kib // 1024} MiB")
        self.limit_kib = limit_kib


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

    def receive(self, deadline: float, memory_limit_kib: int | None = None):
        """The next message; None when the deadline passes first.

        While waiting, the worker's resident memory is checked a few times a second, and
        `MemoryExceeded` raised when it passes the limit.
        """
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if self.conn.poll(min(remaining, WATCH_INTERVAL)):
                try:
                    return self.conn.recv()
                except (EOFError, OSError):
                    raise WorkerDied(f"query worker {self.pid} ended unexpectedly") from None
            if memory_limit_kib and (self.rss_kib() or 0) > memory_limit_kib:
                raise MemoryExceeded(memory_limit_kib)

    def rss_kib(self) -> int | None:
        """Resident memory of the worker process (Linux /proc), None if unknown."""
        try:
            with open(f"/proc/{self.pid}/statm") as statm:
                return int(statm.read().split()[1]) * PAGE_KIB
        except (OSError, ValueError, IndexError):
            return None

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
                # Last in line: it is still starting, the others are ready now.
                self._idle.insert(0, replacement)
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
