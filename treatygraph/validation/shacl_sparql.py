"""The validation engine: SHACL shapes compiled to SPARQL queries and run on an Oxigraph store.

pyshacl walks an in-memory rdflib graph node by node; the same shapes run as SPARQL queries on
Oxigraph's indexes take a fraction of that and never load the data into Python. Every Core
constraint component and SPARQL-based constraints are evaluated; what the engine cannot evaluate
fully raises UnsupportedShape naming the shape and the construct, never "conforms".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDFS, SH, XSD

from .components import (
    Check,
    ComponentCompiler,
    ValueNodes,
    component,
    target_context,
    value_context,
)
from .logical import logical_tasks
from .paths import UnsupportedShape, term
from .report import ValidationReport, Violation, report_graph, shape_names
from .shapes import Shapes
from .sparql import SparqlConstraints

__all__ = ["UnsupportedShape", "load_store", "validate_files", "validate_store"]


class Result(NamedTuple):
    """A result as the queries give it: focus and value as Oxigraph terms, the rest from the shapes."""

    focus: object
    value: object
    path: object
    shape: object
    component: URIRef
    severity: URIRef
    message: str


Task = Check | Callable[[], list[Result]]
FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES, ".rdf": ox.RdfFormat.RDF_XML}


def rdflib_term(node):
    """An Oxigraph term as rdflib's (a simple literal without a datatype, as rdflib parses it)."""
    if node is None:
        return None
    if isinstance(node, ox.NamedNode):
        return URIRef(node.value)
    if isinstance(node, ox.BlankNode):
        return BNode(node.value)
    if node.language:
        return Literal(node.value, lang=node.language)
    datatype = node.datatype.value
    # normalize=False keeps the lexical form: rdflib would turn "1"^^xsd:boolean into "true".
    return Literal(
        node.value,
        datatype=None if datatype == str(XSD.string) else URIRef(datatype),
        normalize=False,
    )


class Engine:
    """Shapes evaluated on one store: the checks of every shape with targets, and the sets of
    nodes failing a referenced shape (for sh:node, sh:or …), each computed once."""

    def __init__(self, store: ox.Store, shapes: Graph, dataset: dict, locate=lambda iri: None):
        self.store = store
        self.dataset = dataset
        self.locate = locate
        self.shapes = Shapes(shapes)
        self.subclasses = self._subclasses()
        self.failing_sets: dict = {}
        self.pair_lists: dict = {}

    def _subclasses(self):
        cache: dict = {}

        def subclasses(cls) -> list[URIRef]:
            if cls not in cache:
                rows = self.query(
                    f"SELECT DISTINCT ?sub WHERE {{ ?sub <{RDFS.subClassOf}>* {term(cls)} }}"
                )
                found = {
                    URIRef(row["sub"].value) for row in rows if isinstance(row["sub"], ox.NamedNode)
                }
                cache[cls] = sorted(found | {cls})
            return cache[cls]

        return subclasses

    def query(self, text: str, substitutions: dict | None = None) -> list[dict]:
        """The solutions, read in the calling thread (Oxigraph's iterators must stay in theirs)."""
        try:
            solutions = self.store.query(text, substitutions=substitutions, **self.dataset)
        except (SyntaxError, RuntimeError) as error:
            raise UnsupportedShape(f"a compiled query cannot run ({error}):\n{text}") from None
        names = [v.value for v in solutions.variables]
        rows = [dict(zip(names, solution, strict=True)) for solution in solutions]
        del solutions
        return rows

    def focus_nodes(self, context: str) -> list:
        return [row["this"] for row in self.query(f"SELECT DISTINCT ?this WHERE {context}")]

    def plan(self) -> list[Task]:
        """Every task of every active shape with targets, checking every shape first."""
        tasks: list[Task] = []
        for shape in self.shapes.with_targets:
            context = target_context(self.shapes, shape, self.subclasses)
            if context is not None:
                tasks += self.tasks(shape, context)
        return tasks

    def own_tasks(self, shape, context: str) -> list[Task]:
        """The shape's own constraints: results whose focus nodes are those of the context."""
        self.shapes.check_supported(shape)
        tasks: list[Task] = ComponentCompiler(self.shapes, shape, context, self.subclasses).checks()
        tasks += SparqlConstraints(self, shape, context).tasks()
        return tasks + logical_tasks(self, shape, context)

    def nested(self, shape, context: str) -> list[tuple[object, str]]:
        """The property shapes of a shape, each with its context: the focus nodes of a node shape,
        the value nodes of a property shape."""
        path = ComponentCompiler(self.shapes, shape, context, self.subclasses).values.path
        inner = context if path is None else value_context(context, path)
        return [
            (p, inner)
            for p in self.shapes.values(shape, SH.property)
            if not self.shapes.deactivated(p)
        ]

    def tasks(self, shape, context: str) -> list[Task]:
        if self.shapes.deactivated(shape):
            return []
        tasks = self.own_tasks(shape, context)
        for prop, inner in self.nested(shape, context):
            tasks += self.tasks(prop, inner)
        return tasks

    def run(self, task: Task) -> list[Result]:
        if not isinstance(task, Check):
            return task()
        found = []
        for row in self.query(task.query):
            if row.get("this") is None:
                continue
            for constraint, message in task.violated(row):
                found.append(
                    self.new_result(task.shape, constraint, row, message, task.severity, task.path)
                )
        return found

    @staticmethod
    def new_result(shape, constraint, row: dict, message: str, severity, path) -> Result:
        """A result from a query's row: ?this, and ?value and ?path where the query gives them."""
        row_path = row.get("path")
        if isinstance(row_path, ox.NamedNode):
            path = rdflib_term(row_path)
        return Result(row["this"], row.get("value"), path, shape, constraint, severity, message)

    def violation(self, shape, parameter, focus, value) -> Result:
        """A result of a shape-based constraint."""
        name = str(parameter)[len(str(SH)) :]
        message = self.shapes.message(shape, f"Value does not satisfy sh:{name}")
        path = self.shapes.path(shape)
        return Result(
            focus, value, path, shape, component(parameter), self.shapes.severity(shape), message
        )

    def report(self, result: Result) -> Violation:
        focus = rdflib_term(result.focus)
        return Violation(
            focus=focus,
            path=result.path,
            value=rdflib_term(result.value),
            shape=result.shape,
            component=result.component,
            severity=result.severity,
            message=result.message,
            where=self.locate(focus) if isinstance(focus, URIRef) else None,
        )

    def pairs(self, context: str, values: ValueNodes, with_empty: bool = False) -> list:
        """(focus, value) of the context, as Oxigraph terms; (focus, None) for a focus without
        values when `with_empty`."""
        key = (context, values, with_empty)
        if key not in self.pair_lists:
            pattern = f"OPTIONAL {{ {values.pattern} }}" if with_empty else values.pattern
            rows = self.query(f"SELECT DISTINCT ?this ?value WHERE {{ {context} {pattern} }}")
            self.pair_lists[key] = [(row["this"], row["value"]) for row in rows]
        return self.pair_lists[key]

    def failing(self, shape, context: str) -> set:
        """The focus nodes of the context that do not conform to the shape."""
        key = (shape, context)
        if key not in self.failing_sets:
            failing: set = set()
            if not self.shapes.deactivated(shape):
                for task in self.own_tasks(shape, context):
                    failing |= {result.focus for result in self.run(task)}
                values = ComponentCompiler(self.shapes, shape, context, self.subclasses).values
                for prop, inner in self.nested(shape, context):
                    bad = self.failing(prop, inner)
                    if values.path is None:
                        failing |= bad
                    elif bad:
                        failing |= {
                            this for this, value in self.pairs(context, values) if value in bad
                        }
            self.failing_sets[key] = failing
        return self.failing_sets[key]


def validate_store(
    store: ox.Store,
    shapes: Graph,
    locate=lambda iri: None,
    graphs: list[str] | None = None,
    workers: int | None = None,
) -> ValidationReport:
    """Validate the union of `graphs` (of every graph by default) against the shapes.

    The checks are independent read-only queries, and Oxigraph evaluates a query without holding
    the GIL, so `workers` threads (one per core by default) run them side by side. Raise
    UnsupportedShape, before running anything, for a shape the engine cannot evaluate.
    """
    dataset = (
        {"default_graph": [ox.NamedNode(g) for g in graphs]}
        if graphs is not None
        else {"use_default_graph_as_union": True}
    )
    engine = Engine(store, shapes, dataset, locate)
    tasks = engine.plan()
    # The SPARQL-based and shape-based constraints (the tasks that are not one compiled query)
    # join several patterns and take longest: started first, they do not leave one thread
    # running alone at the end.
    tasks.sort(key=lambda task: isinstance(task, Check))
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        violations = {engine.report(r) for found in pool.map(engine.run, tasks) for r in found}
    ordered = sorted(
        violations,
        key=lambda v: (v.where or "", str(v.focus), str(v.shape), v.message, str(v.value)),
    )
    return ValidationReport(
        conforms=not ordered,
        violations=ordered,
        graph=report_graph(ordered, shapes),
        shape_names=shape_names(shapes),
    )


def load_store(paths: list[Path]) -> ox.Store:
    """An in-memory store holding the RDF files (Turtle, N-Triples or RDF/XML), each in its own
    graph named by its file IRI, which is also the base of its relative IRIs."""
    store = ox.Store()
    for path in paths:
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(f"{path}: unknown RDF format (use .ttl, .nt or .rdf)")
        iri = path.resolve().as_uri()
        try:
            store.load(path=str(path), format=fmt, base_iri=iri, to_graph=ox.NamedNode(iri))
        except SyntaxError as error:
            raise ValueError(f"{path}: {error}") from error
    return store


def read_graph(path: Path) -> Graph:
    """An RDF file as an rdflib graph, read by Oxigraph, whose terms keep their lexical form
    (rdflib's parser turns "1"^^xsd:boolean into "true", another term)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown RDF format (use .ttl, .nt or .rdf)")
    graph = Graph()
    try:
        for triple in ox.parse(path=str(path), format=fmt, base_iri=path.resolve().as_uri()):
            graph.add(
                tuple(rdflib_term(t) for t in (triple.subject, triple.predicate, triple.object))
            )
    except (OSError, SyntaxError) as error:
        raise ValueError(f"{path}: {error}") from error
    return graph


def validate_files(
    data: list[Path], shapes: list[Path], workers: int | None = None
) -> ValidationReport:
    """Validate data files against shapes files."""
    shapes_graph = Graph()
    for path in shapes:
        shapes_graph += read_graph(path)
    return validate_store(load_store(data), shapes_graph, workers=workers)
