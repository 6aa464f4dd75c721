"""Federation both ways, against a real Oxigraph server standing in for the Wikidata Query Service."""

from __future__ import annotations

import time
from io import BytesIO

import pytest
import rdflib
import requests
from rdflib.query import Result
from sparql_support import ARMENIA, CSTO, WIKIDATA, HangingSocket, SilentSocket, endpoint_server

from treatygraph.core.config import WIKIDATA_SPARQL

WD_CSTO = "http://www.wikidata.org/entity/Q318693"


@pytest.fixture(scope="module")
def federating(config, built, wikidata_mirror):
    """Our endpoint with the allowlisted Wikidata IRI answered by the local mirror."""
    with endpoint_server(config, service_mirrors={WIKIDATA: wikidata_mirror}) as server:
        yield f"{server.url}/sparql"


def _rows(response) -> list[dict]:
    assert response.status_code == 200, response.text
    return [
        {name: cell["value"] for name, cell in row.items()}
        for row in response.json()["results"]["bindings"]
    ]


def test_the_default_allowlist_is_wikidata():
    assert WIKIDATA == WIKIDATA_SPARQL


def test_service_to_wikidata_answers_from_the_mirror(federating):
    query = f"""
    SELECT ?label WHERE {{
      SERVICE <{WIKIDATA}> {{ <{WD_CSTO}> rdfs:label ?label FILTER(LANG(?label) = "en") }}
    }}"""
    rows = _rows(requests.get(federating, params={"query": query}, timeout=30))
    assert {"label": "Collective Security Treaty Organization"} in rows


def test_service_joins_with_our_data(federating):
    query = f"""
    SELECT ?ours ?item WHERE {{
      VALUES ?ours {{ <{ARMENIA}> <{CSTO}> }}
      ?ours rdfs:label ?name .
      SERVICE <{WIKIDATA}> {{ ?item rdfs:label ?name }}
    }}"""
    rows = _rows(requests.get(federating, params={"query": query}, timeout=30))
    assert {"ours": ARMENIA, "item": "http://www.wikidata.org/entity/Q399"} in rows
    assert {"ours": CSTO, "item": WD_CSTO} in rows


def test_service_with_prefixes_from_the_query_and_predeclared(federating):
    query = f"""
    PREFIX wdx: <http://www.wikidata.org/entity/>
    SELECT ?count WHERE {{
      SERVICE <{WIKIDATA}> {{
        SELECT (COUNT(?member) AS ?count) WHERE {{ wdx:Q318693 wdt:P527 ?member }}
      }}
    }}"""
    rows = _rows(requests.post(federating, data={"query": query}, timeout=30))
    assert int(rows[0]["count"]) > 0


def test_service_in_construct(federating):
    query = f"""
    CONSTRUCT {{ <{CSTO}> owl:sameAs ?item }} WHERE {{
      <{CSTO}> rdfs:label ?name .
      SERVICE <{WIKIDATA}> {{ ?item rdfs:label ?name }}
    }}"""
    response = requests.get(federating, params={"query": query, "format": "ttl"}, timeout=30)
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    assert (rdflib.URIRef(CSTO), rdflib.OWL.sameAs, rdflib.URIRef(WD_CSTO)) in graph


def test_the_allowlist_applies_to_the_iri_as_written(federating, wikidata_mirror):
    query = f"SELECT * WHERE {{ SERVICE <{wikidata_mirror}> {{ ?s ?p ?o }} }}"
    response = requests.get(federating, params={"query": query}, timeout=30)
    assert response.status_code == 403


def test_syntax_errors_outside_the_service_are_found_before_it_is_called(config, built):
    silent = SilentSocket()
    try:
        with endpoint_server(config, service_mirrors={WIKIDATA: silent.url}) as server:
            query = f"SELECT * WHERE {{ SERVICE <{WIKIDATA}> {{ ?s ?p ?o }} ?s ?p }}"
            response = requests.get(f"{server.url}/sparql", params={"query": query}, timeout=30)
            assert response.status_code == 400
            assert "line 1" in response.text
        time.sleep(0.2)
        assert silent.connections == []
    finally:
        silent.close()


def test_unreachable_service_fails_unless_silent(config, built):
    silent = SilentSocket()  # accepts and hangs up at once
    try:
        with endpoint_server(config, service_mirrors={WIKIDATA: silent.url}) as server:
            url = f"{server.url}/sparql"
            loud = f"SELECT * WHERE {{ SERVICE <{WIKIDATA}> {{ ?s ?p ?o }} }}"
            response = requests.get(url, params={"query": loud}, timeout=30)
            assert response.status_code == 502
            assert f"SERVICE <{WIKIDATA}> failed" in response.text
            quiet = f"""SELECT ?label ?item WHERE {{
              <{CSTO}> rdfs:label ?label .
              SERVICE SILENT <{WIKIDATA}> {{ ?item rdfs:label ?label }}
            }}"""
            rows = _rows(requests.get(url, params={"query": quiet}, timeout=30))
            assert {"label": "Collective Security Treaty Organization"} in rows
            assert all("item" not in row for row in rows)
    finally:
        silent.close()


def test_service_has_its_own_timeout(config, built):
    hanging = HangingSocket()
    try:
        with endpoint_server(
            config, service_mirrors={WIKIDATA: hanging.url}, federation_timeout=1.0
        ) as server:
            url = f"{server.url}/sparql"
            started = time.monotonic()
            response = requests.get(
                url,
                params={"query": f"ASK {{ SERVICE <{WIKIDATA}> {{ ?s ?p ?o }} }}"},
                timeout=30,
            )
            took = time.monotonic() - started
            assert response.status_code == 504
            assert "SERVICE" in response.text
            assert took < 5
            started = time.monotonic()
            response = requests.get(
                url,
                params={"query": f"ASK {{ SERVICE SILENT <{WIKIDATA}> {{ ?s ?p ?o }} }}"},
                timeout=30,
            )
            assert response.status_code == 200
            assert response.json()["boolean"] is True  # SILENT: one empty solution
            assert time.monotonic() - started < 5
    finally:
        hanging.close()


def test_oxigraph_federates_into_our_endpoint(live_server, wikidata_mirror):
    """The other direction: a real Oxigraph server runs SERVICE <our /sparql> over HTTP."""
    ours = f"{live_server.url}/sparql"
    query = f"""
    SELECT ?label ?wikidataLabel WHERE {{
      SERVICE <{ours}> {{
        <{CSTO}> <http://www.w3.org/2000/01/rdf-schema#label> ?label
      }}
      <{WD_CSTO}> <http://www.w3.org/2000/01/rdf-schema#label> ?wikidataLabel .
      FILTER(LANG(?wikidataLabel) = "en")
    }}"""
    response = requests.post(
        wikidata_mirror,
        data=query.encode(),
        headers={
            "Content-Type": "application/sparql-query",
            "Accept": "application/sparql-results+json",
        },
        timeout=30,
    )
    rows = _rows(response)
    assert {
        "label": "Collective Security Treaty Organization",
        "wikidataLabel": "Collective Security Treaty Organization",
    } in rows


BOUND = f"""
SELECT ?ours ?name ?item WHERE {{
  ?ours rdfs:label ?name ; a ?kind .
  FILTER(?ours IN (<{ARMENIA}>, <{CSTO}>))
  SERVICE <{WIKIDATA}> {{ ?item rdfs:label ?name }}
}} ORDER BY ?ours ?item"""
# The same question, shaped so the SERVICE call cannot be bounded (a nested group).
UNBOUND = BOUND.replace(
    "?ours rdfs:label ?name ; a ?kind .", "{ ?ours rdfs:label ?name ; a ?kind }"
)


def test_a_bound_join_gives_the_same_answer_as_an_unbound_one(federating):
    bound = _rows(requests.get(federating, params={"query": BOUND}, timeout=30))
    unbound = _rows(requests.get(federating, params={"query": UNBOUND}, timeout=30))
    assert bound == unbound
    assert {
        "ours": ARMENIA,
        "name": "Armenia",
        "item": "http://www.wikidata.org/entity/Q399",
    } in bound


class _RecordingEndpoint:
    """A SPARQL endpoint on loopback that records the queries it gets and answers no solutions."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs

        queries = self.queries = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                queries.append(parse_qs(body)["query"][0])
                answer = b'{"head":{"vars":["item"]},"results":{"bindings":[]}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sparql"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.thread.join(5)


def test_the_service_call_carries_the_local_bindings_when_it_can(config, built):
    remote = _RecordingEndpoint()
    try:
        with endpoint_server(config, service_mirrors={WIKIDATA: remote.url}) as server:
            url = f"{server.url}/sparql"
            assert requests.get(url, params={"query": BOUND}, timeout=30).status_code == 200
            assert requests.get(url, params={"query": UNBOUND}, timeout=30).status_code == 200
            nothing = (
                "SELECT * WHERE { <https://example.org/none> rdfs:label ?name "
                f"SERVICE <{WIKIDATA}> {{ ?item rdfs:label ?name }} }}"
            )
            assert _rows(requests.get(url, params={"query": nothing}, timeout=30)) == []
        bound, unbound = remote.queries  # and no call at all when nothing here can join
        assert "VALUES (?name) {" in bound
        assert '"Armenia"@en' in bound and '"Collective Security Treaty Organization"@en' in bound
        assert "VALUES" not in unbound
        assert "?item rdfs:label ?name" in bound and "?item rdfs:label ?name" in unbound
    finally:
        remote.close()


def test_every_example_query_runs_through_the_endpoint(federating, config):
    """The editor offers queries/*.rq; each one runs (federated ones against the mirror)."""
    examples = sorted(config.queries_dir.glob("*.rq"))
    for path in examples:
        response = requests.post(
            federating,
            data={"query": path.read_text(encoding="utf-8")},
            headers={"Accept": "application/sparql-results+xml, text/turtle;q=0.9"},
            timeout=60,
        )
        assert response.status_code == 200, f"{path.name}: {response.text}"
        if response.headers["Content-Type"].startswith("text/turtle"):
            rdflib.Graph().parse(data=response.text, format="turtle")
        else:
            Result.parse(BytesIO(response.content), format="xml")
