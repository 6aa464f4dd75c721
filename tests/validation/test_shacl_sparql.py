"""The shapes compiled to SPARQL (used to validate at scale) give the same report as pyshacl."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, PROV, RDF, RDFS, SH, TIME, XSD
from shacl_support import result_keys, store_of

from treatygraph.publish.assemble import assemble, validate
from treatygraph.rdf.namespaces import GRAPH_ONTOLOGY, GRAPH_WIKIDATA_VIEW, ORG
from treatygraph.validation.components import Check
from treatygraph.validation.report import shape_names, validate_graph
from treatygraph.validation.shacl_sparql import Engine, validate_store


@pytest.fixture(scope="module")
def assembled(config):
    return assemble(config)


def _both(data: Graph, assembled) -> tuple[set, set]:
    ontology = assembled.graphs[GRAPH_ONTOLOGY]
    by_pyshacl = validate_graph(data, assembled.shapes, ontology)
    by_sparql = validate_store(store_of(data, ontology), assembled.shapes)
    assert by_pyshacl.conforms == by_sparql.conforms
    return result_keys(by_pyshacl, by_pyshacl.graph), result_keys(by_sparql, assembled.shapes)


def _data(assembled) -> Graph:
    """What the build validates: everything but the ontology and the derived Wikidata view."""
    derived = (GRAPH_ONTOLOGY, GRAPH_WIKIDATA_VIEW)
    return assembled.union(*(n for n in assembled.graphs if n not in derived))


def test_the_build_validates_with_the_compiler(assembled, monkeypatch):
    """publish.assemble.validate runs the engine (pyshacl stays the tests' oracle)."""
    import pyshacl

    def refuse(*args, **kwargs):
        raise AssertionError("the build called pyshacl")

    monkeypatch.setattr(pyshacl, "validate", refuse)
    assert validate(assembled).conforms


def test_a_violation_names_shape_focus_path_and_message(assembled):
    """What the build prints on a violation: the record's file:line, shape, focus, path, message."""
    data = _data(assembled)
    organization = _first(data, assembled.ns.tg.InternationalOrganization)
    data.add((organization, OWL.sameAs, Literal("Q123")))
    ontology = assembled.graphs[GRAPH_ONTOLOGY]
    report = validate_store(store_of(data, ontology), assembled.shapes, locate=assembled.locate)
    report.shape_names = shape_names(assembled.shapes)
    text = report.text()
    assert not report.conforms
    assert f"focus <{organization}>, path <{OWL.sameAs}>" in text
    assert 'value "Q123"' in text
    assert (
        "shape tgsh:SameAsWikidataShape, property owl:sameAs (PatternConstraintComponent)" in text
    )
    assert assembled.locate(organization) in text
    messages = set(assembled.shapes.objects(None, SH.message))
    assert any(str(m) in text for m in messages)


def test_same_report_as_pyshacl_on_the_real_data(assembled):
    by_pyshacl, by_sparql = _both(_data(assembled), assembled)
    assert by_sparql == by_pyshacl


def _first(data: Graph, cls: URIRef) -> URIRef:
    return sorted(s for s in data.subjects(RDF.type, cls) if isinstance(s, URIRef))[0]


def test_same_report_as_pyshacl_on_broken_data(assembled):
    """Break the real data once for every kind of constraint the shapes use."""
    data = _data(assembled)
    tg = assembled.ns.tg
    state = _first(data, tg.State)
    organization = _first(data, tg.InternationalOrganization)
    membership = _first(data, ORG.Membership)
    instant = _first(data, TIME.Instant)
    claim = _first(data, tg.Claim)
    source = _first(data, tg.SourceDocument)

    data.remove((state, RDFS.label, None))  # minCount
    data.add((organization, RDFS.label, Literal("A second English label", lang="en")))  # uniqueLang
    data.add((organization, RDFS.label, Literal("No language tag")))  # datatype
    data.add((state, OWL.sameAs, URIRef("http://dbpedia.org/resource/Nowhere")))  # pattern
    data.add((organization, OWL.sameAs, Literal("Q123")))  # nodeKind and pattern
    data.add((organization, PROV.wasDerivedFrom, state))  # class
    data.add((membership, ORG.member, organization))  # maxCount
    data.set((membership, ORG.role, tg.ChairRole))  # in
    data.set((membership, ORG.memberDuring, instant))  # class
    data.set((instant, TIME.inXSDDate, Literal("2002-13-45", datatype=XSD.date)))  # ill-formed
    data.set((instant, tg.datePrecision, TIME.unitWeek))  # in
    data.set((claim, tg.quote, Literal("ab", lang="en")))  # minLength
    data.set((source, tg.sha256, Literal("not-a-checksum")))  # pattern

    by_pyshacl, by_sparql = _both(data, assembled)
    assert len(by_pyshacl) >= 13
    assert by_sparql == by_pyshacl


def test_same_report_as_pyshacl_on_synthetic_data(assembled, tmp_path):
    """The benchmark generator's data conforms, and both validators agree on it."""
    from bench.generate import generate

    generated = generate(3_000, tmp_path, seed=7, base_iri=assembled.ns.base)
    triples = (q.triple for q in ox.parse(path=generated.nquads, format=ox.RdfFormat.N_QUADS))
    flat = Graph().parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), format="nt")
    assert len(flat) >= 2_900
    for triple in _data(assembled):
        flat.add(triple)
    by_pyshacl, by_sparql = _both(flat, assembled)
    assert by_pyshacl == set()
    assert by_sparql == by_pyshacl


def test_constraints_on_the_same_values_share_one_query(assembled, tmp_path):
    """The value constraints of a property shape that test each value on its own run as one scan."""
    store = store_of(_data(assembled))
    engine = Engine(store, assembled.shapes, {"use_default_graph_as_union": True})
    combined = [t for t in engine.plan() if isinstance(t, Check) and len(t.constraints) > 1]
    assert combined
    for check in combined:
        assert all(f"?c{n}" in check.query for n in range(len(check.constraints)))


PATHS_SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <urn:x-test:> .
ex:ThingShape a sh:NodeShape ; sh:targetClass ex:Thing ;
    sh:property [ sh:path ex:name ; sh:minCount 1 ; sh:maxCount 1 ; sh:datatype xsd:string ;
                  sh:minLength 2 ; sh:uniqueLang true ] ;
    sh:property [ sh:path ex:part ; sh:class ex:Part ; sh:minCount 2 ] ;
    sh:property [ sh:path [ sh:inversePath ex:owner ] ; sh:maxCount 1 ; sh:class ex:Part ] ;
    sh:property [ sh:path [ sh:alternativePath ( ex:part ex:spare ) ] ; sh:maxCount 2 ;
                  sh:nodeKind sh:IRI ] ;
    sh:property [ sh:path ( ex:part ex:label ) ; sh:minCount 1 ; sh:datatype xsd:string ] ;
    sh:property [ sh:path [ sh:zeroOrMorePath ex:part ] ; sh:maxCount 3 ; sh:class ex:Thing ;
                  sh:minCount 5 ] .
"""

PATHS_DATA = """
@prefix ex: <urn:x-test:> .
ex:a a ex:Thing ; ex:name "a" , "ab" ; ex:part ex:p1 , ex:p2 , "lit" ; ex:spare ex:p3 .
ex:b a ex:Thing ; ex:name "bb"@en , "bc"@en ; ex:part ex:p1 .
ex:c a ex:Thing ; ex:part ex:p1 , ex:p2 ; ex:spare ex:p3 .
ex:p1 a ex:Part ; ex:owner ex:a ; ex:label "one" .
ex:p2 a ex:Part ; ex:owner ex:a ; ex:label 2 .
ex:p3 ex:owner ex:c .
"""


def test_every_kind_of_path_same_report_as_pyshacl():
    """Predicates, inverses, alternatives and sequences are scanned from the values; a * path is
    followed from the focus nodes: both give pyshacl's report."""
    shapes = Graph().parse(data=PATHS_SHAPES, format="turtle")
    data = Graph().parse(data=PATHS_DATA, format="turtle")
    by_pyshacl = validate_graph(data, shapes, Graph())
    by_sparql = validate_store(store_of(data), shapes)
    assert len(by_pyshacl.violations) >= 10
    assert result_keys(by_sparql, shapes) == result_keys(by_pyshacl, by_pyshacl.graph)


def test_threads_give_the_same_report(assembled):
    data = _data(assembled)
    data.add((_first(data, assembled.ns.tg.State), OWL.sameAs, Literal("Q1")))
    store = store_of(data, assembled.graphs[GRAPH_ONTOLOGY])
    one = validate_store(store, assembled.shapes, workers=1)
    two = validate_store(store, assembled.shapes, workers=2)
    assert not one.conforms
    assert one.violations == two.violations
