"""SHACL Core constraint components compiled to SPARQL: one query selects the violations.

A query selects ?this (the focus node) and, where the component has one, ?value; the focus nodes
come from a context, a SPARQL group binding ?this (the targets, or the value nodes of an
enclosing shape).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import RDF, RDFS, SH, XSD

from .paths import UnsupportedShape, is_scannable, sparql_path, string, term
from .shapes import Shapes

SUBCLASS_PATH = f"<{RDF.type}>/<{RDFS.subClassOf}>*"
# XSD types whose lexical form Oxigraph checks with a cast (ill-formed literals violate sh:datatype).
CASTABLE = {
    XSD[name]
    for name in ("boolean", "integer", "decimal", "float", "double", "dateTime", "date", "time")
}
# Datatypes the Oxigraph store rewrites when it loads a literal ("1"^^xsd:byte is kept as
# "1"^^xsd:integer): sh:datatype cannot tell them from their base type, so it is refused.
REWRITTEN = {
    XSD[name]
    for name in [
        "byte",
        "short",
        "int",
        "long",
        "unsignedByte",
        "unsignedShort",
        "unsignedInt",
        "unsignedLong",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "dateTimeStamp",
    ]
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
PAIR_COMPARISONS = {SH.lessThan: ">=", SH.lessThanOrEquals: ">"}


def component(parameter) -> URIRef:
    """sh:minCount -> sh:MinCountConstraintComponent."""
    name = str(parameter)[len(str(SH)) :]
    return SH[f"{name[0].upper()}{name[1:]}ConstraintComponent"]


@dataclass(frozen=True)
class Check:
    """Constraints of one shape as one SPARQL query selecting ?this (and ?value when there is one).

    With one constraint, every row is a violation of it. With several (the constraints that test
    each value on its own), the query scans the focus nodes and values once and the booleans ?c0,
    ?c1 … of a row say which constraints it violates: one scan instead of one per constraint.
    """

    query: str
    shape: object
    path: object  # the shape's sh:path node, or None
    severity: URIRef
    constraints: tuple[tuple[URIRef, str], ...]  # (component, message), in the order of ?c0, ?c1 …

    def violated(self, row) -> list[tuple[URIRef, str]]:
        if len(self.constraints) == 1:
            return list(self.constraints)
        return [c for number, c in enumerate(self.constraints) if _is_true(row[f"c{number}"])]


def _is_true(term_) -> bool:
    """A boolean the query computed (unbound when the test raised an error: no violation)."""
    return isinstance(term_, ox.Literal) and term_.value in ("true", "1")


def instance_of(variable: str, classes: list, subclasses) -> str:
    """`variable` is an instance of one of the classes (or of their subclasses)."""
    if subclasses is None:
        return " UNION ".join(f"{{ {variable} {SUBCLASS_PATH} {term(c)} }}" for c in classes)
    closure = sorted({sub for c in classes for sub in subclasses(c)})
    values = " ".join(term(c) for c in closure)
    return f"VALUES {variable}Type {{ {values} }} {variable} <{RDF.type}> {variable}Type ."


def target_context(shapes: Shapes, shape, subclasses) -> str | None:
    """The focus nodes of a shape's targets as a SPARQL group, possibly repeating a node (every
    query copes with that, which is much cheaper on Oxigraph than a DISTINCT subquery)."""
    patterns = shapes.targets(shape)
    classes = shapes.target_classes(shape)
    if classes:
        patterns.insert(0, instance_of("?this", classes, subclasses))
    if not patterns:
        return None
    if len(patterns) == 1:
        return f"{{ {patterns[0]} }}"
    return "{ " + " UNION ".join(f"{{ {p} }}" for p in patterns) + " }"


def value_context(context: str, path: str) -> str:
    """The value nodes of the path from the focus nodes of `context`, as a context."""
    # Each subquery projects ?this alone, so nested contexts never share another variable.
    return (
        f"{{ SELECT DISTINCT ?this WHERE {{ {{ SELECT (?this AS ?focus) WHERE {context} }} "
        f"?focus {path} ?this }} }}"
    )


@dataclass(frozen=True)
class ValueNodes:
    """How a shape reaches its value nodes from ?this: a path, or the focus node itself."""

    path: str | None
    scan: bool

    @property
    def pattern(self) -> str:
        return f"?this {self.path} ?value ." if self.path else "BIND(?this AS ?value)"

    def contains(self, value: str) -> str:
        return f"?this {self.path} {value} ." if self.path else f"FILTER(sameTerm(?this, {value}))"


def value_nodes(shapes: Shapes, shape) -> ValueNodes:
    path_node = shapes.path(shape)
    if path_node is None:
        return ValueNodes(None, False)
    return ValueNodes(
        sparql_path(shapes.graph, path_node, shape), is_scannable(shapes.graph, path_node)
    )


class ComponentCompiler:
    """The SPARQL checks of one shape's own Core constraints at one context."""

    def __init__(self, shapes: Shapes, shape, context: str, subclasses):
        self.shapes = shapes
        self.shape = shape
        self.context = context
        self.subclasses = subclasses
        self.values = value_nodes(shapes, shape)
        self.path_node = shapes.path(shape)

    def check(self, constraints: list[tuple[URIRef, str]], query: str) -> Check:
        return Check(
            query=query,
            shape=self.shape,
            path=self.path_node,
            severity=self.shapes.severity(self.shape),
            constraints=tuple(
                (c, self.shapes.message(self.shape, default)) for c, default in constraints
            ),
        )

    def one(self, parameter, query: str, default: str) -> Check:
        return self.check([(component(parameter), default)], query)

    def scanned(self, pairs: str, select: str = "?this ?value") -> str:
        """A query finding the offending (focus, value) pairs first, then joining the focus nodes.

        A path of predicates can be scanned from the values: the offending values are found in a
        subquery Oxigraph evaluates on its own and joined with the few focus nodes they have,
        instead of looking up the values of every focus node (3 to 8 times faster at 1M triples).
        """
        if self.values.scan:
            return f"SELECT DISTINCT {select} WHERE {{ {{ SELECT {select} WHERE {{ {pairs} }} }} {self.context} }}"
        return f"SELECT DISTINCT {select} WHERE {{ {self.context} {pairs} }}"

    def checks(self) -> list[Check]:
        found = self.value_checks()
        if self.path_node is not None:
            found += self.count_checks()
        found += self.pair_checks()
        found += self.focus_checks()
        return found

    def value_checks(self) -> list[Check]:
        """Constraints that look at each value node on its own: one query for all of them."""
        shapes, shape, values = self.shapes, self.shape, self.values.pattern
        checks: list[Check] = []
        tests: list[tuple[URIRef, str, str]] = []  # component, violation condition, default message

        def each(parameter, condition: str, default: str) -> None:
            tests.append((component(parameter), condition, default))

        for datatype in shapes.values(shape, SH.datatype):
            if not isinstance(datatype, URIRef):
                raise UnsupportedShape(f"shape {shape}: sh:datatype {datatype!r} is not an IRI")
            if datatype in REWRITTEN:
                raise UnsupportedShape(
                    f"shape {shape}: sh:datatype {datatype} is not evaluated, since the store "
                    "keeps such literals as their base type"
                )
            condition = f"!isLiteral(?value) || DATATYPE(?value) != {term(datatype)}"
            if datatype in CASTABLE:
                condition += f" || !COALESCE(isLiteral({term(datatype)}(STR(?value))), false)"
            each(SH.datatype, condition, f"Value is not a {datatype}")
        for cls in shapes.values(shape, SH["class"]):
            instance = instance_of("?value", [cls], self.subclasses)
            if self.values.scan:
                # MINUS is an anti-join on one evaluation of the class's instances, where
                # NOT EXISTS looks up the type of every value: a query of its own.
                checks.append(
                    self.one(
                        SH["class"],
                        self.scanned(f"{values} MINUS {{ {instance} }}"),
                        f"Value is not an instance of {cls}",
                    )
                )
            else:
                each(
                    SH["class"],
                    f"NOT EXISTS {{ {instance} }}",
                    f"Value is not an instance of {cls}",
                )
        for kind in shapes.values(shape, SH.nodeKind):
            each(SH.nodeKind, NODE_KIND_FILTERS[kind], f"Value is not a {kind}")
        for pattern in shapes.values(shape, SH.pattern):
            flags = shapes.value(shape, SH.flags)
            regex = f"REGEX(STR(?value), {string(str(pattern))}"
            regex += f", {string(str(flags))})" if flags is not None else ")"
            each(SH.pattern, f"isBlank(?value) || !{regex}", f"Value does not match {pattern}")
        for members in shapes.members(shape, SH["in"]):
            allowed = " || ".join(f"sameTerm(?value, {term(m, shape)})" for m in members)
            each(SH["in"], f"!({allowed or 'false'})", "Value is not in the list")
        for tags in shapes.members(shape, SH.languageIn):
            matches = " || ".join(f"langMatches(LANG(?value), {string(str(t))})" for t in tags)
            each(
                SH.languageIn,
                f"!isLiteral(?value) || !({matches or 'false'})",
                "Language not allowed",
            )
        for parameter, operator in ((SH.minLength, "<"), (SH.maxLength, ">")):
            for length in shapes.integer(shape, parameter):
                each(
                    parameter,
                    f"isBlank(?value) || STRLEN(STR(?value)) {operator} {length}",
                    f"Value has {'fewer' if operator == '<' else 'more'} than {length} characters",
                )
        for parameter, operator in COMPARISONS.items():
            for bound in shapes.values(shape, parameter):
                each(
                    parameter,
                    f"!COALESCE(!(?value {operator} {term(bound, shape)}), false)",
                    f"Value is not {str(parameter)[len(str(SH)) :]} {bound}",
                )
        if tests:
            any_of = " || ".join(f"({condition})" for _, condition, _ in tests)
            if len(tests) == 1:
                query = self.scanned(f"{values} FILTER({any_of})")
            else:
                flags = " ".join(f"?c{n}" for n in range(len(tests)))
                computed = " ".join(f"({cond} AS ?c{n})" for n, (_, cond, _) in enumerate(tests))
                inner = f"{values} FILTER({any_of})"
                if self.values.scan:
                    query = (
                        f"SELECT DISTINCT ?this ?value {flags} WHERE {{ {{ SELECT ?this ?value "
                        f"{computed} WHERE {{ {inner} }} }} {self.context} }}"
                    )
                else:
                    query = f"SELECT DISTINCT ?this ?value {computed} WHERE {{ {self.context} {inner} }}"
            checks.append(self.check([(c, default) for c, _, default in tests], query))
        return checks

    def count_checks(self) -> list[Check]:
        shapes, shape, path, values = self.shapes, self.shape, self.values.path, self.values.pattern
        checks = []
        for count in shapes.integer(shape, SH.minCount):
            if count == 1 and self.values.scan:
                query = f"SELECT DISTINCT ?this WHERE {{ {self.context} MINUS {{ {values} }} }}"
            else:
                query = (
                    f"SELECT ?this WHERE {{ {self.context} OPTIONAL {{ {values} }} }} "
                    f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {count})"
                )
            checks.append(self.one(SH.minCount, query, f"Fewer than {count} values on {path}"))
        for count in shapes.integer(shape, SH.maxCount):
            grouped = f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {count})"
            query = (
                f"SELECT DISTINCT ?this WHERE {{ {{ SELECT ?this WHERE {{ {values} }} {grouped} }} "
                f"{self.context} }}"
                if self.values.scan
                else f"SELECT ?this WHERE {{ {self.context} {values} }} {grouped}"
            )
            checks.append(self.one(SH.maxCount, query, f"More than {count} values on {path}"))
        if shapes.flag(shape, SH.uniqueLang):
            languages = (
                f'{values} FILTER(LANG(?value) != "") }} GROUP BY ?this (LANG(?value) AS ?lang) '
                "HAVING (COUNT(DISTINCT ?value) > 1)"
            )
            query = (
                f"SELECT DISTINCT ?this WHERE {{ {{ SELECT ?this WHERE {{ {languages} }} {self.context} }}"
                if self.values.scan
                else f"SELECT DISTINCT ?this WHERE {{ {self.context} {languages}"
            )
            checks.append(
                self.one(SH.uniqueLang, query, f"More than one value per language on {path}")
            )
        return checks

    def pair_checks(self) -> list[Check]:
        """equals, disjoint, lessThan, lessThanOrEquals: the values against those of a property."""
        shapes, shape, values = self.shapes, self.shape, self.values
        checks = []
        for other in shapes.values(shape, SH.equals):
            o = term(other, shape)
            query = (
                f"SELECT DISTINCT ?this ?value WHERE {{ "
                f"{{ {self.context} {values.pattern} FILTER NOT EXISTS {{ ?this {o} ?value }} }} UNION "
                f"{{ {self.context} ?this {o} ?value FILTER NOT EXISTS {{ {values.contains('?value')} }} }} }}"
            )
            checks.append(self.one(SH.equals, query, f"Values differ from those of {o}"))
        for other in shapes.values(shape, SH.disjoint):
            o = term(other, shape)
            query = f"SELECT DISTINCT ?this ?value WHERE {{ {self.context} {values.pattern} ?this {o} ?value }}"
            checks.append(self.one(SH.disjoint, query, f"Values are shared with {o}"))
        for parameter, operator in PAIR_COMPARISONS.items():
            for other in shapes.values(shape, parameter):
                o = term(other, shape)
                query = (
                    f"SELECT DISTINCT ?this ?value WHERE {{ {self.context} {values.pattern} "
                    f"?this {o} ?other FILTER(!COALESCE(!(?value {operator} ?other), false)) }}"
                )
                checks.append(self.one(parameter, query, f"Values are not {parameter} {o}"))
        return checks

    def focus_checks(self) -> list[Check]:
        """hasValue and closed: results about the focus node as a whole."""
        shapes, shape = self.shapes, self.shape
        checks = []
        for value in shapes.values(shape, SH.hasValue):
            contains = self.values.contains(term(value, shape))
            query = f"SELECT DISTINCT ?this WHERE {{ {self.context} FILTER NOT EXISTS {{ {contains} }} }}"
            checks.append(self.one(SH.hasValue, query, f"Missing value {value}"))
        if shapes.flag(shape, SH.closed):
            allowed = {
                shapes.path(prop)
                for prop in shapes.values(shape, SH.property)
                if isinstance(shapes.path(prop), URIRef)
            }
            allowed |= {
                p for members in shapes.members(shape, SH.ignoredProperties) for p in members
            }
            excluded = ", ".join(term(p, shape) for p in sorted(allowed, key=str))
            condition = f"FILTER(?path NOT IN ({excluded}))" if excluded else ""
            query = f"SELECT DISTINCT ?this ?value ?path WHERE {{ {self.context} ?this ?path ?value {condition} }}"
            checks.append(self.one(SH.closed, query, "Predicate not allowed by the closed shape"))
        return checks
