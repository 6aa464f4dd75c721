"""Queries too long or too flat to parse safely are refused by the web process, before any
worker; a worker that dies anyway is logged with its signal; errors never echo the whole text
(issue 20, items 4 and 5)."""

from __future__ import annotations

import importlib
import logging
import os
import signal

import pytest
import requests
from sparql_support import endpoint_server

from server.sparql import QUERIES as QUERY_SERVICE

pool_module = importlib.import_module("server.sparql.pool")

# The shapes and sizes that crashed pyoxigraph's parser (SIGSEGV) in the red team's report.
CRASHING = {
    "path-20000-steps": "SELECT * WHERE { ?s " + "/".join(["<p>"] * 20_000) + " ?o }",
    "alternatives-50000": "SELECT * WHERE { ?s " + "|".join(["<p>"] * 50_000) + " ?o }",
    "and-100000": "ASK { FILTER(" + " && ".join(["true"] * 100_000) + ") }",
    "union-30000": "SELECT * WHERE { " + " UNION ".join(["{?s ?p ?o}"] * 30_000) + " }",
    "plus-150000": "ASK { FILTER(" + " + ".join(["1"] * 150_000) + " > 0) }",
    "operators-3000": "ASK { FILTER(" + " + ".join(["1"] * 3_000) + " > 0) }",
}


@pytest.fixture(scope="module")
def endpoint(config, built):
    with endpoint_server(config, answer_cache_mb=0) as server:
        yield server


@pytest.mark.parametrize("name", sorted(CRASHING))
def test_long_flat_queries_are_refused_before_any_worker(endpoint, name):
    response = requests.post(f"{endpoint.url}/sparql", data={"query": CRASHING[name]}, timeout=60)
    # 413 where the text is over the request size limit, 400 from the reader otherwise.
    assert response.status_code in (400, 413), response.text[:300]
    assert any(word in response.text for word in ("tokens", "operators", "too large"))
    assert "RateLimit" not in response.headers  # no worker time was asked for
    assert len(response.content) < 2_000


def test_a_syntax_error_in_a_huge_query_echoes_a_window_not_the_text(endpoint):
    query = "SELECT * WHERE { ?s ?p ?o FILTER(" + "1 + " * 2_000 + "1) ?? }" + " " * 800_000
    response = requests.post(f"{endpoint.url}/sparql", data={"query": query}, timeout=60)
    assert response.status_code == 400
    assert len(response.content) < 2_000, len(response.content)


def test_a_worker_that_dies_is_logged_with_its_signal(endpoint, caplog):
    assert requests.get(f"{endpoint.url}/sparql", params={"query": "ASK {}"}, timeout=30).ok
    pool = endpoint.app.extensions[QUERY_SERVICE].pool
    worker = pool.acquire(timeout=30)
    assert worker is not None
    os.kill(worker.pid, signal.SIGSEGV)
    worker.process.wait(10)
    with caplog.at_level(logging.ERROR, logger=pool_module.__name__):
        pool.discard(worker)
    assert f"query worker {worker.pid} had died: killed by SIGSEGV" in caplog.text


def test_exit_reasons_name_the_signal():
    assert pool_module.exit_reason(-signal.SIGSEGV) == "killed by SIGSEGV"
    assert pool_module.exit_reason(3) == "exit status 3"
