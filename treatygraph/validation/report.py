"""SHACL validation of the assembled graph, with a report a person can read."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from rdflib import BNode, Graph, URIRef, plugin
from rdflib.namespace import RDF, SH
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.evaluate import evalQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.processor import SPARQLProcessor
from rdflib.query import Processor


@dataclass(frozen=True)
class Violation:
    focus: str
    path: str | None
    value: str | None
    shape: str
    component: str
    severity: str
    message: str
    where: str | None


@dataclass
class ValidationReport:
    conforms: bool
    violations: list[Violation]
    graph: Graph
    shape_names: dict[str, str] = field(default_factory=dict)  # readable names of shapes

    def text(self) -> str:
        if self.conforms:
            return "The graph conforms to the shapes."
        lines = [f"{len(self.violations)} SHACL violation(s):"]
        for v in self.violations:
            lines.append(f"- {v.where or v.focus}")
            lines.append(f"    {v.severity}: {v.message}")
            lines.append(f"    focus {v.focus}" + (f", path {v.path}" if v.path else ""))
            if v.value:
                lines.append(f"    value {v.value}")
            lines.append(f"    shape {self.shape_names.get(v.shape, v.shape)} ({v.component})")
        return "\n".join(lines)


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
    """Run pyshacl on an in-memory graph; `locate(iri)` gives "file:line" of the record, if any."""
    import pyshacl

    plugin.register("sparql", Processor, __name__, CachingSPARQLProcessor.__name__)

    conforms, report, _ = pyshacl.validate(
        data,
        shacl_graph=shapes,
        ont_graph=ontology,
        inference="none",
        abort_on_first=False,
        allow_warnings=True,
        advanced=True,
    )
    violations = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        value = report.value(result, SH.value)
        path = report.value(result, SH.resultPath)
        shape = report.value(result, SH.sourceShape)
        violations.append(
            Violation(
                focus=str(focus),
                # A complex path (alternative, sequence …) is a blank node of the shapes graph: its
                # id means nothing to a reader, and the compiled validator reports none either.
                path=str(path) if isinstance(path, URIRef) else None,
                value=str(value) if value is not None else None,
                shape=str(shape),
                component=_local(report.value(result, SH.sourceConstraintComponent)),
                severity=_local(report.value(result, SH.resultSeverity)),
                message=" ".join(str(m) for m in report.objects(result, SH.resultMessage)),
                where=locate(URIRef(str(focus))),
            )
        )
    violations.sort(key=lambda v: (v.where or "", v.focus, v.shape, v.message))
    return ValidationReport(
        conforms=bool(conforms),
        violations=violations,
        graph=report,
        shape_names=shape_names(shapes),
    )
