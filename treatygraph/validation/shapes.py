"""Reading a shapes graph: which nodes are shapes, their targets, and what the engine refuses.

Unknown SHACL parameters, recursive shape references and ill-formed parameter values raise
UnsupportedShape naming the shape and the construct: a shape the engine skipped would otherwise
read as "conforms".
"""

from __future__ import annotations

from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH, XSD

from .paths import UnsupportedShape, term

TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
# Parameters whose value is one shape, or a list of shapes.
SHAPE_REFERENCES = (SH.node, SH["not"], SH.qualifiedValueShape, SH.property)
SHAPE_LISTS = (SH["and"], SH["or"], SH.xone)
HANDLED = {
    *TARGETS,
    *SHAPE_REFERENCES,
    *SHAPE_LISTS,
    SH.path,
    SH.message,
    SH.severity,
    SH.name,
    SH.description,
    SH.order,
    SH.group,
    SH.deactivated,
    SH.defaultValue,
    SH.minCount,
    SH.maxCount,
    SH.datatype,
    SH["class"],
    SH.nodeKind,
    SH.pattern,
    SH.flags,
    SH["in"],
    SH.languageIn,
    SH.hasValue,
    SH.minLength,
    SH.maxLength,
    SH.uniqueLang,
    SH.equals,
    SH.disjoint,
    SH.lessThan,
    SH.lessThanOrEquals,
    SH.minInclusive,
    SH.minExclusive,
    SH.maxInclusive,
    SH.maxExclusive,
    SH.closed,
    SH.ignoredProperties,
    SH.qualifiedMinCount,
    SH.qualifiedMaxCount,
    SH.qualifiedValueShapesDisjoint,
    SH.sparql,
    SH.select,  # a shape that is also its own SPARQL constraint (sh:sparql pointing at itself)
    SH.declare,
    SH.prefixes,
}
INTEGER_PARAMETERS = (
    SH.minCount,
    SH.maxCount,
    SH.minLength,
    SH.maxLength,
    SH.qualifiedMinCount,
    SH.qualifiedMaxCount,
)
NODE_KINDS = {
    SH.IRI,
    SH.BlankNode,
    SH.Literal,
    SH.BlankNodeOrIRI,
    SH.BlankNodeOrLiteral,
    SH.IRIOrLiteral,
}


class Shapes:
    """A shapes graph, read once: shapes, their parameters, messages and severities."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.with_targets = self._targeted()
        for shape in self.with_targets:
            self.check_references(shape, ())

    def _targeted(self) -> list:
        g = self.graph
        targeted = {s for p in TARGETS for s in g.subjects(p, None)}
        shapes = set(g.subjects(RDF.type, SH.NodeShape)) | set(
            g.subjects(RDF.type, SH.PropertyShape)
        )
        classes = set(g.subjects(RDF.type, RDFS.Class)) | set(g.subjects(RDF.type, OWL.Class))
        targeted |= shapes & classes
        return sorted(targeted, key=lambda s: (isinstance(s, Literal), str(s)))

    def value(self, shape, parameter):
        return self.graph.value(shape, parameter)

    def values(self, shape, parameter) -> list:
        return sorted(self.graph.objects(shape, parameter), key=str)

    def members(self, shape, parameter) -> list[list]:
        """The lists given as values of a list parameter (sh:and, sh:in …)."""
        lists = []
        for head in self.values(shape, parameter):
            if head != RDF.nil and (head, RDF.first, None) not in self.graph:
                raise UnsupportedShape(
                    f"shape {shape}: the value of {parameter} is not an RDF list"
                )
            lists.append(list(Collection(self.graph, head)))
        return lists

    def integer(self, shape, parameter) -> list[int]:
        found = []
        for value in self.values(shape, parameter):
            if not (isinstance(value, Literal) and value.datatype == XSD.integer):
                raise UnsupportedShape(
                    f"shape {shape}: {parameter} must be an xsd:integer, not {value!r}"
                )
            found.append(int(value))
        return found

    def flag(self, shape, parameter) -> bool:
        """A boolean parameter, false when absent."""
        value = self.value(shape, parameter)
        if value is None:
            return False
        if not (isinstance(value, Literal) and value.datatype == XSD.boolean):
            raise UnsupportedShape(
                f"shape {shape}: {parameter} must be an xsd:boolean, not {value!r}"
            )
        # Only "true" turns a constraint on: "1"^^xsd:boolean is another term (W3C uniqueLang-002).
        return str(value) == "true"

    def deactivated(self, shape) -> bool:
        return self.flag(shape, SH.deactivated)

    def path(self, shape):
        paths = self.values(shape, SH.path)
        if len(paths) > 1:
            raise UnsupportedShape(f"shape {shape} has {len(paths)} values of sh:path")
        return paths[0] if paths else None

    def severity(self, shape) -> URIRef:
        severity = self.value(shape, SH.severity) or SH.Violation
        if not isinstance(severity, URIRef):
            raise UnsupportedShape(f"shape {shape}: sh:severity must be an IRI, not {severity!r}")
        return severity

    def message(self, shape, default: str) -> str:
        messages = sorted(str(m) for m in self.graph.objects(shape, SH.message))
        return " ".join(messages) if messages else default

    def targets(self, shape) -> list[str]:
        """SPARQL patterns binding ?this to the explicit focus nodes (class targets apart)."""
        patterns = [
            f"VALUES ?this {{ {term(n, shape)} }}" for n in self.values(shape, SH.targetNode)
        ]
        # Each focus node once: a node with ten sources would otherwise run the checks ten times.
        patterns += [
            f"{{ SELECT DISTINCT ?this WHERE {{ ?this {term(p, shape)} [] }} }}"
            for p in self.values(shape, SH.targetSubjectsOf)
        ]
        patterns += [
            f"{{ SELECT DISTINCT ?this WHERE {{ [] {term(p, shape)} ?this }} }}"
            for p in self.values(shape, SH.targetObjectsOf)
        ]
        return patterns

    def target_classes(self, shape) -> list:
        classes = set(self.values(shape, SH.targetClass))
        if (shape, RDF.type, RDFS.Class) in self.graph or (
            shape,
            RDF.type,
            OWL.Class,
        ) in self.graph:
            classes.add(shape)
        return sorted(classes, key=str)

    def check_supported(self, shape) -> None:
        """Refuse a shape using a SHACL parameter the engine does not evaluate, or ill-formed values."""
        for predicate in set(self.graph.predicates(shape)):
            if str(predicate).startswith(str(SH)) and predicate not in HANDLED:
                raise UnsupportedShape(
                    f"shape {shape} uses {predicate}, which the SHACL engine does not evaluate"
                )
        for parameter in INTEGER_PARAMETERS:
            self.integer(shape, parameter)
        for kind in self.values(shape, SH.nodeKind):
            if kind not in NODE_KINDS:
                raise UnsupportedShape(f"shape {shape}: {kind} is not a node kind")
        if self.values(shape, SH.closed) and self.path(shape) is not None:
            raise UnsupportedShape(f"shape {shape}: sh:closed on a property shape is not evaluated")

    def referenced(self, shape) -> list:
        found = [s for p in SHAPE_REFERENCES for s in self.values(shape, p)]
        return found + [
            s for p in SHAPE_LISTS for members in self.members(shape, p) for s in members
        ]

    def check_references(self, shape, trail: tuple) -> None:
        """Refuse recursive shapes: SHACL leaves their meaning open."""
        if shape in trail:
            cycle = " -> ".join(str(s) for s in (*trail[trail.index(shape) :], shape))
            raise UnsupportedShape(
                f"shape {shape} refers to itself ({cycle}); recursive shapes are refused"
            )
        for referenced in self.referenced(shape):
            self.check_references(referenced, (*trail, shape))
