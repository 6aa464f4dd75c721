"""The fair share of query workers between clients, decided without any worker process: caps,
the order in which waiting clients are served, the query-time budget and its Retry-After."""

from __future__ import annotations

import threading
import time

import pytest

from server.sparql.queries import LocalQueries
from server.sparql.share import (
    INTERNAL,
    LIGHT_SECONDS,
    PREEMPT_AFTER,
    WAIT_SLICE,
    Cancelled,
    FairShare,
    Refused,
)
from treatygraph.core.config import Config


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _share(**settings) -> FairShare:
    values = dict(workers=3, per_client=2, queued_per_client=4, budget=60.0, window=60.0)
    values.update(settings)
    return FairShare(**values)


def _admit_in_thread(share: FairShare, client: str, order: list, timeout: float = 10.0):
    outcome: dict = {}

    def run():
        try:
            outcome["grant"] = share.admit(client, timeout)
            order.append(client)
        except (Refused, Cancelled) as err:
            outcome["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _waiting(share: FairShare, client: str) -> int:
    return share.snapshot().get(client, {}).get("waiting", 0)


def _queue_in_turn(share: FairShare, clients, order: list) -> list:
    """Each client asks for a worker in a thread of its own, in turn: the next asks once the
    previous one waits."""
    threads = []
    for client in clients:
        threads.append(_admit_in_thread(share, client, order))
        _wait_for(lambda client=client: _waiting(share, client) == 1)
    return threads


def _finish(share: FairShare, threads: list) -> None:
    """Join the threads and give back the workers they were granted."""
    for thread, outcome in threads:
        thread.join(5)
        share.done(outcome["grant"])


def test_a_client_never_holds_every_worker_and_another_starts_at_once():
    clock = Clock()
    share = _share(clock=clock)
    held = [share.admit("heavy", 0.1), share.admit("heavy", 0.1)]
    order: list[str] = []
    thread, outcome = _admit_in_thread(share, "heavy", order)
    _wait_for(lambda: _waiting(share, "heavy") == 1)
    started = time.monotonic()
    light = share.admit("light", 0.1)  # the third worker, although "heavy" asked first
    assert time.monotonic() - started < 0.1
    assert share.snapshot()["heavy"] == {"running": 2, "waiting": 1}
    share.done(held[0])
    share.done(light)
    time.sleep(0.3)
    assert share.snapshot()["heavy"] == {"running": 1, "waiting": 1}, "its share is one of two"
    clock.now += 11.0  # the light client has gone quiet: the heavy one's share is two again
    thread.join(5)
    assert "grant" in outcome
    for grant in (held[1], outcome["grant"]):
        share.done(grant)
    assert share.snapshot() == {}


def test_a_freed_worker_goes_to_the_client_holding_fewest_not_to_the_first_in_line():
    share = _share()
    a1, a2, b1 = share.admit("a", 0.1), share.admit("a", 0.1), share.admit("b", 0.1)
    order: list[str] = []
    threads = _queue_in_turn(share, ("a", "c", "b"), order)  # a asks first, c second, b last
    share.done(a1)  # a 1 running, b 1, c 0: c
    _wait_for(lambda: order == ["c"])
    share.done(b1)  # a 1, b 0, c 1: b
    _wait_for(lambda: order == ["c", "b"])
    share.done(a2)  # a 0, b 1, c 1: a, last although it asked first
    _wait_for(lambda: order == ["c", "b", "a"])
    _finish(share, threads)


def test_ties_go_to_the_client_served_longest_ago():
    share = _share(workers=2, per_client=1, clock=Clock())  # no time passes: no usage differs
    for client in ("b", "a"):  # b was served before a
        share.done(share.admit(client, 0.1))
    held = [share.admit("x", 0.1), share.admit("y", 0.1)]
    order: list[str] = []
    threads = _queue_in_turn(share, ("a", "b"), order)  # a asks first
    share.done(held[0])  # a and b hold none: b, served longest ago
    _wait_for(lambda: order == ["b"])
    share.done(held[1])
    _wait_for(lambda: order == ["b", "a"])
    _finish(share, threads)


def test_a_freed_worker_goes_to_the_client_that_used_the_least_query_time():
    clock = Clock()
    share = _share(workers=3, per_client=2, clock=clock)
    heavy = share.admit("heavy", 0.1)
    clock.now += 20.0
    share.done(heavy)  # 20 s used
    held = [share.admit("x", 0.1), share.admit("y", 0.1), share.admit("z", 0.1)]
    order: list[str] = []
    threads = _queue_in_turn(share, ("heavy", "light"), order)  # the heavy client asks first
    share.done(held[0])  # both hold none: the light one, which used less
    _wait_for(lambda: order == ["light"])
    share.done(held[1])
    share.done(held[2])
    _wait_for(lambda: order == ["light", "heavy"])
    _finish(share, threads)


def test_recently_active_clients_share_the_workers_equally():
    clock = Clock()
    share = _share(workers=3, per_client=2, clock=clock)
    first = [share.admit("heavy-1", 0.1), share.admit("heavy-1", 0.1)]  # alone: two
    second = share.admit("heavy-2", 0.1)
    order: list[str] = []
    threads = [_admit_in_thread(share, client, order) for client in ("heavy-1", "heavy-2")]
    _wait_for(lambda: _waiting(share, "heavy-1") == 1 and _waiting(share, "heavy-2") == 1)
    share.done(first[0])
    time.sleep(0.3)
    assert order == [], "two active clients: one worker each, the third kept free"
    newcomer = share.admit("newcomer", 0.1)  # at once
    share.done(newcomer)
    share.done(second)
    _wait_for(lambda: order == ["heavy-2"])  # one each still: heavy-1 holds its one
    share.done(first[1])
    _wait_for(lambda: order == ["heavy-2", "heavy-1"])
    _finish(share, threads)


def test_past_its_queue_a_client_gets_429_naming_the_limit():
    share = _share(queued_per_client=2)
    held = [share.admit("a", 0.1), share.admit("a", 0.1)]
    with pytest.raises(Refused) as refused:
        share.admit("a", 0.1)
    assert refused.value.status == 429
    assert "at most 2 may run or wait together" in refused.value.message
    assert refused.value.headers["Retry-After"]
    for grant in held:
        share.done(grant)


def test_waiting_past_the_timeout_is_503_with_retry_after():
    share = _share(workers=2, per_client=1)
    held = [share.admit("a", 0.1), share.admit("b", 0.1)]
    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        share.admit("c", 0.3)
    assert 0.3 <= time.monotonic() - started < 1.0
    assert refused.value.status == 503
    assert int(refused.value.headers["Retry-After"]) > 0
    assert share.snapshot() == {
        "a": {"running": 1, "waiting": 0},
        "b": {"running": 1, "waiting": 0},
    }
    for grant in held:
        share.done(grant)


def test_a_client_gone_while_waiting_leaves_the_queue():
    share = _share(workers=2, per_client=1)
    held = [share.admit("a", 0.1), share.admit("b", 0.1)]
    gone = threading.Event()
    outcome: dict = {}

    def wait():
        try:
            share.admit("c", 10, cancelled=gone.is_set)
        except Cancelled:
            outcome["cancelled"] = True

    thread = threading.Thread(target=wait)
    thread.start()
    _wait_for(lambda: _waiting(share, "c") == 1)
    gone.set()
    thread.join(2)
    assert outcome == {"cancelled": True}
    assert "c" not in share.snapshot()
    for grant in held:
        share.done(grant)


def test_the_budget_is_429_once_used_with_retry_after_from_the_window():
    clock = Clock()
    share = _share(budget=10.0, window=60.0, clock=clock)
    first = share.admit("a", 0.1)
    clock.now += 6.0
    share.done(first)  # 6 s, charged in second 1006
    clock.now += 20.0
    second = share.admit("a", 0.1)
    clock.now += 5.0
    share.done(second)  # 5 s, charged in second 1031: 11 s used
    clock.now += 1.0
    with pytest.raises(Refused) as refused:
        share.admit("a", 0.1)
    assert refused.value.status == 429
    message = refused.value.message
    assert "used 11.0 s of query time in the last 60 s" in message and "may use 10 s" in message
    # Under budget again once the first 6 s leave the window: second 1006 + 1 + 60 - now (1032).
    assert refused.value.headers["Retry-After"] == "35"
    assert f"try again in {refused.value.headers['Retry-After']} s" in message
    assert share.usage("a").left == 0.0
    clock.now += 34.0
    with pytest.raises(Refused):
        share.admit("a", 0.1)
    clock.now += 1.0
    share.done(share.admit("a", 0.1))
    assert share.usage("a").used == pytest.approx(5.0)


def test_running_queries_count_against_the_budget_and_queued_ones_are_checked_when_granted():
    clock = Clock()
    share = _share(workers=2, per_client=1, budget=10.0, window=60.0, clock=clock)
    running = share.admit("a", 0.1)
    order: list[str] = []
    thread, outcome = _admit_in_thread(share, "a", order)
    _wait_for(lambda: _waiting(share, "a") == 1)
    clock.now += 12.0
    assert share.usage("a").used == pytest.approx(12.0)
    share.done(running)  # the waiting query's turn comes, but the budget is gone
    thread.join(5)
    assert outcome["error"].status == 429
    assert "budget used up" in outcome["error"].message


def test_our_own_queries_are_never_charged():
    clock = Clock()
    share = _share(budget=1.0, clock=clock)
    for _ in range(3):
        grant = share.admit(INTERNAL, 0.1)
        clock.now += 5.0
        share.done(grant)
    assert share.usage(INTERNAL).used == 0.0


def test_clients_are_forgotten_once_their_charges_leave_the_window():
    clock = Clock()
    share = _share(window=10.0, clock=clock)
    for n in range(100):
        grant = share.admit(f"client-{n}", 0.1)
        clock.now += 0.01
        share.done(grant)
    assert len(share._clients) == 100
    clock.now += 12.0
    share.done(share.admit("late", 0.1))
    assert set(share._clients) == {"late"}


def test_charges_are_kept_per_second_whatever_the_query_rate():
    clock = Clock()
    share = _share(window=60.0, clock=clock)
    for _ in range(10_000):
        grant = share.admit("busy", 0.1)
        clock.now += 0.001
        share.done(grant)
    assert len(share._clients["busy"].charges) <= 11
    assert share.usage("busy").used == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"query_workers": 1}, "TREATYGRAPH_QUERY_WORKERS=1"),
        ({"query_workers": 3, "client_query_workers": 3}, "TREATYGRAPH_CLIENT_QUERY_WORKERS=3"),
        ({"query_workers": 3, "client_query_workers": 0}, "TREATYGRAPH_CLIENT_QUERY_WORKERS=0"),
        (
            {"query_workers": 8, "max_concurrent_queries_per_client": 4},
            "TREATYGRAPH_MAX_CONCURRENT_QUERIES=4",
        ),
        ({"client_query_seconds": 0}, "TREATYGRAPH_CLIENT_QUERY_SECONDS"),
        ({"web_workers": 0}, "TREATYGRAPH_WEB_WORKERS=0"),
    ],
)
def test_settings_that_let_one_client_take_all_are_refused_at_start(settings, named):
    with pytest.raises(ValueError, match=named):
        Config(**settings).check_query_limits()


def test_the_defaults_leave_a_worker_for_someone_else():
    config = Config()
    config.check_query_limits()
    assert 1 <= config.client_workers < config.query_workers


def test_the_limits_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TREATYGRAPH_CLIENT_QUERY_WORKERS", "2")
    monkeypatch.setenv("TREATYGRAPH_CLIENT_QUERY_SECONDS", "30")
    monkeypatch.setenv("TREATYGRAPH_CLIENT_QUERY_WINDOW", "120")
    monkeypatch.setenv("TREATYGRAPH_WEB_WORKERS", "5")
    config = Config.from_env()
    assert (config.client_workers, config.client_query_seconds, config.client_query_window) == (
        2,
        30.0,
        120.0,
    )
    assert config.web_workers == 5
    monkeypatch.setenv("TREATYGRAPH_CLIENT_QUERY_SECONDS", "lots")
    with pytest.raises(ValueError, match="TREATYGRAPH_CLIENT_QUERY_SECONDS"):
        Config.from_env()


def test_the_wait_for_a_worker_being_started_is_not_charged():
    clock = Clock()
    share = _share(clock=clock)
    grant = share.admit("a", 0.1)
    clock.now += 5.0  # the pool starts a worker, or replaces a killed one
    share.worker_in_hand(grant)
    clock.now += 1.0
    share.done(grant)
    assert share.usage("a").used == pytest.approx(1.0)


def test_a_lease_charges_its_client_from_the_worker_in_hand():
    """Regression: the first query of an app waited for the pool to start (a second and more on
    a busy machine) and that wait was charged, so a small budget was used up by a warm-up."""
    clock = Clock()

    class StartingPool:
        def acquire(self, timeout):
            clock.now += 5.0
            return "worker"

        def release(self, worker):
            pass

    queries = LocalQueries(Config())
    queries.share = _share(clock=clock)
    queries.pool = StartingPool()
    lease = queries.lease("a", 10.0)
    clock.now += 1.0
    queries.give_back(lease, clean=True)
    assert queries.share.usage("a").used == pytest.approx(1.0)


def _heavy_pair(share: FairShare, clock: Clock, stopped: list):
    """Two clients each holding one of two workers: `heavy-a` for 10 s, `heavy-b` for 5 s."""
    first = share.admit("heavy-a", 1)
    clock.now += 5
    second = share.admit("heavy-b", 1)
    clock.now += 5
    share.when_stopped(first, lambda: stopped.append("heavy-a"))
    share.when_stopped(second, lambda: stopped.append("heavy-b"))
    return first, second


def test_a_light_client_that_waited_stops_the_heaviest_clients_longest_query_and_gets_its_worker():
    clock = Clock()
    share = _share(workers=2, per_client=1, clock=clock)
    stopped: list = []
    first, second = _heavy_pair(share, clock, stopped)
    order: list = []
    thread, outcome = _admit_in_thread(share, "light", order)
    _wait_for(lambda: _waiting(share, "light") == 1)
    time.sleep(2 * WAIT_SLICE)
    assert not stopped, "nothing is stopped before the light client has waited"
    clock.now += PREEMPT_AFTER + 0.01
    _wait_for(lambda: stopped)
    assert stopped == ["heavy-a"] and first.stopped and not second.stopped
    share.done(first)
    thread.join(5)
    assert outcome["grant"].client == "light"


def test_a_client_that_used_query_time_stops_nobody():
    clock = Clock()
    share = _share(workers=2, per_client=1, clock=clock)
    stopped: list = []
    earlier = share.admit("heavy-c", 10)
    clock.now += LIGHT_SECONDS + 0.1
    share.done(earlier)
    _heavy_pair(share, clock, stopped)
    thread, outcome = _admit_in_thread(share, "heavy-c", [], timeout=3 * PREEMPT_AFTER)
    _wait_for(lambda: _waiting(share, "heavy-c") == 1)
    clock.now += PREEMPT_AFTER + 0.01
    time.sleep(2 * WAIT_SLICE)
    assert not stopped
    clock.now += 3 * PREEMPT_AFTER
    thread.join(5)
    assert outcome["error"].status == 503
