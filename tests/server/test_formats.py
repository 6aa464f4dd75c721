"""The server's one format table: nobody keeps another, and every RDF format in it reads back."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from flask import Flask, request
from rdflib.compare import isomorphic

import server
from server import formats
from server.sparql.formats import choose

SERVER_DIR = Path(server.__file__).parent
EX = "http://example.org/"


def _leaves(value) -> list:
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (tuple, list, set, frozenset)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_there_is_exactly_one_format_table():
    constructed_in = {
        path.relative_to(SERVER_DIR).as_posix()
        for path in SERVER_DIR.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Format"
    }
    assert constructed_in == {"formats.py"}
    table = {id(f) for f in formats.FORMATS}
    for module in pkgutil.walk_packages(server.__path__, "server."):
        for name, value in vars(importlib.import_module(module.name)).items():
            if not isinstance(value, (dict, tuple, list, set, frozenset)):
                continue
            where = f"{module.name}.{name}"
            for leaf in _leaves(value):
                if isinstance(leaf, formats.Format):
                    assert id(leaf) in table, f"{where} holds a format not in the table"
                elif isinstance(leaf, (ox.RdfFormat, ox.QueryResultsFormat)):
                    assert module.name == "server.formats", f"{where} is a second format table"


def test_each_kind_reads_its_names_and_media_types_unambiguously():
    assert len(formats.BY_KEY) == len(formats.FORMATS)
    for kind in (formats.DOCUMENT, formats.GRAPH, formats.RESULTS):
        offered = formats.offered(kind)
        names = [n for f in offered for n in f.names]
        media_types = [m for f in offered for m in (f.media_type, *f.aliases)]
        assert len(names) == len(set(names)), kind
        assert len(media_types) == len(set(media_types)), kind
    for fmt in formats.FORMATS:
        assert fmt.is_html == (fmt.key == "html")
        assert bool(fmt.rdflib) == fmt.is_rdf, fmt.key
        assert fmt.w3c.startswith(formats.W3C) == (not fmt.is_html), fmt.key
        assert fmt.is_rdf == bool(fmt.kinds & {formats.GRAPH}), fmt.key


def test_a_name_or_media_type_means_one_format_for_documents_and_graph_results():
    """Entity documents and SPARQL graph results read `?format=` and Accept from the same entries."""
    app = Flask(__name__)
    for fmt in formats.DOCUMENT_FORMATS:
        if fmt.is_html:
            continue
        for name in (*fmt.names, fmt.media_type):
            with app.test_request_context("/", query_string={"format": name}):
                assert formats.negotiate(request) is fmt, name
                assert choose(request, formats.GRAPH, name) is fmt, name
        for media_type in (fmt.media_type, *fmt.aliases):
            with app.test_request_context("/", headers={"Accept": media_type}):
                assert formats.negotiate(request) is fmt, media_type
                assert choose(request, formats.GRAPH, None) is fmt, media_type


def _sample() -> list[ox.Triple]:
    alice, knows, name = ox.NamedNode(EX + "alice"), ox.NamedNode(EX + "knows"), EX + "name"
    friend = ox.BlankNode()
    return [
        ox.Triple(alice, knows, friend),
        ox.Triple(alice, ox.NamedNode(name), ox.Literal('Алиса «A»\n"quoted"', language="ru")),
        ox.Triple(friend, ox.NamedNode(name), ox.Literal("Bob & <b>")),
        ox.Triple(
            friend,
            ox.NamedNode(EX + "born"),
            ox.Literal(
                "1991-12-26", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#date")
            ),
        ),
        ox.Triple(
            alice,
            ox.NamedNode(EX + "count"),
            ox.Literal("3", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
        ),
    ]


def _expected() -> rdflib.Graph:
    """The sample, written out by hand in rdflib's terms."""
    ex, xsd, friend = rdflib.Namespace(EX), rdflib.XSD, rdflib.BNode()
    graph = rdflib.Graph()
    graph.add((ex.alice, ex.knows, friend))
    graph.add((ex.alice, ex.name, rdflib.Literal('Алиса «A»\n"quoted"', lang="ru")))
    graph.add((friend, ex.name, rdflib.Literal("Bob & <b>")))
    graph.add((friend, ex.born, rdflib.Literal("1991-12-26", datatype=xsd.date)))
    graph.add((ex.alice, ex["count"], rdflib.Literal("3", datatype=xsd.integer)))
    return graph


@pytest.mark.parametrize("fmt", [f for f in formats.FORMATS if f.is_rdf], ids=lambda f: f.key)
def test_every_rdf_format_round_trips_through_rdflib(fmt: formats.Format):
    triples = _sample()
    if fmt.oxigraph.supports_datasets:
        quads = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples]
        body = ox.serialize(quads, format=fmt.oxigraph, prefixes={"ex": EX})
        dataset = rdflib.Dataset().parse(data=body, format=fmt.rdflib)
        parsed = rdflib.Graph()
        for s, p, o, _ in dataset.quads():
            parsed.add((s, p, o))
    else:
        body = ox.serialize(triples, format=fmt.oxigraph, prefixes={"ex": EX})
        parsed = rdflib.Graph().parse(data=body, format=fmt.rdflib)
    assert len(parsed) == len(triples)
    assert isomorphic(parsed, _expected())
