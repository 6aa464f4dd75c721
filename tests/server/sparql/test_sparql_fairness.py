"""One client must not take the endpoint from everyone: real concurrent clients from different
loopback addresses, against the app in this process and against `treatygraph serve` with one and
with eight web processes sharing the query workers through the broker."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
from reliability_support import SLOW_QUERY, SlowSparqlEndpoint, children, serving, web_processes
from sparql_support import client_at, endpoint_server

from server.sparql import QUERIES
from server.sparql.broker import BrokerQueries

ENDLESS = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # flat memory
CHEAP = "ASK { ?s ?p ?o }"
HEAVY, LIGHT, OTHER = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def _send_from(address: str, port: int, query: str) -> socket.socket:
    """A GET of `query` sent from `address` on a connection of its own, left open (closing it
    abandons the query)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60, source_address=(address, 0))
    target = "/sparql?query=" + urllib.parse.quote(query)
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n".encode())
    return sock


def _status(sock: socket.socket) -> int:
    """The status code of the answer on `sock` (its first line)."""
    line = sock.makefile("rb").readline()
    return int(line.split()[1])


def _warm(url: str) -> None:
    """Wait until the query workers have started (an app starts them on its first query)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if client_at(OTHER).get(f"{url}/sparql", params={"query": CHEAP}).status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError("the query workers never started")


@contextlib.contextmanager
def _server(config, where: str, query_workers: int, web_workers: int = 1, **settings):
    """The endpoint in this process, or `treatygraph serve`; yields (base URL, port)."""
    # The same cheap query probes the limits again and again: a kept answer would come without a
    # worker, whatever the limits.
    settings = {"answer_cache_mb": 0, **settings}
    if where == "in-process":
        overrides = {
            "query_workers": query_workers,
            "max_concurrent_queries_per_client": max(4, query_workers),
            **settings,
        }
        with endpoint_server(config, **overrides) as server:
            yield server.url, server.port
        return
    env = {
        "TREATYGRAPH_QUERY_WORKERS": str(query_workers),
        "TREATYGRAPH_MAX_CONCURRENT_QUERIES": str(max(4, query_workers)),
        "TREATYGRAPH_WEB_WORKERS": str(web_workers),
    }
    env.update({f"TREATYGRAPH_{key.upper()}": str(value) for key, value in settings.items()})
    with serving(config, **env) as server:
        yield server.url, server.port


SETUPS = [
    pytest.param("in-process", 3, 1, id="in-process-default-3-workers"),
    pytest.param("in-process", 8, 1, id="in-process-8-workers", marks=pytest.mark.slow),
    pytest.param("serve", 3, 1, id="serve-1-web-process"),
    pytest.param("serve", 3, 8, id="serve-8-web-processes", marks=pytest.mark.slow),
    pytest.param("serve", 8, 2, id="serve-8-workers", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("where", "query_workers", "web_workers"), SETUPS)
def test_a_cheap_query_from_another_client_is_answered_while_one_client_runs_all_it_may(
    config, built, where, query_workers, web_workers
):
    allowed = max(4, query_workers)  # queries a client may have running or waiting
    with _server(config, where, query_workers, web_workers, query_timeout=20.0) as (url, port):
        # The heavy client warms up alone, so it is the only active client and may hold all its
        # share: every worker but one.
        assert client_at(HEAVY).get(f"{url}/sparql", params={"query": CHEAP}).status_code == 200
        heavy = [_send_from(HEAVY, port, ENDLESS) for _ in range(allowed)]
        try:
            time.sleep(1.5)  # all of them started or queued
            over = client_at(HEAVY).get(f"{url}/sparql", params={"query": CHEAP}, timeout=10)
            assert over.status_code == 429, "the heavy client is at its limit"
            started = time.monotonic()
            light = client_at(LIGHT).get(f"{url}/sparql", params={"query": CHEAP}, timeout=10)
            waited = time.monotonic() - started
            assert light.status_code == 200 and light.json()["boolean"] is True
            assert waited < 1.0, f"another client waited {waited:.2f} s"
        finally:
            for sock in heavy:
                sock.close()  # abandoned: stopped, and the workers replaced


@pytest.mark.parametrize("where", ["in-process", pytest.param("serve", marks=pytest.mark.slow)])
def test_past_its_query_time_budget_a_client_gets_429_then_is_served_again(config, built, where):
    settings = {"query_timeout": 1.0, "client_query_seconds": 1.5, "client_query_window": 6.0}
    with _server(config, where, 3, 2, **settings) as (url, _):
        _warm(url)
        client = client_at(HEAVY)
        statuses = [client.get(f"{url}/sparql", params={"query": ENDLESS}).status_code]
        statuses.append(client.get(f"{url}/sparql", params={"query": ENDLESS}).status_code)
        assert statuses == [504, 504]  # two seconds of worker time, over the 1.5 s budget
        refused = client.get(f"{url}/sparql", params={"query": CHEAP})
        refused_at = time.monotonic()
        assert refused.status_code == 429
        assert "budget used up" in refused.text
        assert "used 2." in refused.text and "in the last 6 s" in refused.text
        retry_after = int(refused.headers["Retry-After"])
        # Once the first query's second leaves the window, the client is under budget again.
        assert 1 <= retry_after <= 7
        other = client_at(OTHER).get(f"{url}/sparql", params={"query": CHEAP})
        assert other.status_code == 200, "the budget is the heavy client's, nobody else's"
        assert other.headers["RateLimit-Policy"] == '"query-seconds";q=1.5;w=6'
        time.sleep(max(0.0, refused_at + retry_after - time.monotonic()) + 0.2)
        again = client.get(f"{url}/sparql", params={"query": CHEAP})
        assert again.status_code == 200, again.text
        assert again.headers["RateLimit"].startswith('"query-seconds";r=')


def test_web_processes_share_one_limit_per_client(config, built):
    with _server(config, "serve", 3, 8, query_timeout=20.0) as (url, port):
        requests.get(f"{url}/healthz", timeout=10)
        # Eight connections at once, spread over eight web processes: the client may have four
        # queries running or waiting in all, so four are refused whichever process they reached.
        socks = [_send_from(HEAVY, port, ENDLESS) for _ in range(8)]
        try:
            time.sleep(1.5)
            refused = []
            for sock in socks:
                sock.settimeout(0.5)
                with contextlib.suppress(TimeoutError):
                    refused.append(_status(sock))
            assert refused == [429] * 4
        finally:
            for sock in socks:
                sock.close()


def _broker_pid(master: int) -> int:
    for child in children(master):
        if b"server.sparql.broker" in Path(f"/proc/{child}/cmdline").read_bytes():
            return child
    raise AssertionError("no broker under the server")


def _busy_worker(broker: int, seconds: float = 10.0) -> int:
    """The query worker running a query: one of the broker's, not among those it lists as idle
    or starting (the broker's own count, so a loaded machine cannot make it look idle)."""
    argv = Path(f"/proc/{broker}/cmdline").read_bytes().split(b"\0")
    status = BrokerQueries(argv[argv.index(b"server.sparql.broker") + 1].decode()).status
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        free = set(status()["workers"])
        busy = [pid for pid in children(broker) if pid not in free]
        if busy and any(c["running"] for c in status()["clients"].values()):
            return busy[0]
        time.sleep(0.1)
    raise AssertionError("no query worker is busy")


def _gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("http_server", ["gthread", pytest.param("gevent", marks=pytest.mark.slow)])
def test_under_serve_a_query_whose_client_went_away_is_stopped(config, built, http_server):
    with serving(
        config, TREATYGRAPH_QUERY_TIMEOUT="60", TREATYGRAPH_HTTP_SERVER=http_server
    ) as server:
        requests.get(f"{server.url}/healthz", timeout=10)
        broker = _broker_pid(server.process.pid)
        sock = _send_from(HEAVY, server.port, ENDLESS)
        runaway = _busy_worker(broker)
        sock.close()
        assert _gone(runaway), "the abandoned query's worker was not stopped"
        assert client_at(HEAVY).get(f"{server.url}/sparql", params={"query": CHEAP}).ok


def test_a_web_process_killed_while_its_query_runs_gives_the_worker_back(config, built):
    with serving(config, TREATYGRAPH_QUERY_TIMEOUT="60", TREATYGRAPH_WEB_WORKERS="2") as server:
        requests.get(f"{server.url}/healthz", timeout=10)
        broker = _broker_pid(server.process.pid)
        sock = _send_from(HEAVY, server.port, ENDLESS)
        runaway = _busy_worker(broker)
        for web in web_processes(server.process.pid):
            os.kill(web, signal.SIGKILL)  # gunicorn starts new ones
        assert _gone(runaway), "the dead web process's worker kept running"
        sock.close()
        answer = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                answer = client_at(HEAVY).get(f"{server.url}/sparql", params={"query": CHEAP})
                if answer.status_code == 200:
                    break
            time.sleep(0.2)
        assert answer is not None and answer.status_code == 200


def test_without_its_broker_the_server_says_so_and_is_unhealthy(config, built):
    with serving(config) as server:
        broker = _broker_pid(server.process.pid)
        os.kill(broker, signal.SIGKILL)
        answer = requests.get(f"{server.url}/sparql", params={"query": CHEAP}, timeout=10)
        assert answer.status_code == 503
        assert "query broker" in answer.text and answer.headers["Retry-After"]
        assert "Traceback" not in answer.text
        health = requests.get(f"{server.url}/healthz", timeout=10)
        assert health.status_code == 503 and "query broker" in health.text
        page = requests.get(f"{server.url}/doc/organization/csto.html", timeout=10)
        assert page.status_code == 200, "pages do not need the broker"


def test_the_broker_and_its_workers_never_outlive_the_server(config, built):
    with serving(config) as server:
        requests.get(f"{server.url}/sparql", params={"query": CHEAP}, timeout=10)
        broker = _broker_pid(server.process.pid)
        workers = children(broker)
        argv = Path(f"/proc/{broker}/cmdline").read_bytes().split(b"\0")
        socket_path = Path(argv[argv.index(b"server.sparql.broker") + 1].decode())
        assert workers and socket_path.exists()
        os.killpg(server.process.pid, signal.SIGKILL)  # no goodbye from the server's processes
        assert _gone(broker), "the broker outlived the server"
        assert all(_gone(pid) for pid in workers), "query workers outlived the server"
        assert not socket_path.parent.exists(), "the broker left its socket behind"


def test_in_process_the_pool_is_shared_by_the_apps_threads_only(config, built):
    with endpoint_server(config) as server:
        requests.get(f"{server.url}/sparql", params={"query": CHEAP}, timeout=10)
        service = server.app.extensions[QUERIES]
        assert service.status()["clients"] == {}
        assert len(service.status()["workers"]) == service.pool.size + service.pool.spares == 4
        done = threading.Event()

        def heavy():
            with contextlib.suppress(requests.RequestException):
                client_at(HEAVY).get(f"{server.url}/sparql", params={"query": ENDLESS}, timeout=2)
            done.set()

        thread = threading.Thread(target=heavy)
        thread.start()
        deadline = time.monotonic() + 5
        while HEAVY not in service.status()["clients"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.status()["clients"][HEAVY] == {"running": 1, "waiting": 0}
        thread.join(10)


@pytest.mark.slow
def test_no_client_is_starved_in_a_short_soak_of_heavy_and_light_clients(config, built):
    """Two heavy clients keep three slow queries each in flight (a SERVICE call answered after
    5 s: worker time without CPU, so the machine's load does not decide the outcome); once they
    have used some query time, three light clients ask cheap ones in turn. Five active clients
    share three workers: each holds at most one, and a freed worker goes to the client that used
    the least, so every light query is answered quickly, and each heavy client is served too."""
    seconds, head_start = 10.0, 6.0
    heavy_clients = ["127.0.0.2", "127.0.0.3"]
    light_clients = ["127.0.0.4", "127.0.0.5", "127.0.0.6"]
    slow = SlowSparqlEndpoint(delay=5.0)
    try:
        with serving(
            config,
            TREATYGRAPH_QUERY_WORKERS="3",
            TREATYGRAPH_SERVICE_MIRRORS=slow.mirrors,
            TREATYGRAPH_ANSWER_CACHE_MB="0",  # every light query asks for a worker
        ) as server:
            url = server.url
            _warm(url)
            stop = time.monotonic() + head_start + seconds
            answers: dict[str, list[tuple[int, float]]] = {
                c: [] for c in heavy_clients + light_clients
            }
            lock = threading.Lock()

            def ask(address: str, query: str) -> None:
                session = client_at(address)
                while time.monotonic() < stop:
                    started = time.monotonic()
                    status = session.get(f"{url}/sparql", params={"query": query}, timeout=30)
                    with lock:
                        answers[address].append((status.status_code, time.monotonic() - started))

            threads = [
                threading.Thread(target=ask, args=(address, SLOW_QUERY))
                for address in heavy_clients
                for _ in range(3)
            ]
            light = [threading.Thread(target=ask, args=(a, CHEAP)) for a in light_clients]
            for thread in threads:
                thread.start()
            time.sleep(head_start)
            for thread in light:
                thread.start()
            for thread in threads + light:
                thread.join(60)
    finally:
        slow.close()
    for address in light_clients:
        statuses = {status for status, _ in answers[address]}
        slowest = max(seconds for _, seconds in answers[address])
        assert statuses == {200}, f"{address}: {statuses}"
        assert len(answers[address]) >= 20, f"{address} starved: {answers[address]}"
        assert slowest < 2.5, f"{address} waited {slowest:.2f} s: behind a heavy query"
    for address in heavy_clients:
        served = [status for status, _ in answers[address] if status == 200]
        assert len(served) >= 2, f"{address} starved: {answers[address]}"
