"""Answers of a release kept and revalidated: what is kept, what is never kept, what it bypasses."""

from __future__ import annotations

import io
import threading
import time

import pytest
import rdflib
import requests
from rdflib.query import Result
from sparql_support import ARMENIA, CSTO, WIKIDATA, client_at, endpoint_server

from server.sparql import QUERIES, shutdown
from server.sparql.answers import ANSWERS
from treatygraph.publish.build import _swap_current
from treatygraph.sparql.text import read_query

LABELS = f"SELECT ?label WHERE {{ <{CSTO}> rdfs:label ?label }}"
CONSTRUCT_CSTO = f"CONSTRUCT {{ <{CSTO}> ?p ?o }} WHERE {{ <{CSTO}> ?p ?o }}"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
RUNAWAY = "SELECT ?a ?d ?g WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } ORDER BY ?a ?d ?g ?j"
SHARED = "public, max-age=60"


@pytest.fixture(scope="module")
def server(config, built):
    with endpoint_server(config) as live:
        yield live


@pytest.fixture
def fresh(config, built):
    """A server of its own, its caches empty."""
    with endpoint_server(config) as live:
        yield live


def answers(server) -> list[str]:
    """The tags of the answers the server keeps (readings of queries left out)."""
    return [key for key in server.app.extensions[ANSWERS] if isinstance(key, str)]


def _labels(response) -> set[str]:
    assert response.status_code == 200, response.text
    return {row["label"]["value"] for row in response.json()["results"]["bindings"]}


def test_a_repeated_query_is_answered_from_memory_without_a_worker(fresh):
    url = f"{fresh.url}/sparql"
    first = requests.get(url, params={"query": LABELS}, timeout=10)
    assert "Collective Security Treaty Organization" in _labels(first)
    assert first.headers["ETag"].startswith('W/"')
    assert first.headers["Cache-Control"] == SHARED
    assert "Accept" in first.headers["Vary"]
    assert len(answers(fresh)) == 1
    shutdown(fresh.app)  # no query worker from here on, unless one is asked for
    again = requests.get(url, params={"query": LABELS}, timeout=10)
    head = requests.head(url, params={"query": LABELS}, timeout=10)
    assert QUERIES not in fresh.app.extensions, "a kept answer needs no query worker"
    assert again.content == first.content
    for response in (again, head):
        assert response.status_code == 200
        for name in ("ETag", "Cache-Control", "Content-Type", "Vary"):
            assert response.headers[name] == first.headers[name], name


def test_revalidation_answers_304(server):
    url = f"{server.url}/sparql"
    first = requests.get(url, params={"query": LABELS}, timeout=10)
    etag = first.headers["ETag"]
    again = requests.get(url, params={"query": LABELS}, headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == SHARED
    assert "Accept" in again.headers["Vary"]
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    xml = requests.get(
        url,
        params={"query": LABELS},
        headers={"If-None-Match": etag, "Accept": "application/sparql-results+xml"},
        timeout=10,
    )
    assert xml.status_code == 200, "another format is another answer"
    assert xml.headers["ETag"] != etag
    stale = requests.get(
        url, params={"query": LABELS}, headers={"If-None-Match": '"other"'}, timeout=10
    )
    assert stale.status_code == 200 and stale.content == first.content


def test_an_answer_too_large_to_keep_is_still_revalidated(config, built):
    with endpoint_server(config, answer_cache_entry_kb=1) as server:
        url = f"{server.url}/sparql"
        first = requests.get(url, params={"query": CONSTRUCT_CSTO, "format": "ttl"}, timeout=10)
        assert first.status_code == 200 and len(first.content) > 1024
        graph = rdflib.Graph().parse(data=first.content, format="turtle")
        assert (rdflib.URIRef(CSTO), None, None) in graph
        assert first.headers["Cache-Control"] == SHARED
        assert len(answers(server)) == 0
        again = requests.get(
            url,
            params={"query": CONSTRUCT_CSTO, "format": "ttl"},
            headers={"If-None-Match": first.headers["ETag"]},
            timeout=10,
        )
        assert again.status_code == 304


def test_each_format_and_dataset_is_its_own_answer(server, built):
    url = f"{server.url}/sparql"
    facts = f"{built.base_iri}/graph/facts"
    ontology = f"{built.base_iri}/graph/ontology"
    for _ in range(2):  # the second round from memory
        seen = {}
        for accept, fmt in (
            ("application/sparql-results+json", "json"),
            ("application/sparql-results+xml", "xml"),
            ("text/csv", "csv"),
        ):
            response = requests.get(url, params={"query": LABELS}, headers={"Accept": accept})
            assert response.headers["Content-Type"].startswith(accept)
            result = Result.parse(io.BytesIO(response.content), format=fmt)
            seen[fmt] = {str(row[0]) for row in result}
        assert seen["json"] == seen["xml"] == seen["csv"]
        counts = {}
        for graph in (facts, ontology):
            response = requests.get(
                url, params={"query": COUNT, "default-graph-uri": graph}, timeout=10
            )
            counts[graph] = int(response.json()["results"]["bindings"][0]["n"]["value"])
        assert counts[facts] != counts[ontology]


def test_post_answers_come_from_memory_but_are_not_offered_to_other_caches(fresh):
    url = f"{fresh.url}/sparql"
    by_get = requests.get(url, params={"query": LABELS}, timeout=10)
    shutdown(fresh.app)
    by_form = requests.post(url, data={"query": LABELS}, timeout=10)
    by_body = requests.post(
        url,
        data=LABELS.encode(),
        headers={
            "Content-Type": "application/sparql-query",
            "If-None-Match": by_get.headers["ETag"],
        },
        timeout=10,
    )
    assert QUERIES not in fresh.app.extensions
    for response in (by_form, by_body):
        assert response.status_code == 200, "a POST is never answered 304"
        assert response.content == by_get.content
        assert "ETag" not in response.headers
        assert "public" not in response.headers.get("Cache-Control", "")


def _never_kept(server, response) -> None:
    assert "ETag" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert len(answers(server)) == 0


def test_cut_answers_are_never_kept(config, built):
    with endpoint_server(config, max_result_rows=5) as server:
        url = f"{server.url}/sparql"
        for fmt in ("json", "csv", "ttl"):
            query = (
                "CONSTRUCT WHERE { ?s ?p ?o }" if fmt == "ttl" else "SELECT * WHERE { ?s ?p ?o }"
            )
            response = requests.get(url, params={"query": query, "format": fmt}, timeout=10)
            assert response.headers["X-TreatyGraph-Result-Cut"] == "rows=5"
            _never_kept(server, response)


def test_streamed_answers_are_never_kept(fresh):
    url = f"{fresh.url}/sparql"
    response = requests.get(url, params={"query": "SELECT * WHERE { ?s ?p ?o }"}, timeout=30)
    assert response.status_code == 200
    assert len(response.content) > 256 * 1024, "long enough to be streamed"
    assert "X-TreatyGraph-Result-Cut" not in response.headers
    assert response.json()["results"]["bindings"]
    _never_kept(fresh, response)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT (NOW() AS ?now) WHERE {}",
        f"SELECT ?p WHERE {{ <{ARMENIA}> ?p ?o }} ORDER BY RAND() LIMIT 3",
        "SELECT (STRUUID() AS ?id) WHERE {}",
    ],
)
def test_answers_that_change_between_runs_are_never_kept(fresh, query):
    response = requests.get(f"{fresh.url}/sparql", params={"query": query}, timeout=10)
    assert response.status_code == 200 and response.json()["results"]["bindings"]
    _never_kept(fresh, response)


def test_errors_are_never_kept(fresh):
    url = f"{fresh.url}/sparql"
    for query, status in (("SELECT * WHERE { ?s ?p }", 400), ("DROP ALL", 403)):
        for _ in range(2):
            response = requests.get(url, params={"query": query}, timeout=10)
            assert response.status_code == status
            _never_kept(fresh, response)


def test_a_query_is_read_once_per_release_and_a_refused_one_each_time(fresh, monkeypatch):
    import server.sparql as endpoint

    texts = []

    def counted(text, *args, **kwargs):
        texts.append(text)
        return read_query(text, *args, **kwargs)

    monkeypatch.setattr(endpoint, "read_query", counted)
    url = f"{fresh.url}/sparql"
    for query, status in ((LABELS, 200), ("DROP ALL", 403), (f"{LABELS} #", 200)):
        for _ in range(3):
            assert requests.get(url, params={"query": query}, timeout=10).status_code == status
    assert texts == [LABELS, *["DROP ALL"] * 3, f"{LABELS} #"]


def test_federated_answers_are_never_kept(config, built, wikidata_mirror):
    query = f"SELECT ?label WHERE {{ SERVICE <{WIKIDATA}> {{ ?item rdfs:label ?label }} }} LIMIT 1"
    with endpoint_server(config, service_mirrors={WIKIDATA: wikidata_mirror}) as server:
        for _ in range(2):
            response = requests.get(f"{server.url}/sparql", params={"query": query}, timeout=30)
            assert response.status_code == 200 and response.json()["results"]["bindings"]
            _never_kept(server, response)


def test_a_kept_answer_never_bypasses_a_refusal(config, built):
    with endpoint_server(config, max_request_bytes=2000) as server:
        url = f"{server.url}/sparql"
        assert requests.get(url, params={"query": LABELS}, timeout=10).status_code == 200
        assert len(answers(server)) == 1
        refused = [
            requests.get(url, params={"query": LABELS, "update": "DROP ALL"}, timeout=10),
            requests.post(
                url,
                data=LABELS.encode(),
                headers={"Content-Type": "application/sparql-update"},
                timeout=10,
            ),
            requests.post(url, data={"query": LABELS, "padding": "x" * 5000}, timeout=10),
            requests.get(url, params={"query": LABELS, "default-graph-uri": "not an iri"}),
            requests.get(url, params={"query": LABELS, "format": "docx"}, timeout=10),
        ]
        assert [r.status_code for r in refused] == [403, 403, 413, 400, 400]
        for response in refused:
            assert "ETag" not in response.headers
            assert response.headers["Cache-Control"] == "no-store"


def test_a_kept_answer_does_not_count_against_the_client_limit(config, built):
    with endpoint_server(
        config, query_timeout=3.0, query_workers=2, max_concurrent_queries_per_client=1
    ) as server:
        url = f"{server.url}/sparql"
        first = client_at("127.0.0.2").get(url, params={"query": LABELS}, timeout=10)
        assert first.status_code == 200 and first.headers["RateLimit"]
        running = threading.Thread(
            target=lambda: requests.get(url, params={"query": RUNAWAY}, timeout=30)
        )
        running.start()
        try:
            time.sleep(0.5)
            kept = requests.get(url, params={"query": LABELS}, timeout=10)
            assert kept.status_code == 200 and kept.content == first.content
            assert "RateLimit" not in kept.headers, "no worker time used, and not the first's"
            assert requests.get(url, params={"query": COUNT}, timeout=10).status_code == 429
        finally:
            running.join(30)


def test_the_answers_of_a_replaced_release_are_forgotten(config, two_releases):
    swapped, _, second = two_releases
    with endpoint_server(config, build_dir=swapped.build_dir) as server:
        url = f"{server.url}/sparql"
        before = requests.get(url, params={"query": LABELS}, timeout=10)
        requests.get(url, params={"query": COUNT}, timeout=10)
        assert len(answers(server)) == 2
        _swap_current(swapped, second)
        after = requests.get(url, params={"query": LABELS}, timeout=10)
        assert after.content == before.content
        assert after.headers["ETag"] != before.headers["ETag"], "another release, another answer"
        assert len(answers(server)) == 1
        stale = requests.get(
            url, params={"query": LABELS}, headers={"If-None-Match": before.headers["ETag"]}
        )
        assert stale.status_code == 200
