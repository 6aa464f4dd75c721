"""`treatygraph serve` under its HTTP server (gunicorn with threads by default, or with gevent): answers longer than
the first chunk stream whole, and a graceful reload (SIGHUP) fails no request."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import rdflib
import requests
from reliability_support import SLOW_QUERY, SlowSparqlEndpoint, serving, web_processes

EVERYTHING = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


@pytest.mark.parametrize("http_server", [pytest.param("gevent", marks=pytest.mark.slow), "gthread"])
def test_an_answer_longer_than_the_first_chunk_streams_whole(config, built, http_server):
    with serving(config, TREATYGRAPH_HTTP_SERVER=http_server) as server:
        response = requests.get(
            f"{server.url}/sparql",
            params={"query": EVERYTHING},
            headers={"Accept": "application/n-triples"},
            timeout=60,
        )
        assert response.status_code == 200
        assert response.headers.get("Transfer-Encoding") == "chunked"
        assert len(response.content) > 256 * 1024
        graph = rdflib.Graph().parse(data=response.text, format="nt")
        assert len(graph) == built.triples


def test_a_graceful_reload_fails_no_request(config, built):
    slow = SlowSparqlEndpoint(delay=3.0)
    try:
        with serving(config, TREATYGRAPH_SERVICE_MIRRORS=slow.mirrors) as server:
            before = web_processes(server.process.pid)
            outcome: dict = {}

            def in_flight() -> None:
                response = requests.get(
                    f"{server.url}/sparql", params={"query": SLOW_QUERY}, timeout=60
                )
                outcome.update(status=response.status_code, body=response.text)

            thread = threading.Thread(target=in_flight)
            thread.start()
            deadline = time.monotonic() + 20
            while slow.requests == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            os.kill(server.process.pid, signal.SIGHUP)
            answers = []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                answers.append(
                    requests.get(
                        f"{server.url}/sparql", params={"query": "ASK {}"}, timeout=30
                    ).status_code
                )
                if not before & web_processes(server.process.pid):
                    break
                time.sleep(0.1)
            thread.join(30)
            assert outcome["status"] == 200 and '"late"' in outcome["body"]
            assert set(answers) == {200}
            assert not before & web_processes(server.process.pid), "no new web processes"
            after = requests.get(f"{server.url}/sparql", params={"query": "ASK { ?s ?p ?o }"})
            assert after.status_code == 200 and after.json()["boolean"] is True
    finally:
        slow.close()
