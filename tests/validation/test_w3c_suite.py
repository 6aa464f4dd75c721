"""The W3C SHACL test suite, one test per manifest entry, read in place from ../shared.

Reports are compared as the suite's README says: sh:conforms equal, and the results equal as sets
on focus node, result path, value (where the expected result gives one), source constraint
component, source shape and severity; a blank node matches any blank node, and a complex path
matches a path of the same structure. An entry whose expected result is a failure must be refused.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from rdflib import Graph, Namespace
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH
from shacl_support import node_key

from treatygraph.core.config import PROJECT_ROOT
from treatygraph.validation.paths import path_key
from treatygraph.validation.shacl_sparql import UnsupportedShape, read_graph, validate_files

SUITE = PROJECT_ROOT.parent / "shared" / "w3c-shacl-tests" / "tests"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")
# Entries the engine refuses, with the reason; each must raise UnsupportedShape, not pass silently.
REFUSED = {
    "core/property/datatype-ill-formed": "sh:datatype xsd:byte: Oxigraph stores xsd:byte as xsd:integer",
    "sparql/pre-binding/shapesGraph-001": "$shapesGraph: the shapes are not in the queried dataset",
}


def _file(iri) -> Path:
    return Path(unquote(urlparse(str(iri)).path))


def _entries(manifest: Path):
    graph = read_graph(manifest)
    for included in graph.objects(None, MF.include):
        yield from _entries(_file(included))
    for head in graph.objects(None, MF.entries):
        for entry in Collection(graph, head):
            if (entry, RDF.type, SHT.Validate) in graph:
                name = f"{manifest.parent.relative_to(SUITE)}/{str(entry).rsplit('/', 1)[-1]}"
                yield pytest.param(graph, entry, id=name)


def _cases(folder: str):
    manifest = SUITE / folder / "manifest.ttl"
    if not manifest.exists():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"{SUITE} is missing"))]
    return list(_entries(manifest))


def _results(graph: Graph, report) -> set[tuple]:
    return {
        (
            node_key(graph.value(r, SH.focusNode)),
            path_key(graph, graph.value(r, SH.resultPath)),
            node_key(graph.value(r, SH.value)),
            graph.value(r, SH.sourceConstraintComponent),
            node_key(graph.value(r, SH.sourceShape)),
            graph.value(r, SH.resultSeverity),
        )
        for r in graph.objects(report, SH.result)
    }


def _valueless(key: tuple) -> tuple:
    return (*key[:2], None, *key[3:])


def _run(graph: Graph, entry, name: str) -> None:
    action = graph.value(entry, MF.action)
    data = _file(graph.value(action, SHT.dataGraph))
    shapes = _file(graph.value(action, SHT.shapesGraph))
    expected = graph.value(entry, MF.result)
    if expected == SHT.Failure or name in REFUSED:
        with pytest.raises(UnsupportedShape):
            validate_files([data], [shapes], workers=1)
        return
    report = validate_files([data], [shapes], workers=1).graph
    ours = report.value(None, RDF.type, SH.ValidationReport, any=False)
    assert report.value(ours, SH.conforms) == graph.value(expected, SH.conforms)
    wanted = _results(graph, expected)
    # A result matches an expected one that gives no value whatever its own value.
    without_value = {_valueless(key) for key in wanted if key[2] is None}
    found = {
        key if key in wanted or _valueless(key) not in without_value else _valueless(key)
        for key in _results(report, ours)
    }
    assert found == wanted


@pytest.mark.parametrize(("graph", "entry"), _cases("core"))
def test_core(graph, entry, request):
    _run(graph, entry, request.node.callspec.id)


@pytest.mark.parametrize(("graph", "entry"), _cases("sparql"))
def test_sparql(graph, entry, request):
    _run(graph, entry, request.node.callspec.id)
