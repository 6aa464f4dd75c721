"""Fair shares of the query workers between clients.

Who runs next is decided here, for one web process or (inside the broker) for all of them:

- a client may hold at most `per_client` workers at once, fewer than there are workers, so no
  client can take the whole pool; its further queries wait, up to `queued_per_client` in flight
  (running or waiting), past which it gets 429;
- a freed worker goes to the waiting client holding the fewest workers, then to the one that used
  the least query time in the window, then to the one served longest ago: round robin between
  clients, not first come first served, so a new client's cheap query starts ahead of a heavy
  client's third one;
- a client holds at most its equal share of the workers (rounded down, at least one) among the
  clients active now or in the last ACTIVE_SECONDS, so a client that asks now and then keeps a
  worker for itself while heavy clients wait, and two heavy clients leave the third worker of
  three free for a newcomer;
- each client has a budget of worker time in a sliding window (`budget` seconds per `window`
  seconds, the time of its finished queries plus what its running ones have used so far); past it,
  429 with `Retry-After` computed from when its oldest charges leave the window;
- a light client does not wait behind heavy ones however many addresses they use: when a client
  that used at most LIGHT_SECONDS of query time in the window has waited PREEMPT_AFTER seconds for
  a worker, the longest-running query of the client that used the most (clearly more than it) is
  stopped, that client gets 503 with `Retry-After`, and the freed worker goes to the light client.
  Its holder is told through `when_stopped`; the query time used so far is charged as usual.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

BUSY_RETRY_AFTER = 10  # seconds suggested to a client when every worker stayed busy
WAIT_SLICE = 0.2  # seconds between checks that a waiting client is still there
INTERNAL = "(internal)"  # our own queries (the service description's counts): never throttled
ACTIVE_SECONDS = 10.0  # a client whose last query ended this recently still has its share
# Preemption: a client that used at most LIGHT_SECONDS in the window, waiting PREEMPT_AFTER for a
# worker, stops a query that has run PREEMPT_AFTER of a client that used PREEMPT_AFTER more than it.
# Under half a second, so that its query starts within a second of its arrival. A stopped query has run
# longer than LIGHT_SECONDS, so a heavy client new to the server stops one query at most in a
# window, and heavy clients do not take turns stopping each other's.
PREEMPT_AFTER = 0.4
LIGHT_SECONDS = 0.25
PREEMPTED_RETRY_AFTER = 5  # seconds suggested to a client whose query was stopped for a light one


class Refused(Exception):
    """A query that may not run now: an HTTP status, a message and the headers to send."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}


class Cancelled(Exception):
    """The client went away while its query waited for a worker."""


@dataclass
class Grant:
    """A client's right to one worker, from `started` until it is given back."""

    client: str
    started: float
    used_before: float = 0.0  # the client's query time in the window when it was granted
    stopped: bool = False  # preempted: its holder is to stop the query and answer 503
    on_stop: Callable[[], None] | None = None  # how its holder is told (set by `when_stopped`)
    freed_for: _Ticket | None = None  # the light client's query its worker goes to


@dataclass
class _Ticket:
    client: str
    since: float = 0.0  # when it began to wait
    grant: Grant | None = None
    refusal: Refused | None = None
    preempted_at: float | None = None  # when a query was last stopped for it


@dataclass
class _Client:
    running: list[Grant] = field(default_factory=list)
    waiting: deque[_Ticket] = field(default_factory=deque)
    # Charged time in one-second buckets, [second it ended in, seconds], oldest first: at most a
    # window's worth of buckets whatever the query rate, and their running total.
    charges: deque[list[float]] = field(default_factory=deque)
    charged: float = 0.0
    last_served: int = -1

    def charge(self, now: float, seconds: float) -> None:
        second = math.floor(now)
        if self.charges and self.charges[-1][0] == second:
            self.charges[-1][1] += seconds
        else:
            self.charges.append([second, seconds])
        self.charged += seconds

    def used(self, now: float, window: float) -> float:
        while self.charges and self.charges[0][0] + 1 <= now - window:
            self.charged -= self.charges.popleft()[1]
        if not self.charges:
            self.charged = 0.0  # no rounding left over
        return self.charged + sum(now - g.started for g in self.running)

    def idle(self) -> bool:
        return not self.running and not self.waiting and not self.charges


@dataclass(frozen=True)
class Usage:
    """A client's query time in the current window, for the RateLimit headers."""

    budget: float
    window: float
    used: float

    @property
    def left(self) -> float:
        return max(0.0, self.budget - self.used)


class FairShare:
    """Admission to `workers` query workers, shared fairly between clients (thread-safe)."""

    def __init__(
        self,
        workers: int,
        per_client: int,
        queued_per_client: int,
        budget: float,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.workers = workers
        self.per_client = per_client
        self.queued_per_client = queued_per_client
        self.budget = budget
        self.window = window
        self.clock = clock
        self._changed = threading.Condition()
        self._clients: dict[str, _Client] = {}
        self._running = 0
        self._served = 0
        self._swept = clock()

    def admit(
        self, client: str, timeout: float, cancelled: Callable[[], bool] = lambda: False
    ) -> Grant:
        """Wait for the client's turn; `Refused` (429, or 503 at the timeout), or `Cancelled`."""
        deadline = self.clock() + max(0.0, timeout)
        with self._changed:
            self._sweep()
            state = self._clients.setdefault(client, _Client())
            if len(state.running) + len(state.waiting) >= self.queued_per_client:
                raise Refused(
                    429,
                    f"too many queries at once from {client}: at most {self.queued_per_client} "
                    f"may run or wait together, {self.per_client} of them running",
                    retry_after=1,
                )
            self._check_budget(client, state)
            ticket = _Ticket(client, since=self.clock())
            state.waiting.append(ticket)
            self._hand_out()
            while ticket.grant is None and ticket.refusal is None:
                remaining = deadline - self.clock()
                if remaining <= 0 or cancelled():
                    state.waiting.remove(ticket)
                    self._forget_if_idle(client)
                    if remaining <= 0:
                        raise Refused(
                            503,
                            "every query worker is busy; try again shortly",
                            retry_after=BUSY_RETRY_AFTER,
                        )
                    raise Cancelled()
                self._changed.wait(min(remaining, WAIT_SLICE))
                self._hand_out()  # shares widen as clients go quiet, without any other event
                if ticket.grant is None and ticket.refusal is None:
                    self._preempt_for(ticket)
            if ticket.refusal is not None:
                self._forget_if_idle(client)
                raise ticket.refusal
            return ticket.grant

    def worker_in_hand(self, grant: Grant) -> None:
        """The grant's worker is in hand: its query time counts from now, not from the wait for
        a worker being started (a pool starting, or replacing a killed worker)."""
        with self._changed:
            grant.started = self.clock()

    def when_stopped(self, grant: Grant, tell: Callable[[], None]) -> None:
        """Have `tell` called when the grant is preempted (at once if it already was)."""
        with self._changed:
            grant.on_stop = tell
            if grant.stopped:
                tell()

    def done(self, grant: Grant) -> None:
        """Give back a grant; its time is charged to its client."""
        with self._changed:
            state = self._clients[grant.client]
            state.running.remove(grant)
            self._running -= 1
            now = self.clock()
            if grant.client != INTERNAL:
                state.charge(now, now - grant.started)
            ticket = grant.freed_for
            waiting = self._clients.get(ticket.client) if ticket is not None else None
            if waiting is not None and ticket in waiting.waiting:
                self._grant(waiting, ticket)
            self._hand_out()
            self._forget_if_idle(grant.client)

    def usage_at(self, grant: Grant) -> Usage:
        """The client's query time when the grant was made."""
        return Usage(self.budget, self.window, grant.used_before)

    def usage(self, client: str) -> Usage:
        with self._changed:
            state = self._clients.get(client)
            used = state.used(self.clock(), self.window) if state else 0.0
        return Usage(self.budget, self.window, used)

    def snapshot(self) -> dict:
        """Running and waiting queries per client, for tests and the broker's status."""
        with self._changed:
            return {
                client: {"running": len(s.running), "waiting": len(s.waiting)}
                for client, s in self._clients.items()
                if s.running or s.waiting
            }

    def _check_budget(self, client: str, state: _Client) -> float:
        """The client's query time in the window; `Refused` when it is over its budget."""
        if client == INTERNAL:
            return 0.0
        now = self.clock()
        used = state.used(now, self.window)
        if used < self.budget:
            return used
        retry_after = self._retry_after(state, used, now)
        raise Refused(
            429,
            f"query-time budget used up: {client} used {used:.1f} s of query time in the last "
            f"{self.window:g} s, and may use {self.budget:g} s; try again in {retry_after} s",
            retry_after=retry_after,
        )

    def _retry_after(self, state: _Client, used: float, now: float) -> int:
        """Seconds until enough of the client's charged time leaves the window to be under budget."""
        excess = used - self.budget
        freed = 0.0
        for second, seconds in state.charges:
            freed += seconds
            if freed > excess:
                return max(1, math.ceil(second + 1 + self.window - now))
        return max(1, math.ceil(self.window))

    def _hand_out(self) -> None:
        """Grant free workers to waiting clients: fewest running first, then least query time
        used in the window, then served longest ago.

        Each client holds at most its equal share of the workers among the clients active now or
        in the last ACTIVE_SECONDS (rounded down, at least one): a client that runs a query now
        and then keeps its place while heavy clients wait for theirs.
        """
        while self._running < self.workers:
            now = self.clock()
            share = max(1, self.workers // self._active(now))
            cap = min(self.per_client, share)
            eligible = [
                (len(state.running), state.used(now, self.window), state.last_served, client)
                for client, state in self._clients.items()
                if state.waiting and len(state.running) < cap
            ]
            if not eligible:
                return
            *_, client = min(eligible)
            state = self._clients[client]
            self._grant(state, state.waiting[0])

    def _grant(self, state: _Client, ticket: _Ticket) -> None:
        """Give a waiting ticket a worker (or its refusal, past its budget)."""
        state.waiting.remove(ticket)
        self._changed.notify_all()
        try:
            used = self._check_budget(ticket.client, state)
        except Refused as refusal:
            ticket.refusal = refusal
            return
        ticket.grant = Grant(ticket.client, self.clock(), used)
        state.running.append(ticket.grant)
        state.last_served = self._served
        self._served += 1
        self._running += 1

    def _preempt_for(self, ticket: _Ticket) -> None:
        """Stop the heaviest client's longest query for a light client that waited too long.

        Light: it used at most LIGHT_SECONDS of query time in the window. The victim's client used
        PREEMPT_AFTER more than it, and the query ran PREEMPT_AFTER at least, so two light clients
        never stop each other's quick queries. At most one query is stopped per PREEMPT_AFTER for
        each waiting ticket, and the freed worker is kept for that ticket.
        """
        now = self.clock()
        if self._running < self.workers or ticket.client == INTERNAL:
            return
        if now - max(ticket.since, ticket.preempted_at or 0.0) < PREEMPT_AFTER:
            return
        state = self._clients[ticket.client]
        light = state.used(now, self.window)
        if light > LIGHT_SECONDS or len(state.running) >= max(
            1, min(self.per_client, self.workers // self._active(now))
        ):
            return
        heavy = [
            (other.used(now, self.window), client)
            for client, other in self._clients.items()
            if client not in (INTERNAL, ticket.client)
            and any(not g.stopped and now - g.started >= PREEMPT_AFTER for g in other.running)
        ]
        if not heavy:
            return
        used, client = max(heavy)
        if used - light < PREEMPT_AFTER:
            return
        grant = min(
            (g for g in self._clients[client].running if not g.stopped), key=lambda g: g.started
        )
        grant.stopped = True
        grant.freed_for = ticket
        ticket.preempted_at = now
        if grant.on_stop is not None:
            grant.on_stop()

    def _active(self, now: float) -> int:
        """Clients running or waiting now, or whose last query ended in the last ACTIVE_SECONDS."""
        return (
            sum(
                1
                for client, state in self._clients.items()
                if client != INTERNAL
                and (
                    state.running
                    or state.waiting
                    or (state.charges and now - (state.charges[-1][0] + 1) < ACTIVE_SECONDS)
                )
            )
            or 1
        )

    def _sweep(self) -> None:
        """Forget clients whose charges have all left the window (once a window)."""
        now = self.clock()
        if now - self._swept < self.window:
            return
        self._swept = now
        for client in list(self._clients):
            self._forget_if_idle(client)

    def _forget_if_idle(self, client: str) -> None:
        state = self._clients.get(client)
        if state is not None and not state.running and not state.waiting:
            state.used(self.clock(), self.window)
            if state.idle():
                del self._clients[client]
