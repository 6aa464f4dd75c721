"""Heavy queries from several addresses do not starve a light client: once it has waited 0.4 s
for a worker, the longest-running query of the client that used the most query time is
stopped (503 with Retry-After) and the light client's query starts in its place."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import pytest
from reliability_support import children, serving
from sparql_support import client_at, endpoint_server
from test_sparql_fairness import CHEAP, ENDLESS, _send_from, _warm

from server.sparql import QUERIES
from server.sparql.broker import BrokerQueries

LIGHT = "127.0.0.5"


def _heavy_addresses(count: int) -> list[str]:
    return [f"127.0.0.{11 + n}" for n in range(count)]


def _broker_status(server_pid: int):
    """The status call of the broker under `treatygraph serve`."""
    for pid in children(server_pid):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"server.sparql.broker" in argv:
            broker = BrokerQueries(argv[argv.index(b"server.sparql.broker") + 1].decode())
            return broker.status
    raise AssertionError("no broker under the server")


def _wait_all_busy(status, workers: int, seconds: float = 30.0) -> None:
    """Until every worker runs a heavy query and more wait (the pool's own count, not a guess
    from timing, so a loaded machine only makes this take longer)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        clients = status()["clients"].values()
        if sum(c["running"] for c in clients) == workers and sum(c["waiting"] for c in clients):
            return
        time.sleep(0.1)
    raise AssertionError(f"the heavy queries never took every worker: {status()}")


def _wait_replaced(status, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while status()["starting"] and time.monotonic() < deadline:
        time.sleep(0.1)


def _answers(socks: list[socket.socket]) -> list[bytes]:
    """The heads of the answers already given (the others still run)."""
    heads = []
    for sock in socks:
        sock.settimeout(0.05)
        with contextlib.suppress(TimeoutError, OSError):
            heads.append(sock.recv(4096))
    return heads


@contextlib.contextmanager
def _server(config, where: str):
    if where == "in-process":
        with endpoint_server(
            config, query_workers=3, query_timeout=30.0, answer_cache_mb=0
        ) as server:
            yield server.url, server.port, lambda: server.app.extensions[QUERIES].status()
        return
    with serving(
        config,
        TREATYGRAPH_QUERY_WORKERS="3",
        TREATYGRAPH_QUERY_TIMEOUT="30",
        TREATYGRAPH_ANSWER_CACHE_MB="0",
    ) as server:
        yield server.url, server.port, _broker_status(server.process.pid)


@pytest.mark.parametrize(
    ("where", "heavy_count"),
    [("in-process", 4), pytest.param("serve", 4, marks=pytest.mark.slow), ("serve", 8)],
)
def test_a_light_clients_query_starts_within_a_second_however_many_addresses_heavy_ones_use(
    config, built, where, heavy_count
):
    with _server(config, where) as (url, port, status):
        _warm(url)
        heavy = [
            _send_from(address, port, ENDLESS)
            for address in _heavy_addresses(heavy_count)
            for _ in range(2)
        ]
        try:
            _wait_all_busy(status, workers=3)
            # Each heavy address new to the server may stop one query of another (it has used no
            # time yet either); after two seconds they all have, and a light client is told apart.
            # The workers stopped meanwhile are replaced before it comes (a loaded machine takes
            # seconds to start one): it measures the wait for a turn, not for a new process.
            time.sleep(2.0)
            _wait_replaced(status)
            started = time.monotonic()
            light = client_at(LIGHT).get(f"{url}/sparql", params={"query": CHEAP}, timeout=30)
            waited = time.monotonic() - started
            assert light.status_code == 200 and light.json()["boolean"] is True
            queued = float(light.headers["Server-Timing"].split("dur=")[1].split(";")[0]) / 1000
            assert queued < 1.0, f"the light client's query waited {queued:.2f} s for a worker"
            # Without the stop it would wait for a heavy query's 30 s timeout.
            assert waited < 10, f"the light client waited {waited:.2f} s"
            stopped = [head for head in _answers(heavy) if head.startswith(b"HTTP/1.1 503")]
            assert stopped, "no heavy query was stopped for it"
            assert b"retry-after: 5" in stopped[0].lower()
            assert b"client with little recent query time" in stopped[0]
        finally:
            for sock in heavy:
                sock.close()
