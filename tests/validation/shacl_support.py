"""What the SHACL tests share: a store of rdflib graphs, and results keyed for comparison."""

from __future__ import annotations

from decimal import Decimal

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal

from treatygraph.validation.paths import path_key
from treatygraph.validation.report import ValidationReport


def store_of(*graphs: Graph) -> ox.Store:
    """An in-memory Oxigraph store holding the graphs (in its default graph)."""
    store = ox.Store()
    for graph in graphs:
        store.bulk_load(
            graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES
        )
    return store


def node_key(node):
    """A node as compared: any blank node alike; a literal by datatype, language and value, since
    Oxigraph stores a literal's canonical form ("4.0"^^xsd:decimal comes back as "4")."""
    if isinstance(node, BNode):
        return "_:"
    if isinstance(node, Literal):
        number = isinstance(node.value, (int, float, Decimal)) and not node.ill_typed
        return (node.datatype, node.language, node.value if number else str(node))
    return node


def result_keys(report: ValidationReport, path_graph: Graph) -> set[tuple]:
    """(focus, path, value, component, severity) of every result; a complex path by its structure
    (`path_graph` holds its nodes: the shapes for the compiler, the report for pyshacl)."""
    return {
        (
            node_key(v.focus),
            path_key(path_graph, v.path),
            node_key(v.value),
            v.component,
            v.severity,
        )
        for v in report.violations
    }
