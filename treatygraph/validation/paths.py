"""SHACL property paths and shape values written as SPARQL, and paths copied into reports."""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH


class UnsupportedShape(Exception):
    """A shape the engine cannot evaluate fully, or an ill-formed one: never reported as conforming."""


MODIFIERS = ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"), (SH.zeroOrOnePath, "?"))


def term(node, shape=None) -> str:
    """A shape's IRI or literal as SPARQL text."""
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        return node.n3()
    raise UnsupportedShape(
        f"shape {shape}: blank node {node} used as a value; SPARQL cannot name a blank node of the data"
    )


def string(text: str) -> str:
    """A SPARQL string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'


def sparql_path(shapes: Graph, node, shape=None) -> str:
    """The SHACL path rooted at `node` as a SPARQL property path; refuse an ill-formed one."""
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, BNode) and (node, RDF.first, None) in shapes:
        steps = list(Collection(shapes, node))
        if len(steps) < 2:
            raise UnsupportedShape(f"shape {shape}: a sequence path needs two steps or more")
        return "(" + "/".join(sparql_path(shapes, step, shape) for step in steps) + ")"
    inverse = shapes.value(node, SH.inversePath)
    if inverse is not None:
        return f"^({sparql_path(shapes, inverse, shape)})"
    alternatives = shapes.value(node, SH.alternativePath)
    if alternatives is not None:
        options = list(Collection(shapes, alternatives))
        if len(options) < 2:
            raise UnsupportedShape(f"shape {shape}: an alternative path needs two options or more")
        return "(" + "|".join(sparql_path(shapes, p, shape) for p in options) + ")"
    for modifier, suffix in MODIFIERS:
        inner = shapes.value(node, modifier)
        if inner is not None:
            return f"({sparql_path(shapes, inner, shape)}){suffix}"
    raise UnsupportedShape(f"shape {shape}: {node} is not a SHACL path")


def is_scannable(shapes: Graph, node) -> bool:
    """The path is made of predicates, inverses, sequences and alternatives only: matching it
    from both ends unbound never enumerates every node, as a * or ? path does."""
    if isinstance(node, URIRef):
        return True
    if (node, RDF.first, None) in shapes:
        return all(is_scannable(shapes, step) for step in Collection(shapes, node))
    inverse = shapes.value(node, SH.inversePath)
    if inverse is not None:
        return is_scannable(shapes, inverse)
    alternatives = shapes.value(node, SH.alternativePath)
    if alternatives is not None:
        return all(is_scannable(shapes, p) for p in Collection(shapes, alternatives))
    return False


def copy_path(shapes: Graph, node, report: Graph):
    """The path rooted at `node` rebuilt in the report graph (sh:resultPath of a complex path)."""
    if isinstance(node, URIRef):
        return node
    copy = BNode()
    if (node, RDF.first, None) in shapes:
        Collection(
            report, copy, [copy_path(shapes, step, report) for step in Collection(shapes, node)]
        )
        return copy
    alternatives = shapes.value(node, SH.alternativePath)
    if alternatives is not None:
        options = BNode()
        Collection(
            report,
            options,
            [copy_path(shapes, p, report) for p in Collection(shapes, alternatives)],
        )
        report.add((copy, SH.alternativePath, options))
        return copy
    for predicate in (SH.inversePath, *(modifier for modifier, _ in MODIFIERS)):
        inner = shapes.value(node, predicate)
        if inner is not None:
            report.add((copy, predicate, copy_path(shapes, inner, report)))
            return copy
    raise UnsupportedShape(f"{node} is not a SHACL path")


def path_key(graph: Graph, node):
    """A path as nested tuples, equal for equal paths whatever their blank nodes (to compare reports)."""
    if node is None or isinstance(node, URIRef):
        return node
    if (node, RDF.first, None) in graph:
        return ("sequence", *(path_key(graph, step) for step in Collection(graph, node)))
    alternatives = graph.value(node, SH.alternativePath)
    if alternatives is not None:
        return ("alternative", *(path_key(graph, p) for p in Collection(graph, alternatives)))
    for predicate in (SH.inversePath, *(modifier for modifier, _ in MODIFIERS)):
        inner = graph.value(node, predicate)
        if inner is not None:
            return (str(predicate), path_key(graph, inner))
    return ("unknown path",)
