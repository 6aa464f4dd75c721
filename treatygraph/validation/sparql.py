"""SHACL-SPARQL: SPARQL-based constraints (sh:sparql) and SPARQL-based constraint components
(sh:ConstraintComponent with SELECT or ASK validators).

The focus nodes are pre-bound to $this by joining them first in the query's WHERE clause: one
query for all of them. That equals SHACL's pre-binding (substitution) when $this occurs only at
the top of the WHERE clause, in OPTIONAL or EXISTS blocks, or in subqueries projecting it; any
other query runs once per focus node with $this written as the focus node in its text. ASK
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
PREBOUND = ("this", "currentShape", "shapesGraph")  # and $value in ASK validators


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
    """$this may be bound by a join: outside OPTIONAL and EXISTS blocks, every $this in a nested
    group or subquery is in a triple pattern (which binds it there), not in an expression (which
    would see it unbound before the join)."""
    structure = _blanked(text)
    position = WHERE_OPEN.search(structure).end()
    stack: list[str] = []
    parentheses = 0
    for token in re.finditer(r"[{}()]|[?$]this\b", structure[position:]):
        found = token.group()
        if found == "{":
            before = structure[: position + token.start()].rstrip().upper()
            stack.append("open" if before.endswith(("OPTIONAL", "EXISTS")) else "nested")
        elif found == "}":
            if not stack:
                break
            stack.pop()
        elif found in "()":
            parentheses += 1 if found == "(" else -1
        elif "nested" in stack and parentheses > 0:
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


def _substituted(engine, query: str, focus) -> list[dict]:
    """The query's rows with $this replaced by the focus node in its WHERE clause; Oxigraph's
    `substitutions` only for a blank node, which no query text can name (it leaves filters in
    nested groups unbound, as W3C pre-binding-003 shows)."""
    if isinstance(focus, ox.BlankNode):
        return engine.query(query, substitutions={ox.Variable("this"): focus})
    where = WHERE_OPEN.search(query)
    constant = str(focus)
    parts, last, body = [], 0, query[where.start() :]
    for opaque in OPAQUE.finditer(body):
        parts += [_replace_this(body[last : opaque.start()], constant), opaque.group()]
        last = opaque.end()
    parts.append(_replace_this(body[last:], constant))
    return engine.query(query[: where.start()] + "".join(parts))


def _replace_this(text: str, constant: str) -> str:
    """?this replaced by a constant: bound(?this) is true, and a subquery projecting ?this
    projects the constant as ?this."""
    text = re.sub(r"\bbound\s*\(\s*\?this\s*\)", "(true)", text, flags=re.IGNORECASE)
    text = re.sub(
        r"\bSELECT\b[^{]*?(?=\bWHERE\b|\{)",
        lambda m: re.sub(r"\?this\b", "\x00", m.group()),
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(
        r"\bGROUP\s+BY\b[^{}]*",
        lambda m: re.sub(r"\?this\b", lambda _: f"({constant})", m.group()),
        text,
        flags=re.IGNORECASE,
    )
    text = re.sub(r"\?this\b", lambda _: constant, text)
    return text.replace("\x00", f"({constant} AS ?this)")


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

    def prepared(self, node, text: str, parameters: dict, prebound: tuple = PREBOUND) -> str:
        where = f"SPARQL query of {node} (shape {self.shape})"
        check_query(text, where, prebound + tuple(parameters))
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
                for row in _substituted(engine, query, focus):
                    row["this"] = focus
                    results.append(result(row, message))
            return results

        return run_each

    def ask(self, node, text: str, component, message: str, parameters: dict):
        query = self.prepared(node, text, parameters, (*PREBOUND, "value"))
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
