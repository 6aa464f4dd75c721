"""SHACL-SPARQL: SPARQL-based constraints (sh:sparql) and SPARQL-based constraint components
(sh:ConstraintComponent with SELECT or ASK validators).

The focus nodes are pre-bound to $this by joining them first in the query's WHERE clause: one
query for all of them. That equals SHACL's pre-binding (substitution) when $this occurs only at
the top of the WHERE clause, in OPTIONAL or EXISTS blocks, or in subqueries projecting it; any
other query runs once per focus node with $this substituted (Oxigraph's `substitutions`). ASK
validators become one FILTER NOT EXISTS, whose SPARQL semantics is substitution. Queries SHACL
forbids (MINUS, VALUES, SERVICE, assigning a pre-bound variable, subqueries hiding $this) and
$shapesGraph are refused.
"""

from __future__ import annotations

import re

import pyoxigraph as ox
from rdflib import URIRef
from rdflib.namespace import OWL, RDF, RDFS, SH

from .components import Check, value_nodes
from .paths import UnsupportedShape, sparql_path, term
from .shapes import Shapes

WHERE_OPEN = re.compile(r"\bWHERE\s*\{|\bASK\s*\{", re.IGNORECASE)
# Strings, IRIs and comments, blanked before the query's structure is read.
OPAQUE = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^<>\s]*>|#[^\n]*'
)
FORBIDDEN = re.compile(r"\b(MINUS|VALUES|SERVICE)\b", re.IGNORECASE)
PREBOUND = ("this", "value", "currentShape", "shapesGraph")


def _blanked(text: str) -> str:
    return OPAQUE.sub(lambda m: " " * len(m.group()), text)


def prefixes(shapes: Shapes, node) -> str:
    """The PREFIX lines the node's sh:prefixes declare, with those of the ontologies they import."""
    lines, seen = set(), set()
    pending = list(shapes.graph.objects(node, SH.prefixes))
    while pending:
        declared = pending.pop()
        if declared in seen:
            continue
        seen.add(declared)
        pending += shapes.graph.objects(declared, OWL.imports)
        for declaration in shapes.graph.objects(declared, SH.declare):
            prefix = shapes.graph.value(declaration, SH.prefix)
            namespace = shapes.graph.value(declaration, SH.namespace)
            lines.add(f"PREFIX {prefix}: <{namespace}>\n")
    return "".join(sorted(lines))


def check_query(text: str, where: str, prebound: tuple[str, ...]) -> None:
    """Refuse what SHACL forbids in a pre-bound query (SHACL 5.2.1), naming it in `where`."""
    structure = _blanked(text)
    forbidden = FORBIDDEN.search(structure)
    if forbidden:
        raise UnsupportedShape(
            f"{where} uses {forbidden.group(1).upper()}, which SHACL-SPARQL forbids"
        )
    for name in prebound:
        if re.search(rf"\bAS\s+[?$]{name}\b", structure, re.IGNORECASE):
            raise UnsupportedShape(f"{where} assigns the pre-bound variable ${name}")
    if re.search(r"[?$]shapesGraph\b", structure):
        raise UnsupportedShape(
            f"{where} uses $shapesGraph: the shapes are not in the queried dataset"
        )
    for nested in list(re.finditer(r"\bSELECT\b", structure, re.IGNORECASE))[1:]:
        projection = re.split(
            r"\bWHERE\b|\{", structure[nested.end() :], maxsplit=1, flags=re.IGNORECASE
        )[0]
        if not re.search(r"[?$]this\b", projection):
            raise UnsupportedShape(f"{where} has a subquery that does not project $this")


def joinable(text: str) -> bool:
    """$this may be bound by a join: it occurs nowhere but at the top of the WHERE clause, in
    OPTIONAL or EXISTS blocks, or in subqueries (which project it)."""
    structure = _blanked(text)
    start = WHERE_OPEN.search(structure)
    stack: list[str] = []
    position = start.end()
    for token in re.finditer(r"[{}]|[?$]this\b", structure[position:]):
        if token.group() == "{":
            before = structure[: position + token.start()].rstrip().upper()
            after = structure[position + token.end() :].lstrip().upper()
            plain = not before.endswith(("OPTIONAL", "EXISTS")) and not after.startswith("SELECT")
            stack.append("group" if plain else "open")
        elif token.group() == "}":
            if not stack:
                break
            stack.pop()
        elif "group" in stack:
            return False
    return True


def _bind_parameters(text: str, parameters: dict[str, object], shape) -> str:
    """Parameters of a constraint component written into the query body as constants."""
    where = WHERE_OPEN.search(text)
    body = text[where.start() :]
    for name, value in parameters.items():
        constant = term(value, shape)
        body = re.sub(rf"[?$]{re.escape(name)}\b", lambda _, c=constant: c, body)
    return text[: where.start()] + body


def _variables(text: str) -> str:
    """$name written ?name, outside strings, IRIs and comments."""
    parts, last = [], 0
    for opaque in OPAQUE.finditer(text):
        parts += [re.sub(r"\$(?=\w)", "?", text[last : opaque.start()]), opaque.group()]
        last = opaque.end()
    return "".join([*parts, re.sub(r"\$(?=\w)", "?", text[last:])])


def _message(template: str, row: dict, parameters: dict) -> str:
    def fill(match) -> str:
        name = match.group(1)
        if row.get(name) is not None:
            return row[name].value
        return str(parameters[name]) if name in parameters else match.group()

    return re.sub(r"\{[?$](\w+)\}", fill, template)


class SparqlConstraints:
    """The SPARQL-based constraints of one shape at one context, as engine tasks."""

    def __init__(self, engine, shape, context: str):
        self.engine = engine
        self.shapes: Shapes = engine.shapes
        self.shape = shape
        self.context = context
        self.path_node = self.shapes.path(shape)

    def tasks(self) -> list:
        tasks = []
        for constraint in self.shapes.values(self.shape, SH.sparql):
            if self.shapes.deactivated(constraint):
                continue
            select = self.shapes.value(constraint, SH.select)
            if select is None:
                raise UnsupportedShape(f"SPARQL constraint of shape {self.shape} has no sh:select")
            message = self.shapes.message(constraint, "") or self.shapes.message(
                self.shape, "SPARQL constraint violated"
            )
            tasks.append(
                self.select(constraint, str(select), SH.SPARQLConstraintComponent, message, {})
            )
        for component, parameters in self.components():
            tasks.append(self.validator(component, parameters))
        return tasks

    def components(self) -> list[tuple[URIRef, dict]]:
        """The custom constraint components the shape uses, with its values of their parameters."""
        graph = self.shapes.graph
        used = []
        kinds = set(graph.transitive_subjects(RDFS.subClassOf, SH.ConstraintComponent))
        declared = {c for kind in kinds for c in graph.subjects(RDF.type, kind)}
        for component in sorted(declared, key=str):
            parameters, missing = {}, False
            for parameter in graph.objects(component, SH.parameter):
                path = graph.value(parameter, SH.path)
                values = self.shapes.values(self.shape, path)
                if len(values) > 1:
                    raise UnsupportedShape(f"shape {self.shape}: several values of {path}")
                if values:
                    parameters[str(path).rsplit("#", 1)[-1].rsplit("/", 1)[-1]] = values[0]
                elif not self.shapes.flag(parameter, SH.optional):
                    missing = True
            if parameters and not missing:
                used.append((component, parameters))
        return used

    def validator(self, component, parameters: dict):
        graph = self.shapes.graph
        kinds = (
            (SH.propertyValidator, SH.validator)
            if self.path_node is not None
            else (SH.nodeValidator, SH.validator)
        )
        validator = next((v for kind in kinds for v in graph.objects(component, kind)), None)
        if validator is None:
            raise UnsupportedShape(
                f"shape {self.shape}: component {component} has no validator for this kind of shape"
            )
        default = self.shapes.message(validator, "") or self.shapes.message(
            component, f"Violates {component}"
        )
        message = self.shapes.message(self.shape, default)
        select, ask = graph.value(validator, SH.select), graph.value(validator, SH.ask)
        if select is not None:
            return self.select(validator, str(select), component, message, parameters)
        if ask is None:
            raise UnsupportedShape(
                f"validator {validator} of {component} has neither sh:select nor sh:ask"
            )
        return self.ask(validator, str(ask), component, message, parameters)

    def prepared(self, node, text: str, parameters: dict) -> str:
        where = f"SPARQL query of {node} (shape {self.shape})"
        check_query(text, where, PREBOUND + tuple(parameters))
        if WHERE_OPEN.search(text) is None:
            raise UnsupportedShape(f"{where}: no WHERE {{ found")
        if self.path_node is not None:
            text = text.replace("$PATH", sparql_path(self.shapes.graph, self.path_node, self.shape))
        if re.search(r"[?$]currentShape\b", text):
            text = re.sub(r"[?$]currentShape\b", lambda _: term(self.shape, self.shape), text)
        return prefixes(self.shapes, node) + _variables(
            _bind_parameters(text, parameters, self.shape)
        )

    def select(self, node, text: str, component, message: str, parameters: dict):
        query = self.prepared(node, text, parameters)
        shape, severity, path = self.shape, self.shapes.severity(self.shape), self.path_node
        engine = self.engine

        def result(row: dict, template: str):
            # Without ?value, a node shape's result has the focus node as its value (SHACL 5.3.2).
            if path is None and row.get("value") is None:
                row["value"] = row["this"]
            return engine.new_result(
                shape, component, row, _message(template, row, parameters), severity, path
            )

        if joinable(query):
            where = WHERE_OPEN.search(query)
            joined = f"{query[: where.end()]} {self.context} {query[where.end() :]}"

            def run_joined():
                rows = engine.query(joined)
                return [result(row, message) for row in rows if row.get("this") is not None]

            return run_joined

        def run_each():
            results = []
            for focus in engine.focus_nodes(self.context):
                for row in engine.query(query, substitutions={ox.Variable("this"): focus}):
                    row["this"] = focus
                    results.append(result(row, message))
            return results

        return run_each

    def ask(self, node, text: str, component, message: str, parameters: dict):
        query = self.prepared(node, text, parameters)
        where = WHERE_OPEN.search(query)
        body = query[where.end() :].rstrip()
        if not body.endswith("}"):
            raise UnsupportedShape(f"ASK query of {node} does not end with its group")
        values = value_nodes(self.shapes, self.shape).pattern
        heads = query[: where.start()]
        compiled = (
            f"{heads}SELECT DISTINCT ?this ?value WHERE {{ {self.context} {values} "
            f"FILTER NOT EXISTS {{ {body[:-1]} }} }}"
        )
        return Check(
            query=compiled,
            shape=self.shape,
            path=self.path_node,
            severity=self.shapes.severity(self.shape),
            constraints=((component, _message(message, {}, parameters)),),
        )
