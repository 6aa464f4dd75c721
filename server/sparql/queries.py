"""Where a query gets its worker: the fair share of the pool, then a worker lent for one job.

`LocalQueries` holds both in the web process (one process: the app's own pool). Under
`treatygraph serve`, several web processes share one pool through the broker process
(`broker.BrokerQueries`, same calls), so a client's limits and budget are the same whichever
process answers it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from treatygraph.core.config import Config

from .pool import QueryPool, WorkerEnd
from .share import FairShare, Grant, Refused, Usage


@dataclass
class Lease:
    """One worker lent to one query, and the client's query time when it was lent."""

    worker: WorkerEnd
    usage: Usage
    grant: Grant | None = None  # in the process that keeps the FairShare (this one or the broker)
    broker_connection: socket.socket | None = None  # the lease lives on it, in a web process
    preempted: bool = False  # the broker said so (in a web process)


def fair_share(config: Config) -> FairShare:
    """The fair share of the configured pool between clients."""
    return FairShare(
        workers=config.query_workers,
        per_client=config.client_workers,
        queued_per_client=config.max_concurrent_queries_per_client,
        budget=config.client_query_seconds,
        window=config.client_query_window,
    )


class LocalQueries:
    """The pool and its fair share, in this process."""

    def __init__(self, config: Config):
        self.share = fair_share(config)
        self.pool = QueryPool(config.query_workers)

    def warm(self) -> None:
        self.pool.warm()

    def lease(
        self, client: str, timeout: float, cancelled: Callable[[], bool] = lambda: False
    ) -> Lease:
        """A started worker for the client's next query: `Refused` or `share.Cancelled` if not."""
        deadline = time.monotonic() + timeout
        grant = self.share.admit(client, timeout, cancelled)
        usage = self.share.usage_at(grant)
        # The share never grants more workers than the pool has: this waits only for one being
        # started in place of a killed one.
        worker = self.pool.acquire(deadline - time.monotonic())
        self.share.worker_in_hand(grant)
        if worker is None:
            self.share.done(grant)
            raise Refused(503, "every query worker is busy; try again shortly", retry_after=10)
        return Lease(worker, usage, grant)

    def preempted(self, lease: Lease) -> bool:
        """Whether the fair share stopped the lease's query for a light client."""
        return lease.grant.stopped

    def give_back(self, lease: Lease, clean: bool) -> None:
        """Back to the pool after a clean answer; otherwise killed and replaced."""
        try:
            if clean:
                self.pool.release(lease.worker)
            else:
                self.pool.discard(lease.worker)
        finally:
            self.share.done(lease.grant)

    def status(self) -> dict:
        return {
            "workers": self.pool.pids(),
            "starting": self.pool.starting(),
            "kills": self.pool.kills,
            "replacements": self.pool.replacements,
            "clients": self.share.snapshot(),
        }

    def close(self) -> None:
        self.pool.close()
