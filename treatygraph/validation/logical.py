"""Shape-based constraints: sh:node, sh:not, sh:and, sh:or, sh:xone, sh:qualifiedValueShape.

A value node conforms to a shape when validating it against that shape gives no result. The
engine finds, in one pass of SPARQL queries, the value nodes that fail each referenced shape (the
shape evaluated with the value nodes as its focus nodes), then combines those sets here: shapes
are not recursive (the reader refuses cycles), so this terminates and is complete.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from rdflib.namespace import SH

from .components import value_context, value_nodes

Pairs = list[tuple[object, object]]  # (focus node, value node) as Oxigraph terms


def logical_tasks(engine, shape, context: str) -> list[Callable[[], list]]:
    """One task per shape-based constraint of the shape, each giving its results."""
    shapes = engine.shapes
    values = value_nodes(shapes, shape)
    inner = context if values.path is None else value_context(context, values.path)
    tasks = []

    def add(parameter, referenced: list, violates: Callable[[list[bool]], bool]) -> None:
        def run() -> list:
            failing = [engine.failing(s, inner) for s in referenced]
            return [
                engine.violation(shape, parameter, this, value)
                for this, value in engine.pairs(context, values)
                if violates([value in bad for bad in failing])
            ]

        tasks.append(run)

    for referenced in shapes.values(shape, SH.node):
        add(SH.node, [referenced], lambda failed: failed[0])
    for referenced in shapes.values(shape, SH["not"]):
        add(SH["not"], [referenced], lambda failed: not failed[0])
    for members in shapes.members(shape, SH["and"]):
        add(SH["and"], members, any)
    for members in shapes.members(shape, SH["or"]):
        add(SH["or"], members, lambda failed: bool(failed) and all(failed))
    for members in shapes.members(shape, SH.xone):
        add(SH.xone, members, lambda failed: failed.count(False) != 1)
    for qualified in shapes.values(shape, SH.qualifiedValueShape):
        tasks.append(lambda q=qualified: qualified_results(engine, shape, q, context, inner))
    return tasks


def siblings(shapes, shape, qualified) -> list:
    """The other qualified value shapes of the property shapes beside this one (SHACL 4.7.3)."""
    found = set()
    for parent in shapes.graph.subjects(SH.property, shape):
        for sibling in shapes.graph.objects(parent, SH.property):
            found |= set(shapes.graph.objects(sibling, SH.qualifiedValueShape))
    found.discard(qualified)
    return sorted(found, key=str)


def qualified_results(engine, shape, qualified, context: str, inner: str) -> list:
    shapes = engine.shapes
    minimum = shapes.integer(shape, SH.qualifiedMinCount)
    maximum = shapes.integer(shape, SH.qualifiedMaxCount)
    if not minimum and not maximum:
        return []
    failing = engine.failing(qualified, inner)
    others = []
    if shapes.flag(shape, SH.qualifiedValueShapesDisjoint):
        others = [engine.failing(s, inner) for s in siblings(shapes, shape, qualified)]
    counts: dict = defaultdict(int)
    for this, value in engine.pairs(context, value_nodes(shapes, shape), with_empty=True):
        counts[this] += 0
        if value is None or value in failing:
            continue
        if all(value in bad for bad in others):
            counts[this] += 1
    results = []
    for this, count in counts.items():
        if any(count < m for m in minimum):
            results.append(engine.violation(shape, SH.qualifiedMinCount, this, None))
        if any(count > m for m in maximum):
            results.append(engine.violation(shape, SH.qualifiedMaxCount, this, None))
    return results
