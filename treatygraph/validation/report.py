"""Validation results and reports (RDF, and text a person can read); pyshacl, the oracle of the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from rdflib import BNode, Graph, Literal, URIRef, plugin
from rdflib.namespace import RDF, SH
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.evaluate import evalQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.processor import SPARQLProcessor
from rdflib.query import Processor
from rdflib.term import Node

from .paths import copy_path


@dataclass(frozen=True)
class Violation:
    """One validation result, its nodes as RDF terms (a value keeps its datatype or language)."""

    focus: Node
    path: Node | None  # an IRI, or the path's node in the shapes graph for a complex path
    value: Node | None
    shape: Node
    component: URIRef
    severity: URIRef
    message: str
    where: str | None


def _shown(node: Node) -> str:
    return node.n3() if isinstance(node, (URIRef, Literal)) else f"_:{node}"


@dataclass
class ValidationReport:
    conforms: bool
    violations: list[Violation]
    graph: Graph
    shape_names: dict[str, str] = field(default_factory=dict)  # readable names of shapes

    def text(self) -> str:
        if self.conforms:
            return "The graph conforms to the shapes."
        lines = [f"{len(self.violations)} SHACL result(s):"]
        for v in self.violations:
            lines.append(f"- {v.where or _shown(v.focus)}")
            lines.append(f"    {_local(v.severity)}: {v.message}")
            path = (
                ""
                if v.path is None
                else f", path {_shown(v.path) if isinstance(v.path, URIRef) else 'a complex path'}"
            )
            lines.append(f"    focus {_shown(v.focus)}{path}")
            if v.value is not None:
                lines.append(f"    value {_shown(v.value)}")
            lines.append(
                f"    shape {self.shape_names.get(str(v.shape), _shown(v.shape))} ({_local(v.component)})"
            )
        return "\n".join(lines)


def report_graph(violations: list[Violation], shapes: Graph) -> Graph:
    """The results as a complete SHACL validation report (sh:ValidationReport)."""
    g = Graph()
    g.bind("sh", SH)
    report = BNode()
    g.add((report, RDF.type, SH.ValidationReport))
    g.add((report, SH.conforms, Literal(not violations)))
    for v in violations:
        result = BNode()
        g.add((report, SH.result, result))
        g.add((result, RDF.type, SH.ValidationResult))
        g.add((result, SH.focusNode, v.focus))
        if v.path is not None:
            g.add((result, SH.resultPath, copy_path(shapes, v.path, g)))
        if v.value is not None:
            g.add((result, SH.value, v.value))
        g.add((result, SH.sourceShape, v.shape))
        g.add((result, SH.sourceConstraintComponent, v.component))
        g.add((result, SH.resultSeverity, v.severity))
        g.add((result, SH.resultMessage, Literal(v.message)))
    return g


def shape_names(shapes: Graph) -> dict[str, str]:
    """Prefixed names for the shapes, and for an anonymous property shape the node shape holding it.

    A blank node's id (n24debc…) means nothing to a reader; "tgsh:MembershipShape, property org:member"
    does.
    """

    def name(term) -> str:
        try:
            return shapes.namespace_manager.normalizeUri(term)
        except Exception:  # rdflib raises several types for IRIs it cannot abbreviate
            return f"<{term}>"

    names = {}
    for parent, prop in shapes.subject_objects(SH.property):
        if isinstance(prop, BNode) and not isinstance(parent, BNode):
            path = shapes.value(prop, SH.path)
            described = f", property {name(path)}" if isinstance(path, URIRef) else ", a property"
            names[str(prop)] = f"{name(parent)}{described}"
    for shape in set(shapes.subjects(RDF.type, SH.NodeShape)) | set(shapes.subjects(SH.property)):
        if isinstance(shape, URIRef):
            names[str(shape)] = name(shape)
    return names


def _local(term) -> str:
    text = str(term)
    return text.rsplit("#", 1)[-1].rsplit("/", 1)[-1] if text.startswith("http") else text


@lru_cache(maxsize=512)
def _translated(text: str, base: str | None, namespaces: tuple):
    return translateQuery(parseQuery(text), base, dict(namespaces))


class CachingSPARQLProcessor(SPARQLProcessor):
    """rdflib's SPARQL processor, parsing each distinct query text once.

    pyshacl runs a SPARQL-based constraint once per focus node and rdflib parses the query text every
    time: 0.2-0.5 s for each of the time constraints, which made parsing most of the validation time.
    A parsed query is reusable (it is what rdflib's prepareQuery returns), so the results are the same.
    """

    def query(self, strOrQuery, initBindings=None, initNs=None, base=None, DEBUG=False):
        if isinstance(strOrQuery, str):
            strOrQuery = _translated(strOrQuery, base, tuple(sorted((initNs or {}).items())))
        return evalQuery(self.graph, strOrQuery, initBindings or {}, base)


def validate_graph(
    data: Graph, shapes: Graph, ontology: Graph, locate=lambda iri: None
) -> ValidationReport:
    """Run pyshacl on an in-memory graph (the tests' oracle; the build uses the compiler).

    `locate(iri)` gives "file:line" of the record, if any. A result's complex path is a node of
    pyshacl's report graph.
    """
    import pyshacl

    plugin.register("sparql", Processor, __name__, CachingSPARQLProcessor.__name__)

    conforms, report, _ = pyshacl.validate(
        data,
        shacl_graph=shapes,
        ont_graph=ontology,
        inference="none",
        abort_on_first=False,
        advanced=True,
    )
    violations = []
    # The report's own results: pyshacl also types the nested results of sh:node, sh:or …
    # (sh:detail) as sh:ValidationResult.
    for result in report.objects(report.value(None, RDF.type, SH.ValidationReport), SH.result):
        focus = report.value(result, SH.focusNode)
        violations.append(
            Violation(
                focus=focus,
                path=report.value(result, SH.resultPath),
                value=report.value(result, SH.value),
                shape=report.value(result, SH.sourceShape),
                component=report.value(result, SH.sourceConstraintComponent),
                severity=report.value(result, SH.resultSeverity),
                message=" ".join(str(m) for m in report.objects(result, SH.resultMessage)),
                where=locate(focus) if isinstance(focus, URIRef) else None,
            )
        )
    violations.sort(key=lambda v: (v.where or "", str(v.focus), str(v.shape), v.message))
    return ValidationReport(
        conforms=bool(conforms),
        violations=violations,
        graph=report,
        shape_names=shape_names(shapes),
    )
