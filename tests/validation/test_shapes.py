"""The SHACL shapes, tested with example files: valid ones conform, invalid ones fail with the expected shape.

Each file in tests/data/invalid/ starts with comment lines naming what it must violate:

    # expect: tgsh:MembershipShape org:role

a shape (and optionally the result path); a violation matches when its sh:sourceShape is that shape or one of
the shape's property shapes. An invalid file must produce a violation for every `expect` line and nothing
that no `expect` line explains, so each file tests what it says it tests. The shapes and the ontology are
loaded as the build loads them, and run by the same function.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH
from shacl_support import result_keys, store_of

from treatygraph.publish.assemble import assemble, validate
from treatygraph.rdf.io import load_turtle_dir
from treatygraph.rdf.namespaces import ProjectNamespaces
from treatygraph.validation.report import ValidationReport, validate_graph
from treatygraph.validation.shacl_sparql import validate_store

EXAMPLES = Path(__file__).parents[1] / "data"
VALID = sorted((EXAMPLES / "valid").glob("*.ttl"))
INVALID = sorted((EXAMPLES / "invalid").glob("*.ttl"))
EXPECT = re.compile(r"^#\s*expect:\s*(\S+)(?:\s+(\S+))?\s*$")


@pytest.fixture(scope="module")
def ns(config) -> ProjectNamespaces:
    return ProjectNamespaces(config.base_iri)


@pytest.fixture(scope="module")
def shapes(config, ns) -> Graph:
    return load_turtle_dir(config.shapes_dir, ns)


@pytest.fixture(scope="module")
def ontology(config, ns) -> Graph:
    return load_turtle_dir(config.ontology_dir, ns)


def expand(curie: str, ns: ProjectNamespaces) -> URIRef:
    prefixes = {**ns.prefixes(), "tgsh": str(ns.shapes)}
    prefix, _, local = curie.partition(":")
    assert prefix in prefixes, f"unknown prefix in {curie!r}"
    return URIRef(prefixes[prefix] + local)


def expectations(path: Path, ns: ProjectNamespaces) -> list[tuple[URIRef, URIRef | None]]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        match = EXPECT.match(line)
        if match:
            shape, result_path = match.groups()
            found.append((expand(shape, ns), expand(result_path, ns) if result_path else None))
    return found


def load_example(path: Path, ns: ProjectNamespaces) -> Graph:
    return Graph().parse(data=ns.rebase(path.read_text(encoding="utf-8")), format="turtle")


@pytest.fixture(scope="module")
def run(ns, shapes, ontology):
    """The engine's report on an example file (what the build would say), computed once per file."""
    reports: dict[Path, ValidationReport] = {}

    def report(path: Path) -> ValidationReport:
        if path not in reports:
            reports[path] = validate_store(store_of(load_example(path, ns), ontology), shapes)
        return reports[path]

    return report


def matches(violation, shape: URIRef, result_path: URIRef | None, shapes: Graph) -> bool:
    owned = violation.shape == shape or violation.shape in set(shapes.objects(shape, SH.property))
    return owned and (result_path is None or violation.path == result_path)


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_example_conforms(path, run):
    report = run(path)
    assert report.conforms and not report.violations, report.text()


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_example_fails_with_the_expected_shape(path, ns, shapes, run):
    expected = expectations(path, ns)
    assert expected, f"{path.name} has no `# expect: <shape> [<path>]` line"
    for shape, _ in expected:
        assert (shape, RDF.type, SH.NodeShape) in shapes, f"{path.name}: no shape {shape}"
    report = run(path)
    assert not report.conforms
    for shape, result_path in expected:
        assert any(matches(v, shape, result_path, shapes) for v in report.violations), (
            f"{path.name}: expected a violation of {shape} {result_path or ''}\n{report.text()}"
        )
    unexplained = [
        v
        for v in report.violations
        if not any(matches(v, shape, None, shapes) for shape, _ in expected)
    ]
    assert not unexplained, f"{path.name}: unexpected violations\n{report.text()}"


@pytest.mark.parametrize("path", VALID + INVALID, ids=[p.stem for p in VALID + INVALID])
def test_pyshacl_agrees_on_every_example(path, ns, shapes, ontology, run):
    """pyshacl, the oracle, gives the engine's report on every example."""
    by_pyshacl = validate_graph(load_example(path, ns), shapes, ontology)
    assert result_keys(run(path), shapes) == result_keys(by_pyshacl, by_pyshacl.graph)


def test_every_shape_has_an_invalid_example(ns, shapes):
    expected = {shape for path in INVALID for shape, _ in expectations(path, ns)}
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape))
    assert node_shapes - expected == set()


def test_every_sparql_constraint_has_a_message(shapes):
    for shape, constraint in shapes.subject_objects(SH.sparql):
        assert shapes.value(constraint, SH.message), (
            f"{shape} has a SPARQL constraint without sh:message"
        )


def test_every_class_of_the_ontology_is_the_target_of_a_shape(ns, shapes, ontology):
    targets = set(shapes.objects(None, SH.targetClass))
    classes = {c for c in ontology.subjects(RDF.type, OWL.Class) if str(c).startswith(str(ns.tg))}

    def covered(cls) -> bool:
        return cls in targets or any(covered(sup) for sup in ontology.objects(cls, RDFS.subClassOf))

    assert sorted(c for c in classes if not covered(c)) == []


def test_the_real_data_conforms(config):
    report = validate(assemble(config))
    assert report.conforms, report.text()
