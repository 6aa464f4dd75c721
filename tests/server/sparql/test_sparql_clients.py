"""Real SPARQL clients against the endpoint over HTTP: SPARQLWrapper in every format, rdflib's SPARQLStore."""

from __future__ import annotations

import csv
import io

import pytest
import rdflib
from rdflib.namespace import RDFS
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from sparql_support import ARMENIA, CSTO
from SPARQLWrapper import CSV, JSON, JSONLD, N3, POST, RDFXML, TSV, TURTLE, XML, SPARQLWrapper

CSTO_LABEL = "Collective Security Treaty Organization"
SELECT = f"""
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?label WHERE {{ <{CSTO}> rdfs:label ?label }}
"""
CONSTRUCT = f"""
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
CONSTRUCT {{ <{CSTO}> rdfs:label ?label }} WHERE {{ <{CSTO}> rdfs:label ?label }}
"""


@pytest.fixture(scope="module")
def url(live_server) -> str:
    return f"{live_server.url}/sparql"


def _wrapper(url: str, query: str, fmt: str, method: str | None = None) -> SPARQLWrapper:
    client = SPARQLWrapper(url)
    client.setQuery(query)
    client.setReturnFormat(fmt)
    if method:
        client.setMethod(method)
    return client


@pytest.mark.parametrize("method", [None, POST])
def test_sparqlwrapper_select_json(url, method):
    results = _wrapper(url, SELECT, JSON, method).queryAndConvert()
    labels = {b["label"]["value"] for b in results["results"]["bindings"]}
    assert CSTO_LABEL in labels


def test_sparqlwrapper_select_xml(url):
    document = _wrapper(url, SELECT, XML).queryAndConvert()
    values = {node.firstChild.data for node in document.getElementsByTagName("literal")}
    assert CSTO_LABEL in values


@pytest.mark.parametrize(("fmt", "delimiter"), [(CSV, ","), (TSV, "\t")])
def test_sparqlwrapper_select_csv_tsv(url, fmt, delimiter):
    body = _wrapper(url, SELECT, fmt).queryAndConvert()
    text = body.decode()
    if fmt == CSV:
        rows = list(csv.reader(io.StringIO(text)))
    else:
        rows = [line.split(delimiter) for line in text.splitlines()]
    assert rows[0] == (["label"] if fmt == CSV else ["?label"])
    cells = {row[0] for row in rows[1:]}
    assert (CSTO_LABEL if fmt == CSV else f'"{CSTO_LABEL}"@en') in cells


@pytest.mark.parametrize("fmt", [JSON, XML])
def test_sparqlwrapper_ask(url, fmt):
    result = _wrapper(url, f"ASK {{ <{ARMENIA}> ?p ?o }}", fmt).queryAndConvert()
    if fmt == JSON:
        assert result["boolean"] is True
    else:
        assert result.getElementsByTagName("boolean")[0].firstChild.data == "true"


@pytest.mark.parametrize("fmt", [TURTLE, N3, RDFXML, XML, JSONLD])
def test_sparqlwrapper_construct(url, fmt):
    converted = _wrapper(url, CONSTRUCT, fmt).queryAndConvert()
    if isinstance(converted, rdflib.Graph):
        graph = converted
    else:
        parser = {TURTLE: "turtle", N3: "n3"}[fmt]
        graph = rdflib.Graph().parse(data=converted, format=parser)
    assert (rdflib.URIRef(CSTO), RDFS.label, rdflib.Literal(CSTO_LABEL, lang="en")) in graph


def test_sparqlwrapper_describe(url):
    graph = _wrapper(url, f"DESCRIBE <{ARMENIA}>", RDFXML).queryAndConvert()
    assert (rdflib.URIRef(ARMENIA), RDFS.label, rdflib.Literal("Armenia", lang="en")) in graph


def test_sparqlwrapper_sees_syntax_errors_as_bad_requests(url):
    from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

    with pytest.raises(QueryBadFormed) as raised:
        _wrapper(url, "SELECT * WHERE { ?s ?p }", JSON).query()
    assert "syntax error" in str(raised.value)


@pytest.fixture
def remote_graph(url):
    store = SPARQLStore(url, returnFormat="xml")
    graph = rdflib.Graph(store=store)
    yield graph
    graph.close()


def test_rdflib_sparqlstore_select_and_ask(remote_graph):
    rows = list(remote_graph.query(SELECT))
    assert rdflib.Literal(CSTO_LABEL, lang="en") in {row[0] for row in rows}
    assert bool(remote_graph.query(f"ASK {{ <{ARMENIA}> ?p ?o }}")) is True


def test_rdflib_sparqlstore_construct_and_triples(remote_graph):
    constructed = remote_graph.query(CONSTRUCT).graph
    assert (rdflib.URIRef(CSTO), RDFS.label, rdflib.Literal(CSTO_LABEL, lang="en")) in constructed
    labels = set(remote_graph.objects(rdflib.URIRef(ARMENIA), RDFS.label))
    assert rdflib.Literal("Armenia", lang="en") in labels
    assert len(remote_graph) > 0


def test_rdflib_sparqlstore_json_results(url):
    graph = rdflib.Graph(store=SPARQLStore(url, returnFormat="json"))
    count = next(iter(graph.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")))[0]
    assert int(count) > 0


def test_rdflib_sparqlstore_is_refused_updates(url):
    from rdflib.plugins.stores.sparqlstore import SPARQLUpdateStore

    store = SPARQLUpdateStore(query_endpoint=url, update_endpoint=url)
    with pytest.raises(Exception, match="403"):
        store.update("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
    graph = rdflib.Graph(store=SPARQLStore(url))
    assert not bool(graph.query("ASK { <urn:a> <urn:b> <urn:c> }"))
