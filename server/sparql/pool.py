"""A small pool of long-lived query worker processes, killed and replaced when a query overruns.

A worker is handed out only once it has started (a fresh interpreter takes a few tenths of a
second to import), and one retired for its age or memory keeps serving until its replacement is
ready, so no query waits for a worker to start unless one was just killed.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

# A fresh interpreter, not a fork of the threaded web process and not a re-import of its __main__.
WORKER_COMMAND = "import sys; from server.sparql.worker import run; run(int(sys.argv[1]))"
WATCH_INTERVAL = 0.2  # seconds between memory checks of a busy worker
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
# A worker is replaced after this many jobs, or sooner when its memory has grown this much since its
# first job, so memory held by old queries comes back.
JOBS_PER_WORKER = 20_000
GROWTH_KIB = 256 * 1024
MEMORY_CHECK_JOBS = 16  # memory is read after the first job, then every this many
START_TIMEOUT = 60.0  # seconds a new worker may take to say it is ready
RELAY_WATCH_INTERVAL = 0.01  # seconds between looks at a relayed request and its worker


class MemoryExceeded(Exception):
    """The worker's resident memory passed the limit while it ran a query."""

    def __init__(self, limit_kib: int):
        super().__init__(f"more than {limit_kib // 1024} MiB")
        self.limit_kib = limit_kib


class ClientGone(Exception):
    """The client closed its connection while its query ran."""


class Preempted(Exception):
    """The fair share stopped the query so that a light client's could start."""


class WorkerDied(Exception):
    """The worker process ended without answering (killed by the OS, crashed)."""


class WorkerEnd:
    """The web process's end of a worker's pipe, for one job: send it, watch it, read the answer."""

    def __init__(self, conn: Connection, pid: int | None):
        self.conn = conn
        self.pid = pid

    def send(self, job) -> None:
        self.conn.send(job)

    def receive(
        self,
        deadline: float,
        memory_limit_kib: int | None = None,
        client_gone: Callable[[], bool] = lambda: False,
        relay: Callable[[dict, float], dict] | None = None,
        preempted: Callable[[], bool] = lambda: False,
    ):
        """The next message; None when the deadline passes first.

        A worker's request for the network ("relay", request) is made by `relay` (given the seconds
        left) in a thread of its own and answered down the pipe, and the wait goes on; without
        `relay` it is refused. The worker is watched while its request is out, so a worker that
        dies meanwhile fails its request at once, not when the remote answers.

        While waiting, the worker's resident memory is checked a few times a second, and
        `MemoryExceeded` raised when it passes the limit; `ClientGone` when the client has closed
        its connection, so nobody's worker stays busy for an answer nobody will read; `Preempted`
        when the fair share wants the worker for a light client.
        """
        pending: Future | None = None
        watched = time.monotonic()
        while True:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                return None
            interval = WATCH_INTERVAL if pending is None else RELAY_WATCH_INTERVAL
            if self.conn.poll(min(remaining, interval)):
                message = self._read()
                if message[0] != "relay":
                    return message
                pending = self._start_relay(relay, message[1], deadline)
            elif pending is not None and pending.done():
                self._answer(("relayed", pending.result()))
                pending = None
            if pending is not None and now - watched < WATCH_INTERVAL:
                continue  # the relay is looked at more often than the worker needs watching
            watched = now
            if memory_limit_kib and (self.rss_kib() or 0) > memory_limit_kib:
                raise MemoryExceeded(memory_limit_kib)
            if client_gone():
                raise ClientGone()
            if preempted():
                raise Preempted()

    def _read(self):
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            raise WorkerDied(f"query worker {self.pid} ended unexpectedly") from None

    def _answer(self, message) -> None:
        try:
            self.conn.send(message)
        except OSError:
            raise WorkerDied(f"query worker {self.pid} ended unexpectedly") from None

    @staticmethod
    def _start_relay(
        relay: Callable[[dict, float], dict] | None, request: dict, deadline: float
    ) -> Future:
        answer: Future = Future()
        if relay is None:
            answer.set_result({"error": "no network here"})
            return answer

        def make() -> None:
            try:
                answer.set_result(relay(request, deadline - time.monotonic()))
            except BaseException as error:  # handed to the waiting thread, which raises it
                answer.set_exception(error)

        threading.Thread(target=make, name="service-relay", daemon=True).start()
        return answer

    def rss_kib(self) -> int | None:
        """Resident memory of the worker process (Linux /proc), None if unknown."""
        try:
            with open(f"/proc/{self.pid}/statm") as statm:
                return int(statm.read().split()[1]) * PAGE_KIB
        except (OSError, ValueError, IndexError):
            return None


class Worker(WorkerEnd):
    """One worker process, owned by the pool that started it."""

    def __init__(self):
        parent, child = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER_COMMAND, str(child.fileno())],
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        child.close()
        super().__init__(Connection(parent.detach()), self.process.pid)
        self.jobs = 0
        self.base_kib: int | None = None  # resident memory after its first job
        self.replaced = False  # a replacement is starting or ready: retire at the next release
        self.retired = False  # the replacement is ready: kill at the next release
        self._kill_lock = threading.Lock()
        self._killed = False

    def wait_ready(self, timeout: float) -> bool:
        """Whether the worker said it started within `timeout` seconds."""
        try:
            return self.conn.poll(timeout) and self.conn.recv() == ("ready",)
        except (EOFError, OSError):
            return False

    def worn_out(self) -> bool:
        """Old enough, or grown enough since its first job, to be replaced."""
        if self.jobs >= JOBS_PER_WORKER:
            return True
        if self.base_kib is not None and self.jobs % MEMORY_CHECK_JOBS:
            return False
        rss = self.rss_kib()
        if rss is None:
            return False
        if self.base_kib is None:
            self.base_kib = rss
        return rss - self.base_kib > GROWTH_KIB

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Kill the process and close its pipe, once: a worker still starting when the pool closes
        is killed by both the closing thread and the one starting it, and a second close of the
        pipe's descriptor could close whatever file has since been given its number."""
        with self._kill_lock:
            if self._killed:
                return
            self._killed = True
            self.process.kill()
            self.process.wait(5)
            self.conn.close()


def exit_reason(returncode: int) -> str:
    """`killed by SIGSEGV` for a negative return code, `exit status N` otherwise."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


class QueryPool:
    """`size` workers; a query borrows one and gives it back, or has it killed and replaced.

    `spares` more are kept started, so that a worker killed at a timeout is replaced at once: the
    query waiting for it does not wait for an interpreter to start. At most `size` run at once.
    """

    def __init__(self, size: int, spares: int = 1):
        self.size = size
        self.spares = spares
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Worker] = []  # started and waiting for a job
        self._busy: set[Worker] = set()
        self._starting: list[Worker] = []  # not ready yet (a fresh worker or a replacement)
        self._changed = threading.Condition()
        self._closed = False
        self.kills = 0
        self.replacements = 0

    def warm(self) -> None:
        """Start every worker now rather than on first use."""
        with self._changed:
            missing = self.size + self.spares - self._counted()
            for _ in range(missing):
                self._start(replacing=None)

    def _counted(self) -> int:
        """Workers that are or will be serving, a retiring one and its replacement counted once."""
        serving = [w for w in (*self._idle, *self._busy) if not w.replaced]
        return len(serving) + len(self._starting)

    def _start(self, replacing: Worker | None) -> None:
        """Start a worker (the lock is held); it joins the idle ones when it says it is ready."""
        try:
            worker = Worker()
        except Exception:
            log.exception("could not start a query worker")
            if replacing is not None:
                replacing.replaced = False
            return
        self._starting.append(worker)
        threading.Thread(target=self._ready, args=(worker, replacing), daemon=True).start()

    def _ready(self, worker: Worker, replacing: Worker | None) -> None:
        ready = worker.wait_ready(START_TIMEOUT)
        retired = None
        with self._changed:
            self._starting.remove(worker)
            if self._closed or not ready:
                if not self._closed:
                    log.error("query worker %s did not start", worker.pid)
                if replacing is not None:
                    replacing.replaced = False
                self._changed.notify_all()
            else:
                self._idle.append(worker)
                if replacing is not None:
                    self.replacements += 1
                    replacing.retired = True
                    if replacing in self._idle:
                        self._idle.remove(replacing)
                        retired = replacing
                self._changed.notify()
        if self._closed or not ready:
            worker.kill()
        if retired is not None:
            retired.kill()

    def acquire(self, timeout: float) -> Worker | None:
        """A started worker, within `timeout` seconds; None when every one stays busy."""
        deadline = time.monotonic() + max(0.0, timeout)
        if not self._slots.acquire(timeout=max(0.0, timeout)):
            return None
        dead = []
        try:
            with self._changed:
                while True:
                    while self._idle:
                        worker = self._idle.pop()
                        if worker.alive():
                            self._busy.add(worker)
                            return worker
                        dead.append(worker)
                    if self._counted() < self.size + self.spares:
                        self._start(replacing=None)  # one died idle, or could not be started
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._slots.release()
                        return None
                    self._changed.wait(remaining)
        finally:
            for worker in dead:
                worker.kill()

    def release(self, worker: Worker) -> None:
        """Give back a worker that finished its job cleanly."""
        with self._changed:
            worker.jobs += 1
            self._busy.discard(worker)
            retired = worker.retired
            if not retired:
                if not worker.replaced and worker.worn_out():
                    worker.replaced = True
                    self._start(replacing=worker)
                self._idle.append(worker)
                self._changed.notify()
        if retired:
            worker.kill()
        self._slots.release()

    def discard(self, worker: Worker) -> float:
        """Kill a worker (overrun, client gone, broken pipe) and start its replacement.

        Returns the seconds the kill took.
        """
        started = time.monotonic()
        ended = worker.process.poll()
        worker.kill()
        took = time.monotonic() - started
        self.kills += 1
        if ended is None:
            log.warning("query worker %s killed in %.3f s", worker.pid, took)
        else:
            log.error("query worker %s had died: %s", worker.pid, exit_reason(ended))
        with self._changed:
            self._busy.discard(worker)
            if self._counted() < self.size + self.spares:  # not when one is already under way
                self._start(replacing=None)
        self._slots.release()
        return took

    def pids(self) -> list[int]:
        """The workers not running a query: idle, or starting."""
        with self._changed:
            return [w.pid for w in (*self._idle, *self._starting) if w.pid is not None]

    def starting(self) -> int:
        """Workers started and not ready yet."""
        with self._changed:
            return len(self._starting)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            stopped = [*self._idle, *self._starting]
            self._idle = []
        for worker in stopped:
            worker.kill()
