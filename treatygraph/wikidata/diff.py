"""Our sourced statements next to Wikidata's for the same items: what Wikidata lacks, what we
lack, and where dates disagree; the additions as QuickStatements for a Wikidata editor.

Ours come from the Wikidata-shaped view (so both sides are in the same shape); Wikidata's from
its SPARQL endpoint: statement nodes with their P580/P582/P585 qualifiers where it has them,
truthy values otherwise (a partial extract, or a mirror, may carry only those).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, PROV, RDF

from treatygraph.rdf.namespaces import PQ, PQV, PR, PS, PSV, WDP, WIKIBASE

from .client import ask, qid

# The properties compared: every property the view writes whose values Wikidata can hold.
COMPARED = (
    "P17",
    "P276",
    "P457",
    "P463",
    "P488",
    "P571",
    "P585",
    "P710",
    "P749",
    "P1037",
    "P1308",
    "P1891",
    "P7588",
)
DATE_QUALIFIERS = ("P580", "P582", "P585")
HAS_PART = "P527"
QUOTE_LIMIT = 1500  # the longest monolingual text Wikidata accepts


@dataclass(frozen=True)
class When:
    """A date and its precision (11 day, 10 month, 9 year; None when unknown)."""

    date: str
    precision: int | None = None
    inferred: bool = False  # our date is inferred, not stated by the sources

    def agrees(self, other: When) -> bool:
        precision = min(p for p in (self.precision, other.precision, 11) if p is not None)
        width = {11: 10, 10: 7}.get(precision, 4)
        return self.date[:width] == other.date[:width]

    def quickstatements(self) -> str:
        precision = self.precision or 11
        year, month, day = self.date.split("-")
        if precision <= 9:
            month = day = "00"
        elif precision == 10:
            day = "00"
        return f"+{year}-{month}-{day}T00:00:00Z/{precision}"

    def __str__(self) -> str:
        text = self.date[: {11: 10, 10: 7, 9: 4}.get(self.precision or 11, 10)]
        return f"{text} (inferred)" if self.inferred else text


@dataclass
class Statement:
    """One statement, ours or Wikidata's, with the parts the diff compares."""

    item: str
    prop: str
    value: str | When  # a QID, or a date
    qualifiers: dict[str, When] = field(default_factory=dict)
    references: list[tuple[str, Literal]] = field(default_factory=list)  # (source IRI, quote)
    # references whose quote does not state the value (P887, based on heuristic): never exported
    inferred_references: list[tuple[str, Literal]] = field(default_factory=list)
    role: str | None = None  # our pq:P2868 role, which has no Wikidata item
    origin: str = ""  # our statement IRI, or "statement"/"truthy" for Wikidata's

    @property
    def key(self) -> tuple:
        return (
            (self.item, self.prop)
            if isinstance(self.value, When)
            else (
                self.item,
                self.prop,
                self.value,
            )
        )

    def describe(self) -> str:
        dates = ", ".join(f"{p} {w}" for p, w in sorted(self.qualifiers.items()))
        text = f"{self.item} {self.prop} {self.value}"
        if self.role:
            text += f" as {self.role.rsplit('/', 1)[-1]}"
        return f"{text} ({dates})" if dates else text


@dataclass
class Finding:
    kind: (
        str  # wikidata-lacks | wikidata-lacks-qualifier | we-lack | dates-disagree | not-comparable
    )
    ours: Statement | None
    theirs: Statement | None
    detail: str
    qualifiers: dict[str, When] = field(default_factory=dict)  # what a QuickStatements line adds


def our_statements(
    view: Graph, links: Graph, inference: URIRef
) -> tuple[list[Statement], list[str]]:
    """The view's statements whose subject, and object where it is an entity, are linked.

    `inference` is our tg:inference, which marks the value nodes of inferred dates."""
    same = {s: qid(str(o)) for s, o in links.subject_objects(OWL.sameAs)}
    statements, skipped = [], []
    for subject, predicate, node in view:
        if (
            not str(predicate).startswith(str(WDP))
            or (node, RDF.type, WIKIBASE.Statement) not in view
        ):
            continue
        prop = str(predicate)[len(str(WDP)) :]
        if prop not in COMPARED:
            continue
        if subject not in same:
            continue
        raw = view.value(node, PS[prop])
        value_node = view.value(node, PSV[prop])
        if value_node is not None:
            value: str | When = _when(view, raw, value_node, inference)
        elif isinstance(raw, URIRef) and raw in same:
            value = same[raw]
        else:
            skipped.append(f"{subject} {prop} {raw}: the value has no Wikidata link")
            continue
        qualifiers = {}
        for qualifier in DATE_QUALIFIERS:
            qnode = view.value(node, PQV[qualifier])
            qraw = view.value(node, PQ[qualifier])
            if qraw is not None:
                qualifiers[qualifier] = _when(view, qraw, qnode, inference)
        references, inferred_references = [], []
        for ref in view.objects(node, PROV.wasDerivedFrom):
            source = view.value(ref, PR.P248)
            if source is None:
                continue  # the reference of an inferred date alone: no source to cite
            found = (str(source), view.value(ref, PR.P1683))
            heuristic = view.value(ref, PR.P887) is not None
            (inferred_references if heuristic else references).append(found)
        references.sort()
        inferred_references.sort()
        role = view.value(node, PQ.P2868)
        statements.append(
            Statement(
                same[subject],
                prop,
                value,
                qualifiers,
                references,
                inferred_references,
                role=str(role) if role is not None else None,
                origin=str(node),
            )
        )
    statements.sort(key=lambda s: (s.item, s.prop, str(s.value), s.describe()))
    return statements, sorted(skipped)


def _when(view: Graph, literal, value_node, inference: URIRef) -> When:
    """Our date from a statement's simple value and its full value node."""
    if value_node is None:
        return When(str(literal)[:10])
    precision = view.value(value_node, WIKIBASE.timePrecision)
    inferred = view.value(value_node, inference) is not None
    return When(str(literal)[:10], int(precision) if precision else None, inferred)


def _values(items: list[str]) -> str:
    return " ".join(f"wd:{q}" for q in sorted(items))


PREFIXES = """PREFIX wd: <http://www.wikidata.org/entity/>
PREFIX wdt: <http://www.wikidata.org/prop/direct/>
PREFIX p: <http://www.wikidata.org/prop/>
PREFIX ps: <http://www.wikidata.org/prop/statement/>
PREFIX pq: <http://www.wikidata.org/prop/qualifier/>
PREFIX wikibase: <http://wikiba.se/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""


def wikidata_statements(endpoint: str, items: list[str], timeout: float = 60) -> list[Statement]:
    """Wikidata's statements on these items for the compared properties."""
    props = " ".join(f'("{p}" p:{p} ps:{p} wdt:{p})' for p in COMPARED)
    full = ask(
        endpoint,
        PREFIXES
        + f"""SELECT ?item ?prop ?statement ?value ?start ?end ?time WHERE {{
  VALUES ?item {{ {_values(items)} }}
  VALUES (?prop ?p ?ps ?wdt) {{ {props} }}
  ?item ?p ?statement . ?statement ?ps ?value .
  OPTIONAL {{ ?statement pq:P580 ?start }}
  OPTIONAL {{ ?statement pq:P582 ?end }}
  OPTIONAL {{ ?statement pq:P585 ?time }}
}}""",
        timeout,
    )
    truthy = ask(
        endpoint,
        PREFIXES
        + f"""SELECT ?item ?prop ?value WHERE {{
  VALUES ?item {{ {_values(items)} }}
  VALUES (?prop ?p ?ps ?wdt) {{ {props} }}
  ?item ?wdt ?value .
}}""",
        timeout,
    )
    found: dict[str, Statement] = {}
    covered = set()
    for row in full:
        statement = _their_statement(row, "statement")
        if statement is None:
            continue
        existing = found.setdefault(row["statement"], statement)
        existing.qualifiers.update(statement.qualifiers)
        covered.add((statement.item, statement.prop, str(statement.value)))
    result = list(found.values())
    for row in truthy:
        statement = _their_statement(row, "truthy")
        if statement and (statement.item, statement.prop, str(statement.value)) not in covered:
            result.append(statement)
    return result


def _their_statement(row: dict[str, str], origin: str) -> Statement | None:
    item = qid(row["item"])
    value: str | When | None = qid(row["value"])
    if value is None and len(row["value"]) >= 10 and row["value"][4] == "-":
        value = When(row["value"][:10])
    if item is None or value is None:
        return None
    qualifiers = {
        name: When(row[var][:10])
        for name, var in (("P580", "start"), ("P582", "end"), ("P585", "time"))
        if row.get(var)
    }
    return Statement(item, row["prop"], value, qualifiers, origin=origin)


def wikidata_parts(endpoint: str, organizations: list[str], timeout: float = 60) -> list[tuple]:
    """(organization, part) pairs from Wikidata's has part(s) (P527), the inverse of P463."""
    rows = ask(
        endpoint,
        PREFIXES
        + f"SELECT ?org ?part WHERE {{ VALUES ?org {{ {_values(organizations)} }} ?org wdt:{HAS_PART} ?part }}",
        timeout,
    )
    return sorted({(qid(r["org"]), qid(r["part"])) for r in rows if qid(r["part"])})


def labels(endpoint: str, items: set[str], timeout: float = 60) -> dict[str, str]:
    if not items:
        return {}
    rows = ask(
        endpoint,
        PREFIXES
        + f"""SELECT ?item ?label WHERE {{ VALUES ?item {{ {_values(list(items))} }}
  ?item rdfs:label ?label FILTER(LANG(?label) = "en") }}""",
        timeout,
    )
    return {qid(r["item"]): r["label"] for r in rows}


def compare(
    ours: list[Statement], theirs: list[Statement], parts: list[tuple], linked: set[str]
) -> list[Finding]:
    """Pair statements by item, property and value; compare their dates.

    What we lack is limited to what we cover: memberships in organizations we have linked, and
    other properties only where we state that property for that item.
    """
    findings: list[Finding] = []
    by_key: dict[tuple, list[Statement]] = defaultdict(list)
    for statement in theirs:
        by_key[statement.key].append(statement)
    used: set[int] = set()
    our_keys = set()
    for statement in ours:
        our_keys.add(statement.key)
        candidates = [s for s in by_key.get(statement.key, []) if id(s) not in used]
        if not candidates:
            findings.append(Finding("wikidata-lacks", statement, None, "no such statement"))
            continue
        match = _best_match(statement, candidates)
        used.add(id(match))
        findings.extend(_compare_pair(statement, match))
    our_properties = {(s.item, s.prop) for s in ours}
    for statement in theirs:
        if id(statement) in used:
            continue
        if statement.key in our_keys:
            detail = "another period or value than ours"
        elif statement.prop == "P463" and statement.value in linked:
            detail = "no membership of ours"
        elif statement.prop != "P463" and (statement.item, statement.prop) in our_properties:
            detail = "no statement of ours with this value"
        else:
            continue  # a property we do not state for this item: outside what we cover
        findings.append(Finding("we-lack", None, statement, detail))
    members = {(s.value, s.item) for s in ours if s.prop == "P463"}
    for organization, part in parts:
        if (organization, part) not in members and not any(
            s.key == (part, "P463", organization) for s in theirs
        ):
            statement = Statement(part, "P463", organization, origin=f"{organization} P527")
            findings.append(
                Finding("we-lack", None, statement, f"Wikidata's {organization} has part(s) {part}")
            )
    return findings


def _best_match(ours: Statement, candidates: list[Statement]) -> Statement:
    if isinstance(ours.value, When):
        return candidates[0]

    def score(theirs: Statement) -> int:
        points = 0
        for name, when in ours.qualifiers.items():
            other = theirs.qualifiers.get(name)
            if other is not None and other.agrees(when):
                points += 2
            elif other is None:
                points += 1
        return points

    return max(candidates, key=score)


def _compare_pair(ours: Statement, theirs: Statement) -> list[Finding]:
    findings = []
    if isinstance(ours.value, When):
        if not ours.value.agrees(theirs.value):
            findings.append(
                Finding(
                    "dates-disagree",
                    ours,
                    theirs,
                    f"ours {ours.value}, Wikidata {theirs.value}",
                )
            )
        return findings
    missing = {}
    for name, when in sorted(ours.qualifiers.items()):
        other = theirs.qualifiers.get(name)
        if other is None:
            missing[name] = when
        elif not when.agrees(other):
            findings.append(
                Finding("dates-disagree", ours, theirs, f"{name}: ours {when}, Wikidata {other}")
            )
    if missing:
        what = ", ".join(f"{n} {w}" for n, w in missing.items())
        note = ""
        if "P582" in missing and theirs.origin == "truthy":
            note = " (Wikidata still gives it as a truthy value, as if current)"
        findings.append(
            Finding(
                "wikidata-lacks-qualifier",
                ours,
                theirs,
                f"Wikidata's statement has no {what}{note}",
                qualifiers=missing,
            )
        )
    return findings


def _quoted(text: str) -> str | None:
    if '"' in text or "\t" in text or "\n" in text:
        return None
    return f'"{text}"'


def quickstatements(findings: list[Finding]) -> tuple[list[str], list[str]]:
    """QuickStatements V1 lines for what Wikidata lacks, with our source as the reference.

    The reference is S854 (reference URL: our source document's IRI) and S1683 (quote, with
    its language): S248 (stated in) needs a Wikidata item, which our source documents do not
    have. Dates we inferred (the sources do not state them) are never written: a statement whose
    value is inferred is left out, an inferred qualifier is dropped from its line. A reference based
    on a heuristic (P887: its quote does not state the value) is not written either, and a
    statement with no other reference is left out. Returns the
    lines and what could not be written, with the reason.
    """
    lines, skipped = [], []
    for finding in findings:
        ours = finding.ours
        if finding.kind not in ("wikidata-lacks", "wikidata-lacks-qualifier") or ours is None:
            continue
        if ours.role is not None:
            skipped.append(f"{ours.describe()}: the role {ours.role} has no Wikidata item")
            continue
        if isinstance(ours.value, When) and ours.value.inferred:
            skipped.append(f"{ours.describe()}: the date is inferred, not stated by the sources")
            continue
        if isinstance(ours.value, When):
            main = f"{ours.item}\t{ours.prop}\t{ours.value.quickstatements()}"
        else:
            main = f"{ours.item}\t{ours.prop}\t{ours.value}"
        qualifiers = ours.qualifiers if finding.kind == "wikidata-lacks" else finding.qualifiers
        inferred = {name for name, when in qualifiers.items() if when.inferred}
        if inferred:
            names = ", ".join(sorted(inferred))
            skipped.append(f"{ours.describe()}: inferred {names} left out")
            if finding.kind == "wikidata-lacks-qualifier" and inferred == set(qualifiers):
                continue
        for name, when in sorted(qualifiers.items()):
            if name not in inferred:
                main += f"\t{name}\t{when.quickstatements()}"
        if not ours.references:
            why = "inferred, no quote states it" if ours.inferred_references else "no reference"
            skipped.append(f"{ours.describe()}: {why}")
            continue
        for source, quote in ours.references:
            line = f'{main}\tS854\t"{source}"'
            text = _quoted(str(quote)) if quote is not None else None
            if text is not None and len(str(quote)) <= QUOTE_LIMIT:
                line += f"\tS1683\t{quote.language or 'en'}:{text}"
            elif quote is not None:
                skipped.append(
                    f"{ours.describe()}: quote from {source} left out (quotation marks, "
                    f"or longer than {QUOTE_LIMIT} characters)"
                )
            lines.append(line)
    return lines, skipped
