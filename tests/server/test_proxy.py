"""Behind a reverse proxy: the per-client query limit counts the address the proxy forwards, and
only when the proxy is trusted (TREATYGRAPH_PROXY_HOPS)."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from sparql_support import endpoint_server

from treatygraph.core.config import Config

RUNAWAY = "SELECT ?a ?d WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a ?d ?g"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def _second_client_status(config, hops: int) -> int:
    """Status of a query from a second forwarded address while the first runs a long query."""
    with endpoint_server(
        config,
        query_timeout=3.0,
        query_workers=2,
        max_concurrent_queries_per_client=1,
        proxy_hops=hops,
    ) as server:
        url = f"{server.url}/sparql"

        def first():
            requests.get(
                url,
                params={"query": RUNAWAY},
                headers={"X-Forwarded-For": "203.0.113.1"},
                timeout=30,
            )

        thread = threading.Thread(target=first)
        thread.start()
        time.sleep(0.5)
        status = requests.get(
            url, params={"query": COUNT}, headers={"X-Forwarded-For": "203.0.113.2"}, timeout=10
        ).status_code
        thread.join(20)
        return status


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(config, built):
    assert _second_client_status(config, hops=1) == 200


def test_forwarded_addresses_are_ignored_unless_the_proxy_is_trusted(config, built):
    assert _second_client_status(config, hops=0) == 429


def test_proxy_hops_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TREATYGRAPH_PROXY_HOPS", "2")
    assert Config.from_env().proxy_hops == 2
    monkeypatch.setenv("TREATYGRAPH_PROXY_HOPS", "two")
    with pytest.raises(ValueError, match="TREATYGRAPH_PROXY_HOPS"):
        Config.from_env()
