"""Latency of a typical lookup through /sparql, and how a runaway query is stopped.

Three ways to the same lookup, 200 times each after a warm-up: pyoxigraph directly in this process
(the reference), the Flask app in process (test client: protocol, negotiation, the worker pipe),
and over HTTP to `treatygraph serve` (gunicorn) on a free loopback port. Then a runaway query
against an app whose timeout is 2 s: when the client got its 504, how long the kill took, and the
worker's memory before, during and after.

Run: python -m bench.sparql_endpoint [BUILD_DIR]   (default: the configured build; prints JSON)
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyoxigraph as ox
import requests

from treatygraph.core.config import Config
from treatygraph.publish.build import STORE_DIR, current_release
from treatygraph.rdf.namespaces import ProjectNamespaces

LOOKUP = """SELECT ?label ?type WHERE {
  <https://w3id.org/treatygraph/id/organization/csto> rdfs:label ?label ; a ?type .
}"""
RUNAWAY = "SELECT ?a ?d ?g WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } ORDER BY ?a ?d ?g ?j"
ROUNDS = 200


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def _time(call, rounds: int = ROUNDS) -> list[float]:
    for _ in range(10):
        call()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def direct(config: Config) -> list[float]:
    release = current_release(config)
    store = ox.Store.read_only(str(release / STORE_DIR))
    prefixes = ProjectNamespaces(config.base_iri).prefixes()

    def call():
        results = store.query(LOOKUP, prefixes=prefixes, use_default_graph_as_union=True)
        results.serialize(format=ox.QueryResultsFormat.JSON)

    return _time(call)


def in_process(config: Config) -> list[float]:
    from server.app import create_app
    from server.sparql import shutdown

    app = create_app(config)
    client = app.test_client()

    def call():
        response = client.get("/sparql", query_string={"query": LOOKUP})
        assert response.status_code == 200, response.data
        response.get_data()

    try:
        return _time(call)
    finally:
        shutdown(app)


def over_http(config: Config) -> list[float]:
    port = _free_port()
    env = {**os.environ, "TREATYGRAPH_BUILD_DIR": str(config.build_dir)}
    treatygraph = Path(sys.executable).with_name("treatygraph")
    server = subprocess.Popen(
        [str(treatygraph), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/sparql"
    session = requests.Session()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                session.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

        def call():
            response = session.get(url, params={"query": LOOKUP}, timeout=10)
            assert response.status_code == 200, response.text

        return _time(call)
    finally:
        server.terminate()
        server.wait(30)


def runaway(config: Config) -> dict:
    from server.app import create_app
    from server.sparql import QUERIES, shutdown

    app = create_app(dataclasses.replace(config, query_timeout=2.0, query_workers=2))
    client = app.test_client()
    try:
        client.get("/sparql", query_string={"query": LOOKUP}).get_data()
        pool = app.extensions[QUERIES].pool
        before = {pid: _rss_kib(pid) for pid in pool.pids()}
        samples: list[tuple[float, int | None]] = []
        stop = threading.Event()

        def watch():
            busy = None
            while not stop.is_set():
                idle = set(pool.pids())
                running = [pid for pid in before if pid not in idle]
                busy = running[0] if running else busy
                if busy:
                    samples.append((time.monotonic(), _rss_kib(busy)))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        started = time.monotonic()
        response = client.get("/sparql", query_string={"query": RUNAWAY})
        answered = time.monotonic() - started
        stop.set()
        watcher.join()
        killed = [pid for pid in before if pid not in pool.pids()]
        peak = max((rss for _, rss in samples if rss), default=None)
        after = {pid: _rss_kib(pid) for pid in pool.pids()}
        quick_started = time.monotonic()
        quick = client.get("/sparql", query_string={"query": LOOKUP})
        quick.get_data()
        return {
            "status": response.status_code,
            "message": response.get_data(as_text=True).strip(),
            "seconds_to_answer": round(answered, 3),
            "seconds_after_timeout": round(answered - 2.0, 3),
            "killed_worker": killed,
            "killed_worker_alive_after": any(_rss_kib(pid) is not None for pid in killed),
            "worker_rss_kib_before": before,
            "worker_rss_kib_peak_while_running": peak,
            "pool_rss_kib_after": after,
            "next_query_status": quick.status_code,
            "next_query_ms": round((time.monotonic() - quick_started) * 1000, 1),
        }
    finally:
        shutdown(app)


def main() -> None:
    config = Config.from_env()
    if len(sys.argv) > 1:
        config = dataclasses.replace(config, build_dir=Path(sys.argv[1]).resolve())
    if current_release(config) is None:
        sys.exit(f"no build in {config.build_dir}; run `treatygraph build` first")
    reference = direct(config)
    local = in_process(config)
    http = over_http(config)
    base = statistics.median(reference)
    report = {
        "rounds": ROUNDS,
        "query": LOOKUP,
        "pyoxigraph_direct": _percentiles(reference),
        "flask_in_process": {
            **_percentiles(local),
            "x_reference": round(statistics.median(local) / base, 1),
        },
        "http_gunicorn": {
            **_percentiles(http),
            "x_reference": round(statistics.median(http) / base, 1),
        },
        "runaway_timeout_2s": runaway(config),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
