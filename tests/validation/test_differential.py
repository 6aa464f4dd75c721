"""The engine against pyshacl, its oracle, on data hypothesis makes up: random mutations of the W3C
suite's data (against the suite's shapes) and of samples of the project's data (against the
project's shapes). Both must say the same about conformance and give the same results."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, Literal
from rdflib.namespace import XSD
from shacl_support import result_keys, store_of
from test_w3c_suite import REFUSED, SUITE

from treatygraph.publish.assemble import assemble
from treatygraph.rdf.namespaces import GRAPH_ONTOLOGY, GRAPH_WIKIDATA_VIEW
from treatygraph.validation.report import validate_graph
from treatygraph.validation.shacl_sparql import read_graph, validate_store

# Literals of kinds the constraints tell apart: types, languages, lengths, numbers, ill-formed.
EXTRA_LITERALS = [
    Literal(3),
    Literal("4.5", datatype=XSD.decimal),
    Literal("word"),
    Literal("word", lang="en"),
    Literal("mot", lang="fr"),
    Literal("2020-01-01", datatype=XSD.date),
    Literal("not-a-date", datatype=XSD.date),
    Literal(True),
]
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _suite_cases() -> list[Path]:
    """Core test files with one data graph and one shapes graph, whose shapes the engine evaluates."""
    if not SUITE.exists():
        return []
    refused = {name.rsplit("/", 1)[-1] for name in REFUSED}
    return sorted(
        path
        for path in (SUITE / "core").rglob("*.ttl")
        if path.name != "manifest.ttl"
        and not path.stem.endswith(("-data", "-shapes"))
        and path.stem not in refused
    )


SUITE_CASES = _suite_cases()


def _agree(data: Graph, shapes: Graph, ontology: Graph | None = None) -> None:
    ontology = ontology if ontology is not None else Graph()
    by_pyshacl = validate_graph(data, shapes, ontology)
    by_engine = validate_store(store_of(data, ontology), shapes, workers=1)
    assert by_engine.conforms == by_pyshacl.conforms, by_engine.text()
    assert result_keys(by_engine, shapes) == result_keys(by_pyshacl, by_pyshacl.graph), (
        data.serialize(format="turtle")
    )


@st.composite
def mutated(draw, graph: Graph) -> Graph:
    """The graph with some triples removed and some added, made of its own terms."""
    triples = sorted(graph, key=str)
    kept = draw(st.lists(st.booleans(), min_size=len(triples), max_size=len(triples)))
    result = Graph()
    for keep, triple in zip(kept, triples, strict=True):
        if keep or len(triples) < 3:
            result.add(triple)
    subjects = sorted({s for s, _, _ in triples}, key=str) or [None]
    predicates = sorted({p for _, p, _ in triples}, key=str)
    objects = sorted({o for _, _, o in triples} | set(subjects), key=str) + EXTRA_LITERALS
    if subjects[0] is not None and predicates:
        added = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(subjects), st.sampled_from(predicates), st.sampled_from(objects)
                ),
                max_size=6,
            )
        )
        for triple in added:
            result.add(triple)
    return result


@pytest.mark.skipif(not SUITE_CASES, reason=f"{SUITE} is missing")
@SETTINGS
@given(data=st.data())
def test_same_results_as_pyshacl_on_mutated_suite_data(data):
    path = data.draw(st.sampled_from(SUITE_CASES), label="suite file")
    whole = read_graph(path)
    _agree(data.draw(mutated(whole), label="data"), whole)


@pytest.fixture(scope="module")
def project(config):
    assembled = assemble(config)
    derived = (GRAPH_ONTOLOGY, GRAPH_WIKIDATA_VIEW)
    data = assembled.union(*(n for n in assembled.graphs if n not in derived))
    return data, assembled.shapes, assembled.graphs[GRAPH_ONTOLOGY]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_same_results_as_pyshacl_on_mutated_project_data(project, data):
    """A sample of the project's records (every triple about a few subjects), mutated."""
    graph, shapes, ontology = project
    subjects = sorted({s for s in graph.subjects() if s is not None}, key=str)
    chosen = data.draw(st.lists(st.sampled_from(subjects), min_size=1, max_size=8, unique=True))
    sample = Graph()
    for subject in chosen:
        for triple in graph.triples((subject, None, None)):
            sample.add(triple)
    _agree(data.draw(mutated(sample), label="data"), shapes, ontology)
