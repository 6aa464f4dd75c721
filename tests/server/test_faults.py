"""Faults: a build killed halfway, a build swapped in under load, SIGTERM, a query worker killed.

Nothing is lost: the last good build keeps serving through every one of them, and every answer
comes whole from one build.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from reliability_support import (
    MARKER,
    SLOW_QUERY,
    SlowSparqlEndpoint,
    add_marker_record,
    children,
    cli_env,
    fingerprint,
    seed_with,
    serving,
)
from sparql_support import endpoint_server

from server.app import create_app
from server.sparql import shutdown
from treatygraph.publish.build import _swap_current, build, current_release, rewrite_dumps

ASK_MARKER = f"ASK {{ <{MARKER}> ?p ?o }}"
FLIPS = 8  # swaps of `current` between two builds while clients hammer the server
FLIP_INTERVAL = 0.5


def _releases(config) -> list[str]:
    return sorted(p.name for p in (config.build_dir / "releases").iterdir())


def _query_worker_pids(master: int) -> list[int]:
    """The query worker processes under gunicorn's master (they run in sessions of their own)."""
    return [
        pid
        for worker in children(master)
        for pid in children(worker)
        if b"server.sparql.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _ask(base_url: str, query: str) -> bool:
    response = requests.get(f"{base_url}/sparql", params={"query": query}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["boolean"]


@pytest.mark.parametrize(
    ("pause", "kill_after"),
    [
        ("store=120", "Loaded graph"),
        pytest.param("dumps=120", "Writing the dumps", marks=pytest.mark.slow),
    ],
    ids=["halfway-through-the-store-load", "before-the-dumps"],
)
def test_kill_9_of_a_build_loses_nothing(config, built, inputs_copy, pause, kill_after):
    good = seed_with(config, inputs_copy)
    good_release = current_release(inputs_copy)
    add_marker_record(inputs_copy)
    with serving(inputs_copy) as server:
        assert fingerprint(server.url)[1] == 0
        killed = subprocess.Popen(
            [sys.executable, "-m", "treatygraph", "build"],
            env=cli_env(inputs_copy, TREATYGRAPH_BUILD_PAUSE=pause),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            seen = []
            for line in killed.stderr:
                seen.append(line)
                if kill_after in line:
                    break
            assert any(kill_after in line for line in seen), "".join(seen)
            (staging,) = (inputs_copy.build_dir / "releases").glob(".staging-*")
            assert (staging / "store").is_dir()
            assert not (staging / "dumps").exists()
            assert killed.poll() is None, "the build ended before it could be killed"
            os.kill(killed.pid, signal.SIGKILL)
            assert killed.wait(10) == -signal.SIGKILL
        finally:
            if killed.poll() is None:
                killed.kill()
                killed.wait()
            killed.stderr.close()

        # The half-written build is left behind, never swapped in; the last good one serves.
        assert staging.exists()
        assert current_release(inputs_copy) == good_release
        health = requests.get(f"{server.url}/healthz", timeout=10).json()
        assert (health["version"], health["triples"]) == (good.version, good.triples)
        assert fingerprint(server.url) == (good.triples, 0)
        dump = requests.get(f"{server.url}/dumps/treatygraph.nt.gz", timeout=30)
        assert dump.status_code == 200
        assert gzip.decompress(dump.content).count(b"\n") == good.triples

        # The next build succeeds, clears the stale staging folder, and is served at once.
        result = subprocess.run(
            [sys.executable, "-m", "treatygraph", "build", "--quiet"],
            env=cli_env(inputs_copy),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert not staging.exists()
        assert not list((inputs_copy.build_dir / "releases").glob(".staging-*"))
        assert current_release(inputs_copy) != good_release
        assert _ask(server.url, ASK_MARKER) is True
        new = requests.get(f"{server.url}/healthz", timeout=10).json()
        assert new["version"] != good.version and new["triples"] > good.triples


@pytest.mark.slow
def test_a_build_swapped_in_under_load_fails_no_request_and_mixes_no_builds(
    config, built, inputs_copy
):
    """Threads query, read pages and download dumps while `current` flips between two builds
    (and a third is built): every request succeeds and every answer is exactly one build's."""
    first = seed_with(config, inputs_copy)
    release_a = current_release(inputs_copy)
    add_marker_record(inputs_copy)
    second = build(inputs_copy)
    release_b = current_release(inputs_copy)
    assert second.triples > first.triples

    with serving(inputs_copy) as server:
        expected: dict[str, dict] = {}
        for name, release in (("a", release_a), ("b", release_b)):
            _swap_current(inputs_copy, release)
            dump = requests.get(f"{server.url}/dumps/treatygraph.nt.gz", timeout=30)
            page = requests.get(
                f"{server.url}/id/state/ruritania", headers={"Accept": "text/turtle"}, timeout=30
            )
            expected[name] = {
                "fingerprint": fingerprint(server.url),
                "health": requests.get(f"{server.url}/healthz", timeout=10).json()["version"],
                "dump": hashlib.sha256(dump.content).hexdigest(),
                "page": page.status_code,
            }
        assert expected["a"]["fingerprint"] == (first.triples, 0)
        assert expected["b"]["fingerprint"][0] == second.triples
        assert expected["b"]["fingerprint"][1] > 0
        assert (expected["a"]["page"], expected["b"]["page"]) == (404, 200)

        stop = threading.Event()
        seen: Counter = Counter()
        failures: list[str] = []

        def client(kind: str) -> None:
            session = requests.Session()
            while not stop.is_set():
                try:
                    if kind == "sparql":
                        answer = fingerprint(server.url, session)
                        key = "fingerprint"
                    elif kind == "health":
                        answer = session.get(f"{server.url}/healthz", timeout=30).json()["version"]
                        key = "health"
                    elif kind == "dump":
                        response = session.get(f"{server.url}/dumps/treatygraph.nt.gz", timeout=30)
                        response.raise_for_status()
                        answer = hashlib.sha256(response.content).hexdigest()
                        key = "dump"
                    else:
                        response = session.get(
                            f"{server.url}/id/state/ruritania",
                            headers={"Accept": "text/turtle"},
                            timeout=30,
                        )
                        answer = response.status_code
                        key = "page"
                except Exception as err:  # any failure at all is what this test looks for
                    failures.append(f"{kind}: {err!r}")
                    continue
                matches = [name for name in ("a", "b") if expected[name][key] == answer]
                if not matches:
                    failures.append(f"{kind}: {answer!r} is neither build's answer")
                for name in matches:
                    seen[(kind, name)] += 1

        kinds = ["sparql", "sparql", "sparql", "health", "dump", "page"]
        threads = [threading.Thread(target=client, args=(kind,)) for kind in kinds]
        for thread in threads:
            thread.start()
        try:
            for flip in range(FLIPS):
                _swap_current(inputs_copy, release_a if flip % 2 == 0 else release_b)
                time.sleep(FLIP_INTERVAL)
            third = build(inputs_copy)  # a real build swapping in while the clients go on
            assert third.triples == second.triples
            time.sleep(0.5)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)

    total = sum(seen.values())
    print(f"\nswap under load: {total} answers, {len(failures)} failures, by build: {dict(seen)}")
    assert not failures, failures[:10]
    for kind in set(kinds):
        assert seen[(kind, "a")] and seen[(kind, "b")], f"{kind} never saw both builds: {seen}"


def test_sigterm_lets_in_flight_requests_finish_then_exits(config, built, inputs_copy):
    seed_with(config, inputs_copy)
    slow = SlowSparqlEndpoint(delay=3.0)
    try:
        with serving(inputs_copy, TREATYGRAPH_SERVICE_MIRRORS=slow.mirrors) as server:
            outcome: dict = {}

            def in_flight() -> None:
                started = time.monotonic()
                response = requests.get(
                    f"{server.url}/sparql", params={"query": SLOW_QUERY}, timeout=60
                )
                outcome.update(
                    status=response.status_code,
                    body=response.text,
                    seconds=time.monotonic() - started,
                )

            thread = threading.Thread(target=in_flight)
            thread.start()
            deadline = time.monotonic() + 20
            while slow.requests == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert slow.requests == 1, "the query never reached the remote endpoint"
            query_workers = _query_worker_pids(server.process.pid)
            assert query_workers, "no query worker processes found"
            sent = time.monotonic()
            status = server.terminate()
            exited_after = time.monotonic() - sent
            thread.join(30)

            assert outcome["status"] == 200, outcome
            assert '"late"' in outcome["body"]
            assert outcome["seconds"] >= 3.0
            assert status == 0, server.output
            assert exited_after >= 2.0, "the server exited before its in-flight request finished"
            assert "Traceback" not in server.output
            with pytest.raises(requests.ConnectionError):
                requests.get(f"{server.url}/healthz", timeout=5)
            deadline = time.monotonic() + 10
            while any(_alive(pid) for pid in query_workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not [pid for pid in query_workers if _alive(pid)], "query workers outlived it"
    finally:
        slow.close()


def test_a_query_worker_killed_mid_query_fails_that_request_only(config, built):
    slow = SlowSparqlEndpoint(delay=30.0)
    try:
        with endpoint_server(
            config, query_workers=2, service_mirrors={"https://query.wikidata.org/sparql": slow.url}
        ) as server:
            from server.sparql import QUERIES

            url = f"{server.url}/sparql"
            assert requests.get(url, params={"query": "ASK {}"}, timeout=10).status_code == 200
            workers = server.app.extensions[QUERIES].pool
            idle_before = set(workers.pids())
            outcome: dict = {}

            def victim() -> None:
                response = requests.get(url, params={"query": SLOW_QUERY}, timeout=60)
                outcome.update(status=response.status_code, body=response.text)

            thread = threading.Thread(target=victim)
            thread.start()
            deadline = time.monotonic() + 20
            while slow.requests == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            (busy,) = idle_before - set(workers.pids())
            os.kill(busy, signal.SIGKILL)
            thread.join(30)

            assert outcome["status"] == 500, outcome
            assert "ended unexpectedly" in outcome["body"]
            assert "Traceback" not in outcome["body"]
            after = requests.get(url, params={"query": "ASK { ?s ?p ?o }"}, timeout=10)
            assert after.status_code == 200 and after.json()["boolean"] is True
            pids = set(workers.pids())
            assert busy not in pids and len(pids) == workers.size + workers.spares
            assert workers.kills == 1
    finally:
        slow.close()


def test_rewriting_the_dumps_never_takes_them_away(config, built, inputs_copy):
    """`treatygraph dump` under readers: no download fails, a killed rewrite's leftovers go."""
    seed_with(config, inputs_copy)
    release = current_release(inputs_copy)
    dumps = release / "dumps"
    before = {path.name: path.read_bytes() for path in dumps.iterdir()}
    for leftover in (".dumps-999999", ".old-dumps-999999"):  # as a killed rewrite leaves them
        (release / leftover).mkdir()
        (release / leftover / "treatygraph.ttl").write_text("half written")
    app = create_app(inputs_copy)
    stop = threading.Event()
    statuses: Counter = Counter()

    def reader() -> None:
        client = app.test_client()
        while not stop.is_set():
            for name in ("void.ttl", "treatygraph.nt.gz", "SHA256SUMS"):
                response = client.get(f"/dumps/{name}")
                statuses[response.status_code] += 1
                response.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(3):
            rewrite_dumps(inputs_copy)
    finally:
        stop.set()
        thread.join(30)
        shutdown(app)
    assert set(statuses) == {200}, statuses
    assert not list(release.glob(".dumps-*")) and not list(release.glob(".old-dumps-*"))
    after = {path.name: path.read_bytes() for path in dumps.iterdir()}
    assert set(after) == set(before)
    for name in ("treatygraph.nt.gz", "treatygraph.nq.gz"):  # the sorted, byte-stable ones
        assert after[name] == before[name]
    for line in (dumps / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((dumps / name).read_bytes()).hexdigest() == digest
