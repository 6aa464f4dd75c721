"""SHACL shapes compiled to SPARQL queries and run on the Oxigraph store: validation at scale.

pyshacl walks an in-memory rdflib graph node by node (about 7 s per 100k triples); the same shapes
run as one SPARQL query per constraint on Oxigraph's indexes take a fraction of that and never
load the data into Python. The compiled checks give the same report as pyshacl on the real data;
tests/validation/test_shacl_sparql.py compares the two on the real dataset and on broken copies of it.

Supported: targets (sh:targetClass with rdfs:subClassOf*, sh:targetNode, sh:targetSubjectsOf,
sh:targetObjectsOf), predicate, inverse, sequence and alternative paths, and the constraint
components minCount, maxCount, datatype (with well-formedness for castable XSD types), class,
nodeKind, pattern, in, hasValue, minLength, maxLength, uniqueLang, min/maxIn/Exclusive,
equals, disjoint, lessThan, lessThanOrEquals, and SPARQL-based constraints (sh:sparql with
sh:select). Anything else raises UnsupportedShape naming the shape and the component, rather
than being skipped silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH

from .report import ValidationReport, Violation, _local

SUBCLASS_PATH = f"<{RDF.type}>/<{RDFS.subClassOf}>*"
# XSD types whose lexical form Oxigraph can check with a cast (ill-formed literals violate sh:datatype).
CASTABLE = {
    f"http://www.w3.org/2001/XMLSchema#{name}"
    for name in ("boolean", "integer", "decimal", "float", "double", "dateTime", "date", "time")
}
NODE_KIND_FILTERS = {
    SH.IRI: "!isIRI(?value)",
    SH.BlankNode: "!isBlank(?value)",
    SH.Literal: "!isLiteral(?value)",
    SH.BlankNodeOrIRI: "isLiteral(?value)",
    SH.BlankNodeOrLiteral: "isIRI(?value)",
    SH.IRIOrLiteral: "isBlank(?value)",
}
COMPARISONS = {
    SH.minInclusive: "<",
    SH.minExclusive: "<=",
    SH.maxInclusive: ">",
    SH.maxExclusive: ">=",
}
WHERE_OPEN = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)
PAIR_COMPARISONS = {SH.lessThan: ">=", SH.lessThanOrEquals: ">"}
HANDLED = {
    SH.path,
    SH.property,
    SH.targetClass,
    SH.targetNode,
    SH.targetSubjectsOf,
    SH.targetObjectsOf,
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
    SH.hasValue,
    SH.minLength,
    SH.maxLength,
    SH.uniqueLang,
    SH.equals,
    SH.disjoint,
    SH.sparql,
    *COMPARISONS,
    *PAIR_COMPARISONS,
}
ANNOTATIONS = {RDF.type, RDFS.comment, RDFS.label, RDFS.seeAlso, RDFS.isDefinedBy}


class UnsupportedShape(Exception):
    """A shape uses a SHACL feature the SPARQL compiler does not handle."""


@dataclass(frozen=True)
class Check:
    """Constraints of one shape as one SPARQL query selecting ?this (and ?value when there is one).

    With one constraint, every row is a violation of it. With several (the constraints that test
    each value on its own, or minCount with maxCount), the query scans the focus nodes and values
    once and the boolean ?c0, ?c1 … of a row say which constraints it violates: one scan instead
    of one per constraint, the same violations.
    """

    query: str
    shape: str
    path: str | None
    severity: str
    constraints: tuple[tuple[str, str], ...]  # (component, message), in the order of ?c0, ?c1 …

    def violated(self, row) -> list[tuple[str, str]]:
        """The constraints a result row violates."""
        if len(self.constraints) == 1:
            return list(self.constraints)
        return [
            constraint
            for number, constraint in enumerate(self.constraints)
            if _is_true(row[f"c{number}"])
        ]


def _is_true(term) -> bool:
    """A boolean the query computed (unbound when the test raised an error: no violation)."""
    return isinstance(term, ox.Literal) and term.value in ("true", "1")


def _term(node) -> str:
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        return node.n3()
    raise UnsupportedShape(f"blank node {node} used as a value in a shape")


def _path(shapes: Graph, node) -> str:
    if isinstance(node, URIRef):
        return f"<{node}>"
    if (node, RDF.first, None) in shapes:
        return "(" + "/".join(_path(shapes, step) for step in Collection(shapes, node)) + ")"
    inverse = shapes.value(node, SH.inversePath)
    if inverse is not None:
        return f"^({_path(shapes, inverse)})"
    alternatives = shapes.value(node, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(_path(shapes, p) for p in Collection(shapes, alternatives)) + ")"
    for modifier, suffix in (
        (SH.zeroOrMorePath, "*"),
        (SH.oneOrMorePath, "+"),
        (SH.zeroOrOnePath, "?"),
    ):
        inner = shapes.value(node, modifier)
        if inner is not None:
            return f"({_path(shapes, inner)}){suffix}"
    raise UnsupportedShape(f"path {node} is not a SHACL path")


def _is_scannable(shapes: Graph, node) -> bool:
    """The path is made of predicates, inverses, sequences and alternatives only: matching it
    from both ends unbound never enumerates every node, as a * or ? path does."""
    if isinstance(node, URIRef):
        return True
    if (node, RDF.first, None) in shapes:
        return all(_is_scannable(shapes, step) for step in Collection(shapes, node))
    inverse = shapes.value(node, SH.inversePath)
    if inverse is not None:
        return _is_scannable(shapes, inverse)
    alternatives = shapes.value(node, SH.alternativePath)
    if alternatives is not None:
        return all(_is_scannable(shapes, p) for p in Collection(shapes, alternatives))
    return False


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _instance_of(variable: str, classes: list, subclasses) -> str:
    """`variable` is an instance of one of the classes (or of their subclasses)."""
    if subclasses is None:
        return " UNION ".join(f"{{ {variable} {SUBCLASS_PATH} {_term(c)} }}" for c in classes)
    closure = sorted({sub for c in classes for sub in subclasses(c)})
    values = " ".join(_term(c) for c in closure)
    return f"VALUES {variable}Type {{ {values} }} {variable} <{RDF.type}> {variable}Type ."


def _targets(shapes: Graph, shape, subclasses=None) -> list[str]:
    classes = sorted(shapes.objects(shape, SH.targetClass))
    patterns = [_instance_of("?this", classes, subclasses)] if classes else []
    patterns += [f"VALUES ?this {{ {_term(n)} }}" for n in shapes.objects(shape, SH.targetNode)]
    # Each focus node once: a node with ten sources would otherwise run the checks ten times.
    patterns += [
        f"{{ SELECT DISTINCT ?this WHERE {{ ?this {_term(p)} [] }} }}"
        for p in shapes.objects(shape, SH.targetSubjectsOf)
    ]
    patterns += [
        f"{{ SELECT DISTINCT ?this WHERE {{ [] {_term(p)} ?this }} }}"
        for p in shapes.objects(shape, SH.targetObjectsOf)
    ]
    return patterns


def _target_block(patterns: list[str]) -> str:
    """The focus nodes, possibly repeated (a node with two target types); every query copes with
    that (DISTINCT, COUNT(DISTINCT ...)), which is much cheaper on Oxigraph than a subquery."""
    if len(patterns) == 1:
        return f"{{ {patterns[0]} }}"
    return "{ " + " UNION ".join(f"{{ {p} }}" for p in patterns) + " }"


class _Compiler:
    def __init__(self, shapes: Graph, subclasses=None):
        self.shapes = shapes
        self.subclasses = subclasses

    def message(self, shape, default: str) -> str:
        messages = [str(m) for m in self.shapes.objects(shape, SH.message)]
        return " ".join(messages) if messages else default

    def severity(self, shape) -> str:
        return _local(self.shapes.value(shape, SH.severity) or SH.Violation)

    def check_unsupported(self, shape) -> None:
        for predicate in set(self.shapes.predicates(shape)):
            if predicate not in HANDLED and predicate not in ANNOTATIONS:
                raise UnsupportedShape(
                    f"shape {shape} uses {predicate}, which the SPARQL validator does not compile; "
                    "validate with pyshacl (`treatygraph validate`) or extend treatygraph/validation/shacl_sparql.py"
                )

    def compile(self) -> list[Check]:
        checks: list[Check] = []
        node_shapes = set(self.shapes.subjects(RDF.type, SH.NodeShape))
        targeted = {
            s
            for p in (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
            for s in self.shapes.subjects(p, None)
        }
        for shape in sorted(node_shapes | targeted, key=str):
            if self.shapes.value(shape, SH.deactivated) == Literal(True):
                continue
            patterns = _targets(self.shapes, shape, self.subclasses)
            if not patterns:
                continue
            target = _target_block(patterns)
            if (shape, SH.path, None) in self.shapes:
                checks += self.property_checks(shape, target)
            else:
                checks += self.node_checks(shape, target)
            for prop in self.shapes.objects(shape, SH.property):
                if self.shapes.value(prop, SH.deactivated) != Literal(True):
                    checks += self.property_checks(prop, target)
        return checks

    def node_checks(self, shape, target: str) -> list[Check]:
        self.check_unsupported(shape)
        return list(self.value_checks(shape, target, "BIND(?this AS ?value)", None))

    def property_checks(self, shape, target: str) -> list[Check]:
        self.check_unsupported(shape)
        path_node = self.shapes.value(shape, SH.path)
        path = _path(self.shapes, path_node)
        result_path = str(path_node) if isinstance(path_node, URIRef) else None
        # A path of predicates can be scanned from the values: the queries then find the
        # offending values first, in a subquery Oxigraph evaluates on its own, and join the few
        # it finds with the focus nodes, instead of looking up the values of every focus node
        # (3 to 8 times faster at 1M triples). A * or ? path is followed from the focus nodes.
        scan = _is_scannable(self.shapes, path_node)
        values = f"?this {path} ?value ."
        checks = list(self.value_checks(shape, target, values, result_path, scan))
        make = self.maker(shape, result_path)
        for count in map(int, self.shapes.objects(shape, SH.minCount)):
            default = f"Less than {count} values on {path}"
            if count == 1 and scan:
                query = f"SELECT DISTINCT ?this WHERE {{ {target} MINUS {{ {values} }} }}"
            else:
                query = (
                    f"SELECT ?this WHERE {{ {target} OPTIONAL {{ {values} }} }} "
                    f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {count})"
                )
            checks.append(make("MinCountConstraintComponent", query, default))
        for count in map(int, self.shapes.objects(shape, SH.maxCount)):
            grouped = f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {count})"
            query = (
                f"SELECT DISTINCT ?this WHERE {{ {{ SELECT ?this WHERE {{ {values} }} {grouped} }} "
                f"{target} }}"
                if scan
                else f"SELECT ?this WHERE {{ {target} {values} }} {grouped}"
            )
            checks.append(
                make("MaxCountConstraintComponent", query, f"More than {count} values on {path}")
            )
        if self.shapes.value(shape, SH.uniqueLang) == Literal(True):
            languages = (
                f'{values} FILTER(LANG(?value) != "") }} GROUP BY ?this (LANG(?value) AS ?lang) '
                "HAVING (COUNT(DISTINCT ?value) > 1)"
            )
            query = (
                f"SELECT DISTINCT ?this WHERE {{ {{ SELECT ?this WHERE {{ {languages} }} {target} }}"
                if scan
                else f"SELECT ?this WHERE {{ {target} {languages}"
            )
            checks.append(
                make(
                    "UniqueLangConstraintComponent",
                    query,
                    f"More than one value per language on {path}",
                )
            )
        for other in self.shapes.objects(shape, SH.equals):
            o = _term(other)
            checks.append(
                make(
                    "EqualsConstraintComponent",
                    f"SELECT DISTINCT ?this ?value WHERE {{ {target} "
                    f"{{ ?this {path} ?value FILTER NOT EXISTS {{ ?this {o} ?value }} }} UNION "
                    f"{{ ?this {o} ?value FILTER NOT EXISTS {{ ?this {path} ?value }} }} }}",
                    f"Values of {path} differ from those of {o}",
                )
            )
        for other in self.shapes.objects(shape, SH.disjoint):
            o = _term(other)
            checks.append(
                make(
                    "DisjointConstraintComponent",
                    f"SELECT DISTINCT ?this ?value WHERE {{ {target} ?this {path} ?value . "
                    f"?this {o} ?value }}",
                    f"Values of {path} are shared with {o}",
                )
            )
        for component, operator in PAIR_COMPARISONS.items():
            for other in self.shapes.objects(shape, component):
                o = _term(other)
                checks.append(
                    make(
                        f"{_local(component)[0].upper()}{_local(component)[1:]}ConstraintComponent",
                        f"SELECT DISTINCT ?this ?value WHERE {{ {target} ?this {path} ?value . "
                        f"?this {o} ?other FILTER(!COALESCE(!(?value {operator} ?other), false)) }}",
                        f"Values of {path} are not {_local(component)} {o}",
                    )
                )
        return checks

    def maker(self, shape, result_path: str | None) -> Callable[..., Check]:
        def make(component: str, query: str, default: str) -> Check:
            return self.combined(shape, result_path, [(component, default)], query)

        return make

    def combined(
        self, shape, result_path: str | None, constraints: list[tuple[str, str]], query: str
    ) -> Check:
        """One query for these (component, default message) constraints of the shape."""
        return Check(
            query=query,
            shape=str(shape),
            path=result_path,
            severity=self.severity(shape),
            constraints=tuple(
                (component, self.message(shape, default)) for component, default in constraints
            ),
        )

    def value_checks(
        self, shape, target: str, values: str, result_path: str | None, scan: bool = False
    ) -> Iterator[Check]:
        """Constraints that look at each value node on its own: one query for all of them."""
        make = self.maker(shape, result_path)
        tests: list[tuple[str, str, str]] = []  # component, condition, default message

        def each(component: str, condition: str, default: str) -> None:
            tests.append((component, condition, default))

        for datatype in self.shapes.objects(shape, SH.datatype):
            condition = f"!isLiteral(?value) || DATATYPE(?value) != {_term(datatype)}"
            if str(datatype) in CASTABLE:
                condition += f" || !COALESCE(isLiteral({_term(datatype)}(STR(?value))), false)"
            each("DatatypeConstraintComponent", condition, f"Value is not a {datatype}")
        for cls in self.shapes.objects(shape, SH["class"]):
            instance = _instance_of("?value", [cls], self.subclasses)
            if scan:
                # MINUS is an anti-join on one evaluation of the class's instances, where
                # NOT EXISTS looks up the type of every value: a query of its own.
                yield make(
                    "ClassConstraintComponent",
                    f"SELECT DISTINCT ?this ?value WHERE {{ {{ SELECT ?this ?value WHERE "
                    f"{{ {values} MINUS {{ {instance} }} }} }} {target} }}",
                    f"Value is not an instance of {cls}",
                )
            else:
                each(
                    "ClassConstraintComponent",
                    f"NOT EXISTS {{ {instance} }}",
                    f"Value is not an instance of {cls}",
                )
        for kind in self.shapes.objects(shape, SH.nodeKind):
            each("NodeKindConstraintComponent", NODE_KIND_FILTERS[kind], f"Not a {kind}")
        for pattern in self.shapes.objects(shape, SH.pattern):
            flags = self.shapes.value(shape, SH.flags)
            regex = f"REGEX(STR(?value), {_string(str(pattern))}"
            regex += f", {_string(str(flags))})" if flags is not None else ")"
            each(
                "PatternConstraintComponent",
                f"isBlank(?value) || !{regex}",
                f"Value does not match {pattern}",
            )
        for members in self.shapes.objects(shape, SH["in"]):
            allowed = " || ".join(
                f"sameTerm(?value, {_term(m)})" for m in Collection(self.shapes, members)
            )
            each("InConstraintComponent", f"!({allowed or 'false'})", "Value not in list")
        for value in self.shapes.objects(shape, SH.hasValue):
            where = values.replace("?value", _term(value))
            yield make(
                "HasValueConstraintComponent",
                f"SELECT ?this WHERE {{ {target} FILTER NOT EXISTS {{ {where} }} }}",
                f"Missing value {value}",
            )
        for component, operator in (("minLength", "<"), ("maxLength", ">")):
            for length in self.shapes.objects(shape, SH[component]):
                each(
                    f"{component[0].upper()}{component[1:]}ConstraintComponent",
                    f"isBlank(?value) || STRLEN(STR(?value)) {operator} {int(length)}",
                    f"Value has {'less' if operator == '<' else 'more'} than {int(length)} characters",
                )
        for component, operator in COMPARISONS.items():
            for bound in self.shapes.objects(shape, component):
                each(
                    f"{_local(component)[0].upper()}{_local(component)[1:]}ConstraintComponent",
                    f"!COALESCE(!(?value {operator} {_term(bound)}), false)",
                    f"Value is not {_local(component)} {bound}",
                )
        if tests:
            single = len(tests) == 1
            flags = "" if single else " ".join(f"?c{n}" for n in range(len(tests)))
            computed = (
                ""
                if single
                else " ".join(
                    f"({condition} AS ?c{n})" for n, (_, condition, _) in enumerate(tests)
                )
            )
            any_of = " || ".join(f"({condition})" for _, condition, _ in tests)
            if scan:
                query = (
                    f"SELECT DISTINCT ?this ?value {flags} WHERE {{ {{ SELECT ?this ?value "
                    f"{computed} WHERE {{ {values} FILTER({any_of}) }} }} {target} }}"
                )
            else:
                query = (
                    f"SELECT DISTINCT ?this ?value {computed} WHERE "
                    f"{{ {target} {values} FILTER({any_of}) }}"
                )
            yield self.combined(
                shape,
                result_path,
                [(component, default) for component, _, default in tests],
                query,
            )
        for constraint in self.shapes.objects(shape, SH.sparql):
            yield self.sparql_check(shape, constraint, target, result_path)

    def sparql_check(self, shape, constraint, target: str, result_path: str | None) -> Check:
        select = self.shapes.value(constraint, SH.select)
        if select is None:
            raise UnsupportedShape(f"SPARQL constraint of {shape} has no sh:select")
        prefixes = "".join(
            f"PREFIX {d.value(SH.prefix)}: <{d.value(SH.namespace)}>\n"
            for declared in self.shapes.objects(constraint, SH.prefixes)
            for d in (self.shapes.resource(x) for x in self.shapes.objects(declared, SH.declare))
        )
        text = str(select)
        for unsupported in ("$currentShape", "$shapesGraph"):
            if unsupported in text:
                raise UnsupportedShape(f"SPARQL constraint of {shape} uses {unsupported}")
        path = _path(self.shapes, self.shapes.value(shape, SH.path)) if result_path else None
        text = text.replace("$this", "?this").replace("$PATH", path or "$PATH")
        # Pre-binding $this, done as a join: the focus nodes go first in the top-level WHERE, so
        # the engine starts from them (running the query unbound and filtering after costs a
        # scan of every node for constraints such as "has an English label").
        where = WHERE_OPEN.search(text)
        if where is None:
            raise UnsupportedShape(f"SPARQL constraint of {shape}: no WHERE {{ found")
        text = f"{text[: where.end()]} {target} {text[where.end() :]}"
        messages = [str(m) for m in self.shapes.objects(constraint, SH.message)]
        message = " ".join(messages) or self.message(shape, "SPARQL constraint violated")
        return Check(
            query=prefixes + text,
            shape=str(shape),
            path=result_path,
            severity=_local(self.shapes.value(constraint, SH.severity) or SH.Violation),
            constraints=(("SPARQLConstraintComponent", message),),
        )


def compile_shapes(shapes: Graph, subclasses=None) -> list[Check]:
    """Every constraint of every active shape as a SPARQL query; raise UnsupportedShape if needed.

    `subclasses(cls)` gives a class and all its subclasses; with it, class targets and sh:class
    become a VALUES list (much faster on Oxigraph than rdf:type/rdfs:subClassOf* per node), and
    without it the queries follow rdfs:subClassOf* in the data themselves.
    """
    return _Compiler(shapes, subclasses).compile()


def _subclasses_in(store: ox.Store, dataset: dict):
    cache: dict = {}

    def subclasses(cls) -> list[URIRef]:
        if cls not in cache:
            rows = store.query(
                f"SELECT DISTINCT ?sub WHERE {{ ?sub <{RDFS.subClassOf}>* {_term(cls)} }}",
                **dataset,
            )
            cache[cls] = [
                URIRef(row["sub"].value) for row in rows if isinstance(row["sub"], ox.NamedNode)
            ]
            if cls not in cache[cls]:
                cache[cls].append(cls)
        return cache[cls]

    return subclasses


def _text(term) -> str | None:
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        return term.value
    if isinstance(term, ox.NamedNode):
        return term.value
    return str(term)


def validate_store(
    store: ox.Store,
    shapes: Graph,
    locate=lambda iri: None,
    checks: list[Check] | None = None,
    graphs: list[str] | None = None,
    workers: int | None = None,
) -> ValidationReport:
    """Run the compiled shapes on a store: on the union of `graphs`, or of every graph.

    The checks are independent read-only queries, and Oxigraph evaluates a query without holding
    the GIL, so `workers` threads (one per core by default) run them side by side.
    """
    dataset = (
        {"default_graph": [ox.NamedNode(g) for g in graphs]}
        if graphs is not None
        else {"use_default_graph_as_union": True}
    )
    if checks is None:
        checks = compile_shapes(shapes, _subclasses_in(store, dataset))

    def run(check: Check) -> list[Violation]:
        rows = store.query(check.query, **dataset)
        variables = {v.value for v in rows.variables}
        found = []
        for row in rows:
            focus = row["this"]
            if focus is None:
                continue
            value = row["value"] if "value" in variables else None
            for component, message in check.violated(row):
                path = check.path
                if component == "SPARQLConstraintComponent" and "path" in variables:
                    path = _text(row["path"]) or path
                found.append(
                    Violation(
                        focus=_text(focus),
                        path=path,
                        value=_text(value),
                        shape=check.shape,
                        component=component,
                        severity=check.severity,
                        message=message,
                        where=locate(URIRef(_text(focus)))
                        if isinstance(focus, ox.NamedNode)
                        else None,
                    )
                )
        return found

    # The SPARQL-based constraints join several patterns and take longest: started first, they
    # do not leave one thread running alone at the end.
    ordered = sorted(checks, key=lambda c: c.constraints[0][0] != "SPARQLConstraintComponent")
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        violations = [v for found in pool.map(run, ordered) for v in found]
    violations = sorted(set(violations), key=lambda v: (v.where or "", v.focus, v.shape, v.message))
    return ValidationReport(
        conforms=not any(v.severity == "Violation" for v in violations),
        violations=violations,
        graph=report_graph(violations),
    )


def report_graph(violations: list[Violation]) -> Graph:
    """The violations as a SHACL validation report (sh:ValidationReport) in RDF."""
    g = Graph()
    report = BNode()
    g.add((report, RDF.type, SH.ValidationReport))
    g.add((report, SH.conforms, Literal(not any(v.severity == "Violation" for v in violations))))
    for v in violations:
        result = BNode()
        g.add((report, SH.result, result))
        g.add((result, RDF.type, SH.ValidationResult))
        g.add((result, SH.focusNode, URIRef(v.focus) if "://" in v.focus else BNode(v.focus)))
        if v.path:
            g.add((result, SH.resultPath, URIRef(v.path)))
        if v.value is not None:
            g.add((result, SH.value, Literal(v.value)))
        g.add((result, SH.sourceShape, URIRef(v.shape) if "://" in v.shape else BNode(v.shape)))
        g.add((result, SH.sourceConstraintComponent, SH[v.component]))
        g.add((result, SH.resultSeverity, SH[v.severity]))
        g.add((result, SH.resultMessage, Literal(v.message)))
    return g
