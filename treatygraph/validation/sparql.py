"""SHACL-SPARQL constraints (sh:sparql with sh:select): the shape's query, pre-bound to the focus nodes."""

from __future__ import annotations

import re

from rdflib.namespace import SH

from .components import Check
from .paths import UnsupportedShape, sparql_path
from .shapes import Shapes

WHERE_OPEN = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


def prefixes(shapes: Shapes, node) -> str:
    """The PREFIX lines the node's sh:prefixes declare."""
    lines = []
    for declared in shapes.graph.objects(node, SH.prefixes):
        for declaration in shapes.graph.objects(declared, SH.declare):
            prefix = shapes.graph.value(declaration, SH.prefix)
            namespace = shapes.graph.value(declaration, SH.namespace)
            lines.append(f"PREFIX {prefix}: <{namespace}>\n")
    return "".join(sorted(set(lines)))


def sparql_checks(shapes: Shapes, shape, context: str) -> list[Check]:
    checks = []
    for constraint in shapes.values(shape, SH.sparql):
        if shapes.deactivated(constraint):
            continue
        select = shapes.value(constraint, SH.select)
        if select is None:
            raise UnsupportedShape(f"SPARQL constraint of shape {shape} has no sh:select")
        text = str(select)
        for unsupported in ("$currentShape", "$shapesGraph"):
            if unsupported in text:
                raise UnsupportedShape(f"SPARQL constraint of shape {shape} uses {unsupported}")
        path_node = shapes.path(shape)
        if path_node is not None:
            text = text.replace("$PATH", sparql_path(shapes.graph, path_node, shape))
        text = text.replace("$this", "?this")
        # Pre-binding $this, done as a join: the focus nodes go first in the top-level WHERE, so
        # the engine starts from them (running the query unbound and filtering after costs a
        # scan of every node for constraints such as "has an English label").
        where = WHERE_OPEN.search(text)
        if where is None:
            raise UnsupportedShape(f"SPARQL constraint of shape {shape}: no WHERE {{ found")
        text = f"{text[: where.end()]} {context} {text[where.end() :]}"
        message = shapes.message(constraint, "") or shapes.message(
            shape, "SPARQL constraint violated"
        )
        checks.append(
            Check(
                query=prefixes(shapes, constraint) + text,
                shape=shape,
                path=path_node,
                severity=shapes.severity(shape),
                constraints=((SH.SPARQLConstraintComponent, message),),
            )
        )
    return checks
